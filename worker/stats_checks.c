/* Whether a statistics range may start, and where: a range its job planned, a month whose
 * playbacks are all still there, a result not recorded before, the ledger's checkpoint and the
 * lease of another run of the same range. */
#include <inttypes.h>
#include <strings.h>

#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_retention.h"
#include "jt_time.h"
#include "stats_finalize.h"
#include "stats_range.h"

/* A range whose result is recorded already (a redelivery, or a replay of a failed job's range
 * that had finished): no work again; the FINALIZE goes out if the job is complete, so that a
 * re-opened job finishes. */
jt_task_outcome_t jt_stats_checks_done_before(const jt_task_env_t *env, const jt_stats_task_t *task,
                                              const jt_job_view_t *view, jt_error_t *err) {
        jt_log_info("job=%s task=%s: result recorded before, nothing to compute%s", task->job_id,
                    task->task_id, view->complete ? "; the job is complete: FINALIZE sent" : "");
        if (!view->complete)
                return JT_TASK_DONE;
        if (!jt_stats_finalize_send(env, task, err) ||
            !jt_kafka_flush(env->producer, env->kafka_timeout_ms, err))
                return JT_TASK_RETRY;
        return JT_TASK_DONE;
}

/* The worker's own check that no playback of the month can have been deleted (the producer
 * checked when it sent the job, but a replayed topic or an old run reaches the worker later):
 * the month must start after now - this worker's --retention-days and after every cleanup
 * cutoff in the ledger. JT_TASK_PERMANENT otherwise: the job fails, nothing is written. */
jt_task_outcome_t jt_stats_checks_month_whole(const jt_task_env_t *env, mongoc_client_t *client,
                                              const jt_stats_task_t *task, int64_t start_ms,
                                              jt_error_t *err) {
        char reason[JT_ERROR_MSG_MAX - 64];
        bool safe = false;

        if (!jt_retention_month_safe(client, env->db, task->test_mode, start_ms,
                                     (int)jt_config_int(env->cfg, "retention-days"),
                                     jt_time_wall_ms(), &safe, reason, sizeof(reason), err))
                return JT_TASK_RETRY;
        if (safe)
                return JT_TASK_DONE;
        jt_error_set(err, JT_ERR_INPUT, 0, "refused, no entry written: %s", reason);
        return JT_TASK_PERMANENT;
}

static bool same_bound(const char *task_bound, const char *plan_bound) {
        return task_bound ? strcasecmp(task_bound, plan_bound) == 0 : plan_bound[0] == '\0';
}

/* Whether the task is a range its job planned (params.bounds), and a continuation's resume point
 * lies inside that range. Checked before anything else about the range (its recorded result, a
 * finished job), so that a forged or corrupt task is refused whenever it arrives. */
jt_task_outcome_t jt_stats_checks_planned(const jt_stats_task_t *task, const jt_job_view_t *view,
                                          jt_error_t *err) {
        const char *r = task->resume_after_user;

        if (view->have_plan && (task->shard_count != view->plan_ranges ||
                                !same_bound(task->user_from, view->plan_from) ||
                                !same_bound(task->user_to, view->plan_to))) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "task %s covers [%s, %s) of %d ranges, but its job planned [%s, %s) "
                             "of %" PRId64 ": refused, nothing done",
                             task->task_id, task->user_from ? task->user_from : "-",
                             task->user_to ? task->user_to : "-", task->shard_count,
                             view->plan_from[0] ? view->plan_from : "-",
                             view->plan_to[0] ? view->plan_to : "-", view->plan_ranges);
                return JT_TASK_REJECTED;
        }
        if (r && ((task->user_from && strcasecmp(r, task->user_from) < 0) ||
                  (task->user_to && strcasecmp(r, task->user_to) >= 0))) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "continuation %s resumes after user %s, outside its range [%s, %s): "
                             "refused, nothing done",
                             task->task_id, r, task->user_from ? task->user_from : "-",
                             task->user_to ? task->user_to : "-");
                return JT_TASK_REJECTED;
        }
        return JT_TASK_DONE;
}

/* Where the range starts, or why it does not. It starts after the ledger's checkpoint, with its
 * figures: a continuation's own resume point is only checked, since the worker that sends one
 * records the checkpoint first (one ahead of the ledger was not sent by a worker: refused).
 * While another run holds the range (its lease), this one waits. */
jt_task_outcome_t jt_stats_checks_resume_point(range_run_t *run, const jt_job_view_t *view,
                                               jt_error_t *err) {
        const jt_stats_task_t *task = run->task;
        const char *r = task->resume_after_user;

        if (r && (!view->after_user[0] || strcasecmp(r, view->after_user) > 0)) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "continuation %s resumes after user %s, ahead of the range's "
                             "checkpoint (%s): refused, nothing done",
                             task->task_id, r, view->after_user[0] ? view->after_user : "none");
                return JT_TASK_REJECTED;
        }
        if (view->after_user[0] && view->held_until_ms > jt_time_wall_ms() &&
            strcmp(view->holder, run->holder) != 0) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "range %s is held by another run (%s, at user %s) for %" PRId64
                             " s more: waiting",
                             run->root_id, view->holder, view->after_user,
                             (view->held_until_ms - jt_time_wall_ms()) / 1000 + 1);
                return JT_TASK_WAIT;
        }
        if (view->after_user[0]) {
                bson_oid_init_from_string(&run->after, view->after_user);
                run->have_after = true;
                run->fig = view->after_figures;
                jt_log_info("job=%s task=%s resumes after user %s (%" PRId64 " users done)",
                            task->job_id, task->task_id, view->after_user, run->fig.users);
        }
        return JT_TASK_DONE;
}
