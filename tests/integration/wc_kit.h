/* What the worker-cleanup integration programs share (test_worker_cleanup_it.c,
 * test_worker_cleanup_dlq_it.c, test_worker_cleanup_restart_it.c): the built joytify-producer
 * emits a job, real joytify-worker processes (in the test's own consumer group) run it against
 * the test's own database and topics (it_fixture.h), and these helpers read back what is left
 * in MongoDB, the job ledger, and every status event on Kafka. Waits are polls with generous
 * bounds, never fixed sleeps; workers are always ended in teardown. */
#ifndef JT_WC_KIT_H
#define JT_WC_KIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "it_clients.h"
#include "it_cmocka.h"
#include "it_fixture.h"
#include "it_proc.h"
#include "jt_avro.h"

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

/* The suite's clients, opened by the group setup of wc_main. */
extern it_clients_t wc_clients;

/* One test's own database, topics, consumer group and worker processes. */
typedef struct {
        it_fixture_t fx;
        char partitions[8]; /* --task-partitions of the programs */
        it_proc_t workers[MAX_WORKERS];
        bool stopped[MAX_WORKERS]; /* stopped on purpose: its exit is no failure */
        int worker_count;
} wc_ctx_t;

/* Runs the tests, each with a fresh wc_ctx_t as its state (4 task partitions), after the group
 * setup found the built programs (argv[1]: the build directory, default $JT_BUILD_DIR) and
 * opened the clients. JT_IT_FILTER / JT_IT_SKIP: cmocka's test filters (* and ? wildcards).
 * Returns main's exit code. */
int wc_main(int argc, char **argv, const struct CMUnitTest *tests, size_t count);

/* ---------------------------------------------------------------------------------------- */
/* Expectations and the jobs' times. */

void wc_expect_opt_long(const char *what, int64_t expected, jt_opt_long_t actual);

const char *wc_ms_iso(int64_t ms, char *buf);

int64_t wc_iso_ms(const char *iso);

int64_t wc_cutoff_ms(void);

/* ---------------------------------------------------------------------------------------- */
/* Programs: the producer (run to its end) and the workers (started, stopped by SIGTERM). */

/* Prints the tail of every worker's log (before a failure message, so the reason is there). */
void wc_print_worker_logs(const wc_ctx_t *c);

/* fail_msg after the workers' logs. */
#define wc_fail_with_logs(c, ...)                                                                  \
        do {                                                                                       \
                wc_print_worker_logs(c);                                                           \
                fail_msg(__VA_ARGS__);                                                             \
        } while (0)

/* Fails when a worker that was not stopped on purpose has exited. */
void wc_expect_workers_alive(wc_ctx_t *c);

/* Runs joytify-producer with args (NULL-terminated) and returns its exit code; its output is
 * printed. with_ctx adds the test's --db, topics and --task-partitions. */
int wc_run_producer(const wc_ctx_t *c, bool with_ctx, const char *const *args);

#define WC_PRODUCER(c, with_ctx, ...)                                                              \
        wc_run_producer((c), (with_ctx), (const char *const[]){__VA_ARGS__, NULL})

/* `joytify-producer cleanup --at AT` plus extra arguments; expects exit 0. */
void wc_producer_cleanup(wc_ctx_t *c, const char *const *extra);

/* Starts a worker in the test's group consuming `topics` (--topics); returns its slot. */
int wc_worker_start_topics(wc_ctx_t *c, const char *topics);

/* A worker consuming the test's cleanup topic only. */
int wc_worker_start(wc_ctx_t *c);

/* Waits until every worker started so far has logged an assignment of cleanup partitions. */
void wc_wait_cleanup_assigned(wc_ctx_t *c, int timeout_ms);

/* "host/pid" of a worker as its events carry it, compared by the pid part. */
int wc_worker_of(const wc_ctx_t *c, const char *worker_id);

/* Sends SIGTERM to the workers in slots[] at once; each must exit 0 within STOP_MS. */
void wc_workers_stop(wc_ctx_t *c, const int *slots, int n);

void wc_worker_stop(wc_ctx_t *c, int slot);

/* ---------------------------------------------------------------------------------------- */
/* MongoDB: playbacks in and out, the ledger. */

/* Inserts one playback per time (ms); ids (if not NULL) receive their _ids. */
void wc_insert_playbacks(const wc_ctx_t *c, const int64_t *times, size_t n, bson_oid_t *ids);

/* n times from `from` spaced by step ms. */
int64_t *wc_spread(size_t n, int64_t from, int64_t step);

int64_t wc_count_playbacks(const wc_ctx_t *c, int64_t from, int64_t to);

/* The _ids of the playbacks in [from, to) equal expected[0..n) (as sets). */
void wc_expect_playback_ids(const wc_ctx_t *c, int64_t from, int64_t to, bson_oid_t *expected,
                            size_t n, const char *what);

/* A string field of the ledger entry (dotted path) into buf; "" when absent. */
const char *wc_ledger_str(const bson_t *doc, const char *path, char *buf, size_t size);

void wc_expect_ledger_int(const bson_t *doc, const char *path, int64_t expected);

bool wc_ledger_has(const bson_t *doc, const char *path);

/* Polls the ledger until job_id's state is `state`; the workers must stay up meanwhile. */
void wc_wait_job_state(wc_ctx_t *c, const char *job_id, const char *state, int timeout_ms);

/* ---------------------------------------------------------------------------------------- */
/* Kafka: status events and tasks written since the marks. */

/* job_id's status events written since the status mark, in log order. */
/* A job's status events, decoded. */
typedef struct {
        jt_status_event_t *ev;
        size_t count;
} wc_events_t;

/* job_id's status events written since the status mark, in log order. */
void wc_events_read(wc_ctx_t *c, const char *job_id, wc_events_t *out);

void wc_events_free(wc_events_t *e);

size_t wc_events_count(const wc_events_t *e, jt_status_type_t type);

/* Exactly one JOB_FINISHED with the original's figures; mode is the original's processingMode
 * for them ("direct" while what was found fits in one --batch-size batch, issue 16 item 6). */
void wc_expect_job_finished(const wc_ctx_t *c, const wc_events_t *e, int64_t deleted, int64_t found,
                            const char *mode);

/* A cleanup task read back from the cleanup topic. */
typedef struct {
        char key[200];
        jt_cleanup_task_t t;
} wc_task_msg_t;

typedef struct {
        wc_task_msg_t *m;
        size_t count;
} wc_tasks_t;

/* The cleanup tasks written since the cleanup mark, sorted by key (= task id). */
void wc_tasks_read(wc_ctx_t *c, wc_tasks_t *out);

void wc_tasks_free(wc_tasks_t *t);

size_t wc_count_in(const int64_t *times, size_t n, int64_t from, int64_t to);

/* For every range task of `tasks`: its TASK_FINISHED event(s) carry exactly the number of
 * `old` playbacks in the range (deleted = found, remaining 0), repeated events agree, and the
 * sum is the number of old playbacks. per_worker[i] counts the ranges worker slot i finished.
 * Returns the number of repeated TASK_FINISHED events (redeliveries). */
size_t wc_expect_range_results(const wc_ctx_t *c, const wc_events_t *e, const wc_tasks_t *tasks,
                               const int64_t *old, size_t n_old, int *per_worker);

#endif
