/* The month's notification of a statistics job, as the original made it: one `monthlyStatistic`
 * document, made only once a user has an entry for the month, and the original Lambda's own
 * reused when it already made the month's, so that switching from the Lambdas mid-month
 * notifies nobody twice. The choice is made once per job run and kept in the job's ledger entry
 * (`notification: {id, reused, at}`): every range and the FINALIZE use the same one.
 *
 * The Lambda's notification of month M is a `monthlyStatistic` document created during month
 * M+1 (the Lambda ran at 02:00 UTC on the 1st for the previous complete month, and an invocation
 * by hand processed the previous complete month too) whose ObjectId a driver made then: the
 * seconds it embeds are within JT_STATS_NOTIFICATION_DRIFT_S of its createdAt. The fleet's own
 * notifications have ids hashed from job ids (jt_job_ids_notification_oid), whose embedded time
 * has nothing to do with their createdAt, so a fleet notification of another month (made during
 * M+1 by a catch-up or a run by hand) is never taken for M's. Of several, the earliest. */
#ifndef JT_WORKER_STATS_NOTIFICATION_H
#define JT_WORKER_STATS_NOTIFICATION_H

#include <mongoc/mongoc.h>

#include "task.h"

#define JT_STATS_NOTIFICATION_DRIFT_S 60

typedef struct {
        bson_oid_t id;
        bool reused; /* the Lambda's, found for the month: not made by this job */
        bool fresh;  /* made by this job run: nobody had it before the run (ensure only) */
} jt_stats_notification_t;

/* [from, to) in which the Lambda created month's ("YYYY-MM") notification: the next month. */
bool jt_stats_notification_window(const char *month, int64_t *from_ms, int64_t *to_ms,
                                  jt_error_t *err);

/* Whether id was made by a driver when its document was created (created_ms): the id embeds
 * that second, give or take JT_STATS_NOTIFICATION_DRIFT_S. */
bool jt_stats_notification_driver_made(const bson_oid_t *id, int64_t created_ms);

/* The job's notification, ready for users to get: chosen and recorded in the ledger entry of
 * task's run if no range did so before, and, when it is the job's own, inserted (once: a
 * duplicate key is that insert done before) and out->fresh set when this run made it. A range
 * calls it before it first notifies. */
jt_task_outcome_t jt_stats_notification_ensure(mongoc_client_t *client, const char *db,
                                               mongoc_collection_t *notifications,
                                               const jt_stats_task_t *task,
                                               jt_stats_notification_t *out, jt_error_t *err);

/* What the FINALIZE reports, from the job's ledger entry: *have false when no range needed a
 * notification (no user had an entry for the month); *created whether this run made it (its
 * own, found with this run's createdAt: not a reused one, nor one a dropped ledger's run made).
 * users_updated: the ranges' sum, for a job whose ranges ran before the ledger kept the choice. */
bool jt_stats_notification_outcome(mongoc_client_t *client, const char *db,
                                   const jt_stats_task_t *task, const bson_t *entry,
                                   int64_t users_updated, jt_stats_notification_t *out, bool *have,
                                   bool *created, jt_error_t *err);

#endif
