/* The worker-cleanup integration programs' shared helpers (wc_kit.h). */
#include "wc_kit.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "it_env.h"
#include "it_expect.h"
#include "it_kafka.h"
#include "jt_time.h"

it_clients_t wc_clients;

static char build_dir[1024];
static char worker_path[1100], producer_path[1100];
static int test_seq;

/* ---------------------------------------------------------------------------------------- */
/* Expectations that say what was expected and what came instead. */

void wc_expect_opt_long(const char *what, int64_t expected, jt_opt_long_t actual) {
        if (!actual.set)
                fail_msg("%s: expected %" PRId64 ", actual unset", what, expected);
        it_expect_int(what, expected, actual.value);
}

const char *wc_ms_iso(int64_t ms, char *buf) {
        jt_time_format_iso(ms / 1000, buf, JT_TIME_ISO_BUF);
        return buf;
}

int64_t wc_iso_ms(const char *iso) {
        int64_t secs = 0;
        jt_error_t err;

        jt_error_clear(&err);
        if (!jt_time_parse_iso(iso, &secs, &err))
                fail_msg("test data %s: %s", iso, err.message);
        return secs * 1000;
}

int64_t wc_cutoff_ms(void) {
        return wc_iso_ms(AT) - RETENTION * DAY_MS;
}

/* ---------------------------------------------------------------------------------------- */
/* Programs: the producer (run to its end) and the workers (started, stopped by SIGTERM). */

void wc_print_worker_logs(const wc_ctx_t *c) {
        char tail[LOG_TAIL];

        for (int i = 0; i < c->worker_count; i++)
                printf("----- %s (pid %d) log, last %d bytes -----\n%s\n", c->workers[i].name,
                       (int)c->workers[i].pid, LOG_TAIL,
                       it_proc_log_tail(&c->workers[i], tail, sizeof(tail)));
        fflush(stdout);
}

void wc_expect_workers_alive(wc_ctx_t *c) {
        for (int i = 0; i < c->worker_count; i++)
                if (!c->stopped[i] && !it_proc_running(&c->workers[i]))
                        wc_fail_with_logs(
                            c, "%s (pid %d): expected running, actual exited with code %d",
                            c->workers[i].name, (int)c->workers[i].pid,
                            it_proc_exit_code(&c->workers[i]));
}

int wc_run_producer(const wc_ctx_t *c, bool with_ctx, const char *const *args) {
        const char *argv[IT_PROC_ARGS_MAX];
        it_proc_t p;
        char tail[8192];
        int n = 0, rc;

        for (const char *const *a = args; *a && n < 40; a++)
                argv[n++] = *a;
        if (with_ctx) {
                argv[n++] = "--db";
                argv[n++] = c->fx.db;
                argv[n++] = "--stats-topic";
                argv[n++] = c->fx.topic[IT_T_STATS];
                argv[n++] = "--cleanup-topic";
                argv[n++] = c->fx.topic[IT_T_CLEANUP];
                argv[n++] = "--status-topic";
                argv[n++] = c->fx.topic[IT_T_STATUS];
                argv[n++] = "--dlq-topic";
                argv[n++] = c->fx.topic[IT_T_DLQ];
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

void wc_producer_cleanup(wc_ctx_t *c, const char *const *extra) {
        const char *argv[32] = {"cleanup", "--at", AT};
        int n = 3, rc;

        for (const char *const *a = extra; a && *a && n < 30; a++)
                argv[n++] = *a;
        argv[n] = NULL;
        rc = wc_run_producer(c, true, argv);
        it_expect_int("joytify-producer cleanup: exit code", 0, rc);
}

int wc_worker_start_topics(wc_ctx_t *c, const char *topics) {
        int i = c->worker_count;
        char name[32];

        if (i >= MAX_WORKERS)
                fail_msg("test bug: more than %d workers", MAX_WORKERS);
        snprintf(name, sizeof(name), "worker %d", i + 1);
        it_proc_start(&c->workers[i], name, worker_path,
                      (const char *const[]){"--group",
                                            c->fx.group,
                                            "--topics",
                                            topics,
                                            "--db",
                                            c->fx.db,
                                            "--stats-topic",
                                            c->fx.topic[IT_T_STATS],
                                            "--cleanup-topic",
                                            c->fx.topic[IT_T_CLEANUP],
                                            "--status-topic",
                                            c->fx.topic[IT_T_STATUS],
                                            "--dlq-topic",
                                            c->fx.topic[IT_T_DLQ],
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

int wc_worker_start(wc_ctx_t *c) {
        return wc_worker_start_topics(c, "cleanup");
}

void wc_wait_cleanup_assigned(wc_ctx_t *c, int timeout_ms) {
        char line[300];
        int64_t deadline = jt_time_mono_ms() + timeout_ms;

        snprintf(line, sizeof(line), "rebalance assigned: %s [", c->fx.topic[IT_T_CLEANUP]);
        for (int i = 0; i < c->worker_count; i++)
                while (!it_proc_log_contains(&c->workers[i], line)) {
                        wc_expect_workers_alive(c);
                        if (jt_time_mono_ms() > deadline)
                                wc_fail_with_logs(c,
                                                  "%s: expected cleanup partitions within %d ms, "
                                                  "actual none assigned",
                                                  c->workers[i].name, timeout_ms);
                        it_sleep_ms(100);
                }
}

int wc_worker_of(const wc_ctx_t *c, const char *worker_id) {
        const char *slash = worker_id ? strrchr(worker_id, '/') : NULL;
        int pid = slash ? atoi(slash + 1) : -1;

        for (int i = 0; i < c->worker_count; i++)
                if (c->workers[i].pid == pid)
                        return i;
        return -1;
}

void wc_workers_stop(wc_ctx_t *c, const int *slots, int n) {
        int64_t sent = jt_time_mono_ms();

        for (int k = 0; k < n; k++) {
                if (!it_proc_running(&c->workers[slots[k]]))
                        wc_fail_with_logs(c,
                                          "%s: expected running before SIGTERM, actual exited "
                                          "with code %d",
                                          c->workers[slots[k]].name,
                                          it_proc_exit_code(&c->workers[slots[k]]));
                c->stopped[slots[k]] = true;
                it_proc_signal(&c->workers[slots[k]], SIGTERM);
        }
        for (int k = 0; k < n; k++) {
                it_proc_t *w = &c->workers[slots[k]];
                int64_t left = STOP_MS - (jt_time_mono_ms() - sent);
                bool exited = it_proc_wait(w, left > 0 ? (int)left : 0);
                double secs = (double)((exited ? w->ended_ms : jt_time_mono_ms()) - sent) / 1000.0;

                if (!exited) {
                        wc_print_worker_logs(c);
                        it_proc_cleanup(w);
                        fail_msg("%s after SIGTERM: expected to exit within %d s, actual still "
                                 "running after %.1f s (killed)",
                                 w->name, STOP_MS / 1000, secs);
                }
                printf("%s exited %.2f s after SIGTERM with code %d\n", w->name, secs,
                       it_proc_exit_code(w));
                if (it_proc_exit_code(w) != 0)
                        wc_fail_with_logs(c, "%s after SIGTERM: exit code expected 0, actual %d",
                                          w->name, it_proc_exit_code(w));
        }
}

void wc_worker_stop(wc_ctx_t *c, int slot) {
        wc_workers_stop(c, &slot, 1);
}

/* ---------------------------------------------------------------------------------------- */
/* MongoDB: playbacks in and out, the ledger. */

void wc_insert_playbacks(const wc_ctx_t *c, const int64_t *times, size_t n, bson_oid_t *ids) {
        mongoc_collection_t *coll = it_fixture_collection(&wc_clients, &c->fx, "playbacks");
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
                        fail_msg("inserting %zu playbacks into %s.playbacks: %s", k, c->fx.db,
                                 error.message);
                for (size_t i = 0; i < k; i++)
                        bson_destroy(docs[i]);
                done += k;
        }
        mongoc_collection_destroy(coll);
}

int64_t *wc_spread(size_t n, int64_t from, int64_t step) {
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

int64_t wc_count_playbacks(const wc_ctx_t *c, int64_t from, int64_t to) {
        mongoc_collection_t *coll = it_fixture_collection(&wc_clients, &c->fx, "playbacks");
        bson_t *filter = range_filter(from, to);
        bson_error_t error;
        int64_t n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &error);

        if (n < 0)
                fail_msg("counting %s.playbacks: %s", c->fx.db, error.message);
        bson_destroy(filter);
        mongoc_collection_destroy(coll);
        return n;
}

static int oid_cmp(const void *a, const void *b) {
        return bson_oid_compare(a, b);
}

void wc_expect_playback_ids(const wc_ctx_t *c, int64_t from, int64_t to, bson_oid_t *expected,
                            size_t n, const char *what) {
        mongoc_collection_t *coll = it_fixture_collection(&wc_clients, &c->fx, "playbacks");
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
                fail_msg("%s: reading %s.playbacks: %s", what, c->fx.db, error.message);
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(filter);
        mongoc_collection_destroy(coll);
        it_expect_int(what, (int64_t)n, (int64_t)(k + extra));
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

const char *wc_ledger_str(const bson_t *doc, const char *path, char *buf, size_t size) {
        bson_iter_t top, it;

        buf[0] = '\0';
        if (bson_iter_init(&top, doc) && bson_iter_find_descendant(&top, path, &it) &&
            BSON_ITER_HOLDS_UTF8(&it))
                snprintf(buf, size, "%s", bson_iter_utf8(&it, NULL));
        return buf;
}

void wc_expect_ledger_int(const bson_t *doc, const char *path, int64_t expected) {
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
        it_expect_int(what, expected, bson_iter_as_int64(&it));
}

bool wc_ledger_has(const bson_t *doc, const char *path) {
        bson_iter_t top, it;
        return bson_iter_init(&top, doc) && bson_iter_find_descendant(&top, path, &it);
}

void wc_wait_job_state(wc_ctx_t *c, const char *job_id, const char *state, int timeout_ms) {
        int64_t start = jt_time_mono_ms();
        char got[32] = "";

        for (;;) {
                bson_t doc;
                bool found = it_fixture_ledger_get(&wc_clients, &c->fx, job_id, &doc);
                if (found)
                        wc_ledger_str(&doc, "state", got, sizeof(got));
                bson_destroy(&doc);
                if (found && strcmp(got, state) == 0)
                        break;
                if (strcmp(got, "failed") == 0 && strcmp(state, "failed") != 0)
                        wc_fail_with_logs(c,
                                          "ledger state of %s: expected \"%s\", actual \"failed\"",
                                          job_id, state);
                wc_expect_workers_alive(c);
                if (jt_time_mono_ms() - start > timeout_ms) {
                        if (it_fixture_ledger_get(&wc_clients, &c->fx, job_id, &doc)) {
                                char *json = bson_as_relaxed_extended_json(&doc, NULL);
                                printf("ledger entry: %s\n", json);
                                bson_free(json);
                        }
                        bson_destroy(&doc);
                        wc_fail_with_logs(c,
                                          "ledger state of %s: expected \"%s\" within %d s, "
                                          "actual \"%s\"",
                                          job_id, state, timeout_ms / 1000,
                                          found ? got : "(no entry)");
                }
                it_sleep_ms(250);
        }
        printf("job %s: state %s after %.1f s\n", job_id, state,
               (double)(jt_time_mono_ms() - start) / 1000.0);
}

/* ---------------------------------------------------------------------------------------- */
/* Kafka: status events, tasks and dead letters written since the marks. */

void wc_events_read(wc_ctx_t *c, const char *job_id, wc_events_t *out) {
        it_msgs_t m;

        it_read_since(wc_clients.reader, &c->fx.mark[IT_T_STATUS], &m);
        out->ev = calloc(m.count + 1, sizeof(*out->ev));
        out->count = 0;
        for (size_t i = 0; i < m.count; i++) {
                jt_status_event_t e;
                jt_error_t err;
                jt_error_clear(&err);
                if (!jt_status_event_decode(wc_clients.reg, m.msgs[i].value, m.msgs[i].len, &e,
                                            &err))
                        fail_msg("status event %zu (key %s, partition %" PRId32 ", offset %" PRId64
                                 "): expected to decode, actual: %s",
                                 i, m.msgs[i].key, m.msgs[i].partition, m.msgs[i].offset,
                                 err.message);
                if (strcmp(e.job_id, job_id) == 0) {
                        it_expect_str("status event key", job_id, m.msgs[i].key);
                        out->ev[out->count++] = e;
                } else {
                        jt_status_event_clear(&e);
                }
        }
        it_msgs_free(&m);
}

void wc_events_free(wc_events_t *e) {
        for (size_t i = 0; i < e->count; i++)
                jt_status_event_clear(&e->ev[i]);
        free(e->ev);
        e->ev = NULL;
        e->count = 0;
}

size_t wc_events_count(const wc_events_t *e, jt_status_type_t type) {
        size_t n = 0;
        for (size_t i = 0; i < e->count; i++)
                n += e->ev[i].type == type;
        return n;
}

void wc_expect_job_finished(const wc_ctx_t *c, const wc_events_t *e, int64_t deleted, int64_t found,
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
        wc_expect_opt_long("JOB_FINISHED records_deleted", deleted, f->records_deleted);
        wc_expect_opt_long("JOB_FINISHED total_records_found", found, f->total_records_found);
        wc_expect_opt_long("JOB_FINISHED remaining_records", 0, f->remaining_records);
        it_expect_str("JOB_FINISHED processing_mode", mode, f->processing_mode);
        if (!f->completion_percentage.set || fabs(f->completion_percentage.value - 100.0) > 1e-9)
                fail_msg("JOB_FINISHED completion_percentage: expected 100, actual %s%g",
                         f->completion_percentage.set ? "" : "unset ",
                         f->completion_percentage.value);
        if (!f->cutoff_date_ms.set || f->cutoff_date_ms.value != wc_cutoff_ms())
                fail_msg("JOB_FINISHED cutoff_date: expected %s, actual %s%s",
                         wc_ms_iso(wc_cutoff_ms(), a), f->cutoff_date_ms.set ? "" : "unset ",
                         wc_ms_iso(f->cutoff_date_ms.value, b));
        it_expect_int("JOB_FINISHED job_kind (CLEANUP)", JT_JOB_KIND_CLEANUP, f->job_kind);
        it_expect_str("JOB_FINISHED task_id", NULL, f->task_id);
        it_expect_str("JOB_FINISHED triggered_by", "manual", f->triggered_by);
        if (wc_worker_of(c, f->worker_id) < 0)
                fail_msg("JOB_FINISHED worker_id: expected one of the test's workers, actual %s",
                         f->worker_id ? f->worker_id : "null");
}

void wc_tasks_read(wc_ctx_t *c, wc_tasks_t *out) {
        it_msgs_t m;

        it_read_since(wc_clients.reader, &c->fx.mark[IT_T_CLEANUP], &m);
        it_msgs_sort_by_key(&m);
        out->m = calloc(m.count + 1, sizeof(*out->m));
        out->count = m.count;
        for (size_t i = 0; i < m.count; i++) {
                jt_error_t err;
                jt_error_clear(&err);
                snprintf(out->m[i].key, sizeof(out->m[i].key), "%s", m.msgs[i].key);
                if (!jt_cleanup_task_decode(wc_clients.reg, m.msgs[i].value, m.msgs[i].len,
                                            &out->m[i].t, &err))
                        fail_msg("cleanup task %s: expected to decode, actual: %s", m.msgs[i].key,
                                 err.message);
                it_expect_str("cleanup task key (= task_id)", out->m[i].t.task_id, m.msgs[i].key);
        }
        it_msgs_free(&m);
}

void wc_tasks_free(wc_tasks_t *t) {
        for (size_t i = 0; i < t->count; i++)
                jt_cleanup_task_clear(&t->m[i].t);
        free(t->m);
        t->m = NULL;
        t->count = 0;
}

size_t wc_count_in(const int64_t *times, size_t n, int64_t from, int64_t to) {
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

size_t wc_expect_range_results(const wc_ctx_t *c, const wc_events_t *e, const wc_tasks_t *tasks,
                               const int64_t *old, size_t n_old, int *per_worker) {
        int64_t sum = 0;
        size_t ranges = 0, repeats = 0;

        for (int i = 0; i < MAX_WORKERS; i++)
                per_worker[i] = 0;
        for (size_t k = 0; k < tasks->count; k++) {
                const jt_cleanup_task_t *t = &tasks->m[k].t;
                int64_t end = t->range_end_ms < t->cutoff_ms ? t->range_end_ms : t->cutoff_ms;
                int64_t want = (int64_t)wc_count_in(old, n_old, t->range_start_ms, end);
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
                        wc_expect_opt_long(what, want, f->records_deleted);
                        snprintf(what, sizeof(what), "TASK_FINISHED %s total_records_found",
                                 f->task_id);
                        wc_expect_opt_long(what, want, f->total_records_found);
                        snprintf(what, sizeof(what), "TASK_FINISHED %s remaining_records",
                                 f->task_id);
                        wc_expect_opt_long(what, 0, f->remaining_records);
                        w = wc_worker_of(c, f->worker_id);
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
        it_expect_int("sum of the ranges' records_deleted", (int64_t)n_old, sum);
        it_expect_int("TASK_FINISHED events of ranges that are not the job's", 0,
                      (int64_t)(wc_events_count(e, JT_STATUS_TASK_FINISHED) - ranges - repeats));
        return repeats;
}

/* ---------------------------------------------------------------------------------------- */
/* Fixtures. */

static int group_setup(void **state) {
        if (!it_env_program(worker_path, sizeof(worker_path), build_dir, "worker/joytify-worker") ||
            !it_env_program(producer_path, sizeof(producer_path), build_dir,
                            "producer/joytify-producer"))
                return -1;
        return it_clients_group_open(&wc_clients, state);
}

static int test_setup(void **state) {
        wc_ctx_t *c = calloc(1, sizeof(*c));

        it_fixture_init(&c->fx, "wc", ++test_seq, true);
        snprintf(c->partitions, sizeof(c->partitions), "4");
        *state = c;
        return 0;
}

static int test_teardown(void **state) {
        wc_ctx_t *c = *state;

        /* Workers first, whatever happened: nothing may keep running after a test. */
        for (int i = 0; i < c->worker_count; i++)
                it_proc_cleanup(&c->workers[i]);
        it_fixture_drop(&wc_clients, &c->fx);
        free(c);
        return 0;
}

int wc_main(int argc, char **argv, const struct CMUnitTest *tests, size_t count) {
        struct CMUnitTest *run = calloc(count, sizeof(*run));
        int failed;

        if (argc > 1)
                snprintf(build_dir, sizeof(build_dir), "%s", argv[1]);
        for (size_t i = 0; i < count; i++) {
                run[i] = tests[i];
                run[i].setup_func = test_setup;
                run[i].teardown_func = test_teardown;
        }
        if (getenv("JT_IT_FILTER"))
                cmocka_set_test_filter(getenv("JT_IT_FILTER"));
        if (getenv("JT_IT_SKIP"))
                cmocka_set_skip_filter(getenv("JT_IT_SKIP"));
        setvbuf(stdout, NULL, _IOLBF, 0);
        failed = _cmocka_run_group_tests("tests", run, count, group_setup, it_clients_group_close);
        free(run);
        return failed ? 1 : 0;
}
