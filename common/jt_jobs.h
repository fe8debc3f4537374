/* The job ledger: one document per job in the `jobs` collection, keyed by the deterministic
 * job id, written before any task is sent. It makes job creation idempotent (the same job id
 * twice sends once) and safe with two producers at once (a claim with a lease decides who
 * sends), and it is where workers record each task's result by task id.
 *
 *   { _id: "stats-2026-10", kind: "stats"|"cleanup", testMode, runId, params: {...},
 *     taskIds: [...], tasksTotal, state: "running"|"finished"|"failed",
 *     claimedBy, claimUntil, tasksSentAt (absent until every task is durable in Kafka),
 *     results: { <task key>: {...} } (workers), createdAt, updatedAt } */
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

/* One line about a ledger entry for messages: task count, state, whether all were sent. */
void jt_jobs_describe(const bson_t *entry, char *info, size_t size);

/* Records that every task of the job is durable in Kafka; only the claim holder may. A job
 * with no task at all is finished by the same write (finished true). */
bool jt_jobs_mark_sent(mongoc_client_t *client, const char *db, const char *job_id,
                       const char *owner, int64_t now_ms, bool finished, jt_error_t *err);

#endif
