/* The job ledger: one document per job in the `jobs` collection, keyed by the deterministic
 * job id, written before any task is sent. It makes job creation idempotent (the same job id
 * twice sends once) and safe with two producers at once (a claim with a lease decides who
 * sends), and it is where workers record each task's result by task id.
 *
 *   { _id: "stats-2026-10", kind: "stats"|"cleanup", testMode, runId, runNonce, params: {...},
 *     taskIds: [...], tasksTotal, state: "running"|"finalizing"|"finished"|"failed" (jt_job_state),
 *     claimedBy, claimUntil, tasksSentAt (absent until every task is durable in Kafka),
 *     results: { <task key>: {...} }, tasksDone (workers, each key once),
 *     found: { <task key>: N } (a cleanup range's first count, kept across redeliveries),
 *     finalizeBy, finalizeUntil (the worker finishing the job), finalizedAt (the first claim's
 *     time, kept: the chained cleanup's fire time), finishedAt,
 *     failedAt, failureAnnounced, lastFailure: {reason, task, at}, failures (count),
 *     reopenedAt, reopens (count), createdAt, updatedAt,
 *     notification: {id, reused, at} (a stats job's month notification, chosen once by its first
 *     range with an entry: worker/stats_notification.h) }
 * runNonce is random per entry: tasks carry it, so a task of another run of the same job id (a
 * replayed topic, a dropped and re-created ledger, a forged task) is told apart and does
 * nothing. A job ends finished or failed; a failed job goes back to running only when a task
 * of it comes back through `replay --dlq` (jt_jobs_reopen), and a finished job never changes.
 * A task key is the task id without "job_id/" (it holds no '.' or '$', so it is a field name). */
#ifndef JT_JOBS_H
#define JT_JOBS_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_error.h"
#include "jt_job_state.h"

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

/* The params of job_id's ledger entry into params (an initialised bson_t, reset here); *found
 * false when the job has no entry (or one without params). A re-sent job plans from them. */
bool jt_jobs_get_params(mongoc_client_t *client, const char *db, const char *job_id, bson_t *params,
                        bool *found, jt_error_t *err);

/* The key of task_id within job_id's entry; JT_ERR_INPUT when the task is not of the job or the
 * key cannot be a field name. */
bool jt_jobs_task_key(const char *job_id, const char *task_id, char *key, size_t size,
                      jt_error_t *err);

/* Stores value at found.<key> unless a value is there already; *stored is the value kept (the
 * first one), so a redelivered task works with the same figure. */
bool jt_jobs_set_found_once(mongoc_client_t *client, const char *db, const char *job_id,
                            const char *key, int64_t value, int64_t *stored, jt_error_t *err);

/* Records how far a cleanup range got: progress.<key> = {resumeFrom, deleted}, every playback
 * of the range before resume_from_ms being deleted, `deleted` of them by the range's batches so
 * far. Only forward: a checkpoint at or past resume_from_ms stays (a late, slower task of the
 * range changes nothing), and only in run run_nonce's entry. */
bool jt_jobs_checkpoint(mongoc_client_t *client, const char *db, const char *job_id,
                        const char *run_nonce, const char *key, int64_t resume_from_ms,
                        int64_t deleted, jt_error_t *err);

/* The figures of a statistics range up to a checkpoint. */
typedef struct {
        int64_t users, with_entry, bad_rows, notified;
} jt_range_figures_t;

/* Records how far a statistics range got: progress.<key> = {afterUser, users, withEntry,
 * badRows, notified, holder, heldUntil}, every user of the range up to after_user (hex
 * ObjectId, lower case) done and counted in the figures, and the range held by the run holder
 * until held_until_ms (a lease: another run of the range waits for it to lapse or be released).
 * Only forward (a checkpoint at or past after_user stays) and only in run run_nonce's entry, as
 * jt_jobs_checkpoint. *moved is false when it stayed: another run of the range is as far or
 * further (or the run is gone). */
bool jt_jobs_checkpoint_users(mongoc_client_t *client, const char *db, const char *job_id,
                              const char *run_nonce, const char *key, const char *after_user,
                              const jt_range_figures_t *figures, const char *holder,
                              int64_t held_until_ms, bool *moved, jt_error_t *err);

/* Ends holder's lease of the range at key (heldUntil 0) when it still holds it: a run that
 * stops, fails or hands the range to a continuation lets the next run start at once. */
bool jt_jobs_release_range(mongoc_client_t *client, const char *db, const char *job_id,
                           const char *key, const char *holder, jt_error_t *err);

/* A new random run nonce (32 hex digits) into out (at least JT_JOBS_NONCE_SIZE bytes). */
#define JT_JOBS_NONCE_SIZE 33
bool jt_jobs_new_nonce(char *out, jt_error_t *err);

/* What a worker knows of a task's job before it acts on the task. */
typedef struct {
        bool exists;           /* the job has a ledger entry */
        bool same_run;         /* its runNonce is the task's (both absent counts as equal) */
        bool listed;           /* the task id asked about is one of its taskIds */
        bool recorded;         /* results.<key> is there (the task is done: a redelivery) */
        bool complete;         /* every listed task has a result */
        jt_job_state_t state;  /* as stored (a name none of the four reads as running) */
        int64_t tasks_done;    /* results recorded */
        int64_t tasks_total;   /* taskIds */
        char failed_task[256]; /* lastFailure.task: the task whose failure failed the job */
        /* What the job was made for, which a task must agree with (params.month of a stats
         * job, params.cutoff of a cleanup job; "" and 0 when absent). */
        bool test_mode;
        char month[8];
        int64_t cutoff_ms;
        /* With a key: found.<key> (-1 when absent) and the checkpoint progress.<key> of a
         * cleanup range (jt_jobs_checkpoint; resume_from_ms INT64_MIN when there is none). */
        int64_t found;
        int64_t resume_from_ms;
        int64_t resume_deleted;
        /* With a key: the checkpoint of a statistics range (jt_jobs_checkpoint_users; after_user
         * "" when there is none). */
        char after_user[25];
        jt_range_figures_t after_figures;
        char holder[128];      /* the run holding the range ("" when none) ... */
        int64_t held_until_ms; /* ... until then (0: released) */
        /* A statistics job's plan (params.bounds), for the range task task_id (job/NNNN):
         * have_plan, the number of ranges, and the range's bounds ("" for an open end). */
        bool have_plan;
        int64_t plan_ranges;
        char plan_from[25], plan_to[25];
} jt_job_view_t;

/* Reads job_id's entry as seen by the task task_id (NULL: a task not in taskIds, such as a
 * FINALIZE) of run run_nonce (NULL for a v1 task), whose result goes under key (NULL: none).
 * complete counts only results whose key is a listed task's, so no other write can make a job
 * look complete. A missing entry is no error: view->exists is false. */
bool jt_jobs_view(mongoc_client_t *client, const char *db, const char *job_id,
                  const char *run_nonce, const char *task_id, const char *key, jt_job_view_t *view,
                  jt_error_t *err);

/* Records a task's result under results.<key> once, for a task listed in the job's taskIds
 * (task_id, the root task for a continuation) of run run_nonce: *recorded_now is false when it
 * was there already (a redelivery). *complete says whether every task of the job has a result
 * now. A job of another run, or a task it does not list, is a JT_ERR_INPUT error. */
bool jt_jobs_record_result(mongoc_client_t *client, const char *db, const char *job_id,
                           const char *run_nonce, const char *task_id, const char *key,
                           const bson_t *result, int64_t now_ms, bool *recorded_now, bool *complete,
                           jt_error_t *err);

/* For a complete job of run run_nonce with tasks_total tasks (its view): takes the right to
 * finalize it (state running -> finalizing, a finalizing claim whose lease lapsed because its
 * worker died, or owner's own claim, renewed) only while every one of its tasks_total tasks
 * has a result. *claimed false: finished or failed already, another worker is finalizing, or
 * the job is not complete. On a claim, entry receives the job's entry with every result, and
 * finalizedAt is recorded if it was not. */
bool jt_jobs_claim_finalize(mongoc_client_t *client, const char *db, const char *job_id,
                            const char *run_nonce, int64_t tasks_total, const char *owner,
                            int64_t now_ms, int64_t lease_ms, bool *claimed, bson_t *entry,
                            jt_error_t *err);

/* The job's finalizedAt (recorded by its first finalize claim) into *at_ms; 0 when none. */
bool jt_jobs_finalized_at(mongoc_client_t *client, const char *db, const char *job_id,
                          int64_t *at_ms, jt_error_t *err);

/* The job's createdAt into *at_ms (0 when none): where its execution time counts from. */
bool jt_jobs_created_at(mongoc_client_t *client, const char *db, const char *job_id, int64_t *at_ms,
                        jt_error_t *err);

/* Marks a running (or finalizing) job of run run_nonce failed with the reason, once, unless the
 * failing task's result is recorded (key, NULL for a FINALIZE: a late duplicate of a done task
 * fails nothing): *announce says whether its JOB_FAILED still has to be sent (a new failure, or
 * one whose event was never confirmed), with *failed_at_ms the failure's time, which the event
 * carries so that a repeat of it is recognisably the same failure. A finished job is never
 * marked failed: a late duplicate changes nothing. */
bool jt_jobs_fail(mongoc_client_t *client, const char *db, const char *job_id,
                  const char *run_nonce, const char *task_id, const char *key, const char *reason,
                  int64_t now_ms, bool *announce, int64_t *failed_at_ms, jt_error_t *err);

/* Records that the JOB_FAILED of the failure at failed_at_ms is durable on the status topic. */
bool jt_jobs_failure_announced(mongoc_client_t *client, const char *db, const char *job_id,
                               int64_t failed_at_ms, jt_error_t *err);

/* Sends a failed job of run run_nonce back to running (an operator replayed its dead letters
 * after fixing the cause). *reopened false when it was not failed. */
bool jt_jobs_reopen(mongoc_client_t *client, const char *db, const char *job_id,
                    const char *run_nonce, int64_t now_ms, bool *reopened, jt_error_t *err);

/* The job's state: *found false when the job has no ledger entry. A stored state that is none
 * of the four names is an error (JT_ERR_INPUT, naming it), as is a read failure. */
bool jt_jobs_state(mongoc_client_t *client, const char *db, const char *job_id, bool *found,
                   jt_job_state_t *state, jt_error_t *err);

/* Sets a finalizing job's state to "finished" once its last event is durable (a failed job
 * stays failed: jt_jobs_fail). */
bool jt_jobs_set_state(mongoc_client_t *client, const char *db, const char *job_id,
                       jt_job_state_t state, int64_t now_ms, jt_error_t *err);

/* One line about a ledger entry for messages: task count, state, whether all were sent. */
void jt_jobs_describe(const bson_t *entry, char *info, size_t size);

/* Records that every task of the job is durable in Kafka; only the claim holder may. A job
 * with no task at all is finished by the same write (finished true). */
bool jt_jobs_mark_sent(mongoc_client_t *client, const char *db, const char *job_id,
                       const char *owner, int64_t now_ms, bool finished, jt_error_t *err);

#endif
