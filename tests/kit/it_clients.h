/* The clients a cmocka integration program shares across its tests: the Avro registry, a
 * MongoDB client and a Kafka reader on the jt_stack fixture's stack. Opened in a group setup,
 * closed in its teardown. */
#ifndef JT_IT_CLIENTS_H
#define JT_IT_CLIENTS_H

#include <mongoc/mongoc.h>

#include "it_kafka.h"
#include "jt_avro.h"

typedef struct {
        jt_avro_registry_t *reg;
        mongoc_client_t *mongo;
        rd_kafka_t *reader;
} it_clients_t;

/* 0, or -1 after saying on stderr what is missing (a cmocka group setup's convention). */
int it_clients_open(it_clients_t *c);

void it_clients_close(it_clients_t *c);

/* The cmocka group fixtures around them: open makes c the group state, close closes it. */
int it_clients_group_open(it_clients_t *c, void **state);
int it_clients_group_close(void **state);

#endif
