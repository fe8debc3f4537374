/* `joytify-producer stats` and `cleanup` on the real stack, run as a user runs them: the built
 * binary, its exit code and what it prints, the messages it leaves on Kafka (read back and
 * decoded) and the job ledger in MongoDB. Each test has its own database and topics.
 * The statistics months here are fixed (2026-09, 2026-10) and fall behind the default 60-day
 * retention as time passes: their runs give --retention-days 36500 so that the guard against
 * recomputing a month a cleanup cut into (tested in stats_retention_it.py) stays out of the way.
 * Usage: test_producer_it [PATH-TO-joytify-producer]  (default $JT_BUILD_DIR/producer/...) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <mongoc/mongoc.h>

#include "it_clients.h"
#include "it_env.h"
#include "it_expect.h"
#include "it_fixture.h"
#include "it_kafka.h"
#include "jt_avro.h"
#include "jt_time.h"

#define OUT_MAX 32768
#define HOUR_MS (3600 * 1000LL)

extern char **environ;

static char producer_path[1024];
static const char *producer_arg; /* argv[1], when given */
static it_clients_t clients;
static int test_seq;

/* One test's own database and topics, and the topics' end offsets before the last command. */
typedef it_fixture_t ctx_t;

/* ---------------------------------------------------------------------------------------- */
/* Expectations that say what was expected and what came instead. */

static void expect_exit(int got, int expected, const char *what, const char *out) {
        if (got != expected)
                fail_msg("%s: exit code expected %d, actual %d; output:\n%s", what, expected, got,
                         out);
}

static void expect_output(const char *out, const char *wanted, const char *what) {
        if (!strstr(out, wanted))
                fail_msg("%s: output expected to contain \"%s\", actual output:\n%s", what, wanted,
                         out);
}

static void expect_bool(const char *what, bool expected, bool actual) {
        if (expected != actual)
                fail_msg("%s: expected %s, actual %s", what, expected ? "true" : "false",
                         actual ? "true" : "false");
}

static void expect_count(const char *what, const it_msgs_t *m, size_t expected) {
        char keys[4096];
        if (m->count != expected)
                fail_msg("%s: expected %zu message(s), actual %zu (keys: %s)", what, expected,
                         m->count, it_msgs_keys(m, keys, sizeof(keys)));
}

static int64_t iso_ms(const char *iso) {
        int64_t secs = 0;
        jt_error_t err;

        jt_error_clear(&err);
        if (!jt_time_parse_iso(iso, &secs, &err))
                fail_msg("test data: %s", err.message);
        return secs * 1000;
}

static const char *ms_iso(int64_t ms, char *buf) {
        jt_time_format_iso(ms / 1000, buf, JT_TIME_ISO_BUF);
        return buf;
}

static void expect_time(const char *what, int64_t expected_ms, int64_t actual_ms) {
        char e[JT_TIME_ISO_BUF], a[JT_TIME_ISO_BUF];
        if (expected_ms != actual_ms)
                fail_msg("%s: expected %s (%" PRId64 "), actual %s (%" PRId64 ")", what,
                         ms_iso(expected_ms, e), expected_ms, ms_iso(actual_ms, a), actual_ms);
}

/* ---------------------------------------------------------------------------------------- */
/* Running the producer. Output goes to a file, so two runs at once cannot block on a pipe. */

typedef struct {
        pid_t pid;
        char out_path[64];
        char line[2048]; /* the command line, echoed with the output */
        struct timespec started;
} proc_t;

/* Starts joytify-producer with args (NULL-terminated) and the test's --db and topics after
 * them. mongo_uri, when not NULL, replaces JT_MONGO_URI in its environment. */
static void proc_start(proc_t *p, const ctx_t *c, const char *mongo_uri, const char *const *args) {
        const char *argv[64];
        char **envp;
        char uri_env[512];
        size_t env_n = 0, used;
        int n = 0, fd;

        argv[n++] = producer_path;
        for (const char *const *a = args; *a && n < 40; a++)
                argv[n++] = *a;
        argv[n++] = "--db";
        argv[n++] = c->db;
        argv[n++] = "--stats-topic";
        argv[n++] = c->topic[IT_T_STATS];
        argv[n++] = "--cleanup-topic";
        argv[n++] = c->topic[IT_T_CLEANUP];
        argv[n++] = "--status-topic";
        argv[n++] = c->topic[IT_T_STATUS];
        argv[n++] = "--dlq-topic";
        argv[n++] = c->topic[IT_T_DLQ];
        argv[n++] = "--task-partitions";
        argv[n++] = "3";
        argv[n] = NULL;

        for (char **e = environ; *e; e++)
                env_n++;
        envp = calloc(env_n + 2, sizeof(*envp));
        env_n = 0;
        for (char **e = environ; *e; e++)
                if (!mongo_uri || strncmp(*e, "JT_MONGO_URI=", 13) != 0)
                        envp[env_n++] = *e;
        if (mongo_uri) {
                snprintf(uri_env, sizeof(uri_env), "JT_MONGO_URI=%s", mongo_uri);
                envp[env_n++] = uri_env;
        }
        envp[env_n] = NULL;

        used = (size_t)snprintf(p->line, sizeof(p->line), "%s%s%sjoytify-producer",
                                mongo_uri ? "JT_MONGO_URI=" : "", mongo_uri ? mongo_uri : "",
                                mongo_uri ? " " : "");
        for (int i = 1; i < n && used < sizeof(p->line); i++)
                used += (size_t)snprintf(p->line + used, sizeof(p->line) - used, " %s", argv[i]);

        snprintf(p->out_path, sizeof(p->out_path), "/tmp/jt-prod-it-XXXXXX");
        fd = mkstemp(p->out_path);
        if (fd < 0)
                fail_msg("mkstemp %s failed", p->out_path);
        clock_gettime(CLOCK_MONOTONIC, &p->started);
        p->pid = fork();
        if (p->pid < 0)
                fail_msg("fork failed");
        if (p->pid == 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
                execve(producer_path, (char *const *)argv, envp);
                _exit(127);
        }
        close(fd);
        free(envp);
}

/* Waits for the run, puts its stdout and stderr into out and returns the exit code; *secs
 * (if not NULL) receives how long it ran. */
static int proc_wait(proc_t *p, char *out, size_t size, double *secs) {
        struct timespec ended;
        FILE *f;
        size_t got = 0;
        int status = 0;

        waitpid(p->pid, &status, 0);
        clock_gettime(CLOCK_MONOTONIC, &ended);
        f = fopen(p->out_path, "r");
        if (f) {
                got = fread(out, 1, size - 1, f);
                fclose(f);
        }
        out[got] = '\0';
        unlink(p->out_path);
        if (secs)
                *secs = (double)(ended.tv_sec - p->started.tv_sec) +
                        (double)(ended.tv_nsec - p->started.tv_nsec) / 1e9;
        printf("$ %s\n%s[exit %d]\n", p->line, out, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run_producer(const ctx_t *c, const char *mongo_uri, const char *const *args, char *out,
                        size_t size, double *secs) {
        proc_t p;
        proc_start(&p, c, mongo_uri, args);
        return proc_wait(&p, out, size, secs);
}

#define PRODUCER(c, out, ...)                                                                      \
        run_producer((c), NULL, (const char *const[]){__VA_ARGS__, NULL}, (out), sizeof(out), NULL)

/* ---------------------------------------------------------------------------------------- */
/* Kafka: marks before a command, messages after it. */

static void read_new(ctx_t *c, int t, it_msgs_t *out) {
        it_read_since(clients.reader, &c->mark[t], out);
}

static void expect_nothing_sent(ctx_t *c, const char *what) {
        for (int t = 0; t < IT_T_COUNT; t++) {
                it_msgs_t m;
                char label[256];
                read_new(c, t, &m);
                snprintf(label, sizeof(label), "%s: new messages on the %s topic %s", what,
                         it_topic_roles[t], c->topic[t]);
                expect_count(label, &m, 0);
                it_msgs_free(&m);
        }
}

static void decode_stats(const it_msg_t *m, jt_stats_task_t *task) {
        jt_error_t err;
        jt_error_clear(&err);
        memset(task, 0, sizeof(*task));
        if (!jt_stats_task_decode(clients.reg, m->value, m->len, task, &err))
                fail_msg("stats task %s (partition %" PRId32 ", offset %" PRId64 "): %s", m->key,
                         m->partition, m->offset, err.message);
}

static void decode_cleanup(const it_msg_t *m, jt_cleanup_task_t *task) {
        jt_error_t err;
        jt_error_clear(&err);
        memset(task, 0, sizeof(*task));
        if (!jt_cleanup_task_decode(clients.reg, m->value, m->len, task, &err))
                fail_msg("cleanup task %s (partition %" PRId32 ", offset %" PRId64 "): %s", m->key,
                         m->partition, m->offset, err.message);
}

static void decode_status(const it_msg_t *m, jt_status_event_t *event) {
        jt_error_t err;
        jt_error_clear(&err);
        memset(event, 0, sizeof(*event));
        if (!jt_status_event_decode(clients.reg, m->value, m->len, event, &err))
                fail_msg("status event %s (partition %" PRId32 ", offset %" PRId64 "): %s", m->key,
                         m->partition, m->offset, err.message);
}

/* The one JOB_STARTED event of job_id among the new status messages (exactly one), decoded
 * into *event; its Kafka timestamp in *ts_ms. Fails if any other job's event is there. */
static void expect_one_job_started(const it_msgs_t *status, const char *job_id,
                                   jt_status_event_t *event, int64_t *ts_ms) {
        int found = 0;

        for (size_t i = 0; i < status->count; i++) {
                jt_status_event_t e;
                char what[256];

                it_expect_str("status event key", job_id, status->msgs[i].key);
                decode_status(&status->msgs[i], &e);
                snprintf(what, sizeof(what), "job_id of status event %zu", i);
                it_expect_str(what, job_id, e.job_id);
                if (e.type == JT_STATUS_JOB_STARTED) {
                        if (found++)
                                jt_status_event_clear(event);
                        *event = e;
                        *ts_ms = status->msgs[i].timestamp_ms;
                } else {
                        jt_status_event_clear(&e);
                }
        }
        if (found != 1)
                fail_msg("JOB_STARTED events of %s: expected 1, actual %d (of %zu status "
                         "messages)",
                         job_id, found, status->count);
}

/* ---------------------------------------------------------------------------------------- */
/* MongoDB: playbacks in, ledger out. */

static void insert_playbacks(const ctx_t *c, const char *coll_name, const char *const *iso,
                             size_t n) {
        mongoc_collection_t *coll = it_fixture_collection(&clients, c, coll_name);
        bson_t **docs = calloc(n, sizeof(*docs));
        bson_error_t error;

        for (size_t i = 0; i < n; i++) {
                bson_oid_t user, song;
                bson_oid_init(&user, NULL);
                bson_oid_init(&song, NULL);
                docs[i] = BCON_NEW("user", BCON_OID(&user), "song", BCON_OID(&song), "duration",
                                   BCON_INT32(30 + (int32_t)i), "state", BCON_UTF8("completed"),
                                   "createdAt", BCON_DATE_TIME(iso_ms(iso[i])));
        }
        if (!mongoc_collection_insert_many(coll, (const bson_t **)docs, n, NULL, NULL, &error))
                fail_msg("inserting %zu playbacks into %s.%s: %s", n, c->db, coll_name,
                         error.message);
        for (size_t i = 0; i < n; i++)
                bson_destroy(docs[i]);
        free(docs);
        mongoc_collection_destroy(coll);
}

static int64_t count_docs(const ctx_t *c, const char *coll_name) {
        mongoc_collection_t *coll = it_fixture_collection(&clients, c, coll_name);
        bson_t filter = BSON_INITIALIZER;
        bson_error_t error;
        int64_t n = mongoc_collection_count_documents(coll, &filter, NULL, NULL, NULL, &error);

        if (n < 0)
                fail_msg("counting %s.%s: %s", c->db, coll_name, error.message);
        bson_destroy(&filter);
        mongoc_collection_destroy(coll);
        return n;
}

/* n users with fresh ObjectIds into coll_name (users or test-users). */
static void insert_users(const ctx_t *c, const char *coll_name, size_t n) {
        mongoc_collection_t *coll = it_fixture_collection(&clients, c, coll_name);
        bson_error_t error;

        for (size_t i = 0; i < n; i++) {
                bson_t *user = BCON_NEW("name", BCON_UTF8("a user"));
                if (!mongoc_collection_insert_one(coll, user, NULL, NULL, &error))
                        fail_msg("inserting a user into %s.%s: %s", c->db, coll_name,
                                 error.message);
                bson_destroy(user);
        }
        mongoc_collection_destroy(coll);
}

static void expect_ledger(const ctx_t *c, const char *job_id, bson_t *doc) {
        if (!it_fixture_ledger_get(&clients, c, job_id, doc))
                fail_msg("ledger %s.jobs: expected a document with _id %s, actual none", c->db,
                         job_id);
}

static void find_field(const bson_t *doc, const char *path, bson_iter_t *it) {
        bson_iter_t top;
        if (!bson_iter_init(&top, doc) || !bson_iter_find_descendant(&top, path, it)) {
                char *json = bson_as_relaxed_extended_json(doc, NULL);
                fail_msg("ledger field %s: expected present, actual missing in %s", path, json);
        }
}

static void expect_ledger_str(const bson_t *doc, const char *path, const char *expected) {
        bson_iter_t it;
        char what[128];

        find_field(doc, path, &it);
        snprintf(what, sizeof(what), "ledger field %s", path);
        if (!expected && BSON_ITER_HOLDS_NULL(&it))
                return;
        if (!BSON_ITER_HOLDS_UTF8(&it))
                fail_msg("%s: expected the string \"%s\", actual BSON type 0x%02x", what,
                         expected ? expected : "(null)", (unsigned)bson_iter_type(&it));
        it_expect_str(what, expected, bson_iter_utf8(&it, NULL));
}

static void expect_ledger_int(const bson_t *doc, const char *path, int64_t expected) {
        bson_iter_t it;
        char what[128];

        find_field(doc, path, &it);
        snprintf(what, sizeof(what), "ledger field %s", path);
        if (!BSON_ITER_HOLDS_INT32(&it) && !BSON_ITER_HOLDS_INT64(&it))
                fail_msg("%s: expected the integer %" PRId64 ", actual BSON type 0x%02x", what,
                         expected, (unsigned)bson_iter_type(&it));
        it_expect_int(what, expected, bson_iter_as_int64(&it));
}

static void expect_ledger_bool(const bson_t *doc, const char *path, bool expected) {
        bson_iter_t it;
        char what[128];

        find_field(doc, path, &it);
        snprintf(what, sizeof(what), "ledger field %s", path);
        if (!BSON_ITER_HOLDS_BOOL(&it))
                fail_msg("%s: expected a boolean, actual BSON type 0x%02x", what,
                         (unsigned)bson_iter_type(&it));
        expect_bool(what, expected, bson_iter_bool(&it));
}

/* A date field; expected_ms < 0: any date. */
static void expect_ledger_date(const bson_t *doc, const char *path, int64_t expected_ms) {
        bson_iter_t it;
        char what[128];

        find_field(doc, path, &it);
        snprintf(what, sizeof(what), "ledger field %s", path);
        if (!BSON_ITER_HOLDS_DATE_TIME(&it))
                fail_msg("%s: expected a date, actual BSON type 0x%02x", what,
                         (unsigned)bson_iter_type(&it));
        if (expected_ms >= 0)
                expect_time(what, expected_ms, bson_iter_date_time(&it));
}

static void expect_ledger_task_ids(const bson_t *doc, const char *const *ids, size_t n) {
        bson_iter_t it, child;
        size_t i = 0;

        find_field(doc, "taskIds", &it);
        if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child))
                fail_msg("ledger field taskIds: expected an array, actual BSON type 0x%02x",
                         (unsigned)bson_iter_type(&it));
        while (bson_iter_next(&child)) {
                char what[64];
                if (i >= n)
                        fail_msg("ledger taskIds: expected %zu ids, actual more (extra: %s)", n,
                                 BSON_ITER_HOLDS_UTF8(&child) ? bson_iter_utf8(&child, NULL)
                                                              : "(not a string)");
                snprintf(what, sizeof(what), "ledger taskIds[%zu]", i);
                it_expect_str(what, ids[i],
                              BSON_ITER_HOLDS_UTF8(&child) ? bson_iter_utf8(&child, NULL) : NULL);
                i++;
        }
        it_expect_int("ledger taskIds: number of ids", (int64_t)n, (int64_t)i);
}

/* ---------------------------------------------------------------------------------------- */
/* Fixtures. */

static int group_setup(void **state) {
        if (producer_arg) {
                snprintf(producer_path, sizeof(producer_path), "%s", producer_arg);
                if (access(producer_path, X_OK) != 0) {
                        fprintf(stderr, "%s is not an executable\n", producer_path);
                        return -1;
                }
        } else if (!it_env_program(producer_path, sizeof(producer_path), NULL,
                                   "producer/joytify-producer")) {
                return -1;
        }
        return it_clients_group_open(&clients, state);
}

static int test_setup(void **state) {
        ctx_t *c = calloc(1, sizeof(*c));

        it_fixture_init(c, "prod", ++test_seq, false);
        *state = c;
        return 0;
}

static int test_teardown(void **state) {
        ctx_t *c = *state;

        it_fixture_drop(&clients, c);
        free(c);
        return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* stats */

/* The job's RANGE tasks, job_id/0000 .. job_id/(n-1): their ranges chain from the lowest id to
 * the highest, and task i is on partition i % 3 (--task-partitions 3: spread evenly). */
static void expect_stats_tasks(ctx_t *c, const char *job_id, int n, bool test_mode,
                               const char *run_id, int64_t *min_ts) {
        char prev_to[32] = "";
        it_msgs_t m;

        read_new(c, IT_T_STATS, &m);
        expect_count("stats topic", &m, (size_t)n);
        it_msgs_sort_by_key(&m);
        *min_ts = INT64_MAX;
        for (int i = 0; i < n; i++) {
                char key[160], what[200];
                jt_stats_task_t task;

                snprintf(key, sizeof(key), "%s/%04d", job_id, i);
                snprintf(what, sizeof(what), "key of stats task %d", i);
                it_expect_str(what, key, m.msgs[i].key);
                snprintf(what, sizeof(what), "partition of stats task %d", i);
                it_expect_int(what, i % 3, m.msgs[i].partition);
                decode_stats(&m.msgs[i], &task);
                it_expect_str("task job_id", job_id, task.job_id);
                it_expect_str("task task_id", key, task.task_id);
                it_expect_str("task kind", "RANGE", jt_stats_task_kind_name(task.kind));
                it_expect_str("task month", "2026-10", task.month);
                it_expect_int("task shard", i, task.shard);
                it_expect_int("task shard_count", n, task.shard_count);
                expect_bool("task test_mode", test_mode, task.test_mode);
                it_expect_str("task run_id", run_id, task.run_id);
                it_expect_str("task user_from (the previous range's user_to)",
                              i == 0 ? NULL : prev_to, task.user_from);
                if (i == n - 1)
                        it_expect_str("last task user_to", NULL, task.user_to);
                else if (!task.user_to)
                        fail_msg("task %s: user_to expected a bound, actual null", key);
                snprintf(prev_to, sizeof(prev_to), "%s", task.user_to ? task.user_to : "");
                it_expect_int("task time_budget_s (--task-budget default)", 30, task.time_budget_s);
                jt_stats_task_clear(&task);
                if (m.msgs[i].timestamp_ms < *min_ts)
                        *min_ts = m.msgs[i].timestamp_ms;
        }
        it_msgs_free(&m);
}

static void expect_stats_started(ctx_t *c, const char *job_id, int shards, bool test_mode,
                                 int64_t first_task_ts) {
        it_msgs_t m;
        jt_status_event_t e;
        int64_t ts = 0;

        read_new(c, IT_T_STATUS, &m);
        expect_one_job_started(&m, job_id, &e, &ts);
        expect_count("status topic (JOB_STARTED only)", &m, 1);
        it_expect_str("JOB_STARTED job_kind", "STATS", jt_status_event_job_kind_name(e.job_kind));
        expect_bool("JOB_STARTED tasks_total present", true, e.tasks_total.set);
        it_expect_int("JOB_STARTED tasks_total", shards, e.tasks_total.value);
        it_expect_str("JOB_STARTED month", "2026-10", e.month);
        expect_bool("JOB_STARTED test_mode", test_mode, e.test_mode);
        it_expect_str("JOB_STARTED task_id", NULL, e.task_id);
        /* Flushed before the first task was produced: never later than any task. */
        if (ts < 0 || first_task_ts < 0 || ts > first_task_ts)
                fail_msg("JOB_STARTED of %s: expected written before the tasks (timestamp <= "
                         "%" PRId64 "), actual timestamp %" PRId64,
                         job_id, first_task_ts, ts);
        jt_status_event_clear(&e);
        it_msgs_free(&m);
}

static void expect_stats_ledger(ctx_t *c, const char *job_id, int n, int users_per_task,
                                bool test_mode, const char *run_id) {
        char **ids = calloc((size_t)n, sizeof(*ids));
        bson_iter_t it, child;
        int bounds = 0;
        bson_t doc;

        expect_ledger(c, job_id, &doc);
        expect_ledger_str(&doc, "kind", "stats");
        expect_ledger_str(&doc, "params.month", "2026-10");
        expect_ledger_int(&doc, "params.usersPerTask", users_per_task);
        expect_ledger_int(&doc, "params.tasks", n);
        find_field(&doc, "params.bounds", &it);
        if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child))
                fail_msg("ledger params.bounds: expected an array, actual BSON type 0x%02x",
                         (unsigned)bson_iter_type(&it));
        while (bson_iter_next(&child))
                bounds++;
        it_expect_int("ledger params.bounds: inner range bounds", n - 1, bounds);
        for (int i = 0; i < n; i++) {
                ids[i] = malloc(160);
                snprintf(ids[i], 160, "%s/%04d", job_id, i);
        }
        expect_ledger_task_ids(&doc, (const char *const *)ids, (size_t)n);
        expect_ledger_int(&doc, "tasksTotal", n);
        expect_ledger_date(&doc, "tasksSentAt", -1);
        expect_ledger_str(&doc, "state", "running");
        expect_ledger_bool(&doc, "testMode", test_mode);
        expect_ledger_str(&doc, "runId", run_id);
        for (int i = 0; i < n; i++)
                free(ids[i]);
        free(ids);
        bson_destroy(&doc);
}

static void stats_sends_job_started_then_one_task_per_range(void **state) {
        ctx_t *c = *state;
        char out[OUT_MAX];
        it_msgs_t cleanup;
        int64_t first_task_ts = 0;

        insert_users(c, "users", 9);
        it_fixture_mark_all(&clients, c);
        expect_exit(PRODUCER(c, out, "stats", "--month", "2026-10", "--retention-days", "36500",
                             "--users-per-task", "2"),
                    0, "stats", out);
        expect_output(out, "stats-2026-10", "stats");
        expect_output(out, "5 task(s)", "stats");
        expect_stats_tasks(c, "stats-2026-10", 5, false, NULL, &first_task_ts);
        expect_stats_started(c, "stats-2026-10", 5, false, first_task_ts);
        read_new(c, IT_T_CLEANUP, &cleanup);
        expect_count("cleanup topic", &cleanup, 0);
        it_msgs_free(&cleanup);
        expect_stats_ledger(c, "stats-2026-10", 5, 2, false, NULL);
}

static void stats_same_job_again_sends_nothing(void **state) {
        ctx_t *c = *state;
        char out[OUT_MAX];
        bson_t before, after;

        insert_users(c, "users", 9);
        expect_exit(PRODUCER(c, out, "stats", "--month", "2026-10", "--retention-days", "36500",
                             "--users-per-task", "2"),
                    0, "first stats", out);
        expect_ledger(c, "stats-2026-10", &before);
        it_fixture_mark_all(&clients, c);
        expect_exit(PRODUCER(c, out, "stats", "--month", "2026-10", "--retention-days", "36500",
                             "--users-per-task", "2"),
                    0, "same stats again", out);
        expect_output(out, "already exists", "same stats again");
        expect_output(out, "nothing sent", "same stats again");
        expect_nothing_sent(c, "same stats again");
        expect_ledger(c, "stats-2026-10", &after);
        if (!bson_equal(&before, &after))
                fail_msg("ledger of stats-2026-10: expected unchanged by the second run, actual "
                         "before %s after %s",
                         bson_as_relaxed_extended_json(&before, NULL),
                         bson_as_relaxed_extended_json(&after, NULL));
        it_expect_int("ledger documents", 1, count_docs(c, "jobs"));
        bson_destroy(&before);
        bson_destroy(&after);
}

static void stats_other_params_need_a_run_id(void **state) {
        ctx_t *c = *state;
        char out[OUT_MAX];
        int64_t first_task_ts = 0;

        insert_users(c, "users", 9);
        expect_exit(PRODUCER(c, out, "stats", "--month", "2026-10", "--retention-days", "36500",
                             "--users-per-task", "2"),
                    0, "first stats", out);
        it_fixture_mark_all(&clients, c);
        expect_exit(PRODUCER(c, out, "stats", "--month", "2026-10", "--retention-days", "36500",
                             "--users-per-task", "3"),
                    2, "same month, other users per task", out);
        expect_output(out, "--run-id", "same month, other users per task");
        expect_nothing_sent(c, "same month, other users per task");
        expect_stats_ledger(c, "stats-2026-10", 5, 2, false, NULL);

        it_fixture_mark_all(&clients, c);
        expect_exit(PRODUCER(c, out, "stats", "--month", "2026-10", "--retention-days", "36500",
                             "--users-per-task", "3", "--run-id", "r2"),
                    0, "--run-id r2", out);
        expect_output(out, "stats-2026-10-run-r2", "--run-id r2");
        expect_output(out, "3 task(s)", "--run-id r2");
        expect_stats_tasks(c, "stats-2026-10-run-r2", 3, false, "r2", &first_task_ts);
        expect_stats_started(c, "stats-2026-10-run-r2", 3, false, first_task_ts);
        expect_stats_ledger(c, "stats-2026-10-run-r2", 3, 3, false, "r2");
        expect_stats_ledger(c, "stats-2026-10", 5, 2, false, NULL);
        it_expect_int("ledger documents", 2, count_docs(c, "jobs"));
}

static void stats_test_mode_is_its_own_job(void **state) {
        ctx_t *c = *state;
        char out[OUT_MAX];
        int64_t first_task_ts = 0;

        insert_users(c, "test-users", 5);
        insert_users(c, "users", 9); /* not read in test mode */
        it_fixture_mark_all(&clients, c);
        expect_exit(PRODUCER(c, out, "stats", "--month", "2026-10", "--retention-days", "36500",
                             "--users-per-task", "2", "--test-mode"),
                    0, "stats --test-mode", out);
        expect_output(out, "test-stats-2026-10", "stats --test-mode");
        expect_stats_tasks(c, "test-stats-2026-10", 3, true, NULL, &first_task_ts);
        expect_stats_started(c, "test-stats-2026-10", 3, true, first_task_ts);
        expect_stats_ledger(c, "test-stats-2026-10", 3, 2, true, NULL);
        it_expect_int("ledger documents", 1, count_docs(c, "jobs"));
}

/* ---------------------------------------------------------------------------------------- */
/* dry run and bad input */

static void dry_run_prints_the_tasks_and_sends_nothing(void **state) {
        ctx_t *c = *state;
        const char *old[] = {"2026-08-30T07:25:13Z", "2026-10-20T00:00:00Z"};
        char out[OUT_MAX];
        bson_t doc;

        insert_playbacks(c, "playbacks", old, 2);
        insert_users(c, "users", 9);
        it_fixture_mark_all(&clients, c);
        expect_exit(PRODUCER(c, out, "stats", "--month", "2026-10", "--retention-days", "36500",
                             "--users-per-task", "2", "--dry-run"),
                    0, "stats --dry-run", out);
        for (int i = 0; i < 5; i++) {
                char id[64];
                snprintf(id, sizeof(id), "stats-2026-10/%04d", i);
                expect_output(out, id, "stats --dry-run");
        }
        expect_output(out, "nothing sent", "stats --dry-run");
        expect_exit(PRODUCER(c, out, "cleanup", "--at", "2026-11-02T04:00Z", "--range-hours", "24",
                             "--dry-run"),
                    0, "cleanup --dry-run", out);
        expect_output(out, "cleanup-2026-11-02T0400Z/20260830T0700", "cleanup --dry-run");
        expect_output(out, "cleanup-2026-11-02T0400Z/20260902T0700", "cleanup --dry-run");
        expect_output(out, "nothing sent", "cleanup --dry-run");
        expect_nothing_sent(c, "dry runs");
        if (it_fixture_ledger_get(&clients, c, "stats-2026-10", &doc))
                fail_msg("dry run: expected no ledger document, actual %s",
                         bson_as_relaxed_extended_json(&doc, NULL));
        bson_destroy(&doc);
        it_expect_int("ledger documents after dry runs", 0, count_docs(c, "jobs"));
}

typedef struct {
        const char *what;
        const char *mongo_uri; /* NULL: the stack's */
        const char *args[12];
        const char *wanted[2]; /* substrings of the output */
} bad_case_t;

static void bad_input_exits_2_and_sends_nothing(void **state) {
        ctx_t *c = *state;
        char out[OUT_MAX], next_month[16], tomorrow[32];
        time_t now = time(NULL);
        struct tm tm;
        char not_complete[64];

        gmtime_r(&now, &tm);
        snprintf(next_month, sizeof(next_month), "%04d-%02d",
                 tm.tm_mon == 11 ? tm.tm_year + 1901 : tm.tm_year + 1900,
                 tm.tm_mon == 11 ? 1 : tm.tm_mon + 2);
        jt_time_format_iso((int64_t)now + 86400, tomorrow, sizeof(tomorrow));
        snprintf(not_complete, sizeof(not_complete), "--month %s is not complete", next_month);
        {
                const bad_case_t cases[] = {
                    {"month 13", NULL, {"stats", "--month", "2026-13"}, {"2026-13", "not a month"}},
                    {"month not complete",
                     NULL,
                     {"stats", "--month", next_month},
                     {not_complete, NULL}},
                    {"month garbage",
                     NULL,
                     {"stats", "--month", "garbage"},
                     {"--month must be YYYY-MM", "garbage"}},
                    {"shards 0",
                     NULL,
                     {"stats", "--month", "2026-10", "--retention-days", "36500", "--shards", "0"},
                     {"--shards", "(got 0)"}},
                    {"shards 4097",
                     NULL,
                     {"stats", "--month", "2026-10", "--retention-days", "36500", "--shards",
                      "4097"},
                     {"--shards", "(got 4097)"}},
                    {"run id with a slash",
                     NULL,
                     {"stats", "--month", "2026-10", "--retention-days", "36500", "--run-id",
                      "a/b"},
                     {"--run-id", "a/b"}},
                    {"retention 6 days",
                     NULL,
                     {"cleanup", "--retention-days", "6"},
                     {"--retention-days", "(got 6)"}},
                    {"range 0 hours",
                     NULL,
                     {"cleanup", "--range-hours", "0"},
                     {"--range-hours", "(got 0)"}},
                    {"fire time in the future",
                     NULL,
                     {"cleanup", "--at", tomorrow},
                     {tomorrow, "in the future"}},
                    {"fire time garbage", NULL, {"cleanup", "--at", "yesterday"}, {"--at", NULL}},
                    {"stray argument",
                     NULL,
                     {"stats", "--month", "2026-10", "2026-11"},
                     {"unexpected argument \"2026-11\"", NULL}},
                    {"unreachable broker",
                     NULL,
                     {"stats", "--month", "2026-10", "--retention-days", "36500", "--shards", "5",
                      "--brokers", "127.0.0.1:1", "--kafka-timeout", "2"},
                     {"127.0.0.1:1", "Kafka"}},
                    {"unreachable broker (cleanup)",
                     NULL,
                     {"cleanup", "--at", "2026-11-02T04:00Z", "--brokers", "127.0.0.1:1",
                      "--kafka-timeout", "2"},
                     {"127.0.0.1:1", "Kafka"}},
                    {"unreachable database",
                     "mongodb://127.0.0.1:1",
                     {"stats", "--month", "2026-10", "--retention-days", "36500", "--shards", "5",
                      "--mongo-timeout", "2"},
                     {"127.0.0.1:1", "MongoDB"}},
                    {"unreachable database (cleanup)",
                     "mongodb://127.0.0.1:1",
                     {"cleanup", "--at", "2026-11-02T04:00Z", "--mongo-timeout", "2"},
                     {"127.0.0.1:1", "MongoDB"}},
                };
                const char *old[] = {"2026-08-30T07:25:13Z"};

                /* Something to send if a check let the command through. */
                insert_playbacks(c, "playbacks", old, 1);
                it_fixture_mark_all(&clients, c);
                for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                        double secs = 0;
                        int rc = run_producer(c, cases[i].mongo_uri, cases[i].args, out,
                                              sizeof(out), &secs);
                        /* An unreachable server is no bad input: 75, worth trying again. */
                        expect_exit(rc, strstr(cases[i].what, "unreachable") ? 75 : 2,
                                    cases[i].what, out);
                        for (int w = 0; w < 2; w++)
                                if (cases[i].wanted[w])
                                        expect_output(out, cases[i].wanted[w], cases[i].what);
                        /* The bounded waits are honoured (2 s here). */
                        if (secs > 10.0)
                                fail_msg("%s: expected to give up within 10 s, actual %.1f s",
                                         cases[i].what, secs);
                }
        }
        expect_nothing_sent(c, "bad input");
        it_expect_int("ledger documents after bad input", 0, count_docs(c, "jobs"));
}

/* ---------------------------------------------------------------------------------------- */
/* cleanup */

typedef struct {
        const char *job_id;
        int64_t cutoff_ms;
        int retention_days, batch_size, batch_delay_ms, time_budget_s;
        bool test_mode;
        const char *triggered_by;
} cleanup_expect_t;

/* The new cleanup tasks: keys equal task ids, windows contiguous from first_start to the
 * cutoff, each range_hours long but the last (clipped at the cutoff); ids match want_ids. */
static void expect_cleanup_tasks(ctx_t *c, const cleanup_expect_t *x, int64_t first_start_ms,
                                 int range_hours, const char *const *want_ids, size_t n,
                                 int64_t *min_ts) {
        it_msgs_t m;
        int64_t expected_start = first_start_ms;

        read_new(c, IT_T_CLEANUP, &m);
        expect_count("cleanup topic", &m, n);
        it_msgs_sort_by_key(&m);
        *min_ts = INT64_MAX;
        for (size_t i = 0; i < n; i++) {
                jt_cleanup_task_t t;
                char what[200];
                int64_t expected_end = expected_start + range_hours * HOUR_MS;

                if (expected_end > x->cutoff_ms)
                        expected_end = x->cutoff_ms;
                snprintf(what, sizeof(what), "key of cleanup task %zu", i);
                it_expect_str(what, want_ids[i], m.msgs[i].key);
                decode_cleanup(&m.msgs[i], &t);
                it_expect_str("task task_id (= key)", m.msgs[i].key, t.task_id);
                it_expect_str("task job_id", x->job_id, t.job_id);
                snprintf(what, sizeof(what), "range_start of %s", t.task_id);
                expect_time(what, expected_start, t.range_start_ms);
                snprintf(what, sizeof(what), "range_end of %s", t.task_id);
                expect_time(what, expected_end, t.range_end_ms);
                expect_time("task cutoff", x->cutoff_ms, t.cutoff_ms);
                it_expect_int("task retention_days", x->retention_days, t.retention_days);
                it_expect_int("task batch_size", x->batch_size, t.batch_size);
                it_expect_int("task batch_delay_ms", x->batch_delay_ms, t.batch_delay_ms);
                it_expect_int("task time_budget_s", x->time_budget_s, t.time_budget_s);
                expect_bool("task test_mode", x->test_mode, t.test_mode);
                it_expect_str("task triggered_by", x->triggered_by, t.triggered_by);
                it_expect_str("task parent_task_id", NULL, t.parent_task_id);
                it_expect_int("task continuation_seq", 0, t.continuation_seq);
                it_expect_str("task resume_after_id", NULL, t.resume_after_id);
                it_expect_int("task deleted_so_far", 0, t.deleted_so_far);
                jt_cleanup_task_clear(&t);
                if (m.msgs[i].timestamp_ms < *min_ts)
                        *min_ts = m.msgs[i].timestamp_ms;
                expected_start = expected_end;
        }
        /* Contiguous up to the cutoff: the last window ends exactly there. */
        expect_time("end of the last window", x->cutoff_ms, expected_start);
        it_msgs_free(&m);
}

static void expect_cleanup_started(const it_msgs_t *status, const cleanup_expect_t *x, size_t tasks,
                                   int64_t first_task_ts) {
        jt_status_event_t e;
        int64_t ts = 0;

        expect_one_job_started(status, x->job_id, &e, &ts);
        it_expect_str("JOB_STARTED job_kind", "CLEANUP", jt_status_event_job_kind_name(e.job_kind));
        expect_bool("JOB_STARTED tasks_total present", true, e.tasks_total.set);
        it_expect_int("JOB_STARTED tasks_total", (int64_t)tasks, e.tasks_total.value);
        expect_bool("JOB_STARTED cutoff_date present", true, e.cutoff_date_ms.set);
        expect_time("JOB_STARTED cutoff_date", x->cutoff_ms, e.cutoff_date_ms.value);
        it_expect_str("JOB_STARTED triggered_by", x->triggered_by, e.triggered_by);
        expect_bool("JOB_STARTED test_mode", x->test_mode, e.test_mode);
        if (tasks && (ts < 0 || ts > first_task_ts))
                fail_msg("JOB_STARTED of %s: expected written before the tasks (timestamp <= "
                         "%" PRId64 "), actual timestamp %" PRId64,
                         x->job_id, first_task_ts, ts);
        jt_status_event_clear(&e);
}

static void expect_cleanup_ledger(ctx_t *c, const cleanup_expect_t *x, int range_hours,
                                  const char *const *ids, size_t n, const char *state) {
        bson_t doc;

        expect_ledger(c, x->job_id, &doc);
        expect_ledger_str(&doc, "kind", "cleanup");
        expect_ledger_bool(&doc, "testMode", x->test_mode);
        expect_ledger_date(&doc, "params.cutoff", x->cutoff_ms);
        expect_ledger_int(&doc, "params.retentionDays", x->retention_days);
        expect_ledger_int(&doc, "params.rangeHours", range_hours);
        expect_ledger_int(&doc, "params.batchSize", x->batch_size);
        expect_ledger_int(&doc, "params.batchDelayMs", x->batch_delay_ms);
        expect_ledger_int(&doc, "params.timeBudget", x->time_budget_s);
        expect_ledger_str(&doc, "params.triggeredBy", x->triggered_by);
        expect_ledger_task_ids(&doc, ids, n);
        expect_ledger_int(&doc, "tasksTotal", (int64_t)n);
        expect_ledger_date(&doc, "tasksSentAt", -1);
        expect_ledger_str(&doc, "state", state);
        bson_destroy(&doc);
}

/* --at 2026-11-02T04:00Z with 60 days' retention: cutoff 2026-09-03T04:00Z. */
#define CLEANUP_AT     "2026-11-02T04:00Z"
#define CLEANUP_CUTOFF "2026-09-03T04:00:00Z"

static void cleanup_sends_contiguous_windows_up_to_the_cutoff(void **state) {
        ctx_t *c = *state;
        const char *playbacks[] = {/* older than the cutoff, over four days; the oldest at 07:25 */
                                   "2026-08-31T12:00:00Z", "2026-08-30T07:25:13Z",
                                   "2026-09-01T23:59:59Z", "2026-09-03T03:59:59Z",
                                   /* not older: at the cutoff exactly, and after it */
                                   "2026-09-03T04:00:00Z", "2026-10-15T10:00:00Z",
                                   "2026-11-01T20:00:00Z"};
        const char *ids[] = {
            "cleanup-2026-11-02T0400Z/20260830T0700", "cleanup-2026-11-02T0400Z/20260831T0700",
            "cleanup-2026-11-02T0400Z/20260901T0700", "cleanup-2026-11-02T0400Z/20260902T0700"};
        const cleanup_expect_t x = {.job_id = "cleanup-2026-11-02T0400Z",
                                    .cutoff_ms = iso_ms(CLEANUP_CUTOFF),
                                    .retention_days = 60,
                                    .batch_size = 500,
                                    .batch_delay_ms = 25,
                                    .time_budget_s = 30,
                                    .test_mode = false,
                                    .triggered_by = "manual"};
        char out[OUT_MAX];
        it_msgs_t status, other;
        int64_t first_task_ts = 0;

        insert_playbacks(c, "playbacks", playbacks, sizeof(playbacks) / sizeof(playbacks[0]));
        it_fixture_mark_all(&clients, c);
        expect_exit(PRODUCER(c, out, "cleanup", "--at", CLEANUP_AT, "--range-hours", "24",
                             "--batch-size", "500", "--batch-delay-ms", "25", "--time-budget",
                             "30"),
                    0, "cleanup", out);
        expect_output(out, "cleanup-2026-11-02T0400Z", "cleanup");
        expect_output(out, "4 task(s)", "cleanup");
        expect_cleanup_tasks(c, &x, iso_ms("2026-08-30T07:00:00Z"), 24, ids, 4, &first_task_ts);
        read_new(c, IT_T_STATUS, &status);
        expect_count("status topic (JOB_STARTED only)", &status, 1);
        expect_cleanup_started(&status, &x, 4, first_task_ts);
        it_msgs_free(&status);
        read_new(c, IT_T_STATS, &other);
        expect_count("stats topic", &other, 0);
        it_msgs_free(&other);
        expect_cleanup_ledger(c, &x, 24, ids, 4, "running");
        /* The producer reads playbacks; it never deletes one. */
        it_expect_int("playbacks after cleanup was sent", 7, count_docs(c, "playbacks"));

        it_fixture_mark_all(&clients, c);
        expect_exit(PRODUCER(c, out, "cleanup", "--at", CLEANUP_AT, "--range-hours", "24",
                             "--batch-size", "500", "--batch-delay-ms", "25", "--time-budget",
                             "30"),
                    0, "same cleanup again", out);
        expect_output(out, "already exists", "same cleanup again");
        expect_output(out, "nothing sent", "same cleanup again");
        expect_nothing_sent(c, "same cleanup again");
        it_expect_int("ledger documents", 1, count_docs(c, "jobs"));
}

/* The oldest playback's hour is found whatever its place: in the last hour before the cutoff
 * (the search's last interval), and before 1970 (negative dates). Dry runs: only the plan. */
static void cleanup_finds_the_oldest_hour_at_the_edges(void **state) {
        ctx_t *c = *state;
        const char *last_hour[] = {"2026-09-03T03:59:59Z", "2026-09-03T04:00:00Z"};
        const char *before_1970[] = {"1965-03-01T10:30:00Z", "2026-08-30T07:25:13Z"};
        char out[OUT_MAX];

        insert_playbacks(c, "playbacks", last_hour, 2);
        expect_exit(PRODUCER(c, out, "cleanup", "--dry-run", "--at", CLEANUP_AT), 0,
                    "cleanup, oldest in the last hour", out);
        expect_output(out, "1 task(s)", "cleanup, oldest in the last hour");
        expect_output(out,
                      "cleanup-2026-11-02T0400Z/20260903T0300  [2026-09-03T03:00:00Z, "
                      "2026-09-03T04:00:00Z)",
                      "cleanup, oldest in the last hour");

        insert_playbacks(c, "playbacks", before_1970, 2);
        expect_exit(
            PRODUCER(c, out, "cleanup", "--dry-run", "--at", CLEANUP_AT, "--range-hours", "8784"),
            0, "cleanup, oldest before 1970", out);
        expect_output(out, "cleanup-2026-11-02T0400Z/19650301T1000  [1965-03-01T10:00:00Z, ",
                      "cleanup, oldest before 1970");
        expect_nothing_sent(c, "dry runs");
}

static void cleanup_with_nothing_older_finishes_at_once(void **state) {
        ctx_t *c = *state;
        const char *playbacks[] = {"2026-09-03T04:00:00Z", "2026-10-01T00:00:00Z"};
        const cleanup_expect_t x = {.job_id = "cleanup-2026-11-02T0400Z",
                                    .cutoff_ms = iso_ms(CLEANUP_CUTOFF),
                                    .retention_days = 60,
                                    .batch_size = 10000,
                                    .batch_delay_ms = 100,
                                    .time_budget_s = 60,
                                    .test_mode = false,
                                    .triggered_by = "manual"};
        char out[OUT_MAX];
        it_msgs_t status, tasks;
        jt_status_event_t fin = {0};
        bson_t doc;
        int finished_at = -1, started_at = -1;

        insert_playbacks(c, "playbacks", playbacks, 2);
        it_fixture_mark_all(&clients, c);
        expect_exit(PRODUCER(c, out, "cleanup", "--at", CLEANUP_AT), 0, "cleanup, nothing old",
                    out);
        expect_output(out, "cleanup-2026-11-02T0400Z", "cleanup, nothing old");
        expect_output(out, "finished at once", "cleanup, nothing old");
        read_new(c, IT_T_CLEANUP, &tasks);
        expect_count("cleanup topic", &tasks, 0);
        it_msgs_free(&tasks);

        read_new(c, IT_T_STATUS, &status);
        expect_count("status topic (JOB_STARTED, JOB_FINISHED)", &status, 2);
        expect_cleanup_started(&status, &x, 0, 0);
        for (int i = 0; i < 2; i++) {
                jt_status_event_t e;
                decode_status(&status.msgs[i], &e);
                if (e.type == JT_STATUS_JOB_FINISHED) {
                        finished_at = i;
                        fin = e;
                } else {
                        started_at = i;
                        jt_status_event_clear(&e);
                }
        }
        if (finished_at < 0)
                fail_msg("JOB_FINISHED of %s: expected one, actual none", x.job_id);
        /* One key, one partition: JOB_STARTED comes first in the log. */
        it_expect_int("partition of JOB_FINISHED (= JOB_STARTED's)",
                      status.msgs[started_at].partition, status.msgs[finished_at].partition);
        if (status.msgs[finished_at].offset < status.msgs[started_at].offset)
                fail_msg("JOB_FINISHED: expected after JOB_STARTED, actual offset %" PRId64
                         " before %" PRId64,
                         status.msgs[finished_at].offset, status.msgs[started_at].offset);
        it_expect_str("JOB_FINISHED job_kind", "CLEANUP",
                      jt_status_event_job_kind_name(fin.job_kind));
        expect_bool("JOB_FINISHED records_deleted present", true, fin.records_deleted.set);
        it_expect_int("JOB_FINISHED records_deleted", 0, fin.records_deleted.value);
        it_expect_int("JOB_FINISHED total_records_found", 0, fin.total_records_found.value);
        it_expect_int("JOB_FINISHED remaining_records", 0, fin.remaining_records.value);
        it_expect_str("JOB_FINISHED processing_mode", "none", fin.processing_mode);
        expect_bool("JOB_FINISHED cutoff_date present", true, fin.cutoff_date_ms.set);
        expect_time("JOB_FINISHED cutoff_date", x.cutoff_ms, fin.cutoff_date_ms.value);
        it_expect_str("JOB_FINISHED triggered_by", "manual", fin.triggered_by);
        jt_status_event_clear(&fin);
        it_msgs_free(&status);

        expect_cleanup_ledger(c, &x, 24, NULL, 0, "finished");
        expect_ledger(c, x.job_id, &doc);
        expect_ledger_date(&doc, "finishedAt", -1);
        bson_destroy(&doc);
}

static void cleanup_test_mode_reads_test_playbacks(void **state) {
        ctx_t *c = *state;
        const char *test_playbacks[] = {"2026-09-01T00:00:00Z", "2026-08-20T10:30:00Z",
                                        "2026-10-01T00:00:00Z"};
        /* Older than anything in test-playbacks: were it read, the first window would start
         * on 2026-06-01. */
        const char *real_playbacks[] = {"2026-06-01T00:00:00Z", "2026-08-25T00:00:00Z"};
        /* 2026-08-20T10:00Z .. 2026-09-03T04:00Z is 330 hours: six windows of 48 and one of 42. */
        const char *ids[] = {"test-cleanup-2026-11-02T0400Z/20260820T1000",
                             "test-cleanup-2026-11-02T0400Z/20260822T1000",
                             "test-cleanup-2026-11-02T0400Z/20260824T1000",
                             "test-cleanup-2026-11-02T0400Z/20260826T1000",
                             "test-cleanup-2026-11-02T0400Z/20260828T1000",
                             "test-cleanup-2026-11-02T0400Z/20260830T1000",
                             "test-cleanup-2026-11-02T0400Z/20260901T1000"};
        const cleanup_expect_t x = {.job_id = "test-cleanup-2026-11-02T0400Z",
                                    .cutoff_ms = iso_ms(CLEANUP_CUTOFF),
                                    .retention_days = 60,
                                    .batch_size = 10000,
                                    .batch_delay_ms = 100,
                                    .time_budget_s = 60,
                                    .test_mode = true,
                                    .triggered_by = "ops-check"};
        char out[OUT_MAX];
        it_msgs_t status;
        int64_t first_task_ts = 0;

        insert_playbacks(c, "test-playbacks", test_playbacks, 3);
        insert_playbacks(c, "playbacks", real_playbacks, 2);
        it_fixture_mark_all(&clients, c);
        expect_exit(PRODUCER(c, out, "cleanup", "--test-mode", "--at", CLEANUP_AT, "--range-hours",
                             "48", "--triggered-by", "ops-check"),
                    0, "cleanup --test-mode", out);
        expect_output(out, "test-cleanup-2026-11-02T0400Z", "cleanup --test-mode");
        expect_output(out, "7 task(s)", "cleanup --test-mode");
        expect_cleanup_tasks(c, &x, iso_ms("2026-08-20T10:00:00Z"), 48, ids, 7, &first_task_ts);
        read_new(c, IT_T_STATUS, &status);
        expect_count("status topic (JOB_STARTED only)", &status, 1);
        expect_cleanup_started(&status, &x, 7, first_task_ts);
        it_msgs_free(&status);
        expect_cleanup_ledger(c, &x, 48, ids, 7, "running");
        it_expect_int("ledger documents", 1, count_docs(c, "jobs"));
}

/* ---------------------------------------------------------------------------------------- */
/* two producers */

static void two_producers_at_once_send_the_job_once(void **state) {
        ctx_t *c = *state;
        const char *args[] = {"stats", "--month",          "2026-09", "--retention-days",
                              "36500", "--users-per-task", "2",       NULL};
        char out[2][OUT_MAX];
        proc_t p[2];
        it_msgs_t tasks, status;
        jt_status_event_t e;
        int64_t ts = 0;
        int sent = 0, skipped = 0;
        bson_t doc;

        insert_users(c, "users", 9);
        it_fixture_mark_all(&clients, c);
        proc_start(&p[0], c, NULL, args);
        proc_start(&p[1], c, NULL, args);
        for (int i = 0; i < 2; i++) {
                expect_exit(proc_wait(&p[i], out[i], sizeof(out[i]), NULL), 0,
                            i ? "second producer" : "first producer", out[i]);
                if (strstr(out[i], "5 task(s) sent"))
                        sent++;
                if (strstr(out[i], "already exists") || strstr(out[i], "being sent by another"))
                        skipped++;
        }
        if (sent != 1 || skipped != 1)
                fail_msg("two producers: expected one to send and one to say the job exists or "
                         "is being sent, actual %d sent, %d skipped; outputs:\n%s\n---\n%s",
                         sent, skipped, out[0], out[1]);
        read_new(c, IT_T_STATS, &tasks);
        expect_count("stats topic after two producers", &tasks, 5);
        it_msgs_sort_by_key(&tasks);
        for (int i = 0; i < 5; i++) {
                char key[64], what[64];
                snprintf(key, sizeof(key), "stats-2026-09/%04d", i);
                snprintf(what, sizeof(what), "key of stats task %d", i);
                it_expect_str(what, key, tasks.msgs[i].key);
        }
        it_msgs_free(&tasks);
        read_new(c, IT_T_STATUS, &status);
        expect_one_job_started(&status, "stats-2026-09", &e, &ts);
        expect_count("status topic after two producers", &status, 1);
        jt_status_event_clear(&e);
        it_msgs_free(&status);
        expect_ledger(c, "stats-2026-09", &doc);
        expect_ledger_date(&doc, "tasksSentAt", -1);
        expect_ledger_int(&doc, "tasksTotal", 5);
        bson_destroy(&doc);
        it_expect_int("ledger documents", 1, count_docs(c, "jobs"));
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(stats_sends_job_started_then_one_task_per_range,
                                            test_setup, test_teardown),
            cmocka_unit_test_setup_teardown(stats_same_job_again_sends_nothing, test_setup,
                                            test_teardown),
            cmocka_unit_test_setup_teardown(stats_other_params_need_a_run_id, test_setup,
                                            test_teardown),
            cmocka_unit_test_setup_teardown(stats_test_mode_is_its_own_job, test_setup,
                                            test_teardown),
            cmocka_unit_test_setup_teardown(dry_run_prints_the_tasks_and_sends_nothing, test_setup,
                                            test_teardown),
            cmocka_unit_test_setup_teardown(bad_input_exits_2_and_sends_nothing, test_setup,
                                            test_teardown),
            cmocka_unit_test_setup_teardown(cleanup_sends_contiguous_windows_up_to_the_cutoff,
                                            test_setup, test_teardown),
            cmocka_unit_test_setup_teardown(cleanup_finds_the_oldest_hour_at_the_edges, test_setup,
                                            test_teardown),
            cmocka_unit_test_setup_teardown(cleanup_with_nothing_older_finishes_at_once, test_setup,
                                            test_teardown),
            cmocka_unit_test_setup_teardown(cleanup_test_mode_reads_test_playbacks, test_setup,
                                            test_teardown),
            cmocka_unit_test_setup_teardown(two_producers_at_once_send_the_job_once, test_setup,
                                            test_teardown),
        };

        producer_arg = argc > 1 ? argv[1] : NULL;
        setvbuf(stdout, NULL, _IOLBF, 0);
        return cmocka_run_group_tests(tests, group_setup, it_clients_group_close) ? 1 : 0;
}
