/* The clients an integration program shares across its tests (it_clients.h). */
#include "it_clients.h"

#include <stdio.h>
#include <stdlib.h>

#include "it_cmocka.h"

int it_clients_open(it_clients_t *c) {
        jt_error_t err;

        if (!getenv("JT_KAFKA_BROKERS") || !getenv("JT_MONGO_URI")) {
                fprintf(stderr, "JT_KAFKA_BROKERS and JT_MONGO_URI must be set (ctest fixture "
                                "jt_stack)\n");
                return -1;
        }
        jt_error_clear(&err);
        c->reg = jt_avro_registry_new(&err);
        if (!c->reg) {
                fprintf(stderr, "registry: %s\n", err.message);
                return -1;
        }
        mongoc_init();
        c->mongo = mongoc_client_new(getenv("JT_MONGO_URI"));
        if (!c->mongo) {
                fprintf(stderr, "bad JT_MONGO_URI %s\n", getenv("JT_MONGO_URI"));
                return -1;
        }
        c->reader = it_kafka_new(getenv("JT_KAFKA_BROKERS"));
        return 0;
}

void it_clients_close(it_clients_t *c) {
        it_kafka_destroy(c->reader);
        mongoc_client_destroy(c->mongo);
        mongoc_cleanup();
        jt_avro_registry_destroy(c->reg);
}

int it_clients_group_open(it_clients_t *c, void **state) {
        *state = c;
        return it_clients_open(c);
}

int it_clients_group_close(void **state) {
        it_clients_close(*state);
        return 0;
}
