/* What a task handler gets from the worker loop, and what it answers. Handlers run on the
 * loop's task threads (--concurrency of them, one task per partition at a time) while the loop's
 * own thread keeps polling, and check *stop between batches, so that SIGTERM ends a task at a
 * batch boundary. Everything in jt_task_env_t is shared by those threads: the producer, the
 * mongoc pool (a client popped per task), the metrics and the logger are thread-safe; the
 * announced ring and the clock check carry their own locks. */
#ifndef JT_WORKER_TASK_H
#define JT_WORKER_TASK_H

#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <signal.h>

#include "jt_messages.h"
#include "jt_config.h"
#include "jt_error.h"
#include "jt_jobs.h"
#include "jt_metrics.h"
#include "jt_status.h"

/* Jobs whose JOB_FINISHED this process has sent and flushed. A finalize step that then fails
 * to write the job's "finished" state (the database went away) is retried; it must write the
 * state without announcing the job a second time. A few recent jobs are enough: a process
 * finalizes at most --concurrency jobs at a time. */
#define JT_TASK_ANNOUNCED_MAX 8
typedef struct {
        pthread_mutex_t lock; /* held across a job's announcement (jt_task_finish_job) */
        char job_ids[JT_TASK_ANNOUNCED_MAX][128];
        unsigned next;
} jt_task_announced_t;

/* An empty ring, and its release. */
void jt_task_announced_init(jt_task_announced_t *a);
void jt_task_announced_clear(jt_task_announced_t *a);

typedef struct {
        const jt_config_t *cfg; /* the worker's options (a finished stats job starts cleanup) */
        mongoc_client_pool_t *pool;
        const char *db;
        const jt_avro_registry_t *reg;
        rd_kafka_t *producer; /* status events, continuation and finalize tasks */
        const char *stats_topic;
        const char *cleanup_topic;
        const char *status_topic;
        const char *worker_id;           /* "host/pid", in status events */
        int kafka_timeout_ms;            /* bound of a flush */
        volatile sig_atomic_t *stop;     /* set by SIGTERM/SIGINT; read by every task thread */
        jt_metrics_t *metrics;           /* documents read/written/deleted, batch latency */
        jt_task_announced_t *announced;  /* JOB_FINISHED sent by this process */
        struct jt_clock_check_s *clock;  /* the last clock check (clock_check.h) */
        struct jt_artist_names_s *names; /* artist names, shared by the task threads */
        /* The app push's settings (app_push.h); NULL without --app-api-url. */
        const struct jt_app_push_s *app_push;
} jt_task_env_t;

typedef enum {
        JT_TASK_DONE,      /* effects and events durable: store the offset */
        JT_TASK_RETRY,     /* transient failure: try the same message again later */
        JT_TASK_PERMANENT, /* can never succeed: its job fails (JOB_FAILED), the task goes to the
                            * DLQ, then the offset is stored */
        JT_TASK_REJECTED,  /* not a task of a live run of its job (no ledger entry, another run,
                            * not one of its tasks, a FINALIZE of an incomplete job): nothing
                            * done, DLQ with the reason, the job untouched */
        JT_TASK_STOPPED,   /* interrupted by a stop request: leave the offset for redelivery */
        JT_TASK_WAIT,      /* another worker holds a claim of the job (its finalize step, or
                            * the sending of the cleanup job it chains): try again later until
                            * it finishes or its lease lapses; not a failure, no attempt */
} jt_task_outcome_t;

/* The outcome of a finalize step that did not get the job's claim: DONE when the job is
 * finished or failed already, WAIT while another worker holds the claim (it finishes, or its
 * lease lapses and a retry takes over), PERMANENT without a ledger entry, RETRY on a read
 * error. */
jt_task_outcome_t jt_task_claim_lost(mongoc_client_t *client, const char *db, const char *job_id,
                                     jt_error_t *err);

/* The last step of finalizing a job under its claim: sends ev (JOB_FINISHED) unless this
 * process sent it before, then sets the job's state to finished. RETRY on a failure of either;
 * the retry does not send ev again once it was flushed. */
jt_task_outcome_t jt_task_finish_job(const jt_task_env_t *env, mongoc_client_t *client,
                                     const jt_status_event_t *ev, jt_error_t *err);

/* The gate every task passes before it acts, from its job's ledger entry. task_id is the task's
 * own id, listed_id the id the job must list (the root range of a continuation; NULL for a
 * FINALIZE, which no taskIds lists), key where the task's result goes (or NULL):
 *   - no entry, another run (nonce), a task id the job does not list: JT_TASK_REJECTED;
 *   - a finished job (a late duplicate): JT_TASK_DONE with *proceed false, nothing done;
 *   - a failed job: re-opened first when this task is the one whose failure failed it (it came
 *     back: `replay --dlq` after the cause was fixed, or a redelivery); any other task of it
 *     still runs and records its result, so that the job can finish once that task is back;
 *   - else JT_TASK_DONE with *proceed true and the entry in *view.
 * A read error is JT_TASK_RETRY. */
jt_task_outcome_t jt_task_admit(const jt_task_env_t *env, mongoc_client_t *client,
                                const char *job_id, const char *run_nonce, const char *task_id,
                                const char *listed_id, const char *key, jt_job_view_t *view,
                                bool *proceed, jt_error_t *err);

/* After jt_task_admit: a task of the right run must also agree with what its job was made for
 * (the ledger's testMode, and a stats job's month or a cleanup job's cutoff; month NULL and
 * cutoff_ms 0 when not the task's kind). A task that does not (forged with the right nonce, say,
 * to run a test job on the application's collections) is JT_TASK_REJECTED; else JT_TASK_DONE. */
jt_task_outcome_t jt_task_agrees(const jt_job_view_t *view, const char *task_id, bool test_mode,
                                 const char *month, int64_t cutoff_ms, jt_error_t *err);

/* A failed database operation as a task outcome: JT_TASK_RETRY, with err transient for an
 * outage (waited out) and not otherwise (spends attempts, then the DLQ). */
jt_task_outcome_t jt_task_mongo_failed(const bson_error_t *error, jt_error_t *err,
                                       const char *what);

/* Records a task's result in the ledger (jt_jobs_record_result at the wall clock's now) and
 * takes ownership of result (destroyed here). JT_TASK_DONE when written or already there
 * (*recorded_now says which), JT_TASK_REJECTED when the ledger refused the task's input,
 * JT_TASK_RETRY on a database failure. */
jt_task_outcome_t jt_task_record_result(const jt_task_env_t *env, mongoc_client_t *client,
                                        const char *job_id, const char *run_nonce,
                                        const char *task_id, const char *key, bson_t *result,
                                        bool *recorded_now, bool *complete, jt_error_t *err);

/* Sleeps ms milliseconds unless a stop is requested (checked every 100 ms); false when it was. */
bool jt_task_sleep(const jt_task_env_t *env, int ms);

#endif
