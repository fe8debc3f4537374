/* Reading what a command wrote to Kafka, for integration tests (it_kafka.h). */
#include "it_kafka.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "it_cmocka.h"
#include "it_proc.h"
#include "jt_time.h"

rd_kafka_t *it_kafka_new(const char *brokers) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512], group[64];
        rd_kafka_t *rk;

        snprintf(group, sizeof(group), "jt-it-reader-%d", (int)getpid());
        if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", errstr, sizeof(errstr)))
                fail_msg("reader configuration: %s", errstr);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk)
                fail_msg("creating the reader for %s: %s", brokers, errstr);
        return rk;
}

typedef struct {
        rd_kafka_t *rk;
        volatile int done;
} it_destroy_t;

static void *it_kafka_destroy_thread(void *arg) {
        it_destroy_t *d = arg;
        rd_kafka_destroy(d->rk);
        __atomic_store_n(&d->done, 1, __ATOMIC_RELEASE);
        return NULL;
}

/* librdkafka 2.0.2 can hang in rd_kafka_destroy() of a consumer that read partitions of topics
 * deleted since (its broker thread never finishes). A test must not hang on its own helper's
 * teardown, so the destroy gets 10 s and is otherwise left to the process exit, with a note. */
void it_kafka_destroy(rd_kafka_t *rk) {
        static it_destroy_t d; /* outlives this call if the destroy is left behind */
        pthread_t thread;

        if (!rk)
                return;
        rd_kafka_consumer_close(rk);
        d.rk = rk;
        d.done = 0;
        if (pthread_create(&thread, NULL, it_kafka_destroy_thread, &d) != 0) {
                rd_kafka_destroy(rk);
                return;
        }
        for (int i = 0; i < 100; i++) {
                if (__atomic_load_n(&d.done, __ATOMIC_ACQUIRE)) {
                        pthread_join(thread, NULL);
                        return;
                }
                usleep(100000);
        }
        fprintf(stderr, "note: the test reader's rd_kafka_destroy() did not finish within 10 s "
                        "(librdkafka 2.0.2 after deleting topics it read); left to process exit\n");
        pthread_detach(thread);
}

int it_topic_partitions(rd_kafka_t *rk, const char *topic) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t rc = rd_kafka_metadata(rk, 1, NULL, &md, IT_KAFKA_TIMEOUT_MS);
        int n = 0;

        if (rc)
                fail_msg("metadata for topic %s: %s", topic, rd_kafka_err2str(rc));
        for (int i = 0; i < md->topic_cnt; i++)
                if (strcmp(md->topics[i].topic, topic) == 0 && !md->topics[i].err)
                        n = md->topics[i].partition_cnt;
        rd_kafka_metadata_destroy(md);
        return n;
}

/* A topic a command has just created may not have its partition leaders yet: "Not leader for
 * partition" (seen once from test_producer_it's marks right after a run) or "Leader not
 * available" are waited out for IT_KAFKA_TIMEOUT_MS; any other error fails at once. */
void it_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *low,
                   int64_t *high) {
        int64_t deadline = jt_time_mono_ms() + IT_KAFKA_TIMEOUT_MS;
        rd_kafka_resp_err_t rc;

        while ((rc = rd_kafka_query_watermark_offsets(rk, topic, partition, low, high,
                                                      IT_KAFKA_TIMEOUT_MS)) != 0) {
                bool leaderless = rc == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                                  rc == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
                if (!leaderless || jt_time_mono_ms() > deadline)
                        fail_msg("watermarks of %s [%" PRId32 "]: %s", topic, partition,
                                 rd_kafka_err2str(rc));
                it_sleep_ms(100);
        }
}

void it_mark_capture(rd_kafka_t *rk, const char *topic, it_mark_t *mark) {
        int64_t low = 0;

        memset(mark, 0, sizeof(*mark));
        snprintf(mark->topic, sizeof(mark->topic), "%s", topic);
        mark->partitions = it_topic_partitions(rk, topic);
        if (mark->partitions > IT_MAX_PARTITIONS)
                fail_msg("topic %s has %d partitions, the test reader handles %d", topic,
                         mark->partitions, IT_MAX_PARTITIONS);
        for (int p = 0; p < mark->partitions; p++)
                it_watermarks(rk, topic, p, &low, &mark->end[p]);
}

void it_msgs_free(it_msgs_t *m) {
        for (size_t i = 0; i < m->count; i++) {
                free(m->msgs[i].key);
                free(m->msgs[i].value);
        }
        free(m->msgs);
        m->msgs = NULL;
        m->count = 0;
}

static int it_msg_cmp_key(const void *a, const void *b) {
        const it_msg_t *x = a, *y = b;
        int c = strcmp(x->key, y->key);
        if (c)
                return c;
        if (x->partition != y->partition)
                return x->partition < y->partition ? -1 : 1;
        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

void it_msgs_sort_by_key(it_msgs_t *m) {
        if (m->count > 1)
                qsort(m->msgs, m->count, sizeof(*m->msgs), it_msg_cmp_key);
}

const char *it_msgs_keys(const it_msgs_t *m, char *buf, size_t size) {
        size_t used = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < m->count && used < size; i++) {
                int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", m->msgs[i].key);
                if (n < 0)
                        break;
                used += (size_t)n;
        }
        if (m->count == 0)
                snprintf(buf, size, "(none)");
        return buf;
}

/* Partition order, then log order. */
static void sort_by_position(it_msgs_t *out) {
        size_t n = out->count;
        for (size_t i = 1; i < n; i++) {
                it_msg_t cur = out->msgs[i];
                size_t j = i;
                while (j > 0 && (out->msgs[j - 1].partition > cur.partition ||
                                 (out->msgs[j - 1].partition == cur.partition &&
                                  out->msgs[j - 1].offset > cur.offset))) {
                        out->msgs[j] = out->msgs[j - 1];
                        j--;
                }
                out->msgs[j] = cur;
        }
}

void it_read_since(rd_kafka_t *rk, const it_mark_t *mark, it_msgs_t *out) {
        int parts = it_topic_partitions(rk, mark->topic);
        int64_t start[IT_MAX_PARTITIONS], end[IT_MAX_PARTITIONS], next[IT_MAX_PARTITIONS];
        rd_kafka_topic_partition_list_t *assignment;
        size_t wanted = 0, cap = 0;
        int64_t deadline;

        out->msgs = NULL;
        out->count = 0;
        if (parts == 0)
                return;
        if (parts > IT_MAX_PARTITIONS)
                fail_msg("topic %s has %d partitions, the test reader handles %d", mark->topic,
                         parts, IT_MAX_PARTITIONS);
        assignment = rd_kafka_topic_partition_list_new(parts);
        for (int p = 0; p < parts; p++) {
                int64_t low = 0;
                it_watermarks(rk, mark->topic, p, &low, &end[p]);
                start[p] = p < mark->partitions ? mark->end[p] : 0;
                if (start[p] < low)
                        start[p] = low;
                next[p] = start[p];
                if (end[p] > start[p]) {
                        wanted += (size_t)(end[p] - start[p]);
                        rd_kafka_topic_partition_list_add(assignment, mark->topic, p)->offset =
                            start[p];
                }
        }
        if (wanted == 0) {
                rd_kafka_topic_partition_list_destroy(assignment);
                return;
        }
        if (rd_kafka_assign(rk, assignment))
                fail_msg("assigning the partitions of %s", mark->topic);
        rd_kafka_topic_partition_list_destroy(assignment);
        deadline = jt_time_mono_ms() + 30000;
        while (out->count < wanted) {
                rd_kafka_message_t *msg;
                int32_t p;
                it_msg_t *m;

                if (jt_time_mono_ms() > deadline)
                        fail_msg("reading %s: %zu of %zu messages within 30 s", mark->topic,
                                 out->count, wanted);
                msg = rd_kafka_consumer_poll(rk, 200);
                if (!msg)
                        continue;
                if (msg->err || strcmp(rd_kafka_topic_name(msg->rkt), mark->topic) != 0) {
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                p = msg->partition;
                /* Anything outside [next, end) is a leftover of an earlier read or a message
                 * written after now: not ours. */
                if (p < 0 || p >= parts || msg->offset < next[p] || msg->offset >= end[p]) {
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                next[p] = msg->offset + 1;
                if (out->count == cap) {
                        cap = cap ? cap * 2 : 16;
                        out->msgs = realloc(out->msgs, cap * sizeof(*out->msgs));
                        if (!out->msgs)
                                fail_msg("out of memory reading %s", mark->topic);
                }
                m = &out->msgs[out->count++];
                m->key = calloc(1, msg->key_len + 1);
                if (msg->key_len)
                        memcpy(m->key, msg->key, msg->key_len);
                m->key_len = msg->key_len;
                m->value = malloc(msg->len ? msg->len : 1);
                if (msg->len)
                        memcpy(m->value, msg->payload, msg->len);
                m->len = msg->len;
                m->partition = p;
                m->offset = msg->offset;
                m->timestamp_ms = rd_kafka_message_timestamp(msg, NULL);
                rd_kafka_message_destroy(msg);
        }
        rd_kafka_assign(rk, NULL);
        sort_by_position(out);
}

void it_delete_topics(rd_kafka_t *rk, const char *const *topics, size_t count) {
        rd_kafka_DeleteTopic_t *dels[16];
        rd_kafka_queue_t *queue;
        rd_kafka_event_t *ev;
        size_t n = 0;

        for (size_t i = 0; i < count && n < 16; i++)
                if (it_topic_partitions(rk, topics[i]) > 0)
                        dels[n++] = rd_kafka_DeleteTopic_new(topics[i]);
        if (n == 0)
                return;
        queue = rd_kafka_queue_new(rk);
        rd_kafka_DeleteTopics(rk, dels, n, NULL, queue);
        ev = rd_kafka_queue_poll(queue, IT_KAFKA_TIMEOUT_MS);
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_DeleteTopic_destroy_array(dels, n);
        rd_kafka_queue_destroy(queue);
}

void it_delete_group(rd_kafka_t *rk, const char *group) {
        rd_kafka_DeleteGroup_t *del = rd_kafka_DeleteGroup_new(group);
        rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev;

        rd_kafka_DeleteGroups(rk, &del, 1, NULL, queue);
        ev = rd_kafka_queue_poll(queue, IT_KAFKA_TIMEOUT_MS);
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_DeleteGroup_destroy(del);
        rd_kafka_queue_destroy(queue);
}

int64_t it_new_message_count(rd_kafka_t *rk, const it_mark_t *mark) {
        int parts = it_topic_partitions(rk, mark->topic);
        int64_t n = 0;

        for (int p = 0; p < parts; p++) {
                int64_t low = 0, high = 0;
                it_watermarks(rk, mark->topic, p, &low, &high);
                n += high - (p < mark->partitions ? mark->end[p] : 0);
        }
        return n;
}

void it_wait_topics_ready(rd_kafka_t *rk, const char *const *topics, int n) {
        int64_t deadline = jt_time_mono_ms() + 30000;

        for (int i = 0; i < n; i++) {
                int parts;
                while ((parts = it_topic_partitions(rk, topics[i])) == 0 &&
                       jt_time_mono_ms() < deadline)
                        it_sleep_ms(100);
                if (parts == 0)
                        fail_msg("topic %s: expected to exist within 30 s, actual missing",
                                 topics[i]);
                for (int p = 0; p < parts; p++) {
                        int64_t low = 0, high = 0;
                        rd_kafka_resp_err_t rc;
                        while ((rc = rd_kafka_query_watermark_offsets(rk, topics[i], p, &low, &high,
                                                                      5000)) != 0) {
                                if (jt_time_mono_ms() > deadline)
                                        fail_msg("topic %s [%d]: expected ready within 30 s, "
                                                 "actual: %s",
                                                 topics[i], p, rd_kafka_err2str(rc));
                                it_sleep_ms(100);
                        }
                }
        }
}
