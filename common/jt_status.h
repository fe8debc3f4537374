/* Status events on their topic: keyed by job id, so that every event of a job stays in order
 * on one partition. */
#ifndef JT_STATUS_H
#define JT_STATUS_H

#include <librdkafka/rdkafka.h>

#include "jt_messages.h"

/* Encodes event and queues it on topic with the job id as key (jt_kafka_flush makes it
 * durable). */
bool jt_status_send(rd_kafka_t *rk, const jt_avro_registry_t *reg, const char *topic,
                    const jt_status_event_t *event, jt_error_t *err);

#endif
