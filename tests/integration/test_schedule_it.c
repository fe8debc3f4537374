/* The scheduler on the real stack with a simulated clock: two schedulers started together at
 * 2026-11-01T01:00Z, running 7200 times faster, fire the latest missed fire of each schedule
 * once (stats of September, the cleanup of Monday 26 October; with no statistics job in the
 * ledger yet there is no catch-up of earlier months), then each new fire once (stats
 * of October on 1 November 02:00, the cleanup of Monday 2 November 04:00): four jobs, each in
 * the ledger once, with one JOB_STARTED each and no task sent twice. SIGTERM stops both with
 * exit code 0. Those months fall behind the default 60-day retention as real time passes, so the
 * schedulers keep 36500 days: the guard against recomputing such months has its own test
 * (stats_retention_it.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>

#include "it_env.h"
#include "jt_test.h"
#include "it_kafka.h"
#include "jt_avro.h"
#include "jt_mongo.h"

static const char *expected_jobs[] = {"stats-2026-09", "stats-2026-10", "cleanup-2026-10-26T0400Z",
                                      "cleanup-2026-11-02T0400Z"};
#define EXPECTED_JOBS 4
#define RANGES        3 /* users in the database, one per range (--users-per-task 1) */

typedef struct {
        char db[64], stats[64], cleanup[64], status[64], dlq[64];
} names_t;

static pid_t start_scheduler(const names_t *n, const char *cron_stats, const char *log) {
        char exe[512];
        pid_t pid;

        snprintf(exe, sizeof(exe), "%s/producer/joytify-producer", it_env("JT_BUILD_DIR"));
        pid = fork();
        if (pid == 0) {
                FILE *out = freopen(log, "w", stdout);
                (void)out;
                dup2(fileno(stdout), 2);
                execl(exe, exe, "schedule", "--clock", "2026-11-01T01:00Zx7200", "--users-per-task",
                      "1", "--retention-days", "36500", "--stats-cron", cron_stats, "--db", n->db,
                      "--stats-topic", n->stats, "--cleanup-topic", n->cleanup, "--status-topic",
                      n->status, "--dlq-topic", n->dlq, "--task-partitions", "3", (char *)NULL);
                _exit(127);
        }
        assert_true(pid > 0);
        return pid;
}

/* Waits for pid within timeout_s; returns its exit status, or fails the test. */
static int wait_exit(pid_t pid, int timeout_s, const char *what) {
        for (int i = 0; i < timeout_s * 10; i++) {
                int status = 0;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        if (!WIFEXITED(status))
                                fail_msg("%s died by signal %d", what, WTERMSIG(status));
                        return WEXITSTATUS(status);
                }
                usleep(100000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("%s did not exit within %d s", what, timeout_s);
        return -1;
}

static int64_t count_jobs(mongoc_client_t *client, const char *db, const char *id) {
        mongoc_collection_t *coll = mongoc_client_get_collection(client, db, "jobs");
        bson_t *filter = id ? BCON_NEW("_id", BCON_UTF8(id)) : bson_new();
        bson_error_t error;
        int64_t n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &error);

        if (n < 0)
                fail_msg("counting jobs in %s: %s", db, error.message);
        bson_destroy(filter);
        mongoc_collection_destroy(coll);
        return n;
}

/* Messages written to topic so far (every partition's high watermark; nothing is deleted). */
static int64_t messages_on(rd_kafka_t *rk, const char *topic) {
        int64_t total = 0;

        for (int p = 0; p < it_topic_partitions(rk, topic); p++) {
                int64_t low = 0, high = 0;
                it_watermarks(rk, topic, p, &low, &high);
                total += high;
        }
        return total;
}

static void two_schedulers_fire_each_job_once(void **state) {
        names_t n;
        char log1[128], log2[128], keys[2048];
        jt_error_t err;
        mongoc_client_pool_t *pool;
        mongoc_client_t *client;
        rd_kafka_t *reader = it_kafka_new(it_env("JT_KAFKA_BROKERS"));
        it_msgs_t tasks, events;
        jt_avro_registry_t *reg;
        pid_t a, b;
        int started[EXPECTED_JOBS] = {0}, finished[EXPECTED_JOBS] = {0};

        snprintf(n.db, sizeof(n.db), "jt_it_sched_%d", (int)getpid());
        snprintf(n.stats, sizeof(n.stats), "jt.it.sched.%d.stats", (int)getpid());
        snprintf(n.cleanup, sizeof(n.cleanup), "jt.it.sched.%d.cleanup", (int)getpid());
        snprintf(n.status, sizeof(n.status), "jt.it.sched.%d.status", (int)getpid());
        snprintf(n.dlq, sizeof(n.dlq), "jt.it.sched.%d.dlq", (int)getpid());
        snprintf(log1, sizeof(log1), "/tmp/jt-it-sched-%d-a.log", (int)getpid());
        snprintf(log2, sizeof(log2), "/tmp/jt-it-sched-%d-b.log", (int)getpid());
        jt_error_clear(&err);
        pool = jt_mongo_pool_new(it_env("JT_MONGO_URI"), "jt-it", 5000, &err);
        assert_ok(pool, err);
        client = mongoc_client_pool_pop(pool);
        {
                mongoc_collection_t *users = mongoc_client_get_collection(client, n.db, "users");
                bson_error_t error;
                for (int i = 0; i < RANGES; i++) {
                        bson_t *user = BCON_NEW("name", BCON_UTF8("scheduled user"));
                        if (!mongoc_collection_insert_one(users, user, NULL, NULL, &error))
                                fail_msg("inserting a user into %s.users: %s", n.db, error.message);
                        bson_destroy(user);
                }
                mongoc_collection_destroy(users);
        }

        a = start_scheduler(&n, "0 2 1 * *", log1);
        b = start_scheduler(&n, "0 2 1 * *", log2);
        /* Simulated 27 h (to Monday 04:00) take 13.5 s; wait for the last job, at most 60 s. */
        for (int i = 0; i < 600 && count_jobs(client, n.db, expected_jobs[3]) == 0; i++)
                usleep(100000);
        /* A scheduler whose first send failed (a topic the other one created a moment before
         * had no partitions in its metadata yet, seen on a freshly started stack) sends again
         * 30 s later; the job is in the ledger by then, its tasks not yet. */
        for (int i = 0; i < 450 && messages_on(reader, n.stats) < 2 * RANGES; i++)
                usleep(100000);
        usleep(1500000); /* the slower scheduler reaches the same fire */
        kill(a, SIGTERM);
        kill(b, SIGTERM);
        assert_int_equal(wait_exit(a, 10, "scheduler A"), 0);
        assert_int_equal(wait_exit(b, 10, "scheduler B"), 0);

        /* The ledger: exactly the four jobs. */
        for (int j = 0; j < EXPECTED_JOBS; j++)
                if (count_jobs(client, n.db, expected_jobs[j]) != 1)
                        fail_msg("job %s is in the ledger %" PRId64 " times, expected once",
                                 expected_jobs[j], count_jobs(client, n.db, expected_jobs[j]));
        assert_int_equal(count_jobs(client, n.db, NULL), EXPECTED_JOBS);

        /* Tasks: each stats job's ranges once (no playbacks: the cleanup jobs have none). A
         * mark of a topic that did not exist reads it from the beginning. */
        {
                it_mark_t m = {0};
                snprintf(m.topic, sizeof(m.topic), "%s", n.stats);
                it_read_since(reader, &m, &tasks);
                it_msgs_sort_by_key(&tasks);
        }
        if (tasks.count != 2 * RANGES)
                fail_msg("%zu stats tasks (%s), expected %d", tasks.count,
                         it_msgs_keys(&tasks, keys, sizeof(keys)), 2 * RANGES);
        for (size_t i = 1; i < tasks.count; i++)
                if (strcmp(tasks.msgs[i - 1].key, tasks.msgs[i].key) == 0)
                        fail_msg("task %s sent twice", tasks.msgs[i].key);

        /* Status events: one JOB_STARTED per job; the empty cleanup jobs one JOB_FINISHED. */
        {
                it_mark_t m = {0};
                snprintf(m.topic, sizeof(m.topic), "%s", n.status);
                it_read_since(reader, &m, &events);
        }
        reg = jt_avro_registry_new(&err);
        assert_ok(reg, err);
        for (size_t i = 0; i < events.count; i++) {
                jt_status_event_t ev = {0};
                assert_ok(jt_status_event_decode(reg, events.msgs[i].value, events.msgs[i].len, &ev,
                                                 &err),
                          err);
                for (int j = 0; j < EXPECTED_JOBS; j++) {
                        if (strcmp(ev.job_id, expected_jobs[j]) != 0)
                                continue;
                        if (ev.type == JT_STATUS_JOB_STARTED)
                                started[j]++;
                        if (ev.type == JT_STATUS_JOB_FINISHED)
                                finished[j]++;
                }
                jt_status_event_clear(&ev);
        }
        for (int j = 0; j < EXPECTED_JOBS; j++) {
                bool cleanup = strncmp(expected_jobs[j], "cleanup", 7) == 0;
                if (started[j] != 1 || finished[j] != (cleanup ? 1 : 0))
                        fail_msg("job %s: %d JOB_STARTED and %d JOB_FINISHED events, expected 1 "
                                 "and %d",
                                 expected_jobs[j], started[j], finished[j], cleanup ? 1 : 0);
        }

        jt_avro_registry_destroy(reg);
        it_msgs_free(&tasks);
        it_msgs_free(&events);
        {
                const char *topics[] = {n.stats, n.cleanup, n.status, n.dlq};
                mongoc_database_t *database = mongoc_client_get_database(client, n.db);
                mongoc_database_drop(database, NULL);
                mongoc_database_destroy(database);
                it_delete_topics(reader, topics, 4);
        }
        it_kafka_destroy(reader);
        mongoc_client_pool_push(pool, client);
        jt_mongo_pool_destroy(pool);
        unlink(log1);
        unlink(log2);
}

static void malformed_cron_is_refused(void **state) {
        char cmd[768];
        FILE *p;
        char out[1024] = "";
        size_t len;
        int status;

        snprintf(cmd, sizeof(cmd),
                 "%s/producer/joytify-producer schedule --cleanup-cron '0 4 * * 8' 2>&1",
                 it_env("JT_BUILD_DIR"));
        p = popen(cmd, "r");
        assert_non_null(p);
        len = fread(out, 1, sizeof(out) - 1, p);
        out[len] = '\0';
        status = pclose(p);
        assert_int_equal(WEXITSTATUS(status), 2);
        if (!strstr(out, "--cleanup-cron") || !strstr(out, "day-of-week 8 is out of range 0-7"))
                fail_msg("unexpected message: %s", out);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(malformed_cron_is_refused),
            cmocka_unit_test(two_schedulers_fire_each_job_once),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
