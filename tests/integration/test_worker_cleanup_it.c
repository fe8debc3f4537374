/* joytify-worker running cleanup jobs on the real stack, as an operator runs it: the built
 * joytify-producer emits a job, real joytify-worker processes (in the test's own consumer group)
 * run it against the test's own database and topics, and the test checks what is left in
 * MongoDB, the job ledger, and every status event and dead letter on Kafka. Waits are polls
 * with generous bounds, never fixed sleeps; workers are always ended in teardown.
 * Usage: test_worker_cleanup_it [BUILD-DIR]  (default $JT_BUILD_DIR; JT_IT_FILTER=PATTERN runs
 * only the matching tests) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>

#include "it_env.h"
#include "it_clients.h"
#include "it_kafka.h"
#include "it_proc.h"
#include "jt_avro.h"
#include "jt_time.h"
#include "jt_dlq.h"
#include "jt_kafka.h"
#include "jt_kafka_admin.h"

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS  (24 * HOUR_MS)

/* Every job of these tests fires at AT (retention 60 days): cutoff 2026-09-03T04:00Z. */
#define AT        "2026-11-02T04:00Z"
#define JOB_ID    "cleanup-2026-11-02T0400Z"
#define RETENTION 60

#define WAIT_JOB_MS 120000 /* a job's outcome on this stack */
#define STOP_MS     10000  /* SIGTERM to exit */
#define PRODUCER_MS 60000
#define MAX_WORKERS 3
#define LOG_TAIL    3000
#define MAX_TASKS   64

static char build_dir[1024];
static char worker_path[1100], producer_path[1100];
static jt_avro_registry_t *reg;
static mongoc_client_t *mongo;
static rd_kafka_t *reader;
static it_clients_t clients;
static int test_seq;

enum { T_STATS, T_CLEANUP, T_STATUS, T_DLQ, T_COUNT };
static const char *const topic_roles[T_COUNT] = {"stats", "cleanup", "status", "dlq"};

/* One test's own database, topics, consumer group and worker processes. */
typedef struct {
        char db[64];
        char group[96];
        char topic[T_COUNT][96];
        char partitions[8]; /* --task-partitions of the programs */
        it_mark_t mark[T_COUNT];
        it_proc_t workers[MAX_WORKERS];
        bool stopped[MAX_WORKERS]; /* stopped on purpose: its exit is no failure */
        int worker_count;
} ctx_t;

static int64_t cutoff_ms(void);

/* ---------------------------------------------------------------------------------------- */
/* Expectations that say what was expected and what came instead. */

static void expect_int(const char *what, int64_t expected, int64_t actual) {
        if (expected != actual)
                fail_msg("%s: expected %" PRId64 ", actual %" PRId64, what, expected, actual);
}

static void expect_str(const char *what, const char *expected, const char *actual) {
        if (!expected && !actual)
                return;
        if (!expected || !actual || strcmp(expected, actual) != 0)
                fail_msg("%s: expected %s%s%s, actual %s%s%s", what, expected ? "\"" : "",
                         expected ? expected : "null", expected ? "\"" : "", actual ? "\"" : "",
                         actual ? actual : "null", actual ? "\"" : "");
}

static void expect_contains(const char *what, const char *text, const char *wanted) {
        if (!text || !strstr(text, wanted))
                fail_msg("%s: expected to contain \"%s\", actual \"%s\"", what, wanted,
                         text ? text : "(null)");
}

static void expect_opt_long(const char *what, int64_t expected, jt_opt_long_t actual) {
        if (!actual.set)
                fail_msg("%s: expected %" PRId64 ", actual unset", what, expected);
        expect_int(what, expected, actual.value);
}

static const char *ms_iso(int64_t ms, char *buf) {
        jt_time_format_iso(ms / 1000, buf, JT_TIME_ISO_BUF);
        return buf;
}

static int64_t iso_ms(const char *iso) {
        int64_t secs = 0;
        jt_error_t err;

        jt_error_clear(&err);
        if (!jt_time_parse_iso(iso, &secs, &err))
                fail_msg("test data %s: %s", iso, err.message);
        return secs * 1000;
}

static int64_t cutoff_ms(void) {
        return iso_ms(AT) - RETENTION * DAY_MS;
}

static int64_t wall_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------------------------- */
/* Programs: the producer (run to its end) and the workers (started, stopped by SIGTERM). */

/* Prints the tail of every worker's log (before a failure message, so the reason is there). */
static void print_worker_logs(const ctx_t *c) {
        char tail[LOG_TAIL];

        for (int i = 0; i < c->worker_count; i++)
                printf("----- %s (pid %d) log, last %d bytes -----\n%s\n", c->workers[i].name,
                       (int)c->workers[i].pid, LOG_TAIL,
                       it_proc_log_tail(&c->workers[i], tail, sizeof(tail)));
        fflush(stdout);
}

#define fail_with_logs(c, ...)                                                                     \
        do {                                                                                       \
                print_worker_logs(c);                                                              \
                fail_msg(__VA_ARGS__);                                                             \
        } while (0)

/* Fails when a worker that was not stopped on purpose has exited. */
static void expect_workers_alive(ctx_t *c) {
        for (int i = 0; i < c->worker_count; i++)
                if (!c->stopped[i] && !it_proc_running(&c->workers[i]))
                        fail_with_logs(c,
                                       "%s (pid %d): expected running, actual exited with code %d",
                                       c->workers[i].name, (int)c->workers[i].pid,
                                       it_proc_exit_code(&c->workers[i]));
}

/* Runs joytify-producer with args (NULL-terminated) and returns its exit code; its output is
 * printed. with_ctx adds the test's --db, topics and --task-partitions. */
static int run_producer(const ctx_t *c, bool with_ctx, const char *const *args) {
        const char *argv[IT_PROC_ARGS_MAX];
        it_proc_t p;
        char tail[8192];
        int n = 0, rc;

        for (const char *const *a = args; *a && n < 40; a++)
                argv[n++] = *a;
        if (with_ctx) {
                argv[n++] = "--db";
                argv[n++] = c->db;
                argv[n++] = "--stats-topic";
                argv[n++] = c->topic[T_STATS];
                argv[n++] = "--cleanup-topic";
                argv[n++] = c->topic[T_CLEANUP];
                argv[n++] = "--status-topic";
                argv[n++] = c->topic[T_STATUS];
                argv[n++] = "--dlq-topic";
                argv[n++] = c->topic[T_DLQ];
                argv[n++] = "--task-partitions";
                argv[n++] = c->partitions;
        }
        argv[n] = NULL;
        it_proc_start(&p, "joytify-producer", producer_path, argv, NULL);
        if (!it_proc_wait(&p, PRODUCER_MS)) {
                it_proc_cleanup(&p);
                fail_msg("%s: expected to exit within %d s, actual still running (killed)", p.line,
                         PRODUCER_MS / 1000);
        }
        rc = it_proc_exit_code(&p);
        printf("$ %s\n%s[exit %d]\n", p.line, it_proc_log_tail(&p, tail, sizeof(tail)), rc);
        it_proc_cleanup(&p);
        return rc;
}

#define PRODUCER(c, with_ctx, ...)                                                                 \
        run_producer((c), (with_ctx), (const char *const[]){__VA_ARGS__, NULL})

/* `joytify-producer cleanup --at AT` plus extra arguments; expects exit 0. */
static void producer_cleanup(ctx_t *c, const char *const *extra) {
        const char *argv[32] = {"cleanup", "--at", AT};
        int n = 3, rc;

        for (const char *const *a = extra; a && *a && n < 30; a++)
                argv[n++] = *a;
        argv[n] = NULL;
        rc = run_producer(c, true, argv);
        expect_int("joytify-producer cleanup: exit code", 0, rc);
}

/* Starts a worker in the test's group consuming `topics` (--topics); returns its slot. */
static int worker_start_topics(ctx_t *c, const char *topics) {
        int i = c->worker_count;
        char name[32];

        if (i >= MAX_WORKERS)
                fail_msg("test bug: more than %d workers", MAX_WORKERS);
        snprintf(name, sizeof(name), "worker %d", i + 1);
        it_proc_start(&c->workers[i], name, worker_path,
                      (const char *const[]){"--group",
                                            c->group,
                                            "--topics",
                                            topics,
                                            "--db",
                                            c->db,
                                            "--stats-topic",
                                            c->topic[T_STATS],
                                            "--cleanup-topic",
                                            c->topic[T_CLEANUP],
                                            "--status-topic",
                                            c->topic[T_STATUS],
                                            "--dlq-topic",
                                            c->topic[T_DLQ],
                                            "--task-partitions",
                                            c->partitions,
                                            "--max-attempts",
                                            "3",
                                            "--retry-backoff-ms",
                                            "200",
                                            "--retry-backoff-max-ms",
                                            "2000",
                                            NULL},
                      NULL);
        c->stopped[i] = false;
        c->worker_count++;
        printf("started %s: pid %d: %s\n", name, (int)c->workers[i].pid, c->workers[i].line);
        return i;
}

/* A worker consuming the test's cleanup topic only. */
static int worker_start(ctx_t *c) {
        return worker_start_topics(c, "cleanup");
}

/* Waits until every worker started so far has logged an assignment of cleanup partitions. */
static void wait_cleanup_assigned(ctx_t *c, int timeout_ms) {
        char line[300];
        int64_t deadline = it_now_ms() + timeout_ms;

        snprintf(line, sizeof(line), "rebalance assigned: %s [", c->topic[T_CLEANUP]);
        for (int i = 0; i < c->worker_count; i++)
                while (!it_proc_log_contains(&c->workers[i], line)) {
                        expect_workers_alive(c);
                        if (it_now_ms() > deadline)
                                fail_with_logs(c,
                                               "%s: expected cleanup partitions within %d ms, "
                                               "actual none assigned",
                                               c->workers[i].name, timeout_ms);
                        it_sleep_ms(100);
                }
}

/* "host/pid" of a worker as its events carry it, compared by the pid part. */
static int worker_of(const ctx_t *c, const char *worker_id) {
        const char *slash = worker_id ? strrchr(worker_id, '/') : NULL;
        int pid = slash ? atoi(slash + 1) : -1;

        for (int i = 0; i < c->worker_count; i++)
                if (c->workers[i].pid == pid)
                        return i;
        return -1;
}

/* Sends SIGTERM to the workers in slots[] at once; each must exit 0 within STOP_MS. */
static void workers_stop(ctx_t *c, const int *slots, int n) {
        int64_t sent = it_now_ms();

        for (int k = 0; k < n; k++) {
                if (!it_proc_running(&c->workers[slots[k]]))
                        fail_with_logs(c,
                                       "%s: expected running before SIGTERM, actual exited "
                                       "with code %d",
                                       c->workers[slots[k]].name,
                                       it_proc_exit_code(&c->workers[slots[k]]));
                c->stopped[slots[k]] = true;
                it_proc_signal(&c->workers[slots[k]], SIGTERM);
        }
        for (int k = 0; k < n; k++) {
                it_proc_t *w = &c->workers[slots[k]];
                int64_t left = STOP_MS - (it_now_ms() - sent);
                bool exited = it_proc_wait(w, left > 0 ? (int)left : 0);
                double secs = (double)((exited ? w->ended_ms : it_now_ms()) - sent) / 1000.0;

                if (!exited) {
                        print_worker_logs(c);
                        it_proc_cleanup(w);
                        fail_msg("%s after SIGTERM: expected to exit within %d s, actual still "
                                 "running after %.1f s (killed)",
                                 w->name, STOP_MS / 1000, secs);
                }
                printf("%s exited %.2f s after SIGTERM with code %d\n", w->name, secs,
                       it_proc_exit_code(w));
                if (it_proc_exit_code(w) != 0)
                        fail_with_logs(c, "%s after SIGTERM: exit code expected 0, actual %d",
                                       w->name, it_proc_exit_code(w));
        }
}

static void worker_stop(ctx_t *c, int slot) {
        workers_stop(c, &slot, 1);
}

/* ---------------------------------------------------------------------------------------- */
/* MongoDB: playbacks in and out, the ledger. */

static mongoc_collection_t *collection(const ctx_t *c, const char *name) {
        return mongoc_client_get_collection(mongo, c->db, name);
}

/* Inserts one playback per time (ms); ids (if not NULL) receive their _ids. */
static void insert_playbacks(const ctx_t *c, const int64_t *times, size_t n, bson_oid_t *ids) {
        mongoc_collection_t *coll = collection(c, "playbacks");
        bson_t *docs[500];
        bson_error_t error;

        for (size_t done = 0; done < n;) {
                size_t k = n - done < 500 ? n - done : 500;
                for (size_t i = 0; i < k; i++) {
                        bson_oid_t id, user, song, artist;
                        bson_oid_init(&id, NULL);
                        bson_oid_init(&user, NULL);
                        bson_oid_init(&song, NULL);
                        bson_oid_init(&artist, NULL);
                        if (ids)
                                bson_oid_copy(&id, &ids[done + i]);
                        docs[i] =
                            BCON_NEW("_id", BCON_OID(&id), "user", BCON_OID(&user), "song",
                                     BCON_OID(&song), "artist", BCON_OID(&artist), "state",
                                     BCON_UTF8((done + i) % 2 ? "playing" : "completed"),
                                     "duration", BCON_DOUBLE(30.0 + (double)((done + i) % 300)),
                                     "createdAt", BCON_DATE_TIME(times[done + i]), "updatedAt",
                                     BCON_DATE_TIME(times[done + i]));
                }
                if (!mongoc_collection_insert_many(coll, (const bson_t **)docs, k, NULL, NULL,
                                                   &error))
                        fail_msg("inserting %zu playbacks into %s.playbacks: %s", k, c->db,
                                 error.message);
                for (size_t i = 0; i < k; i++)
                        bson_destroy(docs[i]);
                done += k;
        }
        mongoc_collection_destroy(coll);
}

/* n times from `from` spaced by step ms. */
static int64_t *spread(size_t n, int64_t from, int64_t step) {
        int64_t *t = calloc(n, sizeof(*t));
        if (!t)
                fail_msg("out of memory");
        for (size_t i = 0; i < n; i++)
                t[i] = from + (int64_t)i * step;
        return t;
}

/* Playbacks with createdAt in [from, to); INT64_MIN / INT64_MAX leave a side open. */
static bson_t *range_filter(int64_t from, int64_t to) {
        bson_t *f = bson_new(), r;

        BSON_APPEND_DOCUMENT_BEGIN(f, "createdAt", &r);
        if (from != INT64_MIN)
                BSON_APPEND_DATE_TIME(&r, "$gte", from);
        if (to != INT64_MAX)
                BSON_APPEND_DATE_TIME(&r, "$lt", to);
        if (from == INT64_MIN && to == INT64_MAX)
                BSON_APPEND_BOOL(&r, "$exists", true);
        bson_append_document_end(f, &r);
        return f;
}

static int64_t count_playbacks(const ctx_t *c, int64_t from, int64_t to) {
        mongoc_collection_t *coll = collection(c, "playbacks");
        bson_t *filter = range_filter(from, to);
        bson_error_t error;
        int64_t n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &error);

        if (n < 0)
                fail_msg("counting %s.playbacks: %s", c->db, error.message);
        bson_destroy(filter);
        mongoc_collection_destroy(coll);
        return n;
}

static int oid_cmp(const void *a, const void *b) {
        return bson_oid_compare(a, b);
}

/* The _ids of the playbacks in [from, to) equal expected[0..n) (as sets). */
static void expect_playback_ids(const ctx_t *c, int64_t from, int64_t to, bson_oid_t *expected,
                                size_t n, const char *what) {
        mongoc_collection_t *coll = collection(c, "playbacks");
        bson_t *filter = range_filter(from, to);
        bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}");
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
        bson_oid_t *got = calloc(n + 1, sizeof(*got));
        const bson_t *doc;
        bson_error_t error;
        bson_iter_t it;
        size_t k = 0, extra = 0;

        while (mongoc_cursor_next(cursor, &doc)) {
                if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it))
                        fail_msg("%s: a playback without an ObjectId _id", what);
                if (k < n)
                        bson_oid_copy(bson_iter_oid(&it), &got[k++]);
                else
                        extra++;
        }
        if (mongoc_cursor_error(cursor, &error))
                fail_msg("%s: reading %s.playbacks: %s", what, c->db, error.message);
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(filter);
        mongoc_collection_destroy(coll);
        expect_int(what, (int64_t)n, (int64_t)(k + extra));
        qsort(got, k, sizeof(*got), oid_cmp);
        qsort(expected, n, sizeof(*expected), oid_cmp);
        for (size_t i = 0; i < n; i++)
                if (bson_oid_compare(&got[i], &expected[i]) != 0) {
                        char e[25], a[25];
                        bson_oid_to_string(&expected[i], e);
                        bson_oid_to_string(&got[i], a);
                        fail_msg("%s: sorted _id %zu expected %s, actual %s", what, i, e, a);
                }
        free(got);
}

/* The ledger entry of job_id into *doc (initialised here); false when there is none. */
static bool ledger_get(const ctx_t *c, const char *job_id, bson_t *doc) {
        mongoc_collection_t *coll = collection(c, "jobs");
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(job_id));
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
        const bson_t *found;
        bson_error_t error;
        bool ok = mongoc_cursor_next(cursor, &found);

        if (ok)
                bson_copy_to(found, doc);
        else
                bson_init(doc);
        if (!ok && mongoc_cursor_error(cursor, &error))
                fail_msg("reading %s.jobs %s: %s", c->db, job_id, error.message);
        mongoc_cursor_destroy(cursor);
        bson_destroy(filter);
        mongoc_collection_destroy(coll);
        return ok;
}

/* A string field of the ledger entry (dotted path) into buf; "" when absent. */
static const char *ledger_str(const bson_t *doc, const char *path, char *buf, size_t size) {
        bson_iter_t top, it;

        buf[0] = '\0';
        if (bson_iter_init(&top, doc) && bson_iter_find_descendant(&top, path, &it) &&
            BSON_ITER_HOLDS_UTF8(&it))
                snprintf(buf, size, "%s", bson_iter_utf8(&it, NULL));
        return buf;
}

static void expect_ledger_int(const bson_t *doc, const char *path, int64_t expected) {
        bson_iter_t top, it;
        char what[200];

        snprintf(what, sizeof(what), "ledger field %s", path);
        if (!bson_iter_init(&top, doc) || !bson_iter_find_descendant(&top, path, &it) ||
            !BSON_ITER_HOLDS_NUMBER(&it)) {
                char *json = bson_as_relaxed_extended_json(doc, NULL);
                printf("ledger entry: %s\n", json);
                bson_free(json);
                fail_msg("%s: expected the number %" PRId64 ", actual missing or not a number "
                         "(the entry is printed above)",
                         what, expected);
        }
        expect_int(what, expected, bson_iter_as_int64(&it));
}

static bool ledger_has(const bson_t *doc, const char *path) {
        bson_iter_t top, it;
        return bson_iter_init(&top, doc) && bson_iter_find_descendant(&top, path, &it);
}

/* Polls the ledger until job_id's state is `state`; the workers must stay up meanwhile. */
static void wait_job_state(ctx_t *c, const char *job_id, const char *state, int timeout_ms) {
        int64_t start = it_now_ms();
        char got[32] = "";

        for (;;) {
                bson_t doc;
                bool found = ledger_get(c, job_id, &doc);
                if (found)
                        ledger_str(&doc, "state", got, sizeof(got));
                bson_destroy(&doc);
                if (found && strcmp(got, state) == 0)
                        break;
                if (strcmp(got, "failed") == 0 && strcmp(state, "failed") != 0)
                        fail_with_logs(c, "ledger state of %s: expected \"%s\", actual \"failed\"",
                                       job_id, state);
                expect_workers_alive(c);
                if (it_now_ms() - start > timeout_ms) {
                        if (ledger_get(c, job_id, &doc)) {
                                char *json = bson_as_relaxed_extended_json(&doc, NULL);
                                printf("ledger entry: %s\n", json);
                                bson_free(json);
                        }
                        bson_destroy(&doc);
                        fail_with_logs(c,
                                       "ledger state of %s: expected \"%s\" within %d s, "
                                       "actual \"%s\"",
                                       job_id, state, timeout_ms / 1000,
                                       found ? got : "(no entry)");
                }
                it_sleep_ms(250);
        }
        printf("job %s: state %s after %.1f s\n", job_id, state,
               (double)(it_now_ms() - start) / 1000.0);
}

/* ---------------------------------------------------------------------------------------- */
/* Kafka: status events, tasks and dead letters written since the marks. */

static void mark_all(ctx_t *c) {
        for (int t = 0; t < T_COUNT; t++)
                it_mark_capture(reader, c->topic[t], &c->mark[t]);
}

typedef struct {
        jt_status_event_t *ev;
        size_t count;
} events_t;

/* job_id's status events written since the status mark, in log order. */
static void events_read(ctx_t *c, const char *job_id, events_t *out) {
        it_msgs_t m;

        it_read_since(reader, &c->mark[T_STATUS], &m);
        out->ev = calloc(m.count + 1, sizeof(*out->ev));
        out->count = 0;
        for (size_t i = 0; i < m.count; i++) {
                jt_status_event_t e;
                jt_error_t err;
                jt_error_clear(&err);
                if (!jt_status_event_decode(reg, m.msgs[i].value, m.msgs[i].len, &e, &err))
                        fail_msg("status event %zu (key %s, partition %" PRId32 ", offset %" PRId64
                                 "): expected to decode, actual: %s",
                                 i, m.msgs[i].key, m.msgs[i].partition, m.msgs[i].offset,
                                 err.message);
                if (strcmp(e.job_id, job_id) == 0) {
                        expect_str("status event key", job_id, m.msgs[i].key);
                        out->ev[out->count++] = e;
                } else {
                        jt_status_event_clear(&e);
                }
        }
        it_msgs_free(&m);
}

static void events_free(events_t *e) {
        for (size_t i = 0; i < e->count; i++)
                jt_status_event_clear(&e->ev[i]);
        free(e->ev);
        e->ev = NULL;
        e->count = 0;
}

static size_t events_count(const events_t *e, jt_status_type_t type) {
        size_t n = 0;
        for (size_t i = 0; i < e->count; i++)
                n += e->ev[i].type == type;
        return n;
}

/* Exactly one JOB_FINISHED with the original's figures; mode is the original's processingMode
 * for them ("direct" while what was found fits in one --batch-size batch, issue 16 item 6). */
static void expect_job_finished(const ctx_t *c, const events_t *e, int64_t deleted, int64_t found,
                                const char *mode) {
        const jt_status_event_t *f = NULL;
        size_t n = 0;
        char a[JT_TIME_ISO_BUF], b[JT_TIME_ISO_BUF];

        for (size_t i = 0; i < e->count; i++)
                if (e->ev[i].type == JT_STATUS_JOB_FINISHED) {
                        f = &e->ev[i];
                        n++;
                }
        if (n != 1)
                fail_msg("JOB_FINISHED events of %s: expected 1, actual %zu (of %zu events)",
                         JOB_ID, n, e->count);
        expect_opt_long("JOB_FINISHED records_deleted", deleted, f->records_deleted);
        expect_opt_long("JOB_FINISHED total_records_found", found, f->total_records_found);
        expect_opt_long("JOB_FINISHED remaining_records", 0, f->remaining_records);
        expect_str("JOB_FINISHED processing_mode", mode, f->processing_mode);
        if (!f->completion_percentage.set || fabs(f->completion_percentage.value - 100.0) > 1e-9)
                fail_msg("JOB_FINISHED completion_percentage: expected 100, actual %s%g",
                         f->completion_percentage.set ? "" : "unset ",
                         f->completion_percentage.value);
        if (!f->cutoff_date_ms.set || f->cutoff_date_ms.value != cutoff_ms())
                fail_msg("JOB_FINISHED cutoff_date: expected %s, actual %s%s",
                         ms_iso(cutoff_ms(), a), f->cutoff_date_ms.set ? "" : "unset ",
                         ms_iso(f->cutoff_date_ms.value, b));
        expect_int("JOB_FINISHED job_kind (CLEANUP)", JT_JOB_KIND_CLEANUP, f->job_kind);
        expect_str("JOB_FINISHED task_id", NULL, f->task_id);
        expect_str("JOB_FINISHED triggered_by", "manual", f->triggered_by);
        if (worker_of(c, f->worker_id) < 0)
                fail_msg("JOB_FINISHED worker_id: expected one of the test's workers, actual %s",
                         f->worker_id ? f->worker_id : "null");
}

/* A cleanup task read back from the cleanup topic. */
typedef struct {
        char key[200];
        jt_cleanup_task_t t;
} task_msg_t;

typedef struct {
        task_msg_t *m;
        size_t count;
} tasks_t;

static void tasks_read(ctx_t *c, tasks_t *out) {
        it_msgs_t m;

        it_read_since(reader, &c->mark[T_CLEANUP], &m);
        it_msgs_sort_by_key(&m);
        out->m = calloc(m.count + 1, sizeof(*out->m));
        out->count = m.count;
        for (size_t i = 0; i < m.count; i++) {
                jt_error_t err;
                jt_error_clear(&err);
                snprintf(out->m[i].key, sizeof(out->m[i].key), "%s", m.msgs[i].key);
                if (!jt_cleanup_task_decode(reg, m.msgs[i].value, m.msgs[i].len, &out->m[i].t,
                                            &err))
                        fail_msg("cleanup task %s: expected to decode, actual: %s", m.msgs[i].key,
                                 err.message);
                expect_str("cleanup task key (= task_id)", out->m[i].t.task_id, m.msgs[i].key);
        }
        it_msgs_free(&m);
}

static void tasks_free(tasks_t *t) {
        for (size_t i = 0; i < t->count; i++)
                jt_cleanup_task_clear(&t->m[i].t);
        free(t->m);
        t->m = NULL;
        t->count = 0;
}

static size_t count_in(const int64_t *times, size_t n, int64_t from, int64_t to) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                k += times[i] >= from && times[i] < to;
        return k;
}

/* The root (range) id of a task id: without a "+cN" continuation suffix. */
static void root_of(const char *task_id, char *out, size_t size) {
        const char *plus = strstr(task_id, "+c");
        size_t n = plus ? (size_t)(plus - task_id) : strlen(task_id);

        if (n >= size)
                n = size - 1;
        memcpy(out, task_id, n);
        out[n] = '\0';
}

/* For every range task of `tasks`: its TASK_FINISHED event(s) carry exactly the number of
 * `old` playbacks in the range (deleted = found, remaining 0), repeated events agree, and the
 * sum is the number of old playbacks. per_worker[i] counts the ranges worker slot i finished.
 * Returns the number of repeated TASK_FINISHED events (redeliveries). */
static size_t expect_range_results(const ctx_t *c, const events_t *e, const tasks_t *tasks,
                                   const int64_t *old, size_t n_old, int *per_worker) {
        int64_t sum = 0;
        size_t ranges = 0, repeats = 0;

        for (int i = 0; i < MAX_WORKERS; i++)
                per_worker[i] = 0;
        for (size_t k = 0; k < tasks->count; k++) {
                const jt_cleanup_task_t *t = &tasks->m[k].t;
                int64_t end = t->range_end_ms < t->cutoff_ms ? t->range_end_ms : t->cutoff_ms;
                int64_t want = (int64_t)count_in(old, n_old, t->range_start_ms, end);
                size_t seen = 0;
                char what[300];

                if (t->continuation_seq != 0)
                        continue;
                ranges++;
                for (size_t i = 0; i < e->count; i++) {
                        const jt_status_event_t *f = &e->ev[i];
                        char root[256];
                        int w;
                        if (f->type != JT_STATUS_TASK_FINISHED || !f->task_id)
                                continue;
                        root_of(f->task_id, root, sizeof(root));
                        if (strcmp(root, t->task_id) != 0)
                                continue;
                        snprintf(what, sizeof(what), "TASK_FINISHED %s records_deleted",
                                 f->task_id);
                        expect_opt_long(what, want, f->records_deleted);
                        snprintf(what, sizeof(what), "TASK_FINISHED %s total_records_found",
                                 f->task_id);
                        expect_opt_long(what, want, f->total_records_found);
                        snprintf(what, sizeof(what), "TASK_FINISHED %s remaining_records",
                                 f->task_id);
                        expect_opt_long(what, 0, f->remaining_records);
                        w = worker_of(c, f->worker_id);
                        if (w < 0)
                                fail_msg("TASK_FINISHED %s worker_id: expected one of the test's "
                                         "workers, actual %s",
                                         f->task_id, f->worker_id ? f->worker_id : "null");
                        if (seen++ == 0)
                                per_worker[w]++;
                }
                snprintf(what, sizeof(what), "TASK_FINISHED events of range %s (at least 1)",
                         t->task_id);
                if (seen == 0)
                        fail_msg("%s: expected >= 1, actual 0", what);
                repeats += seen - 1;
                sum += want;
        }
        expect_int("sum of the ranges' records_deleted", (int64_t)n_old, sum);
        expect_int("TASK_FINISHED events of ranges that are not the job's", 0,
                   (int64_t)(events_count(e, JT_STATUS_TASK_FINISHED) - ranges - repeats));
        return repeats;
}

/* Messages of mark's topic since the mark, kept whole (headers too); caller destroys them. */
typedef struct {
        rd_kafka_message_t *msgs[64];
        size_t count;
} raw_msgs_t;

static void raw_read_since(const it_mark_t *mark, raw_msgs_t *out) {
        int parts = it_topic_partitions(reader, mark->topic);
        rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new(parts + 1);
        int64_t end[IT_MAX_PARTITIONS], deadline = it_now_ms() + 30000;
        size_t wanted = 0;

        out->count = 0;
        for (int p = 0; p < parts; p++) {
                int64_t low = 0, start;
                it_watermarks(reader, mark->topic, p, &low, &end[p]);
                start = p < mark->partitions ? mark->end[p] : 0;
                if (start < low)
                        start = low;
                if (end[p] > start) {
                        wanted += (size_t)(end[p] - start);
                        rd_kafka_topic_partition_list_add(assignment, mark->topic, p)->offset =
                            start;
                }
        }
        if (wanted > 64)
                fail_msg("%s: expected at most 64 new messages, actual %zu", mark->topic, wanted);
        if (wanted && rd_kafka_assign(reader, assignment))
                fail_msg("assigning the partitions of %s", mark->topic);
        rd_kafka_topic_partition_list_destroy(assignment);
        while (out->count < wanted) {
                rd_kafka_message_t *msg;
                if (it_now_ms() > deadline)
                        fail_msg("reading %s: %zu of %zu messages within 30 s", mark->topic,
                                 out->count, wanted);
                msg = rd_kafka_consumer_poll(reader, 200);
                if (!msg)
                        continue;
                if (msg->err || strcmp(rd_kafka_topic_name(msg->rkt), mark->topic) != 0 ||
                    msg->partition >= parts || msg->offset >= end[msg->partition]) {
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                out->msgs[out->count++] = msg;
        }
        if (wanted)
                rd_kafka_assign(reader, NULL);
}

static void raw_free(raw_msgs_t *r) {
        for (size_t i = 0; i < r->count; i++)
                rd_kafka_message_destroy(r->msgs[i]);
        r->count = 0;
}

/* The last value of a header as a string ("" when absent). */
static const char *header(rd_kafka_message_t *msg, const char *name, char *buf, size_t size) {
        rd_kafka_headers_t *hdrs = NULL;
        const void *v = NULL;
        size_t len = 0;

        buf[0] = '\0';
        if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(hdrs, name, &v, &len) == RD_KAFKA_RESP_ERR_NO_ERROR && v) {
                if (len >= size)
                        len = size - 1;
                memcpy(buf, v, len);
                buf[len] = '\0';
        }
        return buf;
}

/* Number of messages on mark's topic since the mark (by watermarks). */
static int64_t new_message_count(const it_mark_t *mark) {
        int parts = it_topic_partitions(reader, mark->topic);
        int64_t n = 0;

        for (int p = 0; p < parts; p++) {
                int64_t low = 0, high = 0;
                it_watermarks(reader, mark->topic, p, &low, &high);
                n += high - (p < mark->partitions ? mark->end[p] : 0);
        }
        return n;
}

/* The group's committed offsets on the cleanup topic equal its end offsets. */
static void expect_group_at_end(const ctx_t *c) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        int parts = it_topic_partitions(reader, c->topic[T_CLEANUP]);
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(parts);
        char errstr[512];
        rd_kafka_t *rk;
        rd_kafka_resp_err_t rc;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", it_env("JT_KAFKA_BROKERS"), errstr,
                              sizeof(errstr)) ||
            rd_kafka_conf_set(conf, "group.id", c->group, errstr, sizeof(errstr)))
                fail_msg("offset reader configuration: %s", errstr);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk)
                fail_msg("offset reader: %s", errstr);
        for (int p = 0; p < parts; p++)
                rd_kafka_topic_partition_list_add(list, c->topic[T_CLEANUP], p);
        rc = rd_kafka_committed(rk, list, IT_KAFKA_TIMEOUT_MS);
        if (rc)
                fail_msg("committed offsets of group %s: %s", c->group, rd_kafka_err2str(rc));
        for (int p = 0; p < parts; p++) {
                int64_t low = 0, high = 0, committed = list->elems[p].offset;
                char what[300];
                it_watermarks(reader, c->topic[T_CLEANUP], p, &low, &high);
                if (high == 0)
                        continue; /* nothing to commit there */
                snprintf(what, sizeof(what), "committed offset of group %s on %s [%d] (= end)",
                         c->group, c->topic[T_CLEANUP], p);
                expect_int(what, high, committed);
        }
        rd_kafka_topic_partition_list_destroy(list);
        rd_kafka_destroy(rk);
}

/* ---------------------------------------------------------------------------------------- */
/* Fixtures. */

static int group_setup(void **state) {
        const char *build = getenv("JT_BUILD_DIR");

        (void)state;
        if (build_dir[0] == '\0') {
                if (!build || !*build) {
                        fprintf(stderr, "JT_BUILD_DIR is not set and no build directory was "
                                        "given\n");
                        return -1;
                }
                snprintf(build_dir, sizeof(build_dir), "%s", build);
        }
        snprintf(worker_path, sizeof(worker_path), "%s/worker/joytify-worker", build_dir);
        snprintf(producer_path, sizeof(producer_path), "%s/producer/joytify-producer", build_dir);
        if (access(worker_path, X_OK) != 0 || access(producer_path, X_OK) != 0) {
                fprintf(stderr, "%s and %s must be built\n", worker_path, producer_path);
                return -1;
        }
        if (it_clients_open(&clients) != 0)
                return -1;
        reg = clients.reg;
        mongo = clients.mongo;
        reader = clients.reader;
        return 0;
}

static int group_teardown(void **state) {
        (void)state;
        it_clients_close(&clients);
        return 0;
}

static int test_setup(void **state) {
        ctx_t *c = calloc(1, sizeof(*c));
        int pid = (int)getpid(), n = ++test_seq;

        snprintf(c->db, sizeof(c->db), "jt_it_wc_%d_%d", pid, n);
        snprintf(c->group, sizeof(c->group), "jt-it-wc-%d-%d", pid, n);
        snprintf(c->partitions, sizeof(c->partitions), "4");
        for (int t = 0; t < T_COUNT; t++)
                snprintf(c->topic[t], sizeof(c->topic[t]), "jt.it.wc.%d.%d.%s", pid, n,
                         topic_roles[t]);
        *state = c;
        return 0;
}

static void delete_group(const char *group) {
        rd_kafka_DeleteGroup_t *del = rd_kafka_DeleteGroup_new(group);
        rd_kafka_queue_t *queue = rd_kafka_queue_new(reader);
        rd_kafka_event_t *ev;

        rd_kafka_DeleteGroups(reader, &del, 1, NULL, queue);
        ev = rd_kafka_queue_poll(queue, IT_KAFKA_TIMEOUT_MS);
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_DeleteGroup_destroy(del);
        rd_kafka_queue_destroy(queue);
}

static int test_teardown(void **state) {
        ctx_t *c = *state;
        const char *topics[T_COUNT];
        mongoc_database_t *db;

        /* Workers first, whatever happened: nothing may keep running after a test. */
        for (int i = 0; i < c->worker_count; i++)
                it_proc_cleanup(&c->workers[i]);
        db = mongoc_client_get_database(mongo, c->db);
        mongoc_database_drop(db, NULL);
        mongoc_database_destroy(db);
        for (int t = 0; t < T_COUNT; t++)
                topics[t] = c->topic[t];
        it_delete_topics(reader, topics, T_COUNT);
        delete_group(c->group);
        free(c);
        return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* 1. Two workers complete a job, and share it: both consume both task topics (the default
 * --topics), and each is given cleanup partitions (one consumer subscribed to both topics once
 * let the assignor give one worker every cleanup partition and the other every stats one). */

static void two_workers_complete_a_cleanup_job(void **state) {
        ctx_t *c = *state;
        const int64_t cutoff = cutoff_ms();
        const size_t n_old = 1500, n_at = 50, n_new = 250;
        /* 1,500 over the 5 days before the cutoff (one per 288 s: 150 per 12-hour range), 50
         * exactly at the cutoff, 250 over the 20 days after it. */
        int64_t *old = spread(n_old, cutoff - 5 * DAY_MS, 5 * DAY_MS / (int64_t)n_old);
        int64_t *at = spread(n_at, cutoff, 0);
        int64_t *newer = spread(n_new, cutoff + 1, 20 * DAY_MS / (int64_t)n_new);
        bson_oid_t *keep = calloc(n_at + n_new, sizeof(*keep));
        int per_worker[MAX_WORKERS], slots[2];
        int64_t t0 = it_now_ms();
        events_t ev;
        tasks_t tasks;
        bson_t ledger;
        size_t repeats;

        insert_playbacks(c, old, n_old, NULL);
        insert_playbacks(c, at, n_at, keep);
        insert_playbacks(c, newer, n_new, keep + n_at);
        mark_all(c);
        slots[0] = worker_start_topics(c, "stats,cleanup");
        slots[1] = worker_start_topics(c, "stats,cleanup");
        wait_cleanup_assigned(c, 60000);
        producer_cleanup(c, (const char *const[]){"--range-hours", "12", NULL});
        wait_job_state(c, JOB_ID, "finished", WAIT_JOB_MS);

        expect_int("playbacks older than the cutoff after the job", 0,
                   count_playbacks(c, INT64_MIN, cutoff));
        expect_playback_ids(c, cutoff, INT64_MAX, keep, n_at + n_new,
                            "playbacks at or after the cutoff (count, then ids)");

        tasks_read(c, &tasks);
        expect_int("range tasks on the cleanup topic (5 days / 12 h)", 10, (int64_t)tasks.count);
        events_read(c, JOB_ID, &ev);
        expect_job_finished(c, &ev, (int64_t)n_old, (int64_t)n_old, "direct");
        repeats = expect_range_results(c, &ev, &tasks, old, n_old, per_worker);
        if (events_count(&ev, JT_STATUS_TASK_STARTED) < tasks.count)
                fail_msg("TASK_STARTED events: expected at least %zu (one per range), actual %zu",
                         tasks.count, events_count(&ev, JT_STATUS_TASK_STARTED));

        if (!ledger_get(c, JOB_ID, &ledger))
                fail_msg("ledger %s: expected an entry, actual none", JOB_ID);
        expect_ledger_int(&ledger, "tasksTotal", (int64_t)tasks.count);
        expect_ledger_int(&ledger, "tasksDone", (int64_t)tasks.count);
        for (size_t k = 0; k < tasks.count; k++) {
                const char *key = strchr(tasks.m[k].t.task_id, '/') + 1;
                const jt_cleanup_task_t *t = &tasks.m[k].t;
                int64_t want = (int64_t)count_in(old, n_old, t->range_start_ms, t->range_end_ms);
                char path[256], rpath[256];
                snprintf(path, sizeof(path), "found.%s", key);
                snprintf(rpath, sizeof(rpath), "results.%s", key);
                if (!ledger_has(&ledger, path) && ledger_has(&ledger, rpath)) {
                        char *json = bson_as_relaxed_extended_json(&ledger, NULL);
                        printf("ledger entry: %s\n", json);
                        bson_free(json);
                        fail_msg("ledger field %s: expected %" PRId64 ", actual missing although "
                                 "%s is recorded: an update of the job document was lost (two "
                                 "workers updated it at once; FerretDB's SQLite handler does not "
                                 "apply an update atomically, FerretDB issue 3040)",
                                 path, want, rpath);
                }
                expect_ledger_int(&ledger, path, want);
                snprintf(path, sizeof(path), "results.%s.deleted", key);
                expect_ledger_int(&ledger, path, want);
                snprintf(path, sizeof(path), "results.%s.remaining", key);
                expect_ledger_int(&ledger, path, 0);
        }
        bson_destroy(&ledger);

        printf("ranges finished per worker: %s %d, %s %d; repeated TASK_FINISHED events: %zu\n",
               c->workers[0].name, per_worker[0], c->workers[1].name, per_worker[1], repeats);
        if (per_worker[0] == 0 || per_worker[1] == 0)
                fail_with_logs(c,
                               "ranges per worker: expected both workers to run some of the %zu "
                               "(each was assigned cleanup partitions first), actual %d and %d",
                               tasks.count, per_worker[0], per_worker[1]);
        printf("job done %.1f s after the data was in\n", (double)(it_now_ms() - t0) / 1000.0);
        workers_stop(c, slots, 2);
        events_free(&ev);
        tasks_free(&tasks);
        free(old);
        free(at);
        free(newer);
        free(keep);
}

/* ---------------------------------------------------------------------------------------- */
/* 2. Time budget: continuation tasks, exact totals. */

static void time_budget_sends_continuations_with_exact_totals(void **state) {
        ctx_t *c = *state;
        const int64_t cutoff = cutoff_ms();
        const size_t n_old = 1000;
        /* 1,000 over the 9 days before the cutoff: one 240-hour range. */
        int64_t *old = spread(n_old, cutoff - 9 * DAY_MS, 9 * DAY_MS / (int64_t)n_old);
        const task_msg_t *root = NULL;
        int per_worker[MAX_WORKERS], w, conts = 0;
        int64_t prev_so_far = 0, t0;
        char key[256], path[300], want[300];
        const jt_status_event_t *fin = NULL;
        events_t ev;
        tasks_t tasks;
        bson_t ledger;

        insert_playbacks(c, old, n_old, NULL);
        mark_all(c);
        producer_cleanup(c, (const char *const[]){"--range-hours", "240", "--time-budget", "1",
                                                  "--batch-size", "50", "--batch-delay-ms", "300",
                                                  NULL});
        t0 = it_now_ms();
        w = worker_start(c);
        wait_job_state(c, JOB_ID, "finished", WAIT_JOB_MS);
        printf("1,000 playbacks in 50s every 300 ms with a 1 s budget: %.1f s\n",
               (double)(it_now_ms() - t0) / 1000.0);
        expect_int("playbacks older than the cutoff after the job", 0,
                   count_playbacks(c, INT64_MIN, cutoff));

        /* The range task, then its continuations +c1, +c2, ... each once, in order. */
        tasks_read(c, &tasks);
        for (size_t k = 0; k < tasks.count; k++)
                if (tasks.m[k].t.continuation_seq == 0) {
                        if (root)
                                fail_msg("range tasks: expected 1, actual more (%s and %s)",
                                         root->key, tasks.m[k].key);
                        root = &tasks.m[k];
                }
        if (!root)
                fail_msg("range tasks: expected 1, actual 0 (of %zu tasks)", tasks.count);
        conts = (int)tasks.count - 1;
        printf("continuations: %d\n", conts);
        if (conts < 2)
                fail_msg("continuation tasks: expected at least 2 (1,000 playbacks at most 200 a "
                         "second with a 1 s budget), actual %d",
                         conts);
        for (int seq = 1; seq <= conts; seq++) {
                const jt_cleanup_task_t *t = NULL;
                snprintf(want, sizeof(want), "%s+c%d", root->key, seq);
                for (size_t k = 0; k < tasks.count; k++)
                        if (strcmp(tasks.m[k].key, want) == 0) {
                                if (t)
                                        fail_msg("continuation %s: expected once on the cleanup "
                                                 "topic, actual twice",
                                                 want);
                                t = &tasks.m[k].t;
                        }
                if (!t) {
                        char keys[4096] = "";
                        for (size_t k = 0; k < tasks.count; k++)
                                snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s ",
                                         tasks.m[k].key);
                        fail_msg("continuation keys: expected %s, actual keys: %s", want, keys);
                }
                snprintf(path, sizeof(path), "%s continuation_seq", want);
                expect_int(path, seq, t->continuation_seq);
                snprintf(path, sizeof(path), "%s parent_task_id", want);
                expect_str(path, root->t.task_id, t->parent_task_id);
                snprintf(path, sizeof(path), "%s range_start", want);
                expect_int(path, root->t.range_start_ms, t->range_start_ms);
                snprintf(path, sizeof(path), "%s range_end", want);
                expect_int(path, root->t.range_end_ms, t->range_end_ms);
                if (t->deleted_so_far < prev_so_far || t->deleted_so_far >= (int64_t)n_old)
                        fail_msg("%s deleted_so_far: expected in [%" PRId64 ", %zu), actual "
                                 "%" PRId64,
                                 want, prev_so_far, n_old, t->deleted_so_far);
                prev_so_far = t->deleted_so_far;
        }

        events_read(c, JOB_ID, &ev);
        expect_job_finished(c, &ev, (int64_t)n_old, (int64_t)n_old, "batch");
        expect_range_results(c, &ev, &tasks, old, n_old, per_worker);
        expect_int("TASK_FINISHED events", 1, (int64_t)events_count(&ev, JT_STATUS_TASK_FINISHED));
        for (size_t i = 0; i < ev.count; i++)
                if (ev.ev[i].type == JT_STATUS_TASK_FINISHED)
                        fin = &ev.ev[i];
        snprintf(want, sizeof(want), "%s+c%d", root->key, conts);
        expect_str("task_id of TASK_FINISHED (the last continuation)", want, fin->task_id);
        if (events_count(&ev, JT_STATUS_TASK_STARTED) != (size_t)conts + 1)
                fail_msg("TASK_STARTED events: expected %d (the task and each continuation), "
                         "actual %zu",
                         conts + 1, events_count(&ev, JT_STATUS_TASK_STARTED));

        if (!ledger_get(c, JOB_ID, &ledger))
                fail_msg("ledger %s: expected an entry, actual none", JOB_ID);
        snprintf(key, sizeof(key), "%s", strchr(root->key, '/') + 1);
        snprintf(path, sizeof(path), "found.%s", key);
        expect_ledger_int(&ledger, path, (int64_t)n_old);
        snprintf(path, sizeof(path), "results.%s.deleted", key);
        expect_ledger_int(&ledger, path, (int64_t)n_old);
        snprintf(path, sizeof(path), "results.%s.continuations", key);
        expect_ledger_int(&ledger, path, conts);
        expect_ledger_int(&ledger, "tasksDone", 1);
        bson_destroy(&ledger);

        worker_stop(c, w);
        events_free(&ev);
        tasks_free(&tasks);
        free(old);
}

/* ---------------------------------------------------------------------------------------- */
/* 3. Bad input: DLQ with the header contract, nothing deleted, the worker keeps going. */

static void count_dr_errors(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        (void)rk;
        if (m->err)
                (*(int *)opaque)++;
}

/* Produces the messages in order to partition 0 of topic, each acknowledged before the next. */
static void produce_raw(const char *topic, const char *const *keys, void *const *values,
                        const size_t *lens, size_t n) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512];
        int errors = 0;
        rd_kafka_t *rk;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", it_env("JT_KAFKA_BROKERS"), errstr,
                              sizeof(errstr)))
                fail_msg("test producer configuration: %s", errstr);
        rd_kafka_conf_set_dr_msg_cb(conf, count_dr_errors);
        rd_kafka_conf_set_opaque(conf, &errors);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk)
                fail_msg("test producer: %s", errstr);
        for (size_t i = 0; i < n; i++) {
                rd_kafka_resp_err_t rc = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                    RD_KAFKA_V_KEY(keys[i], strlen(keys[i])), RD_KAFKA_V_VALUE(values[i], lens[i]),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                if (rc)
                        fail_msg("producing %s to %s: %s", keys[i], topic, rd_kafka_err2str(rc));
                if (rd_kafka_flush(rk, IT_KAFKA_TIMEOUT_MS) || errors)
                        fail_msg("producing %s to %s: expected delivered, actual not delivered",
                                 keys[i], topic);
        }
        rd_kafka_destroy(rk);
}

/* The Avro long (zigzag varint) encoding of v into out; returns its length. */
static size_t avro_long(int64_t v, uint8_t out[10]) {
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        size_t n = 0;

        do {
                out[n] = (uint8_t)(z & 0x7f);
                z >>= 7;
                if (z)
                        out[n] |= 0x80;
                n++;
        } while (z);
        return n;
}

/* Where pattern occurs in buf: exactly once, or the test fails. */
static size_t find_once(const uint8_t *buf, size_t len, const uint8_t *pat, size_t plen,
                        const char *what) {
        size_t at = SIZE_MAX, hits = 0;

        for (size_t i = 0; i + plen <= len; i++)
                if (memcmp(buf + i, pat, plen) == 0) {
                        at = i;
                        hits++;
                }
        if (hits != 1)
                fail_msg("crafting the inverted task: %s expected once in the encoding, actual "
                         "%zu times",
                         what, hits);
        return at;
}

static jt_cleanup_task_t forged_task(const char *job_id, char *task_id, int64_t start, int64_t end,
                                     int64_t cutoff) {
        jt_cleanup_task_t t = {.job_id = (char *)job_id,
                               .task_id = task_id,
                               .range_start_ms = start,
                               .range_end_ms = end,
                               .cutoff_ms = cutoff,
                               .retention_days = RETENTION,
                               .batch_size = 100,
                               .batch_delay_ms = 0,
                               .time_budget_s = 60,
                               .triggered_by = "manual",
                               .created_at_ms = wall_ms()};
        return t;
}

static void encode_task(const jt_cleanup_task_t *t, void **buf, size_t *len) {
        jt_error_t err;
        jt_error_clear(&err);
        if (!jt_cleanup_task_encode(reg, t, buf, len, &err))
                fail_msg("encoding %s: %s", t->task_id, err.message);
}

/* The bytes must not decode, with `reason` in the error (what the worker's DLQ says). */
static void expect_refused(const void *buf, size_t len, const char *reason, const char *what) {
        jt_cleanup_task_t t;
        jt_error_t err;

        jt_error_clear(&err);
        memset(&t, 0, sizeof(t));
        if (jt_cleanup_task_decode(reg, buf, len, &t, &err)) {
                jt_cleanup_task_clear(&t);
                fail_msg("%s: expected to be refused by the codec, actual decoded", what);
        }
        expect_contains(what, err.message, reason);
}

/* Waits until every partition of the new topics has a leader (answers a watermark query). */
static void wait_topics_ready(const char *const *topics, int n) {
        int64_t deadline = it_now_ms() + 30000;

        for (int i = 0; i < n; i++) {
                int parts;
                while ((parts = it_topic_partitions(reader, topics[i])) == 0 &&
                       it_now_ms() < deadline)
                        it_sleep_ms(100);
                if (parts == 0)
                        fail_msg("topic %s: expected to exist within 30 s, actual missing",
                                 topics[i]);
                for (int p = 0; p < parts; p++) {
                        int64_t low = 0, high = 0;
                        rd_kafka_resp_err_t rc;
                        while ((rc = rd_kafka_query_watermark_offsets(reader, topics[i], p, &low,
                                                                      &high, 5000)) != 0) {
                                if (it_now_ms() > deadline)
                                        fail_msg("topic %s [%d]: expected ready within 30 s, "
                                                 "actual: %s",
                                                 topics[i], p, rd_kafka_err2str(rc));
                                it_sleep_ms(100);
                        }
                }
        }
}

static int64_t count_jobs(const ctx_t *c) {
        mongoc_collection_t *coll = collection(c, "jobs");
        bson_t filter = BSON_INITIALIZER;
        bson_error_t error;
        int64_t n = mongoc_collection_count_documents(coll, &filter, NULL, NULL, NULL, &error);

        if (n < 0)
                fail_msg("counting %s.jobs: %s", c->db, error.message);
        bson_destroy(&filter);
        mongoc_collection_destroy(coll);
        return n;
}

enum { BAD_GARBAGE, BAD_FINGERPRINT, BAD_RETENTION, BAD_INVERTED, BAD_COUNT };

static void bad_tasks_go_to_the_dlq_and_the_worker_keeps_going(void **state) {
        ctx_t *c = *state;
        const int64_t cutoff = cutoff_ms();
        const int64_t now = wall_ms() / 60000 * 60000;
        const int64_t guard_from = now - 20 * DAY_MS, guard_to = now - 10 * DAY_MS;
        const size_t n_old = 200, n_guard = 50;
        int64_t *old = spread(n_old, cutoff - 2 * DAY_MS, 2 * DAY_MS / (int64_t)n_old);
        int64_t *guarded = spread(n_guard, guard_from, 10 * DAY_MS / (int64_t)n_guard);
        static const char garbage[] = "\x00\xffthis is not an Avro message";
        const char *keys[BAD_COUNT] = {"garbage-key", "cleanup-forged-fingerprint/20260901T0000",
                                       "cleanup-forged-retention/guard",
                                       "cleanup-forged-inverted/20260831T0000"};
        const char *reasons[BAD_COUNT][2] = {
            {"not an Avro single-object message", NULL},
            {"unknown schema fingerprint", NULL},
            {"inside the 60-day retention window", "nothing deleted"},
            {"range_start must be before range_end", NULL}};
        void *values[BAD_COUNT] = {NULL};
        size_t lens[BAD_COUNT] = {0};
        int64_t offsets[BAD_COUNT];
        const char *topics[T_COUNT];
        jt_cleanup_task_t t;
        char task_ids[BAD_COUNT][128];
        uint8_t s_enc[10], e_enc[10], tmp[10];
        size_t s_len, e_len, s_at, e_at;
        it_msgs_t back;
        raw_msgs_t dlq;
        events_t ev;
        jt_error_t err;
        int w, per_worker[MAX_WORKERS];
        int64_t deadline;
        tasks_t job_tasks = {0};

        insert_playbacks(c, old, n_old, NULL);
        insert_playbacks(c, guarded, n_guard, NULL);
        /* One partition: the bad messages and the job after them are in one line. */
        snprintf(c->partitions, sizeof(c->partitions), "1");
        for (int i = 0; i < T_COUNT; i++)
                topics[i] = c->topic[i];
        jt_error_clear(&err);
        if (!jt_kafka_admin_ensure_topics(reader, topics, T_COUNT, 1, 1, IT_KAFKA_TIMEOUT_MS, &err))
                fail_msg("creating the test's topics: %s", err.message);
        wait_topics_ready(topics, T_COUNT);
        mark_all(c);

        /* Garbage bytes. */
        lens[BAD_GARBAGE] = sizeof(garbage) - 1;
        values[BAD_GARBAGE] = malloc(lens[BAD_GARBAGE]);
        memcpy(values[BAD_GARBAGE], garbage, lens[BAD_GARBAGE]);
        /* A valid task of old playbacks (it would delete them) with one fingerprint byte
         * flipped. */
        snprintf(task_ids[BAD_FINGERPRINT], sizeof(task_ids[0]), "%s", keys[BAD_FINGERPRINT]);
        t = forged_task("cleanup-forged-fingerprint", task_ids[BAD_FINGERPRINT],
                        cutoff - 2 * DAY_MS, cutoff, cutoff);
        encode_task(&t, &values[BAD_FINGERPRINT], &lens[BAD_FINGERPRINT]);
        ((uint8_t *)values[BAD_FINGERPRINT])[5] ^= 0x40;
        /* A valid task whose range reaches inside the retention window by the worker's clock:
         * the codec lets it through, the worker must refuse it. */
        snprintf(task_ids[BAD_RETENTION], sizeof(task_ids[0]), "%s", keys[BAD_RETENTION]);
        t = forged_task("cleanup-forged-retention", task_ids[BAD_RETENTION], guard_from, guard_to,
                        guard_to);
        encode_task(&t, &values[BAD_RETENTION], &lens[BAD_RETENTION]);
        /* An inverted range: the codec refuses to encode one, so a valid task's range_start
         * and range_end are swapped in its bytes. */
        snprintf(task_ids[BAD_INVERTED], sizeof(task_ids[0]), "%s", keys[BAD_INVERTED]);
        t = forged_task("cleanup-forged-inverted", task_ids[BAD_INVERTED], cutoff - 3 * DAY_MS,
                        cutoff - 2 * DAY_MS, cutoff);
        encode_task(&t, &values[BAD_INVERTED], &lens[BAD_INVERTED]);
        s_len = avro_long(t.range_start_ms, s_enc);
        e_len = avro_long(t.range_end_ms, e_enc);
        expect_int("encoded lengths of range_start and range_end (swappable)", (int64_t)s_len,
                   (int64_t)e_len);
        s_at = find_once(values[BAD_INVERTED], lens[BAD_INVERTED], s_enc, s_len, "range_start");
        e_at = find_once(values[BAD_INVERTED], lens[BAD_INVERTED], e_enc, e_len, "range_end");
        memcpy(tmp, (uint8_t *)values[BAD_INVERTED] + s_at, s_len);
        memcpy((uint8_t *)values[BAD_INVERTED] + s_at, (uint8_t *)values[BAD_INVERTED] + e_at,
               s_len);
        memcpy((uint8_t *)values[BAD_INVERTED] + e_at, tmp, s_len);
        /* The crafted bytes are what they claim to be. */
        expect_refused(values[BAD_GARBAGE], lens[BAD_GARBAGE], reasons[BAD_GARBAGE][0],
                       "garbage bytes");
        expect_refused(values[BAD_FINGERPRINT], lens[BAD_FINGERPRINT], reasons[BAD_FINGERPRINT][0],
                       "task with a flipped fingerprint byte");
        expect_refused(values[BAD_INVERTED], lens[BAD_INVERTED], reasons[BAD_INVERTED][0],
                       "task with an inverted range");

        produce_raw(c->topic[T_CLEANUP], keys, values, lens, BAD_COUNT);
        it_read_since(reader, &c->mark[T_CLEANUP], &back);
        expect_int("bad messages on the cleanup topic", BAD_COUNT, (int64_t)back.count);
        for (int i = 0; i < BAD_COUNT; i++) {
                expect_str("key of a bad message read back", keys[i], back.msgs[i].key);
                offsets[i] = back.msgs[i].offset;
        }
        it_msgs_free(&back);

        w = worker_start(c);
        deadline = it_now_ms() + 60000;
        while (new_message_count(&c->mark[T_DLQ]) < BAD_COUNT) {
                expect_workers_alive(c);
                if (it_now_ms() > deadline)
                        fail_with_logs(c, "DLQ messages: expected %d within 60 s, actual %" PRId64,
                                       BAD_COUNT, new_message_count(&c->mark[T_DLQ]));
                it_sleep_ms(250);
        }
        raw_read_since(&c->mark[T_DLQ], &dlq);
        expect_int("DLQ messages", BAD_COUNT, (int64_t)dlq.count);
        for (size_t k = 0; k < dlq.count; k++) {
                rd_kafka_message_t *m = dlq.msgs[k];
                char h[2048], what[300], num[32];
                int i = -1;
                for (int j = 0; j < BAD_COUNT; j++)
                        if (m->key_len == strlen(keys[j]) &&
                            memcmp(m->key, keys[j], m->key_len) == 0)
                                i = j;
                if (i < 0)
                        fail_msg("DLQ message %zu key: expected one of the bad messages' keys, "
                                 "actual \"%.*s\"",
                                 k, (int)m->key_len, (const char *)m->key);
                snprintf(what, sizeof(what), "DLQ copy of %s: value length", keys[i]);
                expect_int(what, (int64_t)lens[i], (int64_t)m->len);
                snprintf(what, sizeof(what), "DLQ copy of %s: value bytes equal (1 = yes)",
                         keys[i]);
                expect_int(what, 1, memcmp(m->payload, values[i], lens[i]) == 0);
                snprintf(what, sizeof(what), "DLQ copy of %s: header %s", keys[i],
                         JT_DLQ_HDR_TOPIC);
                expect_str(what, c->topic[T_CLEANUP], header(m, JT_DLQ_HDR_TOPIC, h, sizeof(h)));
                snprintf(what, sizeof(what), "DLQ copy of %s: header %s", keys[i],
                         JT_DLQ_HDR_PARTITION);
                expect_str(what, "0", header(m, JT_DLQ_HDR_PARTITION, h, sizeof(h)));
                snprintf(what, sizeof(what), "DLQ copy of %s: header %s", keys[i],
                         JT_DLQ_HDR_OFFSET);
                snprintf(num, sizeof(num), "%" PRId64, offsets[i]);
                expect_str(what, num, header(m, JT_DLQ_HDR_OFFSET, h, sizeof(h)));
                snprintf(what, sizeof(what), "DLQ copy of %s: header %s", keys[i],
                         JT_DLQ_HDR_ATTEMPTS);
                expect_str(what, "1", header(m, JT_DLQ_HDR_ATTEMPTS, h, sizeof(h)));
                snprintf(what, sizeof(what), "DLQ copy of %s: header %s", keys[i],
                         JT_DLQ_HDR_ERROR);
                header(m, JT_DLQ_HDR_ERROR, h, sizeof(h));
                for (int r = 0; r < 2; r++)
                        if (reasons[i][r])
                                expect_contains(what, h, reasons[i][r]);
                printf("DLQ %s: %s\n", keys[i], h);
        }
        raw_free(&dlq);
        expect_int("old playbacks after the bad tasks (nothing deleted)", (int64_t)n_old,
                   count_playbacks(c, INT64_MIN, cutoff));
        expect_int("playbacks in the refused range inside the retention window", (int64_t)n_guard,
                   count_playbacks(c, guard_from, guard_to));
        expect_int("ledger entries after the bad tasks (none written)", 0, count_jobs(c));

        /* The worker goes on: a real job produced after the bad messages completes. */
        it_mark_capture(reader, c->topic[T_STATUS], &c->mark[T_STATUS]);
        it_mark_capture(reader, c->topic[T_DLQ], &c->mark[T_DLQ]);
        it_mark_capture(reader, c->topic[T_CLEANUP], &c->mark[T_CLEANUP]);
        producer_cleanup(c, (const char *const[]){"--range-hours", "24", NULL});
        wait_job_state(c, JOB_ID, "finished", WAIT_JOB_MS);
        events_read(c, JOB_ID, &ev);
        expect_job_finished(c, &ev, (int64_t)n_old, (int64_t)n_old, "direct");
        tasks_read(c, &job_tasks);
        expect_range_results(c, &ev, &job_tasks, old, n_old, per_worker);
        expect_int("old playbacks after the job", 0, count_playbacks(c, INT64_MIN, cutoff));
        expect_int("playbacks in the refused range after the job (all kept)", (int64_t)n_guard,
                   count_playbacks(c, guard_from, guard_to));
        expect_int("new DLQ messages during the real job", 0, new_message_count(&c->mark[T_DLQ]));
        worker_stop(c, w);
        events_free(&ev);
        tasks_free(&job_tasks);
        for (int i = 0; i < BAD_COUNT; i++)
                free(values[i]);
        free(old);
        free(guarded);
}

/* ---------------------------------------------------------------------------------------- */
/* 4. SIGTERM mid-job, restart, exact figures. */

static void sigterm_mid_job_then_a_restart_finishes_exactly(void **state) {
        ctx_t *c = *state;
        const int64_t cutoff = cutoff_ms();
        const size_t n_old = 600;
        int64_t *old = spread(n_old, cutoff - 4 * DAY_MS, 4 * DAY_MS / (int64_t)n_old);
        int64_t deadline, left, left_at_stop;
        const jt_status_event_t *last_start = NULL;
        char state_buf[32], path[300], key[200];
        int per_worker[MAX_WORKERS], w1, w2;
        events_t ev;
        tasks_t tasks;
        bson_t ledger;

        insert_playbacks(c, old, n_old, NULL);
        mark_all(c);
        /* One range; 20 per batch every 500 ms: about 15 s for the whole job. */
        producer_cleanup(c, (const char *const[]){"--range-hours", "240", "--batch-size", "20",
                                                  "--batch-delay-ms", "500", NULL});
        w1 = worker_start(c);
        deadline = it_now_ms() + 60000;
        while ((left = count_playbacks(c, INT64_MIN, cutoff)) > (int64_t)n_old - 40) {
                expect_workers_alive(c);
                if (it_now_ms() > deadline)
                        fail_with_logs(c,
                                       "old playbacks within 60 s: expected at most %zu, actual "
                                       "%" PRId64,
                                       n_old - 40, left);
                it_sleep_ms(100);
        }
        worker_stop(c, w1);
        left_at_stop = count_playbacks(c, INT64_MIN, cutoff);
        printf("stopped with %" PRId64 " of %zu old playbacks left\n", left_at_stop, n_old);
        if (left_at_stop == 0)
                fail_msg("old playbacks left at SIGTERM: expected some (a stop mid-job), actual 0: "
                         "the job outran the test");

        tasks_read(c, &tasks);
        expect_int("range tasks", 1, (int64_t)tasks.count);
        snprintf(key, sizeof(key), "%s", strchr(tasks.m[0].key, '/') + 1);
        if (!ledger_get(c, JOB_ID, &ledger))
                fail_msg("ledger %s: expected an entry, actual none", JOB_ID);
        expect_str("ledger state after the stop mid-job", "running",
                   ledger_str(&ledger, "state", state_buf, sizeof(state_buf)));
        snprintf(path, sizeof(path), "found.%s", key);
        expect_ledger_int(&ledger, path, (int64_t)n_old);
        snprintf(path, sizeof(path), "results.%s", key);
        expect_int("ledger result of the interrupted range recorded (1 = yes)", 0,
                   ledger_has(&ledger, path));
        bson_destroy(&ledger);

        w2 = worker_start(c);
        wait_job_state(c, JOB_ID, "finished", WAIT_JOB_MS);
        expect_int("old playbacks after the job", 0, count_playbacks(c, INT64_MIN, cutoff));
        events_read(c, JOB_ID, &ev);
        expect_job_finished(c, &ev, (int64_t)n_old, (int64_t)n_old, "batch");
        expect_range_results(c, &ev, &tasks, old, n_old, per_worker);
        expect_int("range finished by the restarted worker", 1, per_worker[w2]);
        if (events_count(&ev, JT_STATUS_TASK_STARTED) < 2)
                fail_msg("TASK_STARTED events: expected 2 (before and after the restart), actual "
                         "%zu",
                         events_count(&ev, JT_STATUS_TASK_STARTED));
        for (size_t i = 0; i < ev.count; i++)
                if (ev.ev[i].type == JT_STATUS_TASK_STARTED)
                        last_start = &ev.ev[i];
        /* The restart works with the first count, not with what was left. */
        expect_opt_long("TASK_STARTED after the restart: progress_total (the first count)",
                        (int64_t)n_old, last_start->progress_total);
        expect_opt_long("TASK_STARTED after the restart: progress_done (deleted before the stop)",
                        (int64_t)n_old - left_at_stop, last_start->progress_done);
        worker_stop(c, w2);
        events_free(&ev);
        tasks_free(&tasks);
        free(old);
}

/* ---------------------------------------------------------------------------------------- */
/* 5. Redelivery of a finished job counts nothing twice. */

static void redelivery_after_a_replay_counts_nothing_twice(void **state) {
        ctx_t *c = *state;
        const int64_t cutoff = cutoff_ms();
        const size_t n_old = 240, n_new = 60;
        int64_t *old = spread(n_old, cutoff - 3 * DAY_MS, 3 * DAY_MS / (int64_t)n_old);
        int64_t *newer = spread(n_new, cutoff + HOUR_MS, DAY_MS / (int64_t)n_new);
        bson_oid_t *keep = calloc(n_new, sizeof(*keep));
        int per_worker[MAX_WORKERS], w1, w2, rc;
        char *before_json, *after_json;
        int64_t deadline;
        events_t ev;
        tasks_t tasks;
        bson_t ledger;

        insert_playbacks(c, old, n_old, NULL);
        insert_playbacks(c, newer, n_new, keep);
        mark_all(c);
        producer_cleanup(c, (const char *const[]){"--range-hours", "24", NULL});
        w1 = worker_start(c);
        wait_job_state(c, JOB_ID, "finished", WAIT_JOB_MS);
        worker_stop(c, w1);
        tasks_read(c, &tasks);
        expect_int("range tasks (3 days / 24 h)", 3, (int64_t)tasks.count);
        events_read(c, JOB_ID, &ev);
        expect_job_finished(c, &ev, (int64_t)n_old, (int64_t)n_old, "direct");
        expect_range_results(c, &ev, &tasks, old, n_old, per_worker);
        events_free(&ev);
        /* SIGTERM committed what the worker did. */
        expect_group_at_end(c);
        if (!ledger_get(c, JOB_ID, &ledger))
                fail_msg("ledger %s: expected an entry, actual none", JOB_ID);
        before_json = bson_as_canonical_extended_json(&ledger, NULL);
        bson_destroy(&ledger);

        /* Every task again, from the beginning of the topic. */
        it_mark_capture(reader, c->topic[T_STATUS], &c->mark[T_STATUS]);
        it_mark_capture(reader, c->topic[T_DLQ], &c->mark[T_DLQ]);
        rc = PRODUCER(c, false, "replay", "--topic", c->topic[T_CLEANUP], "--group", c->group,
                      "--to-offset", "beginning");
        expect_int("joytify-producer replay --to-offset beginning: exit code", 0, rc);
        w2 = worker_start(c);
        /* Each redelivered task finds its job finished: nothing to do, no event (issue 20: a
         * task whose result is recorded does nothing). */
        deadline = it_now_ms() + WAIT_JOB_MS;
        for (size_t i = 0; i < tasks.count;) {
                char line[300];
                snprintf(line, sizeof(line), "%s: the job is finished, nothing to do",
                         tasks.m[i].t.task_id);
                if (it_proc_log_contains(&c->workers[w2], line)) {
                        i++;
                        continue;
                }
                expect_workers_alive(c);
                if (it_now_ms() > deadline)
                        fail_with_logs(c,
                                       "redelivered task %s within %d s: expected \"%s\" in the "
                                       "worker's log, actual not there",
                                       tasks.m[i].t.task_id, WAIT_JOB_MS / 1000, line);
                it_sleep_ms(250);
        }
        /* Finalization happens in the handling of the last task, before its offset is stored:
         * once the worker has stopped, a second JOB_FINISHED would be on the topic. */
        worker_stop(c, w2);

        events_read(c, JOB_ID, &ev);
        if (events_count(&ev, JT_STATUS_JOB_FINISHED) != 0)
                fail_msg("JOB_FINISHED events after the redelivery: expected 0 (the job finished "
                         "before), actual %zu (PRODUCT FINDING: the finalize claim did not hold)",
                         events_count(&ev, JT_STATUS_JOB_FINISHED));
        expect_int("JOB_FAILED events after the redelivery", 0,
                   (int64_t)events_count(&ev, JT_STATUS_JOB_FAILED));
        expect_int("TASK_STARTED events of the late duplicates", 0,
                   (int64_t)events_count(&ev, JT_STATUS_TASK_STARTED));
        expect_int("TASK_FINISHED events of the late duplicates", 0,
                   (int64_t)events_count(&ev, JT_STATUS_TASK_FINISHED));
        events_free(&ev);
        if (!ledger_get(c, JOB_ID, &ledger))
                fail_msg("ledger %s: expected an entry, actual none", JOB_ID);
        after_json = bson_as_canonical_extended_json(&ledger, NULL);
        bson_destroy(&ledger);
        expect_str("ledger entry after the redelivery (unchanged)", before_json, after_json);
        expect_int("old playbacks", 0, count_playbacks(c, INT64_MIN, cutoff));
        expect_playback_ids(c, cutoff, INT64_MAX, keep, n_new,
                            "playbacks after the cutoff (count, then ids)");
        expect_int("new DLQ messages", 0, new_message_count(&c->mark[T_DLQ]));
        expect_group_at_end(c);
        bson_free(before_json);
        bson_free(after_json);
        tasks_free(&tasks);
        free(old);
        free(newer);
        free(keep);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(two_workers_complete_a_cleanup_job, test_setup,
                                            test_teardown),
            cmocka_unit_test_setup_teardown(time_budget_sends_continuations_with_exact_totals,
                                            test_setup, test_teardown),
            cmocka_unit_test_setup_teardown(bad_tasks_go_to_the_dlq_and_the_worker_keeps_going,
                                            test_setup, test_teardown),
            cmocka_unit_test_setup_teardown(sigterm_mid_job_then_a_restart_finishes_exactly,
                                            test_setup, test_teardown),
            cmocka_unit_test_setup_teardown(redelivery_after_a_replay_counts_nothing_twice,
                                            test_setup, test_teardown),
        };

        if (argc > 1)
                snprintf(build_dir, sizeof(build_dir), "%s", argv[1]);
        /* JT_IT_FILTER=pattern runs only the matching tests (cmocka's * and ? wildcards). */
        if (getenv("JT_IT_FILTER"))
                cmocka_set_test_filter(getenv("JT_IT_FILTER"));
        if (getenv("JT_IT_SKIP"))
                cmocka_set_skip_filter(getenv("JT_IT_SKIP"));
        setvbuf(stdout, NULL, _IOLBF, 0);
        return cmocka_run_group_tests(tests, group_setup, group_teardown) ? 1 : 0;
}
