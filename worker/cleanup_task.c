/* Cleanup of one range. The figures survive crashes and redeliveries because they are derived,
 * not accumulated: the range's first count is kept in the ledger (found.<key>), and what was
 * deleted is that count minus what is left, counted once when the range is done. Old ranges
 * receive no new playbacks, so a repeated batch deletes nothing twice and counts nothing twice.
 * A continuation, or a task redelivered after a stop, starts where the range was left (its
 * resume_from, or the ledger's checkpoint progress.<key> when further) and counts nothing at
 * its start: two counts per range, however many tasks it takes. */
#include "cleanup_task.h"

#include "cleanup_slice.h"
#include "clock_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jt_cleanup_result.h"
#include "jt_time.h"
#include "jt_jobs.h"
#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_mongo.h"
#include "jt_status.h"

#define DAY_MS            (24 * 3600 * 1000LL)
#define PROGRESS_EVERY_MS 1000
#define FINALIZE_LEASE_MS 60000

typedef struct {
        const jt_task_env_t *env;
        const jt_cleanup_task_t *task;
        mongoc_client_t *client;
        mongoc_collection_t *playbacks;
        bson_t *filter; /* the range, below the cutoff */
        int64_t end_ms; /* the range's end, or the cutoff if earlier */
        char key[128];  /* ledger key of the root task */
        const char *root_id;
        int64_t found;
        int64_t start_ms;       /* where this task starts: range start, resume_from or checkpoint */
        int64_t deleted_before; /* what the range's batches deleted before start_ms */
} cleanup_run_t;

static jt_status_event_t base_event(const cleanup_run_t *run, jt_status_type_t type) {
        jt_status_event_t ev = {.job_id = run->task->job_id,
                                .task_id = run->task->task_id,
                                .type = type,
                                .job_kind = JT_JOB_KIND_CLEANUP,
                                .timestamp_ms = jt_time_wall_ms(),
                                .worker_id = (char *)run->env->worker_id,
                                .test_mode = run->task->test_mode,
                                .cutoff_date_ms = {true, run->task->cutoff_ms},
                                .triggered_by = run->task->triggered_by,
                                .batch_size = {true, run->task->batch_size}};
        return ev;
}

static bool send_event(const cleanup_run_t *run, const jt_status_event_t *ev, jt_error_t *err) {
        return jt_status_send(run->env->producer, run->env->reg, run->env->status_topic, ev, err);
}

static bool count_left(cleanup_run_t *run, int64_t *left, jt_error_t *err) {
        bson_error_t error;
        int64_t n = mongoc_collection_count_documents(run->playbacks, run->filter, NULL, NULL, NULL,
                                                      &error);
        if (n < 0) {
                jt_task_mongo_failed(&error, err, "counting the range");
                return false;
        }
        *left = n;
        return true;
}

/* createdAt in [from_ms, to_ms). From INT64_MIN, no lower bound: the same dates, and a server
 * may refuse a query naming a date it cannot represent (the local one takes years 1-9999). */
static bson_t *range_filter(int64_t from_ms, int64_t to_ms) {
        if (from_ms == INT64_MIN)
                return BCON_NEW("createdAt", "{", "$lt", BCON_DATE_TIME(to_ms), "}");
        return BCON_NEW("createdAt", "{", "$gte", BCON_DATE_TIME(from_ms), "$lt",
                        BCON_DATE_TIME(to_ms), "}");
}

/* Deletes the range's playbacks in slice s (cleanup_slice.h), one deleteMany through the
 * createdAt index; *deleted is what it removed. */
static jt_task_outcome_t delete_slice(cleanup_run_t *run, const jt_cleanup_slice_t *s,
                                      int64_t *deleted, jt_error_t *err) {
        bson_t *filter = range_filter(s->from_ms, jt_cleanup_slice_end(s, run->end_ms));
        bson_error_t error;
        bson_t reply;
        bson_iter_t it;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        *deleted = 0;
        if (!mongoc_collection_delete_many(run->playbacks, filter, NULL, &reply, &error))
                outcome = jt_task_mongo_failed(&error, err, "deleting a batch");
        else if (bson_iter_init_find(&it, &reply, "deletedCount"))
                *deleted = bson_iter_as_int64(&it);
        bson_destroy(&reply);
        bson_destroy(filter);
        return outcome;
}

/* Records in the ledger that every playback before resume_ms is deleted, `deleted` of them by
 * the range's batches: a redelivered task (after a stop) or a continuation starts there. */
static bool checkpoint(cleanup_run_t *run, int64_t resume_ms, int64_t deleted, jt_error_t *err) {
        if (resume_ms <= run->start_ms)
                return true; /* nothing done since the start: the start is known already */
        return jt_jobs_checkpoint(run->client, run->env->db, run->task->job_id,
                                  run->task->run_nonce, run->key, resume_ms, deleted, err);
}

/* Sends the rest of the range, from resume_ms on, as a new task and makes it durable; the
 * checkpoint first, so that whichever of the two a later task sees, it starts there. */
static bool send_continuation(cleanup_run_t *run, int64_t resume_ms, int64_t deleted_so_far,
                              jt_error_t *err) {
        jt_cleanup_task_t next = *run->task;
        char task_id[256];
        void *buf = NULL;
        size_t len = 0;
        bool ok;

        if (!checkpoint(run, resume_ms, deleted_so_far, err))
                return false;
        next.continuation_seq = run->task->continuation_seq + 1;
        snprintf(task_id, sizeof(task_id), "%s+c%d", run->root_id, next.continuation_seq);
        next.task_id = task_id;
        next.parent_task_id = (char *)run->root_id;
        next.deleted_so_far = deleted_so_far;
        next.resume_after_id = NULL;
        next.resume_from_ms = (jt_opt_long_t){true, resume_ms};
        next.found = run->found;
        next.created_at_ms = jt_time_wall_ms();
        ok = jt_cleanup_task_encode(run->env->reg, &next, &buf, &len, err) &&
             jt_kafka_send(run->env->producer, run->env->cleanup_topic, task_id, strlen(task_id),
                           buf, len, NULL, err) &&
             jt_kafka_flush(run->env->producer, run->env->kafka_timeout_ms, err);
        free(buf);
        if (ok)
                jt_log_info("job=%s task=%s time budget spent: continuation %s sent, resuming at "
                            "%" PRId64,
                            run->task->job_id, run->task->task_id, task_id, resume_ms);
        return ok;
}

/* Sums the job's range results and sends JOB_FINISHED, once per job (finalize claim). */
static jt_task_outcome_t finish_job(cleanup_run_t *run, int64_t tasks_total, jt_error_t *err) {
        const jt_task_env_t *env = run->env;
        bson_t entry = BSON_INITIALIZER;
        bson_iter_t it, results, one, field;
        int64_t found = 0, deleted = 0, left = 0, created_ms = 0;
        bool claimed = false;
        jt_status_event_t ev;

        if (!jt_jobs_claim_finalize(run->client, env->db, run->task->job_id, run->task->run_nonce,
                                    tasks_total, env->worker_id, jt_time_wall_ms(),
                                    FINALIZE_LEASE_MS, &claimed, &entry, err)) {
                bson_destroy(&entry);
                return JT_TASK_RETRY;
        }
        if (!claimed) {
                bson_destroy(&entry);
                return jt_task_claim_lost(run->client, env->db, run->task->job_id, err);
        }
        if (bson_iter_init_find(&it, &entry, "results") && bson_iter_recurse(&it, &results)) {
                while (bson_iter_next(&results)) {
                        if (!BSON_ITER_HOLDS_DOCUMENT(&results) ||
                            !bson_iter_recurse(&results, &one))
                                continue;
                        while (bson_iter_next(&one)) {
                                const char *k = bson_iter_key(&one);
                                if (!BSON_ITER_HOLDS_NUMBER(&one))
                                        continue;
                                if (strcmp(k, "found") == 0)
                                        found += bson_iter_as_int64(&one);
                                else if (strcmp(k, "deleted") == 0)
                                        deleted += bson_iter_as_int64(&one);
                                else if (strcmp(k, "remaining") == 0)
                                        left += bson_iter_as_int64(&one);
                        }
                }
        }
        if (bson_iter_init_find(&field, &entry, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&field))
                created_ms = bson_iter_date_time(&field);
        bson_destroy(&entry);

        ev = base_event(run, JT_STATUS_JOB_FINISHED);
        ev.task_id = NULL;
        jt_cleanup_result_fill(&ev, found, deleted, left, run->task->batch_size);
        ev.execution_ms = (jt_opt_long_t){true, created_ms ? jt_time_wall_ms() - created_ms : 0};
        if (jt_task_finish_job(env, run->client, &ev, err) != JT_TASK_DONE)
                return JT_TASK_RETRY;
        jt_log_info("job=%s finished: %" PRId64 " of %" PRId64 " playbacks deleted",
                    run->task->job_id, deleted, found);
        return JT_TASK_DONE;
}

/* The stop asked for (SIGTERM) at a slice boundary: the point reached goes to the ledger so
 * that the task, redelivered to whichever worker, resumes there. */
static jt_task_outcome_t stop_at(cleanup_run_t *run, int64_t resume_ms, int64_t deleted,
                                 jt_error_t *err) {
        if (!checkpoint(run, resume_ms, deleted, err))
                return JT_TASK_RETRY;
        jt_log_info("job=%s task=%s stopped at %" PRId64 " (%" PRId64 " deleted): checkpoint kept",
                    run->task->job_id, run->task->task_id, resume_ms, deleted);
        return JT_TASK_STOPPED;
}

/* The range's count: the ledger's when a task of the range made it (a continuation, a
 * redelivery), else counted now and kept there first-wins. */
static bool range_found(cleanup_run_t *run, const jt_job_view_t *view, jt_error_t *err) {
        int64_t left = 0;

        if (view->found >= 0) {
                run->found = view->found;
                return true;
        }
        jt_log_debug("job=%s task=%s counting the range", run->task->job_id, run->task->task_id);
        return count_left(run, &left, err) &&
               jt_jobs_set_found_once(run->client, run->env->db, run->task->job_id, run->key, left,
                                      &run->found, err);
}

/* Where this task starts: the furthest of the range's start, the task's resume_from and the
 * ledger's checkpoint (each means every playback before it is deleted), with what the range's
 * batches deleted before it. */
static void range_start(cleanup_run_t *run, const jt_job_view_t *view) {
        const jt_cleanup_task_t *task = run->task;

        run->start_ms = task->range_start_ms;
        run->deleted_before = 0;
        if (task->resume_from_ms.set && task->resume_from_ms.value > run->start_ms) {
                run->start_ms = task->resume_from_ms.value;
                run->deleted_before = task->deleted_so_far;
        }
        if (view->resume_from_ms > run->start_ms) {
                run->start_ms = view->resume_from_ms;
                run->deleted_before = view->resume_deleted;
        }
        if (run->start_ms > run->end_ms)
                run->start_ms = run->end_ms;
        if (run->start_ms > task->range_start_ms)
                jt_log_info("job=%s task=%s resumes at %" PRId64 " (found %" PRId64 ", %" PRId64
                            " deleted before)",
                            task->job_id, task->task_id, run->start_ms, run->found,
                            run->deleted_before);
}

/* The end of a range whose batches are all done: what is left counted, the result recorded,
 * TASK_FINISHED sent, and the job finished when this was its last task. */
static jt_task_outcome_t range_end(cleanup_run_t *run, const jt_job_view_t *view, jt_error_t *err) {
        const jt_task_env_t *env = run->env;
        const jt_cleanup_task_t *task = run->task;
        int64_t left = 0;
        jt_status_event_t ev;
        bool recorded = false, complete = false;
        jt_task_outcome_t outcome;
        bson_t *result;

        /* The range's second and last count. The slices tile the range and each deleteMany
         * removes all it matches, so after a pass this is 0 but for playbacks written into a
         * slice after it was deleted; "remaining = 0, deleted = found" would stay exact under
         * SIGKILL as well (nothing accumulated). It is kept because it measures rather than
         * assumes: a late write into an old range, or a delete lost to a failover rollback,
         * shows as remaining instead of being reported deleted. Once the range is empty it
         * reads nothing through the createdAt index, so it costs one request and no scan. */
        jt_log_debug("job=%s task=%s counting what is left", task->job_id, task->task_id);
        if (!count_left(run, &left, err))
                return JT_TASK_RETRY;
        result = BCON_NEW("found", BCON_INT64(run->found), "deleted", BCON_INT64(run->found - left),
                          "remaining", BCON_INT64(left), "finishedBy", BCON_UTF8(env->worker_id),
                          "continuations", BCON_INT32(task->continuation_seq));
        outcome = jt_task_record_result(env, run->client, task->job_id, task->run_nonce,
                                        run->root_id, run->key, result, &recorded, &complete, err);
        if (outcome != JT_TASK_DONE)
                return outcome;
        ev = base_event(run, JT_STATUS_TASK_FINISHED);
        ev.records_deleted = (jt_opt_long_t){true, run->found - left};
        ev.total_records_found = (jt_opt_long_t){true, run->found};
        ev.remaining_records = (jt_opt_long_t){true, left};
        ev.progress_total = (jt_opt_long_t){true, run->found};
        ev.progress_done = (jt_opt_long_t){true, run->found - left};
        if (!send_event(run, &ev, err) ||
            !jt_kafka_flush(env->producer, env->kafka_timeout_ms, err))
                return JT_TASK_RETRY;
        jt_log_info("job=%s task=%s done: %" PRId64 " of %" PRId64 " deleted%s", task->job_id,
                    task->task_id, run->found - left, run->found,
                    recorded ? "" : " (result recorded before: a redelivery)");
        return complete ? finish_job(run, view->tasks_total, err) : JT_TASK_DONE;
}

static jt_task_outcome_t run_range(cleanup_run_t *run, const jt_job_view_t *view, jt_error_t *err) {
        const jt_task_env_t *env = run->env;
        const jt_cleanup_task_t *task = run->task;
        int64_t started = jt_time_mono_ms(), last_progress = 0, left = 0, batch = 0, deleted = 0;
        int batches = 0;
        jt_cleanup_slice_t slice;
        jt_status_event_t ev;
        jt_task_outcome_t outcome;

        if (!range_found(run, view, err))
                return JT_TASK_RETRY;
        range_start(run, view);
        /* What is left, as the batches report it: for progress and slice widths only. */
        deleted = run->deleted_before;
        left = run->found > deleted ? run->found - deleted : 0;
        ev = base_event(run, JT_STATUS_TASK_STARTED);
        ev.progress_total = (jt_opt_long_t){true, run->found};
        ev.progress_done = (jt_opt_long_t){true, run->found - left};
        if (!send_event(run, &ev, err))
                return JT_TASK_RETRY;

        slice = jt_cleanup_slice_first(run->start_ms, run->end_ms, task->batch_size, left);
        while (slice.from_ms < run->end_ms) {
                if (*env->stop)
                        return stop_at(run, slice.from_ms, deleted, err);
                /* After one batch at least: a task that only handed its range on would never
                 * end it. No count here: the continuation carries the figures. */
                if (batches > 0 &&
                    jt_time_mono_ms() - started >= (int64_t)task->time_budget_s * 1000)
                        return send_continuation(run, slice.from_ms, deleted, err) ? JT_TASK_DONE
                                                                                   : JT_TASK_RETRY;
                int64_t batch_started = jt_time_mono_ms();
                jt_log_debug("job=%s task=%s deleting from %" PRId64, task->job_id, task->task_id,
                             slice.from_ms);
                outcome = delete_slice(run, &slice, &batch, err);
                if (outcome != JT_TASK_DONE)
                        return outcome;
                batches++;
                jt_metrics_batch(env->metrics, (double)(jt_time_mono_ms() - batch_started) / 1e3);
                jt_metrics_documents(env->metrics, "deleted", batch);
                /* Progress from what the batches report, not from a count of the range: the
                 * local server reads every matching document to count. The figures recorded at
                 * the end are counted. */
                deleted += batch;
                left = left > batch ? left - batch : 0;
                jt_cleanup_slice_next(&slice, batch, left, task->batch_size, run->end_ms);
                if (jt_time_mono_ms() - last_progress >= PROGRESS_EVERY_MS) {
                        ev = base_event(run, JT_STATUS_TASK_PROGRESS);
                        ev.progress_total = (jt_opt_long_t){true, run->found};
                        ev.progress_done = (jt_opt_long_t){true, run->found - left};
                        if (!send_event(run, &ev, err))
                                return JT_TASK_RETRY;
                        rd_kafka_poll(env->producer, 0);
                        last_progress = jt_time_mono_ms();
                }
                /* The pause spares the database after work; an empty slice was next to none. */
                if (task->batch_delay_ms > 0 && batch > 0 && slice.from_ms < run->end_ms &&
                    !jt_task_sleep(env, task->batch_delay_ms))
                        return stop_at(run, slice.from_ms, deleted, err);
        }
        return range_end(run, view, err);
}

/* The worker's own safety check: the producer computed the cutoff, but a task replayed late,
 * forged, or produced with a wrong clock must not delete playbacks still inside retention. The
 * retention that counts is the longer of the task's and this worker's own --retention-days: a
 * task cannot ask a worker to keep less than it is configured to keep. */
static bool inside_retention(const jt_task_env_t *env, const jt_cleanup_task_t *task,
                             jt_error_t *err) {
        int worker_days = (int)jt_config_int(env->cfg, "retention-days");
        int days = task->retention_days > worker_days ? task->retention_days : worker_days;
        int64_t keep_from = jt_time_wall_ms() - days * DAY_MS;
        char a[JT_TIME_ISO_BUF], b[JT_TIME_ISO_BUF];

        if (task->retention_days >= worker_days && task->range_end_ms <= keep_from &&
            task->cutoff_ms <= keep_from && task->range_start_ms < task->range_end_ms)
                return false;
        jt_time_format_iso(
            (task->range_end_ms > task->cutoff_ms ? task->range_end_ms : task->cutoff_ms) / 1000, a,
            sizeof(a));
        jt_time_format_iso(keep_from / 1000, b, sizeof(b));
        if (task->range_start_ms >= task->range_end_ms)
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "refused: the range of task %s is empty or "
                             "inverted; nothing deleted",
                             task->task_id);
        else if (task->retention_days < worker_days)
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "refused: task %s asks for a %d-day retention but this worker keeps "
                             "%d days (--retention-days; everything from %s); nothing deleted",
                             task->task_id, task->retention_days, worker_days, b);
        else
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "refused: task %s reaches %s, inside the %d-day retention window "
                             "(this worker keeps everything from %s: task %d days, worker %d "
                             "days); nothing deleted",
                             task->task_id, a, days, b, task->retention_days, worker_days);
        return true;
}

jt_task_outcome_t jt_cleanup_task_run(const jt_task_env_t *env, const jt_cleanup_task_t *task,
                                      jt_error_t *err) {
        cleanup_run_t run = {.env = env, .task = task};
        int64_t end_ms =
            task->range_end_ms < task->cutoff_ms ? task->range_end_ms : task->cutoff_ms;
        jt_job_view_t view;
        bool proceed = false;
        jt_task_outcome_t outcome;

        /* Refused before anything else: no database answer can make such a range deletable.
         * (The failure it causes is the job's only if the task is of the job's live run.) */
        if (inside_retention(env, task, err))
                return JT_TASK_PERMANENT;
        if ((outcome = jt_clock_check_before_delete(env, err)) != JT_TASK_DONE)
                return outcome;
        run.root_id = task->parent_task_id ? task->parent_task_id : task->task_id;
        if (!jt_jobs_task_key(task->job_id, run.root_id, run.key, sizeof(run.key), err))
                return JT_TASK_PERMANENT;
        run.client = mongoc_client_pool_pop(env->pool);
        /* Then the ledger: a task of no live run of its job deletes nothing. */
        outcome = jt_task_admit(env, run.client, task->job_id, task->run_nonce, task->task_id,
                                run.root_id, run.key, &view, &proceed, err);
        if (outcome == JT_TASK_DONE && proceed)
                outcome = jt_task_agrees(&view, task->task_id, task->test_mode, NULL,
                                         task->cutoff_ms, err);
        if (outcome != JT_TASK_DONE || !proceed) {
                mongoc_client_pool_push(env->pool, run.client);
                return outcome;
        }
        if (view.recorded) {
                /* Done before (a redelivery): nothing to delete; finish the job if that was
                 * left undone (a crash, or a re-opened job). */
                outcome = view.complete ? finish_job(&run, view.tasks_total, err) : JT_TASK_DONE;
                mongoc_client_pool_push(env->pool, run.client);
                return outcome;
        }
        run.playbacks = mongoc_client_get_collection(
            run.client, env->db, task->test_mode ? "test-playbacks" : "playbacks");
        run.end_ms = end_ms;
        run.filter = range_filter(task->range_start_ms, end_ms);
        outcome = run_range(&run, &view, err);
        bson_destroy(run.filter);
        mongoc_collection_destroy(run.playbacks);
        mongoc_client_pool_push(env->pool, run.client);
        return outcome;
}
