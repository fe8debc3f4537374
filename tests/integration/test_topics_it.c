/* Topic provisioning on the real stack: the programs that only read the status topic
 * (`joytify-notifier watch` and `run`) exit naming a missing topic and how to create it, and
 * create nothing; a producer command creates the four topics with the partitions, replication,
 * min.insync.replicas and retention asked (options and JT_* variables), read back from the
 * brokers (metadata and DescribeConfigs); asked again with other settings, it warns naming each
 * setting and alters nothing.
 * Usage: test_topics_it [BUILD-DIR] (default $JT_BUILD_DIR) */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "it_env.h"
#include "it_kafka.h"
#include "it_proc.h"
#include "jt_config.h"
#include "jt_kafka_admin.h"

#define WAIT_MS  60000
#define LOG_TAIL 8192
#define DAY_MS   (24LL * 3600 * 1000)

static char producer_path[1024], notifier_path[1024];

typedef struct {
        char base[96];
        char names[4][128];
        const char *topics[4]; /* stats, cleanup, status, dlq */
        char db[96];
} names_t;

static void names_make(names_t *n, const char *what) {
        static const char *const roles[4] = {"stats", "cleanup", "status", "dlq"};

        snprintf(n->base, sizeof(n->base), "jt.it.topics.%s.%d", what, (int)getpid());
        snprintf(n->db, sizeof(n->db), "jt_it_topics_%d", (int)getpid());
        for (int i = 0; i < 4; i++) {
                snprintf(n->names[i], sizeof(n->names[i]), "%s.%s", n->base, roles[i]);
                n->topics[i] = n->names[i];
        }
}

/* Runs path with args (the four topic options appended) to its end; its exit code, its log
 * in log. */
static int run(const char *name, const char *path, const names_t *n, const char *const *args,
               const char *const *env, char *log, size_t size) {
        const char *argv[IT_PROC_ARGS_MAX];
        it_proc_t p = {0};
        size_t k = 0;
        int rc;

        for (; args[k]; k++)
                argv[k] = args[k];
        argv[k++] = "--stats-topic", argv[k++] = n->topics[0];
        argv[k++] = "--cleanup-topic", argv[k++] = n->topics[1];
        argv[k++] = "--status-topic", argv[k++] = n->topics[2];
        argv[k++] = "--dlq-topic", argv[k++] = n->topics[3];
        argv[k] = NULL;
        it_proc_start(&p, name, path, argv, env);
        if (!it_proc_wait(&p, WAIT_MS)) {
                printf("%s\n", it_proc_log_tail(&p, log, size));
                it_proc_cleanup(&p);
                fail_msg("%s: still running after %d s", name, WAIT_MS / 1000);
        }
        rc = it_proc_exit_code(&p);
        it_proc_log_tail(&p, log, size);
        printf("$ %s\n%s[exit %d]\n", p.line, log, rc);
        it_proc_cleanup(&p);
        return rc;
}

static void expect_in(const char *log, const char *what, const char *part) {
        if (!strstr(log, part))
                fail_msg("%s: expected \"%s\" in its output, actual:\n%s", what, part, log);
}

static void read_only_programs_create_no_topic(void **state) {
        rd_kafka_t *reader = it_kafka_new(it_env("JT_KAFKA_BROKERS"));
        char log[LOG_TAIL], missing[256], group[160];
        names_t n;
        int rc;

        (void)state;
        names_make(&n, "ro");
        snprintf(missing, sizeof(missing), "topic %s does not exist and this program creates none",
                 n.topics[2]);
        snprintf(group, sizeof(group), "%s.notifier", n.base);
        rc = run("joytify-notifier watch", notifier_path, &n,
                 (const char *const[]){"watch", "--timeout", "5", NULL}, NULL, log, sizeof(log));
        /* 75, as for a server not answering: a supervisor tries again (the topic may come). */
        if (rc != JT_EXIT_TEMPFAIL)
                fail_msg("watch on a missing status topic: expected exit %d, actual %d",
                         JT_EXIT_TEMPFAIL, rc);
        expect_in(log, "watch", missing);
        expect_in(log, "watch", "kafka-topics.sh --bootstrap-server");
        expect_in(log, "watch", "joytify-producer topics");

        rc = run("joytify-notifier run", notifier_path, &n,
                 (const char *const[]){"run", "--group", group, "--db", n.db, NULL},
                 (const char *const[]){"DISCORD_WEBHOOK_URL=", NULL}, log, sizeof(log));
        if (rc != JT_EXIT_TEMPFAIL)
                fail_msg("run on a missing status topic: expected exit %d, actual %d",
                         JT_EXIT_TEMPFAIL, rc);
        expect_in(log, "run", missing);
        for (int i = 0; i < 4; i++)
                if (it_topic_partitions(reader, n.topics[i]) != 0)
                        fail_msg("topic %s: expected not created by a reading program, actual "
                                 "it exists",
                                 n.topics[i]);
        it_kafka_destroy(reader);
}

/* The value of topic's setting name, read back through jt_kafka_admin. */
static long long setting(rd_kafka_t *rk, const char *topic, const char *name) {
        char value[64];
        jt_error_t err;

        jt_error_clear(&err);
        if (!jt_kafka_admin_topic_config(rk, topic, name, value, sizeof(value), 15000, &err))
                fail_msg("reading %s of %s: %s", name, topic, err.message);
        return strtoll(value, NULL, 10);
}

static void expect_settings(rd_kafka_t *rk, const names_t *n, int partitions,
                            const long long retention_days[4]) {
        for (int i = 0; i < 4; i++) {
                const char *t = n->topics[i];
                long long got = setting(rk, t, "retention.ms");
                int parts = it_topic_partitions(rk, t);
                printf("%s: %d partitions, retention.ms %lld, min.insync.replicas %lld\n", t, parts,
                       got, setting(rk, t, "min.insync.replicas"));
                if (parts != partitions)
                        fail_msg("%s: expected %d partitions, actual %d", t, partitions, parts);
                if (got != retention_days[i] * DAY_MS)
                        fail_msg("%s: expected retention.ms %lld, actual %lld", t,
                                 retention_days[i] * DAY_MS, got);
                if (setting(rk, t, "min.insync.replicas") != 1)
                        fail_msg("%s: expected min.insync.replicas 1", t);
        }
}

static void producer_creates_topics_with_their_settings(void **state) {
        rd_kafka_t *reader = it_kafka_new(it_env("JT_KAFKA_BROKERS"));
        static const long long days[4] = {2, 2, 5, 30};
        char log[LOG_TAIL], warning[256];
        names_t n;
        int rc;

        (void)state;
        names_make(&n, "rw");
        /* A job's producer creates them: options and the ConfigMap's variables. */
        rc = run("joytify-producer cleanup", producer_path, &n,
                 (const char *const[]){"cleanup", "--db", n.db, "--task-partitions", "3",
                                       "--task-retention", "2", "--status-retention", "5", NULL},
                 (const char *const[]){"JT_REPLICATION_FACTOR=1", "JT_MIN_INSYNC_REPLICAS=1",
                                       "JT_DLQ_RETENTION=30", NULL},
                 log, sizeof(log));
        if (rc != 0)
                fail_msg("cleanup: expected exit 0, actual %d", rc);
        expect_in(log, "cleanup", "created topic");
        expect_settings(reader, &n, 3, days);

        /* Other settings asked of existing topics: each named in a warning, nothing altered. */
        rc = run("joytify-producer topics", producer_path, &n,
                 (const char *const[]){"topics", "--task-partitions", "4", "--dlq-retention", "28",
                                       NULL},
                 NULL, log, sizeof(log));
        if (rc != 0)
                fail_msg("topics: expected exit 0, actual %d", rc);
        snprintf(warning, sizeof(warning), "topic %s exists with 3 partitions, asked 4",
                 n.topics[0]);
        expect_in(log, "topics", warning);
        snprintf(warning, sizeof(warning),
                 "topic %s exists with retention.ms=%lld, asked %lld: left as it is", n.topics[3],
                 30 * DAY_MS, 28 * DAY_MS);
        expect_in(log, "topics", warning);
        if (strstr(log, "created topic"))
                fail_msg("topics: expected no topic created, actual:\n%s", log);
        expect_settings(reader, &n, 3, days);
        it_delete_topics(reader, n.topics, 4);
        it_kafka_destroy(reader);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(read_only_programs_create_no_topic),
            cmocka_unit_test(producer_creates_topics_with_their_settings),
        };
        const char *build = argc > 1 ? argv[1] : NULL;

        if (!it_env_program(producer_path, sizeof(producer_path), build,
                            "producer/joytify-producer") ||
            !it_env_program(notifier_path, sizeof(notifier_path), build,
                            "notifier/joytify-notifier"))
                return 1;
        setvbuf(stdout, NULL, _IOLBF, 0);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
