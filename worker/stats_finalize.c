/* Finalization of a statistics job, once every range has recorded its result: the ranges wrote
 * the entries and gave their users the month's notification themselves, so this step reads
 * the ledger entry (the figures are the sums of the ranges' results, the notification the one
 * the ranges recorded there) and, for a notification of its own, that document's createdAt,
 * starts the cleanup job (its id derives from the ledger's finalizedAt, so it is made once), and
 * the ledger's finalize claim makes JOB_FINISHED go out from one worker. */
#include "stats_finalize.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_push.h"
#include "jt_bson.h"
#include "jt_cleanup_job.h"
#include "jt_job_ids.h"
#include "jt_jobs.h"
#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_time.h"
#include "jt_mongo.h"
#include "jt_status.h"
#include "stats.h"
#include "stats_notification.h"

#define FINALIZE_LEASE_MS 120000

bool jt_stats_finalize_send(const jt_task_env_t *env, const jt_stats_task_t *shard,
                            jt_error_t *err) {
        jt_stats_task_t fin = *shard;
        char task_id[256];
        void *buf = NULL;
        size_t len = 0;
        bool ok;

        snprintf(task_id, sizeof(task_id), "%s/finalize", shard->job_id);
        fin.task_id = task_id;
        fin.kind = JT_STATS_TASK_FINALIZE;
        fin.shard = -1;
        fin.user_from = fin.user_to = fin.parent_task_id = fin.resume_after_user = NULL;
        fin.continuation_seq = 0;
        fin.users_so_far = fin.with_entry_so_far = fin.bad_rows_so_far = fin.notified_so_far = 0;
        ok = jt_stats_task_encode(env->reg, &fin, &buf, &len, err) &&
             jt_kafka_send(env->producer, env->stats_topic, task_id, strlen(task_id), buf, len,
                           NULL, err);
        free(buf);
        return ok;
}

typedef struct {
        const jt_task_env_t *env;
        const jt_stats_task_t *task;
        mongoc_client_t *client;
        int64_t start_ms, end_ms;
        int64_t users_processed, users_updated; /* the sums of the ranges' results */
        bson_oid_t nid;                         /* the month's notification ... */
        bool have_notification;                 /* ... when one was needed ... */
        bool notification_created;              /* ... made by this run (not reused) */
        bool notification_reused;               /* ... the Lambda's, found for the month */
        jt_app_push_result_t push;              /* the app push's outcome, for JOB_FINISHED */
} fin_run_t;

/* The job's figures from its ranges' results (each range notified its own users): the sums of
 * withEntry and notified over the listed tasks' results. Nothing is read but the ledger entry. */
static void sum_results(const bson_t *entry, int64_t *with_entry, int64_t *notified) {
        bson_iter_t it, results, one;

        *with_entry = *notified = 0;
        if (!bson_iter_init_find(&it, entry, "results") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
            !bson_iter_recurse(&it, &results))
                return;
        while (bson_iter_next(&results)) {
                if (!BSON_ITER_HOLDS_DOCUMENT(&results) || !bson_iter_recurse(&results, &one))
                        continue;
                while (bson_iter_next(&one)) {
                        if (!BSON_ITER_HOLDS_NUMBER(&one))
                                continue;
                        if (strcmp(bson_iter_key(&one), "withEntry") == 0)
                                *with_entry += bson_iter_as_int64(&one);
                        else if (strcmp(bson_iter_key(&one), "notified") == 0)
                                *notified += bson_iter_as_int64(&one);
                }
        }
}

/* The job's figures (the sums of its ranges' results) and its notification: the one the ranges
 * chose (none when no user had an entry), and whether this run made it (not when it reused the
 * Lambda's). */
static jt_task_outcome_t job_outcome(fin_run_t *run, const bson_t *entry, jt_error_t *err) {
        jt_stats_notification_t note;

        sum_results(entry, &run->users_processed, &run->users_updated);
        if (!jt_stats_notification_outcome(run->client, run->env->db, run->task, entry,
                                           run->users_updated, &note, &run->have_notification,
                                           &run->notification_created, err))
                return JT_TASK_RETRY;
        bson_oid_copy(&note.id, &run->nid);
        run->notification_reused = note.reused;
        return JT_TASK_DONE;
}

static jt_task_outcome_t finish(fin_run_t *run, const bson_t *entry, jt_error_t *err) {
        const jt_task_env_t *env = run->env;
        char nid_hex[25] = "none";
        bson_iter_t it;
        int64_t created_ms = run->task->created_at_ms;
        jt_status_event_t ev;

        if (bson_iter_init_find(&it, entry, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
                created_ms = bson_iter_date_time(&it);
        if (run->have_notification)
                bson_oid_to_string(&run->nid, nid_hex);
        ev = (jt_status_event_t){.job_id = run->task->job_id,
                                 .type = JT_STATUS_JOB_FINISHED,
                                 .job_kind = JT_JOB_KIND_STATS,
                                 .timestamp_ms = jt_time_wall_ms(),
                                 .worker_id = (char *)env->worker_id,
                                 .test_mode = run->task->test_mode,
                                 .month = run->task->month,
                                 .users_processed = {true, run->users_processed},
                                 .users_updated = {true, run->users_updated},
                                 .notifications_created = {true, run->notification_created},
                                 .notification_id = run->have_notification ? nid_hex : NULL,
                                 .cleanup_triggered = {true, true},
                                 .execution_ms = {true, jt_time_wall_ms() - created_ms}};
        ev.users_pushed = (jt_opt_long_t){run->push.configured, run->push.done.users};
        ev.push_failures = (jt_opt_long_t){run->push.configured, run->push.done.failed_users};
        if (jt_task_finish_job(env, run->client, &ev, err) != JT_TASK_DONE)
                return JT_TASK_RETRY;
        jt_log_info("job=%s finished: %" PRId64 " users with an entry, %" PRId64
                    " notified, notification %s%s",
                    run->task->job_id, run->users_processed, run->users_updated, nid_hex,
                    !run->have_notification     ? ""
                    : run->notification_created ? " (made)"
                                                : " (reused)");
        return JT_TASK_DONE;
}

/* Whether the cleanup job fired at fire_s (whole minutes) has a ledger entry. */
static bool cleanup_job_exists(fin_run_t *run, int64_t fire_s) {
        char job_id[128];
        jt_job_state_t state;
        bool found = false;
        jt_error_t err;

        jt_error_clear(&err);
        jt_job_ids_cleanup(fire_s, run->task->test_mode, NULL, job_id, sizeof(job_id));
        /* found: an entry whose state reads as none of the four exists all the same; a read
         * error leaves it false. */
        (void)jt_jobs_state(run->client, run->env->db, job_id, &found, &state, &err);
        return found;
}

/* The cleanup job, as the original started it after the monthly statistics; it fires at the
 * statistics job's finalization time as the ledger recorded it once (finalizedAt), so every
 * worker that finalizes or re-finalizes the job derives the same cleanup job id, whatever the
 * FINALIZE message says. */
static jt_task_outcome_t start_cleanup(fin_run_t *run, const bson_t *entry, jt_error_t *err) {
        const jt_task_env_t *env = run->env;
        jt_emit_env_t emit_env = {.pool = env->pool,
                                  .db = env->db,
                                  .producer = env->producer,
                                  .reg = env->reg,
                                  .stats_topic = env->stats_topic,
                                  .cleanup_topic = env->cleanup_topic,
                                  .status_topic = env->status_topic,
                                  .timeout_ms = env->kafka_timeout_ms};
        jt_cleanup_job_params_t params = jt_cleanup_job_params_from_config(env->cfg);
        jt_cleanup_job_result_t result;
        bson_iter_t it;
        int64_t fire_s;
        char owner[300];
        bool ok;

        if (!bson_iter_init_find(&it, entry, "finalizedAt") || !BSON_ITER_HOLDS_DATE_TIME(&it)) {
                jt_error_set(err, JT_ERR_MONGO, 0, "job %s: the ledger entry has no finalizedAt",
                             run->task->job_id);
                return JT_TASK_RETRY;
        }
        fire_s = bson_iter_date_time(&it) / 1000;
        /* The send is claimed as this job's finalizer, not as this process: a finalizer that
         * died mid-send is resumed by the next holder of the finalize claim at once, instead of
         * after the send claim's 5-minute lease. */
        snprintf(owner, sizeof(owner), "finalize:%s", run->task->job_id);
        params.fire_s = fire_s - fire_s % 60;
        params.triggered_by = JT_TRIGGERED_BY_STATS;
        params.test_mode = run->task->test_mode;
        params.owner = owner;
        ok = jt_cleanup_job_emit(&emit_env, &params, false, &result, err);
        jt_cleanup_job_result_clear(&result); /* a dry run's lines only: the outcome stays */
        if (ok && result.emit.outcome != JT_EMIT_BUSY)
                return JT_TASK_DONE;
        if (!ok && err->domain == JT_ERR_CONFIG && cleanup_job_exists(run, params.fire_s)) {
                /* Made by an earlier finalizer of this job (the id derives from finalizedAt)
                 * whose worker ran other cleanup options: it stands as it was made. */
                jt_log_warn("job=%s: its cleanup job exists with other parameters than this "
                            "worker's (an earlier finalizer's): kept as it is",
                            run->task->job_id);
                jt_error_clear(err);
                return JT_TASK_DONE;
        }
        if (ok) {
                /* Another sender's claim (a worker killed while it sent the tasks) lapses with
                 * its lease: wait for it without spending attempts, or the job fails on a kill
                 * (seen in worker_faults_it: three quick retries, then the DLQ). */
                jt_error_set_transient(err, JT_ERR_MONGO, 0,
                                       "starting the cleanup job %s waits for another sender (%s)",
                                       result.emit.job_id, result.emit.info);
                return JT_TASK_WAIT;
        }
        jt_error_prefix(err, "starting the cleanup job");
        err->transient = true;
        return JT_TASK_RETRY;
}

/* The original's socket push of the new notification to its users (app_push.c). */
static jt_task_outcome_t push_to_app(fin_run_t *run, const bson_t *entry, jt_error_t *err) {
        /* No notification, nothing to push. The Lambda's notification of the month (reused
         * when a fleet takes over mid-month) was pushed by the Lambda to its users: pushing it
         * again by notifications.id would notify them twice. */
        if (!run->have_notification || run->notification_reused) {
                if (run->notification_reused)
                        jt_log_info("job=%s app push: skipped, the month's notification is the "
                                    "Lambda's, which pushed it",
                                    run->task->job_id);
                return JT_TASK_DONE;
        }
        jt_app_push_job_t job = {.job_id = run->task->job_id,
                                 .month = run->task->month,
                                 .test_mode = run->task->test_mode,
                                 .notification_id = &run->nid,
                                 .lease_ms = FINALIZE_LEASE_MS};
        return jt_app_push_run(run->env, run->client, &job, entry, &run->push, err);
}

jt_task_outcome_t jt_stats_finalize_run(const jt_task_env_t *env, const jt_stats_task_t *task,
                                        jt_error_t *err) {
        fin_run_t run = {.env = env, .task = task};
        bson_t entry = BSON_INITIALIZER;
        int year = 0, month = 0;
        jt_job_view_t view;
        bool claimed = false, proceed = false;
        jt_task_outcome_t outcome;

        if (sscanf(task->month, "%4d-%2d", &year, &month) != 2 ||
            !jt_stats_month_range(year, month, &run.start_ms, &run.end_ms, err))
                return JT_TASK_PERMANENT;
        run.client = mongoc_client_pool_pop(env->pool);
        outcome = jt_task_admit(env, run.client, task->job_id, task->run_nonce, task->task_id, NULL,
                                NULL, &view, &proceed, err);
        if (outcome == JT_TASK_DONE && proceed)
                outcome =
                    jt_task_agrees(&view, task->task_id, task->test_mode, task->month, 0, err);
        if (outcome != JT_TASK_DONE || !proceed) {
                /* refused, a late duplicate, or a read error */
        } else if (!view.complete) {
                /* Only the worker that records a job's last result sends its FINALIZE: one that
                 * finds the job incomplete is stale (an earlier run's) or forged. */
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "FINALIZE of job %s, which has %" PRId64 " of its %" PRId64
                             " tasks done: refused, nothing finalized",
                             task->job_id, view.tasks_done, view.tasks_total);
                outcome = JT_TASK_REJECTED;
        } else if (!jt_jobs_claim_finalize(run.client, env->db, task->job_id, task->run_nonce,
                                           view.tasks_total, env->worker_id, jt_time_wall_ms(),
                                           FINALIZE_LEASE_MS, &claimed, &entry, err)) {
                outcome = JT_TASK_RETRY;
        } else if (!claimed) {
                outcome = jt_task_claim_lost(run.client, env->db, task->job_id, err);
        } else if ((outcome = job_outcome(&run, &entry, err)) == JT_TASK_DONE &&
                   (outcome = start_cleanup(&run, &entry, err)) == JT_TASK_DONE &&
                   (outcome = push_to_app(&run, &entry, err)) == JT_TASK_DONE) {
                outcome = finish(&run, &entry, err);
        }
        bson_destroy(&entry);
        mongoc_client_pool_push(env->pool, run.client);
        return outcome;
}
