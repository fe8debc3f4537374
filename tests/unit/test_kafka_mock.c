/* Kafka client setup against librdkafka's mock cluster: a produced message consumed back by a
 * group, injected delivery errors, an unreachable broker. (The 2.0 mock cluster has no
 * CreateTopics; topic creation is tested on the real broker.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "jt_kafka.h"
#include "jt_kafka_admin.h"
#include "jt_test.h"
/* after rdkafka.h, which jt_kafka.h includes */
#include <librdkafka/rdkafka_mock.h>

typedef struct {
        rd_kafka_t *owner; /* the client that carries the mock cluster */
        rd_kafka_mock_cluster_t *mcluster;
        char bootstraps[256];
} mock_t;

static int mock_setup(void **state) {
        static mock_t m;
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();

        rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));

        m.owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        assert_non_null(m.owner);
        m.mcluster = rd_kafka_mock_cluster_new(m.owner, 1);
        assert_non_null(m.mcluster);
        snprintf(m.bootstraps, sizeof(m.bootstraps), "%s",
                 rd_kafka_mock_cluster_bootstraps(m.mcluster));
        *state = &m;
        return 0;
}

static int mock_teardown(void **state) {
        mock_t *m = *state;
        rd_kafka_mock_cluster_destroy(m->mcluster);
        rd_kafka_destroy(m->owner);
        return 0;
}

static void topics_created_and_message_round_trips(void **state) {
        mock_t *m = *state;
        jt_kafka_opts_t opts = {
            .brokers = m->bootstraps, .settings = NULL, .setting_count = 0, .timeout_ms = 5000};
        jt_error_t err;
        rd_kafka_t *producer, *consumer;
        rd_kafka_topic_partition_list_t *subs;
        rd_kafka_message_t *msg = NULL;

        jt_error_clear(&err);
        producer = jt_kafka_producer_new(&opts, &err);
        assert_non_null(producer);
        assert_ok(jt_kafka_admin_check_reachable(producer, &opts, &err), err);
        rd_kafka_mock_topic_create(m->mcluster, "jt.unit.a", 3, 1);
        assert_ok(jt_kafka_send(producer, "jt.unit.a", "job/1", 5, "payload", 7, NULL, &err), err);
        assert_ok(jt_kafka_flush(producer, 5000, &err), err);

        consumer = jt_kafka_consumer_new(&opts, "jt-unit-group", &err);
        assert_non_null(consumer);
        subs = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(subs, "jt.unit.a", RD_KAFKA_PARTITION_UA);
        assert_int_equal(rd_kafka_subscribe(consumer, subs), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(subs);
        for (int i = 0; i < 100 && !msg; i++) {
                msg = rd_kafka_consumer_poll(consumer, 100);
                if (msg && msg->err) {
                        rd_kafka_message_destroy(msg);
                        msg = NULL;
                }
        }
        assert_non_null(msg);
        assert_int_equal(msg->len, 7);
        assert_memory_equal(msg->payload, "payload", 7);
        assert_int_equal(msg->key_len, 5);
        assert_memory_equal(msg->key, "job/1", 5);
        rd_kafka_message_destroy(msg);
        jt_kafka_destroy(consumer);
        jt_kafka_destroy(producer);
}

static void delivery_failure_is_reported_by_flush(void **state) {
        mock_t *m = *state;
        jt_kv_t no_retries[] = {{"retries", "0"}, {"enable.idempotence", "false"}, {"acks", "all"}};
        jt_kafka_opts_t opts = {.brokers = m->bootstraps,
                                .settings = no_retries,
                                .setting_count = 3,
                                .timeout_ms = 5000};
        jt_error_t err;
        rd_kafka_t *producer;

        jt_error_clear(&err);
        producer = jt_kafka_producer_new(&opts, &err);
        assert_non_null(producer);
        rd_kafka_mock_topic_create(m->mcluster, "jt.unit.c", 1, 1);
        rd_kafka_mock_push_request_errors(m->mcluster, 0 /* ApiKey Produce */, 1,
                                          RD_KAFKA_RESP_ERR_INVALID_RECORD);
        assert_ok(jt_kafka_send(producer, "jt.unit.c", "k", 1, "v", 1, NULL, &err), err);
        assert_false(jt_kafka_flush(producer, 5000, &err));
        assert_non_null(strstr(err.message, "delivery to jt.unit.c"));
        /* The failure is reported once; the next message goes through. */
        assert_ok(jt_kafka_send(producer, "jt.unit.c", "k", 1, "v", 1, NULL, &err), err);
        assert_ok(jt_kafka_flush(producer, 5000, &err), err);
        jt_kafka_destroy(producer);
}

static void unreachable_broker_is_named(void **state) {
        jt_kafka_opts_t opts = {
            .brokers = "127.0.0.1:1", .settings = NULL, .setting_count = 0, .timeout_ms = 1000};
        jt_error_t err;
        rd_kafka_t *producer;

        jt_error_clear(&err);
        producer = jt_kafka_producer_new(&opts, &err);
        assert_non_null(producer);
        assert_false(jt_kafka_admin_check_reachable(producer, &opts, &err));
        assert_true(err.transient);
        assert_non_null(strstr(err.message, "cannot reach Kafka at 127.0.0.1:1 within 1 s"));
        jt_kafka_destroy(producer);
}

/* librdkafka 2.0.2 (Debian 12) aborts in rd_kafka_destroy when a cooperative-sticky consumer
 * is destroyed after its JoinGroup answer and before its first assignment (librdkafka #4312,
 * fixed in 2.3.0): a worker stopped while it joined crashed at exit (seen in CI). The child
 * (this program run again with JT_UNIT_JOIN_CHILD set: a fresh process, not a fork of one with
 * librdkafka threads) has the mock broker hold its SyncGroup answer back 10 s and destroys the
 * consumer once it has its member id, inside that window. Exit codes: 0 destroyed, 3-6 setup
 * failed or the window missed. */
static int join_child(void) {
        char errstr[256], bootstraps[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *owner, *consumer;
        rd_kafka_mock_cluster_t *mc;
        jt_kafka_opts_t opts = {.brokers = bootstraps, .timeout_ms = 5000};
        rd_kafka_topic_partition_list_t *parts = NULL;
        jt_error_t err;
        char *member = NULL;

        rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
        owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        mc = owner ? rd_kafka_mock_cluster_new(owner, 1) : NULL;
        if (!mc)
                return 3;
        snprintf(bootstraps, sizeof(bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(mc));
        rd_kafka_mock_topic_create(mc, "jt.unit.join", 2, 1);
        rd_kafka_mock_broker_push_request_error_rtts(mc, 1, 14 /* SyncGroup */, 1,
                                                     RD_KAFKA_RESP_ERR_NO_ERROR, 10000);
        jt_error_clear(&err);
        if (!(consumer = jt_kafka_consumer_new(&opts, "jt-unit-join", &err)) ||
            jt_kafka_subscribe(consumer, "jt.unit.join") != RD_KAFKA_RESP_ERR_NO_ERROR)
                return 4;
        /* The mock group answers a first JoinGroup after 3 s; the member id comes with it. */
        for (int i = 0; i < 80 && !(member && *member); i++) {
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(consumer, 100);
                if (msg)
                        rd_kafka_message_destroy(msg);
                if (member)
                        rd_kafka_mem_free(consumer, member);
                member = rd_kafka_memberid(consumer);
        }
        if (!member || !*member)
                return 5; /* no JoinGroup answer: the window was not reached */
        rd_kafka_mem_free(consumer, member);
        if (rd_kafka_assignment(consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || parts->cnt)
                return 6; /* assigned already: the window was missed */
        rd_kafka_topic_partition_list_destroy(parts);
        jt_kafka_destroy(consumer);
        return 0;
}

static void consumer_destroyed_before_its_first_assignment_does_not_abort(void **state) {
        pid_t pid;
        int status = 0;

        (void)state;
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                setenv("JT_UNIT_JOIN_CHILD", "1", 1);
                execl("/proc/self/exe", "test_kafka_mock", (char *)NULL);
                _exit(7);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status))
                fail_msg("the consumer's destroy killed the process with signal %d (librdkafka "
                         "#4312 abort)",
                         WTERMSIG(status));
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
        if (getenv("JT_UNIT_JOIN_CHILD"))
                return join_child();
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(topics_created_and_message_round_trips),
            cmocka_unit_test(delivery_failure_is_reported_by_flush),
            cmocka_unit_test(unreachable_broker_is_named),
            cmocka_unit_test(consumer_destroyed_before_its_first_assignment_does_not_abort),
        };
        return cmocka_run_group_tests(tests, mock_setup, mock_teardown);
}
