/* The job ledger: one document per job in the `jobs` collection, keyed by the deterministic
 * job id, written before any task is sent. It makes job creation idempotent (the same job id
 * twice sends once) and safe with two producers at once (a claim with a lease decides who
 * sends), and it is where workers record each task's result by task id.
 *
 *   { _id: "stats-2026-10", kind: "stats"|"cleanup", testMode, runId, params: {...},
 *     taskIds: [...], tasksTotal, state: "running"|"finished"|"failed",
 *     claimedBy, claimUntil, tasksSentAt (absent until every task is durable in Kafka),
 *     results: { <task key>: {...} }, tasksDone (workers, each key once),
 *     found: { <task key>: N } (a cleanup range's first count, kept across redeliveries),
 *     finalizeBy, finalizeUntil (the worker finishing the job), finishedAt,
 *     createdAt, updatedAt }
 * A task key is the task id without "job_id/" (it holds no '.' or '$', so it is a field name). */
#ifndef JT_JOBS_H
#define JT_JOBS_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_error.h"

#define JT_JOBS_COLLECTION "jobs"

typedef struct {
        const char *job_id;
        const char *kind; /* "stats" or "cleanup" */
        bool test_mode;
        const char *run_id;          /* NULL when none */
        const bson_t *params;        /* what makes the tasks; compared on a second run */
        const char *const *task_ids; /* every task the job starts with */
        size_t task_count;
        const char *owner; /* who claims: "producer@host/pid" */
        int64_t now_ms;
        int64_t lease_ms; /* how long a claim keeps others from sending */
} jt_job_spec_t;

typedef enum {
        JT_JOB_CLAIMED,      /* created now, or an unsent job whose claim had lapsed: send */
        JT_JOB_ALREADY_SENT, /* every task was sent before: send nothing */
        JT_JOB_BUSY,         /* another producer holds the claim right now: send nothing */
} jt_job_claim_t;

/* Creates the ledger entry of spec, or claims an existing one that was never fully sent (its
 * producer died between the ledger and Kafka). A job that exists with other params is a
 * JT_ERR_CONFIG error naming both, since the same id must mean the same tasks. entry (an
 * initialised bson_t) receives the ledger entry as stored: on a re-claim its taskIds, not the
 * spec's, are the tasks to send again. */
bool jt_jobs_claim(mongoc_client_t *client, const char *db, const jt_job_spec_t *spec,
                   jt_job_claim_t *outcome, bson_t *entry, jt_error_t *err);

/* The key of task_id within job_id's entry; JT_ERR_INPUT when the task is not of the job or the
 * key cannot be a field name. */
bool jt_jobs_task_key(const char *job_id, const char *task_id, char *key, size_t size,
                      jt_error_t *err);

/* Stores value at found.<key> unless a value is there already; *stored is the value kept (the
 * first one), so a redelivered task works with the same figure. */
bool jt_jobs_set_found_once(mongoc_client_t *client, const char *db, const char *job_id,
                            const char *key, int64_t value, int64_t *stored, jt_error_t *err);

/* Records a task's result under results.<key> once: *recorded_now is false when it was there
 * already (a redelivery). *complete says whether every task of the job has a result now. */
bool jt_jobs_record_result(mongoc_client_t *client, const char *db, const char *job_id,
                           const char *key, const bson_t *result, int64_t now_ms,
                           bool *recorded_now, bool *complete, jt_error_t *err);

/* For a complete job: takes the right to finalize it (state running -> finalizing, a
 * finalizing claim whose lease lapsed because its worker died, or owner's own claim, renewed).
 * *claimed false: finished already, or another worker is finalizing. On a claim, entry
 * receives the job's entry with every result. */
bool jt_jobs_claim_finalize(mongoc_client_t *client, const char *db, const char *job_id,
                            const char *owner, int64_t now_ms, int64_t lease_ms, bool *claimed,
                            bson_t *entry, jt_error_t *err);

/* The job's state into state ("" when the job has no ledger entry). */
bool jt_jobs_state(mongoc_client_t *client, const char *db, const char *job_id, char *state,
                   size_t size, jt_error_t *err);

/* Sets state ("finished" or "failed") once the job's last event is durable. */
bool jt_jobs_set_state(mongoc_client_t *client, const char *db, const char *job_id,
                       const char *state, int64_t now_ms, jt_error_t *err);

/* One line about a ledger entry for messages: task count, state, whether all were sent. */
void jt_jobs_describe(const bson_t *entry, char *info, size_t size);

/* Records that every task of the job is durable in Kafka; only the claim holder may. A job
 * with no task at all is finished by the same write (finished true). */
bool jt_jobs_mark_sent(mongoc_client_t *client, const char *db, const char *job_id,
                       const char *owner, int64_t now_ms, bool finished, jt_error_t *err);

#endif
