/* What jt_kafka_admin.c and jt_kafka_admin_group.c share: one Admin API request in flight. */
#ifndef JT_KAFKA_ADMIN_PRIVATE_H
#define JT_KAFKA_ADMIN_PRIVATE_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "jt_error.h"

/* A request's reply queue, its options (the request timeout) and, once answered, its result
 * event. */
typedef struct {
        rd_kafka_queue_t *queue;
        rd_kafka_AdminOptions_t *options;
        rd_kafka_event_t *ev;
} jt_kafka_admin_call_t;

jt_kafka_admin_call_t jt_kafka_admin_call_new(rd_kafka_t *rk, rd_kafka_admin_op_t op,
                                              int timeout_ms);

/* Waits for the answer to the request; false with err when none came or it is an error. */
bool jt_kafka_admin_call_wait(jt_kafka_admin_call_t *c, int timeout_ms, const char *what,
                              jt_error_t *err);

void jt_kafka_admin_call_destroy(jt_kafka_admin_call_t *c);

#endif
