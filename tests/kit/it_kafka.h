/* Reading what a command wrote to Kafka, for integration tests: capture a topic's end offsets
 * before running the command (it_mark_capture), then read every message written since
 * (it_read_since), whatever the partition. A topic that did not exist at capture time is read
 * from its beginning, so "nothing was sent" holds even when the command would have created it.
 * Every failure fails the test with the topic named (cmocka's fail_msg). */
#ifndef JT_IT_KAFKA_H
#define JT_IT_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#define IT_KAFKA_TIMEOUT_MS 15000
#define IT_MAX_PARTITIONS   64

/* The end offsets of a topic at one moment. */
typedef struct {
        char topic[200];
        int partitions; /* 0: the topic did not exist */
        int64_t end[IT_MAX_PARTITIONS];
} it_mark_t;

/* One message read back: key and value copied (key NUL-terminated). */
typedef struct {
        char *key;
        size_t key_len;
        void *value;
        size_t len;
        int32_t partition;
        int64_t offset;
        int64_t timestamp_ms; /* -1 when the broker gave none */
} it_msg_t;

typedef struct {
        it_msg_t *msgs;
        size_t count;
} it_msgs_t;

/* A consumer used for metadata, watermarks, reads (by assignment, never committing) and topic
 * deletion. */
rd_kafka_t *it_kafka_new(const char *brokers);

/* Closes and destroys the reader; a destroy that hangs (librdkafka 2.0.2 after deleting topics
 * it read) is left to the process exit after 10 s, with a note. NULL is a no-op. */
void it_kafka_destroy(rd_kafka_t *rk);

/* Partition count of topic, 0 when it does not exist. Asks for every topic's metadata, so the
 * question itself never creates the topic. */
int it_topic_partitions(rd_kafka_t *rk, const char *topic);

void it_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *low,
                   int64_t *high);

/* Waits until every partition of the topics exists and has a leader (answers a watermark
 * query), at most 30 s. */
void it_wait_topics_ready(rd_kafka_t *rk, const char *const *topics, int n);

void it_mark_capture(rd_kafka_t *rk, const char *topic, it_mark_t *mark);

/* Number of messages on mark's topic since the mark (by watermarks). */
int64_t it_new_message_count(rd_kafka_t *rk, const it_mark_t *mark);

void it_msgs_free(it_msgs_t *m);

/* Sorts by key, then partition and offset (so messages of one key stay in log order). */
void it_msgs_sort_by_key(it_msgs_t *m);

/* "k1, k2, ..." for failure messages. */
const char *it_msgs_keys(const it_msgs_t *m, char *buf, size_t size);

/* Every message of mark's topic written after the mark was captured, in partition order and
 * log order within a partition. Reads up to the end offsets of now, so a command that has
 * exited (and flushed) is read completely. */
void it_read_since(rd_kafka_t *rk, const it_mark_t *mark, it_msgs_t *out);

/* Deletes topics a test made (best effort: a topic that is already gone is fine). */
void it_delete_topics(rd_kafka_t *rk, const char *const *topics, size_t count);

/* Deletes a consumer group a test made (best effort). */
void it_delete_group(rd_kafka_t *rk, const char *group);

#endif
