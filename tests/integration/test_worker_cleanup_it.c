/* joytify-worker running cleanup jobs on the real stack, as an operator runs it (wc_kit.h):
 * two workers sharing a job, and the time budget's continuation tasks with exact totals. Bad
 * tasks are test_worker_cleanup_dlq_it.c's, stops and redelivery
 * test_worker_cleanup_restart_it.c's.
 * Usage: test_worker_cleanup_it [BUILD-DIR]  (default $JT_BUILD_DIR; JT_IT_FILTER=PATTERN runs
 * only the matching tests) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it_expect.h"
#include "it_kafka.h"
#include "jt_time.h"
#include "wc_kit.h"

/* ---------------------------------------------------------------------------------------- */
/* 1. Two workers complete a job, and share it: both consume both task topics (the default
 * --topics), and each is given cleanup partitions (one consumer subscribed to both topics once
 * let the assignor give one worker every cleanup partition and the other every stats one). */

static void two_workers_complete_a_cleanup_job(void **state) {
        wc_ctx_t *c = *state;
        const int64_t cutoff = wc_cutoff_ms();
        const size_t n_old = 1500, n_at = 50, n_new = 250;
        /* 1,500 over the 5 days before the cutoff (one per 288 s: 150 per 12-hour range), 50
         * exactly at the cutoff, 250 over the 20 days after it. */
        int64_t *old = wc_spread(n_old, cutoff - 5 * DAY_MS, 5 * DAY_MS / (int64_t)n_old);
        int64_t *at = wc_spread(n_at, cutoff, 0);
        int64_t *newer = wc_spread(n_new, cutoff + 1, 20 * DAY_MS / (int64_t)n_new);
        bson_oid_t *keep = calloc(n_at + n_new, sizeof(*keep));
        int per_worker[MAX_WORKERS], slots[2];
        int64_t t0 = jt_time_mono_ms();
        wc_events_t ev;
        wc_tasks_t tasks;
        bson_t ledger;
        size_t repeats;

        wc_insert_playbacks(c, old, n_old, NULL);
        wc_insert_playbacks(c, at, n_at, keep);
        wc_insert_playbacks(c, newer, n_new, keep + n_at);
        it_fixture_mark_all(&wc_clients, &c->fx);
        slots[0] = wc_worker_start_topics(c, "stats,cleanup");
        slots[1] = wc_worker_start_topics(c, "stats,cleanup");
        wc_wait_cleanup_assigned(c, 60000);
        wc_producer_cleanup(c, (const char *const[]){"--range-hours", "12", NULL});
        wc_wait_job_state(c, JOB_ID, "finished", WAIT_JOB_MS);

        it_expect_int("playbacks older than the cutoff after the job", 0,
                      wc_count_playbacks(c, INT64_MIN, cutoff));
        wc_expect_playback_ids(c, cutoff, INT64_MAX, keep, n_at + n_new,
                               "playbacks at or after the cutoff (count, then ids)");

        wc_tasks_read(c, &tasks);
        it_expect_int("range tasks on the cleanup topic (5 days / 12 h)", 10, (int64_t)tasks.count);
        wc_events_read(c, JOB_ID, &ev);
        wc_expect_job_finished(c, &ev, (int64_t)n_old, (int64_t)n_old, "direct");
        repeats = wc_expect_range_results(c, &ev, &tasks, old, n_old, per_worker);
        if (wc_events_count(&ev, JT_STATUS_TASK_STARTED) < tasks.count)
                fail_msg("TASK_STARTED events: expected at least %zu (one per range), actual %zu",
                         tasks.count, wc_events_count(&ev, JT_STATUS_TASK_STARTED));

        if (!it_fixture_ledger_get(&wc_clients, &c->fx, JOB_ID, &ledger))
                fail_msg("ledger %s: expected an entry, actual none", JOB_ID);
        wc_expect_ledger_int(&ledger, "tasksTotal", (int64_t)tasks.count);
        wc_expect_ledger_int(&ledger, "tasksDone", (int64_t)tasks.count);
        for (size_t k = 0; k < tasks.count; k++) {
                const char *key = strchr(tasks.m[k].t.task_id, '/') + 1;
                const jt_cleanup_task_t *t = &tasks.m[k].t;
                int64_t want = (int64_t)wc_count_in(old, n_old, t->range_start_ms, t->range_end_ms);
                char path[256], rpath[256];
                snprintf(path, sizeof(path), "found.%s", key);
                snprintf(rpath, sizeof(rpath), "results.%s", key);
                if (!wc_ledger_has(&ledger, path) && wc_ledger_has(&ledger, rpath)) {
                        char *json = bson_as_relaxed_extended_json(&ledger, NULL);
                        printf("ledger entry: %s\n", json);
                        bson_free(json);
                        fail_msg("ledger field %s: expected %" PRId64 ", actual missing although "
                                 "%s is recorded: an update of the job document was lost (two "
                                 "workers updated it at once; FerretDB's SQLite handler does not "
                                 "apply an update atomically, FerretDB issue 3040)",
                                 path, want, rpath);
                }
                wc_expect_ledger_int(&ledger, path, want);
                snprintf(path, sizeof(path), "results.%s.deleted", key);
                wc_expect_ledger_int(&ledger, path, want);
                snprintf(path, sizeof(path), "results.%s.remaining", key);
                wc_expect_ledger_int(&ledger, path, 0);
        }
        bson_destroy(&ledger);

        printf("ranges finished per worker: %s %d, %s %d; repeated TASK_FINISHED events: %zu\n",
               c->workers[0].name, per_worker[0], c->workers[1].name, per_worker[1], repeats);
        if (per_worker[0] == 0 || per_worker[1] == 0)
                wc_fail_with_logs(c,
                                  "ranges per worker: expected both workers to run some of the %zu "
                                  "(each was assigned cleanup partitions first), actual %d and %d",
                                  tasks.count, per_worker[0], per_worker[1]);
        printf("job done %.1f s after the data was in\n",
               (double)(jt_time_mono_ms() - t0) / 1000.0);
        wc_workers_stop(c, slots, 2);
        wc_events_free(&ev);
        wc_tasks_free(&tasks);
        free(old);
        free(at);
        free(newer);
        free(keep);
}

/* ---------------------------------------------------------------------------------------- */
/* 2. Time budget: continuation tasks, exact totals. */

static void time_budget_sends_continuations_with_exact_totals(void **state) {
        wc_ctx_t *c = *state;
        const int64_t cutoff = wc_cutoff_ms();
        const size_t n_old = 1000;
        /* 1,000 over the 9 days before the cutoff: one 240-hour range. */
        int64_t *old = wc_spread(n_old, cutoff - 9 * DAY_MS, 9 * DAY_MS / (int64_t)n_old);
        const wc_task_msg_t *root = NULL;
        int per_worker[MAX_WORKERS], w, conts = 0;
        int64_t prev_so_far = 0, t0;
        char key[256], path[300], want[300];
        const jt_status_event_t *fin = NULL;
        wc_events_t ev;
        wc_tasks_t tasks;
        bson_t ledger;

        wc_insert_playbacks(c, old, n_old, NULL);
        it_fixture_mark_all(&wc_clients, &c->fx);
        wc_producer_cleanup(c, (const char *const[]){"--range-hours", "240", "--time-budget", "1",
                                                     "--batch-size", "50", "--batch-delay-ms",
                                                     "300", NULL});
        t0 = jt_time_mono_ms();
        w = wc_worker_start(c);
        wc_wait_job_state(c, JOB_ID, "finished", WAIT_JOB_MS);
        printf("1,000 playbacks in 50s every 300 ms with a 1 s budget: %.1f s\n",
               (double)(jt_time_mono_ms() - t0) / 1000.0);
        it_expect_int("playbacks older than the cutoff after the job", 0,
                      wc_count_playbacks(c, INT64_MIN, cutoff));

        /* The range task, then its continuations +c1, +c2, ... each once, in order. */
        wc_tasks_read(c, &tasks);
        for (size_t k = 0; k < tasks.count; k++)
                if (tasks.m[k].t.continuation_seq == 0) {
                        if (root)
                                fail_msg("range tasks: expected 1, actual more (%s and %s)",
                                         root->key, tasks.m[k].key);
                        root = &tasks.m[k];
                }
        if (!root)
                fail_msg("range tasks: expected 1, actual 0 (of %zu tasks)", tasks.count);
        conts = (int)tasks.count - 1;
        printf("continuations: %d\n", conts);
        if (conts < 2)
                fail_msg("continuation tasks: expected at least 2 (1,000 playbacks at most 200 a "
                         "second with a 1 s budget), actual %d",
                         conts);
        for (int seq = 1; seq <= conts; seq++) {
                const jt_cleanup_task_t *t = NULL;
                snprintf(want, sizeof(want), "%s+c%d", root->key, seq);
                for (size_t k = 0; k < tasks.count; k++)
                        if (strcmp(tasks.m[k].key, want) == 0) {
                                if (t)
                                        fail_msg("continuation %s: expected once on the cleanup "
                                                 "topic, actual twice",
                                                 want);
                                t = &tasks.m[k].t;
                        }
                if (!t) {
                        char keys[4096] = "";
                        for (size_t k = 0; k < tasks.count; k++)
                                snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s ",
                                         tasks.m[k].key);
                        fail_msg("continuation keys: expected %s, actual keys: %s", want, keys);
                }
                snprintf(path, sizeof(path), "%s continuation_seq", want);
                it_expect_int(path, seq, t->continuation_seq);
                snprintf(path, sizeof(path), "%s parent_task_id", want);
                it_expect_str(path, root->t.task_id, t->parent_task_id);
                snprintf(path, sizeof(path), "%s range_start", want);
                it_expect_int(path, root->t.range_start_ms, t->range_start_ms);
                snprintf(path, sizeof(path), "%s range_end", want);
                it_expect_int(path, root->t.range_end_ms, t->range_end_ms);
                if (t->deleted_so_far < prev_so_far || t->deleted_so_far >= (int64_t)n_old)
                        fail_msg("%s deleted_so_far: expected in [%" PRId64 ", %zu), actual "
                                 "%" PRId64,
                                 want, prev_so_far, n_old, t->deleted_so_far);
                prev_so_far = t->deleted_so_far;
        }

        wc_events_read(c, JOB_ID, &ev);
        wc_expect_job_finished(c, &ev, (int64_t)n_old, (int64_t)n_old, "batch");
        wc_expect_range_results(c, &ev, &tasks, old, n_old, per_worker);
        it_expect_int("TASK_FINISHED events", 1,
                      (int64_t)wc_events_count(&ev, JT_STATUS_TASK_FINISHED));
        for (size_t i = 0; i < ev.count; i++)
                if (ev.ev[i].type == JT_STATUS_TASK_FINISHED)
                        fin = &ev.ev[i];
        snprintf(want, sizeof(want), "%s+c%d", root->key, conts);
        it_expect_str("task_id of TASK_FINISHED (the last continuation)", want, fin->task_id);
        if (wc_events_count(&ev, JT_STATUS_TASK_STARTED) != (size_t)conts + 1)
                fail_msg("TASK_STARTED events: expected %d (the task and each continuation), "
                         "actual %zu",
                         conts + 1, wc_events_count(&ev, JT_STATUS_TASK_STARTED));

        if (!it_fixture_ledger_get(&wc_clients, &c->fx, JOB_ID, &ledger))
                fail_msg("ledger %s: expected an entry, actual none", JOB_ID);
        snprintf(key, sizeof(key), "%s", strchr(root->key, '/') + 1);
        snprintf(path, sizeof(path), "found.%s", key);
        wc_expect_ledger_int(&ledger, path, (int64_t)n_old);
        snprintf(path, sizeof(path), "results.%s.deleted", key);
        wc_expect_ledger_int(&ledger, path, (int64_t)n_old);
        snprintf(path, sizeof(path), "results.%s.continuations", key);
        wc_expect_ledger_int(&ledger, path, conts);
        wc_expect_ledger_int(&ledger, "tasksDone", 1);
        bson_destroy(&ledger);

        wc_worker_stop(c, w);
        wc_events_free(&ev);
        wc_tasks_free(&tasks);
        free(old);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(two_workers_complete_a_cleanup_job),
            cmocka_unit_test(time_budget_sends_continuations_with_exact_totals),
        };

        return wc_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
