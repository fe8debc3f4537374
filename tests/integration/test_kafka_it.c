/* On the real broker: topics created through the Admin API with the configured partitions,
 * and an Avro-encoded task sent, consumed by a group, decoded and compared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "it_env.h"
#include "jt_test.h"
#include "jt_avro.h"
#include "jt_kafka.h"
#include "jt_kafka_admin.h"

static int partition_count(rd_kafka_t *rk, const char *topic) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        int n = -1;

        if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (md->topic_cnt == 1 && !md->topics[0].err)
                        n = md->topics[0].partition_cnt;
                rd_kafka_metadata_destroy(md);
        }
        rd_kafka_topic_destroy(rkt);
        return n;
}

static void topics_are_created_once(void **state) {
        jt_kafka_opts_t opts = it_env_kafka_opts();
        char a[64], b[64];
        const char *topics[2] = {a, b};
        jt_error_t err;
        rd_kafka_t *rk;

        snprintf(a, sizeof(a), "jt.it.%d.a", (int)getpid());
        snprintf(b, sizeof(b), "jt.it.%d.b", (int)getpid());
        jt_error_clear(&err);
        rk = jt_kafka_producer_new(&opts, &err);
        assert_ok(rk, err);
        assert_ok(jt_kafka_admin_ensure_topics(rk, topics, 2, 5, 1, 10000, &err), err);
        assert_int_equal(partition_count(rk, a), 5);
        assert_int_equal(partition_count(rk, b), 5);
        /* A second call, with another partition count, leaves existing topics alone. */
        assert_ok(jt_kafka_admin_ensure_topics(rk, topics, 2, 7, 1, 10000, &err), err);
        assert_int_equal(partition_count(rk, a), 5);
        /* An impossible replication factor is refused by the broker, with the topic named. */
        snprintf(a, sizeof(a), "jt.it.%d.c", (int)getpid());
        assert_false(jt_kafka_admin_ensure_topics(rk, topics, 1, 1, 3, 10000, &err));
        assert_non_null(strstr(err.message, a));
        jt_kafka_destroy(rk);
}

static void encoded_task_round_trips_through_a_group(void **state) {
        jt_kafka_opts_t opts = it_env_kafka_opts();
        char topic[64], group[64];
        const char *topics[1] = {topic};
        jt_stats_task_t task = {.job_id = "stats-2026-10",
                                .task_id = "stats-2026-10/0007",
                                .kind = JT_STATS_TASK_SHARD,
                                .shard = 7,
                                .shard_count = 16,
                                .month = "2026-10",
                                .test_mode = true,
                                .run_id = "r1",
                                .created_at_ms = 1790000000123LL};
        jt_stats_task_t got = {0};
        jt_avro_registry_t *reg;
        rd_kafka_t *producer, *consumer;
        rd_kafka_topic_partition_list_t *subs;
        rd_kafka_message_t *msg = NULL;
        jt_error_t err;
        void *buf = NULL;
        size_t len = 0;

        snprintf(topic, sizeof(topic), "jt.it.%d.tasks", (int)getpid());
        snprintf(group, sizeof(group), "jt-it-%d", (int)getpid());
        jt_error_clear(&err);
        reg = jt_avro_registry_new(&err);
        assert_ok(reg, err);
        producer = jt_kafka_producer_new(&opts, &err);
        assert_ok(producer, err);
        assert_ok(jt_kafka_admin_ensure_topics(producer, topics, 1, 3, 1, 10000, &err), err);
        assert_ok(jt_stats_task_encode(reg, &task, &buf, &len, &err), err);
        assert_ok(jt_kafka_send(producer, topic, task.task_id, strlen(task.task_id), buf, len, NULL,
                                &err),
                  err);
        assert_ok(jt_kafka_flush(producer, 10000, &err), err);
        free(buf);

        consumer = jt_kafka_consumer_new(&opts, group, &err);
        assert_ok(consumer, err);
        subs = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
        assert_int_equal(rd_kafka_subscribe(consumer, subs), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(subs);
        for (int i = 0; i < 300 && !msg; i++) {
                msg = rd_kafka_consumer_poll(consumer, 100);
                if (msg && msg->err) {
                        rd_kafka_message_destroy(msg);
                        msg = NULL;
                }
        }
        if (!msg)
                fail_msg("no message consumed from %s within 30 s", topic);
        assert_int_equal(msg->key_len, strlen(task.task_id));
        assert_memory_equal(msg->key, task.task_id, msg->key_len);
        assert_ok(jt_stats_task_decode(reg, msg->payload, msg->len, &got, &err), err);
        assert_string_equal(got.job_id, task.job_id);
        assert_string_equal(got.task_id, task.task_id);
        assert_int_equal(got.kind, task.kind);
        assert_int_equal(got.shard, 7);
        assert_int_equal(got.shard_count, 16);
        assert_string_equal(got.month, "2026-10");
        assert_true(got.test_mode);
        assert_string_equal(got.run_id, "r1");
        assert_int_equal(got.created_at_ms, task.created_at_ms);
        jt_stats_task_clear(&got);
        rd_kafka_message_destroy(msg);
        jt_kafka_destroy(consumer);
        jt_kafka_destroy(producer);
        jt_avro_registry_destroy(reg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(topics_are_created_once),
            cmocka_unit_test(encoded_task_round_trips_through_a_group),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
