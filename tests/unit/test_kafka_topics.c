/* Topic provisioning against librdkafka's mock cluster, as a principal without the right to
 * create topics: when the topics exist the create path is never taken, and a missing topic is
 * an error naming it and the command that creates it. Then the settings the programs ask for
 * (options and environment) and the command line an operator is told to run.
 *
 * CreateTopics requests are refused with TOPIC_AUTHORIZATION_FAILED (pushed errors). The 2.0
 * mock cluster goes further: it names no controller and implements neither CreateTopics nor
 * DescribeConfigs, so any create attempt fails there (after ADMIN_MS), and a success with the
 * topics present proves no attempt was made, on that version and on later ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jt_config.h"
#include "jt_kafka.h"
#include "jt_kafka_admin.h"
#include "jt_options.h"
#include "jt_startup.h"
#include "jt_test.h"
/* after rdkafka.h, which jt_kafka.h includes */
#include <librdkafka/rdkafka_mock.h>

#define CREATE_TOPICS_API_KEY 19
#define DAY_MS                (24LL * 3600 * 1000)
#define ADMIN_MS              1000 /* bound of each Admin API request */

typedef struct {
        rd_kafka_t *owner; /* the client that carries the mock cluster */
        rd_kafka_mock_cluster_t *mcluster;
        rd_kafka_t *client; /* the program's client */
} mock_t;

static const jt_kafka_admin_topic_spec_t specs[] = {
    {"jt.unit.stats", 12, 1, 1, 7 * DAY_MS},
    {"jt.unit.cleanup", 12, 1, 1, 7 * DAY_MS},
    {"jt.unit.status", 12, 1, 1, 7 * DAY_MS},
    {"jt.unit.dlq", 12, 1, 1, 28 * DAY_MS},
};

static int mock_setup(void **state) {
        static mock_t m;
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        jt_kafka_opts_t opts = {.timeout_ms = 5000};
        jt_error_t err;

        rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
        m.owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        assert_non_null(m.owner);
        m.mcluster = rd_kafka_mock_cluster_new(m.owner, 1);
        assert_non_null(m.mcluster);
        opts.brokers = rd_kafka_mock_cluster_bootstraps(m.mcluster);
        jt_error_clear(&err);
        m.client = jt_kafka_producer_new(&opts, &err);
        assert_non_null(m.client);
        /* Every create is refused, as for a principal without the CREATE right. */
        rd_kafka_mock_push_request_errors(m.mcluster, CREATE_TOPICS_API_KEY, 8,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        *state = &m;
        return 0;
}

static int mock_teardown(void **state) {
        mock_t *m = *state;
        jt_kafka_destroy(m->client);
        rd_kafka_mock_cluster_destroy(m->mcluster);
        rd_kafka_destroy(m->owner);
        return 0;
}

/* Whether the cluster's metadata lists topic. */
static bool listed(rd_kafka_t *rk, const char *topic) {
        const struct rd_kafka_metadata *md = NULL;
        bool found;

        assert_int_equal(rd_kafka_metadata(rk, 1, NULL, &md, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
        found = jt_kafka_admin_topic_find(md, topic) != NULL;
        rd_kafka_metadata_destroy(md);
        return found;
}

static void assert_contains(const char *text, const char *part) {
        if (!strstr(text, part))
                fail_msg("expected \"%s\" in: %s", part, text);
}

/* Runs first: only the status topic exists, so the DLQ is missing. */
static void missing_topic_refused_with_the_command_to_create_it(void **state) {
        mock_t *m = *state;
        jt_error_t err;

        rd_kafka_mock_topic_create(m->mcluster, "jt.unit.status", 12, 1);
        jt_error_clear(&err);
        assert_false(jt_kafka_admin_ensure_topic_specs(m->client, &specs[2], 2, ADMIN_MS, &err));
        assert_contains(err.message, "topic jt.unit.dlq does not exist and creating it failed");
        assert_contains(err.message, "kafka-topics.sh --bootstrap-server \"$JT_KAFKA_BROKERS\" "
                                     "--create --topic jt.unit.dlq --partitions 12 "
                                     "--replication-factor 1 --config min.insync.replicas=1 "
                                     "--config retention.ms=2419200000");
        assert_false(listed(m->client, "jt.unit.dlq"));

        /* A program that only reads creates nothing and names the topic. */
        jt_error_clear(&err);
        assert_false(jt_kafka_admin_require_topics(m->client, &specs[3], 1, ADMIN_MS, &err));
        assert_true(err.transient);
        assert_contains(err.message, "topic jt.unit.dlq does not exist and this program creates "
                                     "none: create it with kafka-topics.sh");
        assert_false(listed(m->client, "jt.unit.dlq"));
}

static void existing_topics_need_no_create_right(void **state) {
        mock_t *m = *state;
        jt_error_t err;

        for (size_t i = 0; i < 4; i++)
                rd_kafka_mock_topic_create(m->mcluster, specs[i].name, 12, 1);
        jt_error_clear(&err);
        assert_ok(jt_kafka_admin_ensure_topic_specs(m->client, specs, 4, ADMIN_MS, &err), err);
        assert_ok(jt_kafka_admin_require_topics(m->client, specs, 4, ADMIN_MS, &err), err);
        /* Different settings asked of existing topics: reported (a warning), never a create. */
        {
                jt_kafka_admin_topic_spec_t other = specs[0];
                other.partitions = 24;
                other.replication_factor = 3;
                assert_ok(jt_kafka_admin_ensure_topic_specs(m->client, &other, 1, ADMIN_MS, &err),
                          err);
        }
}

static void create_command_lists_the_settings(void **state) {
        static const struct {
                jt_kafka_admin_topic_spec_t spec;
                const char *want;
        } cases[] = {
            {{"a", 3, 2, 0, 0}, " --topic a --partitions 3 --replication-factor 2"},
            {{"b", 12, 3, 2, 0},
             " --topic b --partitions 12 --replication-factor 3 --config min.insync.replicas=2"},
            {{"c", 1, 1, 0, -1},
             " --topic c --partitions 1 --replication-factor 1 "
             "--config retention.ms=-1"},
        };
        char buf[320];
        const char *prefix = "kafka-topics.sh --bootstrap-server \"$JT_KAFKA_BROKERS\" --create";

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char want[320];
                snprintf(want, sizeof(want), "%s%s", prefix, cases[i].want);
                jt_kafka_admin_create_command(&cases[i].spec, buf, sizeof(buf));
                assert_string_equal(buf, want);
        }
}

static const jt_opt_t *const kafka_tables[] = {jt_opts_kafka, NULL};
static const jt_command_t kafka_cmd = {"test", "a test command", kafka_tables, NULL, NULL, NULL,
                                       NULL};

static jt_config_t *parse(char **argv, int argc) {
        jt_error_t err;
        jt_config_t *cfg;

        jt_error_clear(&err);
        cfg = jt_config_parse(&kafka_cmd, argc, argv, &err);
        if (!cfg)
                fail_msg("parsing the options: %s", err.message);
        return cfg;
}

static void specs_from_options_and_environment(void **state) {
        char *defaults[] = {"prog test", NULL};
        char *given[] = {"prog test", "--replication-factor", "3", "--dlq-retention", "35", NULL};
        char *bad[] = {"prog test", "--min-insync-replicas", "2", NULL};
        jt_kafka_admin_topic_spec_t got[4];
        jt_config_t *cfg;
        jt_error_t err;

        (void)state;
        jt_error_clear(&err);
        cfg = parse(defaults, 1);
        assert_ok(jt_startup_topic_specs(cfg, got, &err), err);
        assert_string_equal(got[3].name, "joytify.tasks.dlq");
        assert_int_equal(got[0].partitions, 12);
        assert_int_equal(got[0].replication_factor, 1);
        assert_int_equal(got[0].min_insync_replicas, 1);
        assert_int_equal(got[0].retention_ms, 7 * DAY_MS);
        assert_int_equal(got[2].retention_ms, 7 * DAY_MS);
        assert_int_equal(got[3].retention_ms, 28 * DAY_MS); /* dead letters keep for weeks */
        jt_config_destroy(cfg);

        /* The Kubernetes ConfigMap's variables: the production overlay's values. */
        setenv("JT_TASK_PARTITIONS", "6", 1);
        setenv("JT_MIN_INSYNC_REPLICAS", "2", 1);
        setenv("JT_STATUS_RETENTION", "3", 1);
        cfg = parse(given, 5);
        assert_ok(jt_startup_topic_specs(cfg, got, &err), err);
        for (int i = 0; i < 4; i++) {
                assert_int_equal(got[i].partitions, 6);
                assert_int_equal(got[i].replication_factor, 3);
                assert_int_equal(got[i].min_insync_replicas, 2);
        }
        assert_int_equal(got[1].retention_ms, 7 * DAY_MS);
        assert_int_equal(got[2].retention_ms, 3 * DAY_MS);
        assert_int_equal(got[3].retention_ms, 35 * DAY_MS);
        jt_config_destroy(cfg);
        unsetenv("JT_TASK_PARTITIONS");
        unsetenv("JT_MIN_INSYNC_REPLICAS");
        unsetenv("JT_STATUS_RETENTION");

        cfg = parse(bad, 3);
        assert_false(jt_startup_topic_specs(cfg, got, &err));
        assert_int_equal(err.domain, JT_ERR_CONFIG);
        assert_string_equal(err.message, "--min-insync-replicas must be at most "
                                         "--replication-factor (got 2 > 1)");
        jt_config_destroy(cfg);
}

int main(void) {
        const struct CMUnitTest mock_tests[] = {
            cmocka_unit_test(missing_topic_refused_with_the_command_to_create_it),
            cmocka_unit_test(existing_topics_need_no_create_right),
        };
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(create_command_lists_the_settings),
            cmocka_unit_test(specs_from_options_and_environment),
        };
        return cmocka_run_group_tests(mock_tests, mock_setup, mock_teardown) |
               cmocka_run_group_tests(tests, NULL, NULL);
}
