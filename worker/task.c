/* What every task handler shares: the gate a task passes before it acts (its job's ledger
 * entry), a stop-aware sleep, database failures as outcomes, what a finalize step does when
 * another worker holds the claim, and how it announces the job once. */
#include "task.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jt_jobs.h"
#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_mongo.h"
#include "jt_time.h"

bool jt_task_sleep(const jt_task_env_t *env, int ms) {
        while (ms > 0 && !*env->stop) {
                int slice = ms < 100 ? ms : 100;
                struct timespec ts = {0, (long)slice * 1000000L};
                nanosleep(&ts, NULL);
                ms -= slice;
        }
        return !*env->stop;
}

jt_task_outcome_t jt_task_mongo_failed(const bson_error_t *error, jt_error_t *err,
                                       const char *what) {
        if (jt_mongo_error_is_transient(error))
                jt_error_set_transient(err, JT_ERR_MONGO, (int)error->code, "%s: %s", what,
                                       error->message);
        else
                jt_error_set(err, JT_ERR_MONGO, (int)error->code, "%s: %s", what, error->message);
        return JT_TASK_RETRY;
}

jt_task_outcome_t jt_task_record_result(const jt_task_env_t *env, mongoc_client_t *client,
                                        const char *job_id, const char *run_nonce,
                                        const char *task_id, const char *key, bson_t *result,
                                        bool *recorded_now, bool *complete, jt_error_t *err) {
        bool ok = jt_jobs_record_result(client, env->db, job_id, run_nonce, task_id, key, result,
                                        jt_time_wall_ms(), recorded_now, complete, err);

        bson_destroy(result);
        if (ok)
                return JT_TASK_DONE;
        return err->domain == JT_ERR_INPUT ? JT_TASK_REJECTED : JT_TASK_RETRY;
}

jt_task_outcome_t jt_task_claim_lost(mongoc_client_t *client, const char *db, const char *job_id,
                                     jt_error_t *err) {
        jt_job_state_t state;
        bool found;

        if (!jt_jobs_state(client, db, job_id, &found, &state, err))
                return JT_TASK_RETRY;
        if (state == JT_JOB_FINISHED || state == JT_JOB_FAILED)
                return JT_TASK_DONE;
        if (!found) {
                jt_error_set(err, JT_ERR_INPUT, 0, "job %s has no ledger entry", job_id);
                return JT_TASK_PERMANENT;
        }
        if (state != JT_JOB_FINALIZING) {
                /* Not claimable although it looked complete: the entry changed meanwhile. An
                 * attempt, not a wait, so that it cannot loop for ever. */
                jt_error_set(err, JT_ERR_MONGO, 0,
                             "job %s (state %s) could not be claimed for its finalization", job_id,
                             jt_job_state_name(state));
                return JT_TASK_RETRY;
        }
        jt_error_set(err, JT_ERR_MONGO, 0,
                     "job %s is being finalized by another worker (state %s): waiting for it to "
                     "finish or for its claim to lapse",
                     job_id, jt_job_state_name(state));
        return JT_TASK_WAIT;
}

void jt_task_announced_init(jt_task_announced_t *a) {
        memset(a, 0, sizeof(*a));
        pthread_mutex_init(&a->lock, NULL);
}

void jt_task_announced_clear(jt_task_announced_t *a) {
        pthread_mutex_destroy(&a->lock);
}

static bool announced(const jt_task_announced_t *a, const char *job_id) {
        for (unsigned i = 0; i < JT_TASK_ANNOUNCED_MAX; i++)
                if (strcmp(a->job_ids[i], job_id) == 0)
                        return true;
        return false;
}

jt_task_outcome_t jt_task_finish_job(const jt_task_env_t *env, mongoc_client_t *client,
                                     const jt_status_event_t *ev, jt_error_t *err) {
        jt_task_announced_t *a = env->announced;
        bool sent = true;

        /* The lock is held across the send: a job's finalize claim is per worker process
         * (finalizeBy "host/pid"), so two task threads of this process can both hold it (the
         * last task's result and a redelivered task of the same cleanup job, on two
         * partitions); the job must still be announced once. */
        pthread_mutex_lock(&a->lock);
        if (!announced(a, ev->job_id)) {
                sent = jt_status_send(env->producer, env->reg, env->status_topic, ev, err) &&
                       jt_kafka_flush(env->producer, env->kafka_timeout_ms, err);
                if (sent) {
                        snprintf(a->job_ids[a->next], sizeof(a->job_ids[0]), "%s", ev->job_id);
                        a->next = (a->next + 1) % JT_TASK_ANNOUNCED_MAX;
                }
        }
        pthread_mutex_unlock(&a->lock);
        if (!sent)
                return JT_TASK_RETRY;
        if (!jt_jobs_set_state(client, env->db, ev->job_id, JT_JOB_FINISHED, jt_time_wall_ms(),
                               err))
                return JT_TASK_RETRY;
        return JT_TASK_DONE;
}

jt_task_outcome_t jt_task_admit(const jt_task_env_t *env, mongoc_client_t *client,
                                const char *job_id, const char *run_nonce, const char *task_id,
                                const char *listed_id, const char *key, jt_job_view_t *view,
                                bool *proceed, jt_error_t *err) {
        bool reopened = false;

        *proceed = false;
        if (!jt_jobs_view(client, env->db, job_id, run_nonce, listed_id, key, view, err))
                return JT_TASK_RETRY;
        if (!view->exists) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "job %s has no ledger entry (a dropped ledger, a forged or misrouted "
                             "task): %s refused, nothing done",
                             job_id, task_id);
                return JT_TASK_REJECTED;
        }
        if (!view->same_run) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "%s belongs to another run of job %s (run %s; the ledger entry was "
                             "made anew since): refused, nothing done",
                             task_id, job_id, run_nonce ? run_nonce : "of a v1 task");
                return JT_TASK_REJECTED;
        }
        if (listed_id && !view->listed) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "task %s is not one of the %" PRId64
                             " tasks of job %s: refused, nothing done",
                             task_id, view->tasks_total, job_id);
                return JT_TASK_REJECTED;
        }
        if (view->state == JT_JOB_FINISHED) {
                jt_log_info("job=%s %s: the job is finished, nothing to do (a late duplicate)",
                            job_id, task_id);
                return JT_TASK_DONE;
        }
        if (view->state == JT_JOB_FAILED && strcmp(view->failed_task, task_id) == 0) {
                if (!jt_jobs_reopen(client, env->db, job_id, run_nonce, jt_time_wall_ms(),
                                    &reopened, err))
                        return JT_TASK_RETRY;
                if (reopened) {
                        jt_log_info("job=%s re-opened: %s, whose failure failed it, is back",
                                    job_id, task_id);
                        view->state = JT_JOB_RUNNING;
                }
        }
        *proceed = true;
        return JT_TASK_DONE;
}

jt_task_outcome_t jt_task_agrees(const jt_job_view_t *view, const char *task_id, bool test_mode,
                                 const char *month, int64_t cutoff_ms, jt_error_t *err) {
        if (test_mode != view->test_mode) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "task %s says test mode %s, its job was made with %s: refused, "
                             "nothing done",
                             task_id, test_mode ? "on" : "off", view->test_mode ? "on" : "off");
                return JT_TASK_REJECTED;
        }
        if (month && view->month[0] && strcmp(month, view->month) != 0) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "task %s is for month %s, its job for %s: refused, nothing done",
                             task_id, month, view->month);
                return JT_TASK_REJECTED;
        }
        if (cutoff_ms && view->cutoff_ms && cutoff_ms != view->cutoff_ms) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "task %s has cutoff %" PRId64 " ms, its job %" PRId64
                             " ms: refused, nothing done",
                             task_id, cutoff_ms, view->cutoff_ms);
                return JT_TASK_REJECTED;
        }
        return JT_TASK_DONE;
}
