/* A statistics range: the month's entry of every user of [user_from, user_to), computed from
 * the playbacks and written into the user's stats document in place of any entry for that
 * month, then the month's notification added to those users who want it. The range is read
 * in chunks of users: the users' ids by one cursor sorted by _id, each chunk's stats documents
 * by one `user $in` query, and the chunk's playbacks of the month by one cursor sorted by user
 * (or a query per user); after each chunk the ledger holds a checkpoint
 * (the last user done and the figures so far), so a task stopped by SIGTERM, killed, or out of
 * its time budget is resumed after that user, by its redelivery or by the continuation task it
 * sends, and no user is counted twice. Memory holds one chunk, never the range. */
#include "stats_task.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_jobs.h"
#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_status.h"
#include "jt_time.h"
#include "stats_finalize.h"
#include "stats_range.h"

static const char *coll_name(bool test_mode, const char *base, char *buf, size_t size) {
        snprintf(buf, size, "%s%s", test_mode ? "test-" : "", base);
        return buf;
}

static bool send_event(range_run_t *run, jt_status_type_t type, jt_error_t *err) {
        jt_status_event_t ev = {.job_id = run->task->job_id,
                                .task_id = run->task->task_id,
                                .type = type,
                                .job_kind = JT_JOB_KIND_STATS,
                                .timestamp_ms = jt_time_wall_ms(),
                                .worker_id = (char *)run->env->worker_id,
                                .test_mode = run->task->test_mode,
                                .month = run->task->month,
                                .progress_done = {true, run->fig.users}};
        if (type == JT_STATUS_TASK_FINISHED) {
                ev.users_processed = (jt_opt_long_t){true, run->fig.with_entry};
                ev.tasks_done = (jt_opt_long_t){true, 1};
        }
        return jt_status_send(run->env->producer, run->env->reg, run->env->status_topic, &ev, err);
}

/* Another run of this range wrote first (a guard missed, an upsert was refused, or the
 * checkpoint did not move). When the ledger shows another holder ahead, this run yields:
 * JT_TASK_WAIT, no attempt spent; its message comes back later and then finds the range done,
 * or takes it over from the checkpoint once the other run's lease has lapsed. Otherwise the
 * change was someone else's (the app's) and `otherwise` stands (a retry re-reads the chunk). */
static jt_task_outcome_t overtaken(range_run_t *run, jt_task_outcome_t otherwise, jt_error_t *err) {
        jt_job_view_t view;
        jt_error_t read_err;
        char after[25] = "";

        jt_error_clear(&read_err);
        if (!jt_jobs_view(run->client, run->env->db, run->task->job_id, run->task->run_nonce,
                          run->root_id, run->key, &view, &read_err)) {
                *err = read_err;
                return JT_TASK_RETRY;
        }
        if (run->have_after)
                bson_oid_to_string(&run->after, after);
        if (view.recorded || (view.after_user[0] && strcmp(view.holder, run->holder) != 0 &&
                              strcmp(view.after_user, after) >= 0)) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "another run of range %s is further on (%s, user %s): this one "
                             "yields",
                             run->root_id, view.recorded ? "done" : view.holder, view.after_user);
                return JT_TASK_WAIT;
        }
        if (otherwise == JT_TASK_WAIT)
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "the checkpoint of range %s did not move and no other run is ahead: "
                             "the run is gone",
                             run->root_id);
        return otherwise == JT_TASK_WAIT ? JT_TASK_RETRY : otherwise;
}

/* One chunk: its users, their stats documents and playbacks, their entries written (a user
 * without playback this month loses a month entry it still has: drift of the app's incremental
 * updates), the notification, then the checkpoint. A failure leaves the chunk for the retry,
 * which starts after the checkpoint. */
static jt_task_outcome_t process_chunk(range_run_t *run, jt_error_t *err) {
        long current = -1;
        char after[25];
        jt_task_outcome_t outcome;

        if ((outcome = jt_stats_chunk_read_users(run, err)) != JT_TASK_DONE || run->n == 0)
                return outcome;
        outcome = jt_stats_chunk_read_docs(run, err);
        if (outcome == JT_TASK_DONE)
                outcome = jt_stats_chunk_read_playbacks(run, &current, err);
        if (outcome == JT_TASK_DONE && current >= 0)
                outcome = jt_stats_chunk_finish_user(run, (size_t)current, err);
        jt_stats_acc_reset(run->acc);
        for (size_t i = 0; outcome == JT_TASK_DONE && i < run->n; i++) {
                bson_iter_t st;
                if (!run->seen[i] && run->stored[i] &&
                    bson_iter_init_find(&st, run->stored[i], "stats") && BSON_ITER_HOLDS_ARRAY(&st))
                        outcome = jt_stats_writes_queue(&run->writes, &run->ids[i], run->stored[i],
                                                        NULL, err);
        }
        if (outcome == JT_TASK_DONE) {
                bool changed = false;
                outcome = jt_stats_writes_flush(&run->writes, &changed, err);
                if (outcome != JT_TASK_DONE && changed)
                        outcome = overtaken(run, outcome, err);
        } else {
                jt_stats_writes_discard(&run->writes);
        }
        if (outcome == JT_TASK_DONE)
                outcome = jt_stats_chunk_notify(run, err);
        if (outcome == JT_TASK_DONE && run->n > 0) {
                bool moved = false;
                for (size_t i = 0; i < run->n; i++)
                        run->fig.with_entry += run->has_entry[i];
                run->fig.users += (int64_t)run->n;
                bson_oid_copy(&run->ids[run->n - 1], &run->after);
                run->have_after = true;
                bson_oid_to_string(&run->after, after);
                if (!jt_jobs_checkpoint_users(run->client, run->env->db, run->task->job_id,
                                              run->task->run_nonce, run->key, after, &run->fig,
                                              run->holder, jt_time_wall_ms() + run->lease_ms,
                                              &moved, err))
                        outcome = JT_TASK_RETRY;
                else if (!moved)
                        outcome = overtaken(run, JT_TASK_WAIT, err);
        }
        jt_stats_chunk_clear(run);
        return outcome;
}

/* Sends the rest of the range as a new task (after the checkpoint the last chunk wrote). */
static jt_task_outcome_t send_continuation(range_run_t *run, jt_error_t *err) {
        jt_stats_task_t next = *run->task;
        char task_id[256], after[25];
        void *buf = NULL;
        size_t len = 0;
        bool ok;

        bson_oid_to_string(&run->after, after);
        next.continuation_seq = run->task->continuation_seq + 1;
        snprintf(task_id, sizeof(task_id), "%s+c%d", run->root_id, next.continuation_seq);
        next.task_id = task_id;
        next.parent_task_id = (char *)run->root_id;
        next.resume_after_user = after;
        next.users_so_far = run->fig.users;
        next.with_entry_so_far = run->fig.with_entry;
        next.bad_rows_so_far = run->fig.bad_rows;
        next.notified_so_far = run->fig.notified;
        next.created_at_ms = run->task->created_at_ms; /* updatedAt of what the range writes */
        ok = jt_stats_task_encode(run->env->reg, &next, &buf, &len, err) &&
             jt_kafka_send(run->env->producer, run->env->stats_topic, task_id, strlen(task_id), buf,
                           len, NULL, err) &&
             jt_kafka_flush(run->env->producer, run->env->kafka_timeout_ms, err);
        free(buf);
        if (!ok)
                return JT_TASK_RETRY;
        jt_log_info("job=%s task=%s time budget spent after %" PRId64
                    " users: continuation %s resumes after user %s",
                    run->task->job_id, run->task->task_id, run->fig.users, task_id, after);
        return JT_TASK_DONE;
}

static jt_task_outcome_t finish_range(range_run_t *run, jt_error_t *err) {
        const jt_task_env_t *env = run->env;
        const jt_stats_task_t *task = run->task;
        bson_t *result;
        bool recorded = false, complete = false;
        jt_task_outcome_t outcome;

        result =
            BCON_NEW("users", BCON_INT64(run->fig.users), "withEntry",
                     BCON_INT64(run->fig.with_entry), "badRows", BCON_INT64(run->fig.bad_rows),
                     "notified", BCON_INT64(run->fig.notified), "continuations",
                     BCON_INT32(task->continuation_seq), "finishedBy", BCON_UTF8(env->worker_id));
        outcome = jt_task_record_result(env, run->client, task->job_id, task->run_nonce,
                                        run->root_id, run->key, result, &recorded, &complete, err);
        if (outcome != JT_TASK_DONE)
                return outcome;
        /* A second run of the range that finished after the first announces nothing. */
        if (recorded && !send_event(run, JT_STATUS_TASK_FINISHED, err))
                return JT_TASK_RETRY;
        jt_log_info("job=%s task=%s done: %" PRId64 " users, %" PRId64 " entries written, %" PRId64
                    " notified, %" PRId64 " bad playbacks skipped%s",
                    task->job_id, task->task_id, run->fig.users, run->fig.with_entry,
                    run->fig.notified, run->fig.bad_rows,
                    recorded ? "" : " (result recorded before: a redelivery)");
        if (complete && !jt_stats_finalize_send(env, task, err))
                return JT_TASK_RETRY;
        return jt_kafka_flush(env->producer, env->kafka_timeout_ms, err) ? JT_TASK_DONE
                                                                         : JT_TASK_RETRY;
}

/* Runs the range from its resume point until it is done, the time budget is spent (then a
 * continuation carries on) or a stop is requested (the checkpoint stays for the redelivery). */
static jt_task_outcome_t run_chunks(range_run_t *run, jt_error_t *err) {
        int budget_s = run->task->time_budget_s > 0
                           ? run->task->time_budget_s
                           : (int)jt_config_int(run->env->cfg, "task-budget");
        int64_t started = jt_time_mono_ms();
        jt_task_outcome_t outcome = JT_TASK_DONE;

        jt_stats_chunk_open(run);
        if (!send_event(run, JT_STATUS_TASK_STARTED, err))
                return JT_TASK_RETRY;
        while (outcome == JT_TASK_DONE && !run->users_end) {
                if (*run->env->stop)
                        return JT_TASK_STOPPED;
                if (run->have_after && jt_time_mono_ms() - started >= (int64_t)budget_s * 1000) {
                        /* Released first, so that the continuation need not wait for it. */
                        if (!jt_jobs_release_range(run->client, run->env->db, run->task->job_id,
                                                   run->key, run->holder, err))
                                return JT_TASK_RETRY;
                        return send_continuation(run, err);
                }
                outcome = process_chunk(run, err);
                if (outcome == JT_TASK_DONE &&
                    jt_time_mono_ms() - run->last_progress >= PROGRESS_EVERY_MS) {
                        if (!send_event(run, JT_STATUS_TASK_PROGRESS, err))
                                outcome = JT_TASK_RETRY;
                        run->last_progress = jt_time_mono_ms();
                }
                if (outcome == JT_TASK_DONE && !run->users_end)
                        /* --chunk-delay-ms spares the database; a stop ends the pause */
                        jt_task_sleep(run->env,
                                      (int)jt_config_int(run->env->cfg, "chunk-delay-ms"));
        }
        return outcome == JT_TASK_DONE ? finish_range(run, err) : outcome;
}

static void run_free(range_run_t *run) {
        jt_stats_chunk_clear(run);
        jt_stats_writes_discard(&run->writes);
        if (run->play_next)
                bson_destroy(run->play_next);
        mongoc_cursor_destroy(run->play_cur);
        mongoc_cursor_destroy(run->user_cur);
        mongoc_collection_destroy(run->notifications);
        mongoc_collection_destroy(run->musicians);
        mongoc_collection_destroy(run->stats);
        mongoc_collection_destroy(run->playbacks);
        mongoc_collection_destroy(run->users);
        jt_stats_acc_destroy(run->acc);
}

/* The task's month and the one before it (whose stored entry gives the growth), from its
 * "YYYY-MM"; false on a month out of range (err set) or not of that form. */
static bool range_months(range_run_t *run, int *year, int *month, jt_error_t *err) {
        jt_time_civil_t prev;
        int64_t prev_end = 0;

        if (sscanf(run->task->month, "%4d-%2d", year, month) != 2 ||
            !jt_stats_month_range(*year, *month, &run->start_ms, &run->end_ms, err))
                return false;
        jt_time_to_civil(run->start_ms / 1000 - 1, &prev); /* the previous month's last second */
        return jt_stats_month_range((int)prev.year, prev.month, &run->prev_start_ms, &prev_end,
                                    err);
}

/* The collections the range reads and writes (the test- ones for a test job), and its writes. */
static void open_collections(range_run_t *run) {
        const jt_task_env_t *env = run->env;
        bool test = run->task->test_mode;
        char name[64];

        run->users = mongoc_client_get_collection(run->client, env->db,
                                                  coll_name(test, "users", name, sizeof(name)));
        run->playbacks = mongoc_client_get_collection(
            run->client, env->db, coll_name(test, "playbacks", name, sizeof(name)));
        run->stats = mongoc_client_get_collection(run->client, env->db,
                                                  coll_name(test, "stats", name, sizeof(name)));
        run->notifications = mongoc_client_get_collection(
            run->client, env->db, coll_name(test, "notifications", name, sizeof(name)));
        run->musicians = mongoc_client_get_collection(run->client, env->db, "musicians");
        run->writes = (jt_stats_writes_t){.stats = run->stats,
                                          .start_ms = run->start_ms,
                                          .end_ms = run->end_ms,
                                          .updated_at_ms = run->task->created_at_ms};
}

static jt_task_outcome_t run_range(const jt_task_env_t *env, const jt_stats_task_t *task,
                                   jt_error_t *err) {
        range_run_t run = {.env = env, .task = task};
        int year = 0, month = 0;
        char nonce[JT_JOBS_NONCE_SIZE];
        jt_job_view_t view;
        bool proceed = false;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        run.root_id = task->parent_task_id ? task->parent_task_id : task->task_id;
        if (!range_months(&run, &year, &month, err) ||
            !jt_jobs_task_key(task->job_id, run.root_id, run.key, sizeof(run.key), err))
                return JT_TASK_PERMANENT;
        run.client = mongoc_client_pool_pop(env->pool);
        outcome = jt_task_admit(env, run.client, task->job_id, task->run_nonce, task->task_id,
                                run.root_id, run.key, &view, &proceed, err);
        if (outcome == JT_TASK_DONE && view.exists && view.same_run)
                outcome = jt_stats_checks_planned(task, &view, err);
        if (outcome == JT_TASK_DONE && proceed)
                outcome =
                    jt_task_agrees(&view, task->task_id, task->test_mode, task->month, 0, err);
        if (outcome != JT_TASK_DONE || !proceed) {
                mongoc_client_pool_push(env->pool, run.client);
                return outcome;
        }
        if (view.recorded) {
                outcome = jt_stats_checks_done_before(env, task, &view, err);
                mongoc_client_pool_push(env->pool, run.client);
                return outcome;
        }
        /* A month a cleanup may have cut into is never recomputed: its stored entries stay. */
        if ((outcome = jt_stats_checks_month_whole(env, run.client, task, run.start_ms, err)) !=
                JT_TASK_DONE ||
            !(run.acc = jt_stats_acc_new(year, month, err))) {
                mongoc_client_pool_push(env->pool, run.client);
                return outcome != JT_TASK_DONE ? outcome : JT_TASK_PERMANENT;
        }
        run.chunk = (size_t)jt_config_int(env->cfg, "chunk-users");
        run.lease_ms = RANGE_LEASE_MS + jt_config_int(env->cfg, "chunk-delay-ms");
        if (!jt_jobs_new_nonce(nonce, err)) {
                jt_stats_acc_destroy(run.acc);
                mongoc_client_pool_push(env->pool, run.client);
                return JT_TASK_RETRY;
        }
        snprintf(run.holder, sizeof(run.holder), "%s#%.8s", env->worker_id, nonce);
        run.per_user = strcmp(jt_config_str(env->cfg, "playback-reads"), "per-user") == 0;
        open_collections(&run);
        outcome = jt_stats_checks_resume_point(&run, &view, err);
        if (outcome == JT_TASK_DONE) {
                jt_error_t ignored;
                outcome = run_chunks(&run, err);
                /* Whatever the end, the next run of the range may start at once (a crash
                 * leaves the lease to lapse instead). */
                jt_jobs_release_range(run.client, env->db, task->job_id, run.key, run.holder,
                                      &ignored);
        }
        run_free(&run);
        mongoc_client_pool_push(env->pool, run.client);
        return outcome;
}

jt_task_outcome_t jt_stats_task_run(const jt_task_env_t *env, const jt_stats_task_t *task,
                                    jt_error_t *err) {
        if (task->kind == JT_STATS_TASK_FINALIZE)
                return jt_stats_finalize_run(env, task, err);
        if (task->kind == JT_STATS_TASK_SHARD) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "task %s is a hash shard (stats task v1/v2): this worker runs user "
                             "ranges (v3); send the job again with a current producer "
                             "(--run-id for a new run)",
                             task->task_id);
                return JT_TASK_PERMANENT;
        }
        return run_range(env, task, err);
}
