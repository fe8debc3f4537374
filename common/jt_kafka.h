/* Kafka clients built from our options plus -X passthrough, sending with delivery reports, and
 * synchronous helpers for the few places that must know a message is durable. Questions to the
 * cluster (topics, offsets, groups) are in jt_kafka_admin.h. */
#ifndef JT_KAFKA_H
#define JT_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "jt_config.h"
#include "jt_error.h"

typedef struct {
        const char *brokers;
        const jt_kv_t *settings; /* -X pairs, applied after our defaults */
        size_t setting_count;
        int timeout_ms; /* bounded wait for the brokers */
        /* Consumers only, optional: a rebalance callback and the opaque it receives. */
        void (*rebalance_cb)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *partitions, void *opaque);
        void *opaque;
} jt_kafka_opts_t;

/* Reads --brokers, -X and --kafka-timeout from a config built with jt_opts_kafka. */
jt_kafka_opts_t jt_kafka_opts_from_config(const jt_config_t *cfg);

/* A configuration with bootstrap.servers, our log and error callbacks, then every -X pair.
 * An unknown key or an invalid value is an error naming the key (values of keys that look
 * secret are not echoed). */
rd_kafka_conf_t *jt_kafka_conf_new(const jt_kafka_opts_t *opts, jt_error_t *err);

/* An idempotent producer (acks=all) whose delivery failures jt_kafka_flush reports. */
rd_kafka_t *jt_kafka_producer_new(const jt_kafka_opts_t *opts, jt_error_t *err);

/* A consumer in `group` with cooperative-sticky assignment and enable.auto.offset.store=false,
 * so that only offsets stored after a task's effects are ever committed. -X may not turn
 * offset auto-store back on. Its opaque belongs to this module: opts->rebalance_cb receives
 * opts->opaque as its last argument. */
rd_kafka_t *jt_kafka_consumer_new(const jt_kafka_opts_t *opts, const char *group, jt_error_t *err);

/* What librdkafka does on a rebalance event without a callback: assign or unassign parts
 * (incrementally under the cooperative protocol; on an error, everything is unassigned),
 * errors logged. For rebalance callbacks that do their own bookkeeping first. */
void jt_kafka_rebalance_apply(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t *parts);

/* rd_kafka_subscribe to one topic, for a consumer made by jt_kafka_consumer_new: subscribe
 * through this, so that jt_kafka_destroy knows the consumer may have joined its group. */
rd_kafka_resp_err_t jt_kafka_subscribe(rd_kafka_t *rk, const char *topic);

/* Queues one message (payload copied) with a key of key_len bytes, kept byte for byte (it may
 * hold NUL bytes; NULL: no key); the partitioner places it by key. headers may be NULL;
 * ownership of headers passes to the producer on success only. */
bool jt_kafka_send(rd_kafka_t *rk, const char *topic, const void *key, size_t key_len,
                   const void *payload, size_t len, rd_kafka_headers_t *headers, jt_error_t *err);

/* Queues one message (payload copied) to an explicit partition (RD_KAFKA_PARTITION_UA: the
 * partitioner's choice by key), with a key of key_len bytes (may hold NUL bytes; NULL: none).
 * headers as jt_kafka_send. */
bool jt_kafka_send_to(rd_kafka_t *rk, const char *topic, int32_t partition, const void *key,
                      size_t key_len, const void *payload, size_t len, rd_kafka_headers_t *headers,
                      jt_error_t *err);

/* Stores msg's offset + 1 in consumer for the next commit: the message is done (its effects
 * durable, or it went to the DLQ). A failure is logged as a warning and returned: the message
 * may come again, which every handler treats as a repeat. */
bool jt_kafka_store_offset(rd_kafka_t *consumer, const rd_kafka_message_t *msg);

/* Waits until every queued message is delivered; false if the wait timed out, or if a delivery
 * failed since the calling thread's first send after its last flush (the last failure in err;
 * with threads sharing the producer, possibly another thread's message). */
bool jt_kafka_flush(rd_kafka_t *rk, int timeout_ms, jt_error_t *err);

/* One consumer poll: a message to handle, or NULL for none within timeout_ms. Consumer errors
 * are logged (a partition's end is not an error) and swallowed, so loops only see data. */
rd_kafka_message_t *jt_kafka_poll_message(rd_kafka_t *consumer, int timeout_ms);

/* Destroys a producer or consumer created here (closing a consumer first); NULL is a no-op.
 * A consumer that subscribed and never had an assignment is closed (it leaves its group) but not
 * destroyed, since librdkafka 2.0.2 aborts there (#4312): its threads and connections live on
 * until the process exits, so call this for a consumer only when the process is ending (the
 * worker and the notifier do). At most 16 such handles are kept reachable for leak checkers. */
void jt_kafka_destroy(rd_kafka_t *rk);

#endif
