/* joytify-worker stopped and restarted on the real stack (wc_kit.h): SIGTERM mid-job and a new
 * worker finishing with exact figures, and a replay of a finished job's tasks counting nothing
 * twice (the group's offsets, the ledger and the events unchanged).
 * Usage: test_worker_cleanup_restart_it [BUILD-DIR]  (default $JT_BUILD_DIR) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it_expect.h"
#include "it_env.h"
#include "it_kafka.h"
#include "jt_time.h"
#include "wc_kit.h"

/* The group's committed offsets on the cleanup topic equal its end offsets. */
static void expect_group_at_end(const wc_ctx_t *c) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        int parts = it_topic_partitions(wc_clients.reader, c->fx.topic[IT_T_CLEANUP]);
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(parts);
        char errstr[512];
        rd_kafka_t *rk;
        rd_kafka_resp_err_t rc;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", it_env("JT_KAFKA_BROKERS"), errstr,
                              sizeof(errstr)) ||
            rd_kafka_conf_set(conf, "group.id", c->fx.group, errstr, sizeof(errstr)))
                fail_msg("offset reader configuration: %s", errstr);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk)
                fail_msg("offset reader: %s", errstr);
        for (int p = 0; p < parts; p++)
                rd_kafka_topic_partition_list_add(list, c->fx.topic[IT_T_CLEANUP], p);
        rc = rd_kafka_committed(rk, list, IT_KAFKA_TIMEOUT_MS);
        if (rc)
                fail_msg("committed offsets of group %s: %s", c->fx.group, rd_kafka_err2str(rc));
        for (int p = 0; p < parts; p++) {
                int64_t low = 0, high = 0, committed = list->elems[p].offset;
                char what[300];
                it_watermarks(wc_clients.reader, c->fx.topic[IT_T_CLEANUP], p, &low, &high);
                if (high == 0)
                        continue; /* nothing to commit there */
                snprintf(what, sizeof(what), "committed offset of group %s on %s [%d] (= end)",
                         c->fx.group, c->fx.topic[IT_T_CLEANUP], p);
                it_expect_int(what, high, committed);
        }
        rd_kafka_topic_partition_list_destroy(list);
        rd_kafka_destroy(rk);
}

/* ---------------------------------------------------------------------------------------- */
/* 4. SIGTERM mid-job, restart, exact figures. */

static void sigterm_mid_job_then_a_restart_finishes_exactly(void **state) {
        wc_ctx_t *c = *state;
        const int64_t cutoff = wc_cutoff_ms();
        const size_t n_old = 600;
        int64_t *old = wc_spread(n_old, cutoff - 4 * DAY_MS, 4 * DAY_MS / (int64_t)n_old);
        int64_t deadline, left, left_at_stop;
        const jt_status_event_t *last_start = NULL;
        char state_buf[32], path[300], key[200];
        int per_worker[MAX_WORKERS], w1, w2;
        wc_events_t ev;
        wc_tasks_t tasks;
        bson_t ledger;

        wc_insert_playbacks(c, old, n_old, NULL);
        it_fixture_mark_all(&wc_clients, &c->fx);
        /* One range; 20 per batch every 500 ms: about 15 s for the whole job. */
        wc_producer_cleanup(c, (const char *const[]){"--range-hours", "240", "--batch-size", "20",
                                                     "--batch-delay-ms", "500", NULL});
        w1 = wc_worker_start(c);
        deadline = jt_time_mono_ms() + 60000;
        while ((left = wc_count_playbacks(c, INT64_MIN, cutoff)) > (int64_t)n_old - 40) {
                wc_expect_workers_alive(c);
                if (jt_time_mono_ms() > deadline)
                        wc_fail_with_logs(c,
                                          "old playbacks within 60 s: expected at most %zu, actual "
                                          "%" PRId64,
                                          n_old - 40, left);
                it_sleep_ms(100);
        }
        wc_worker_stop(c, w1);
        left_at_stop = wc_count_playbacks(c, INT64_MIN, cutoff);
        printf("stopped with %" PRId64 " of %zu old playbacks left\n", left_at_stop, n_old);
        if (left_at_stop == 0)
                fail_msg("old playbacks left at SIGTERM: expected some (a stop mid-job), actual 0: "
                         "the job outran the test");

        wc_tasks_read(c, &tasks);
        it_expect_int("range tasks", 1, (int64_t)tasks.count);
        snprintf(key, sizeof(key), "%s", strchr(tasks.m[0].key, '/') + 1);
        if (!it_fixture_ledger_get(&wc_clients, &c->fx, JOB_ID, &ledger))
                fail_msg("ledger %s: expected an entry, actual none", JOB_ID);
        it_expect_str("ledger state after the stop mid-job", "running",
                      wc_ledger_str(&ledger, "state", state_buf, sizeof(state_buf)));
        snprintf(path, sizeof(path), "found.%s", key);
        wc_expect_ledger_int(&ledger, path, (int64_t)n_old);
        snprintf(path, sizeof(path), "results.%s", key);
        it_expect_int("ledger result of the interrupted range recorded (1 = yes)", 0,
                      wc_ledger_has(&ledger, path));
        bson_destroy(&ledger);

        w2 = wc_worker_start(c);
        wc_wait_job_state(c, JOB_ID, "finished", WAIT_JOB_MS);
        it_expect_int("old playbacks after the job", 0, wc_count_playbacks(c, INT64_MIN, cutoff));
        wc_events_read(c, JOB_ID, &ev);
        wc_expect_job_finished(c, &ev, (int64_t)n_old, (int64_t)n_old, "batch");
        wc_expect_range_results(c, &ev, &tasks, old, n_old, per_worker);
        it_expect_int("range finished by the restarted worker", 1, per_worker[w2]);
        if (wc_events_count(&ev, JT_STATUS_TASK_STARTED) < 2)
                fail_msg("TASK_STARTED events: expected 2 (before and after the restart), actual "
                         "%zu",
                         wc_events_count(&ev, JT_STATUS_TASK_STARTED));
        for (size_t i = 0; i < ev.count; i++)
                if (ev.ev[i].type == JT_STATUS_TASK_STARTED)
                        last_start = &ev.ev[i];
        /* The restart works with the first count, not with what was left. */
        wc_expect_opt_long("TASK_STARTED after the restart: progress_total (the first count)",
                           (int64_t)n_old, last_start->progress_total);
        wc_expect_opt_long(
            "TASK_STARTED after the restart: progress_done (deleted before the stop)",
            (int64_t)n_old - left_at_stop, last_start->progress_done);
        wc_worker_stop(c, w2);
        wc_events_free(&ev);
        wc_tasks_free(&tasks);
        free(old);
}

/* ---------------------------------------------------------------------------------------- */
/* 5. Redelivery of a finished job counts nothing twice. */

static void redelivery_after_a_replay_counts_nothing_twice(void **state) {
        wc_ctx_t *c = *state;
        const int64_t cutoff = wc_cutoff_ms();
        const size_t n_old = 240, n_new = 60;
        int64_t *old = wc_spread(n_old, cutoff - 3 * DAY_MS, 3 * DAY_MS / (int64_t)n_old);
        int64_t *newer = wc_spread(n_new, cutoff + HOUR_MS, DAY_MS / (int64_t)n_new);
        bson_oid_t *keep = calloc(n_new, sizeof(*keep));
        int per_worker[MAX_WORKERS], w1, w2, rc;
        char *before_json, *after_json;
        int64_t deadline;
        wc_events_t ev;
        wc_tasks_t tasks;
        bson_t ledger;

        wc_insert_playbacks(c, old, n_old, NULL);
        wc_insert_playbacks(c, newer, n_new, keep);
        it_fixture_mark_all(&wc_clients, &c->fx);
        wc_producer_cleanup(c, (const char *const[]){"--range-hours", "24", NULL});
        w1 = wc_worker_start(c);
        wc_wait_job_state(c, JOB_ID, "finished", WAIT_JOB_MS);
        wc_worker_stop(c, w1);
        wc_tasks_read(c, &tasks);
        it_expect_int("range tasks (3 days / 24 h)", 3, (int64_t)tasks.count);
        wc_events_read(c, JOB_ID, &ev);
        wc_expect_job_finished(c, &ev, (int64_t)n_old, (int64_t)n_old, "direct");
        wc_expect_range_results(c, &ev, &tasks, old, n_old, per_worker);
        wc_events_free(&ev);
        /* SIGTERM committed what the worker did. */
        expect_group_at_end(c);
        if (!it_fixture_ledger_get(&wc_clients, &c->fx, JOB_ID, &ledger))
                fail_msg("ledger %s: expected an entry, actual none", JOB_ID);
        before_json = bson_as_canonical_extended_json(&ledger, NULL);
        bson_destroy(&ledger);

        /* Every task again, from the beginning of the topic. */
        it_mark_capture(wc_clients.reader, c->fx.topic[IT_T_STATUS], &c->fx.mark[IT_T_STATUS]);
        it_mark_capture(wc_clients.reader, c->fx.topic[IT_T_DLQ], &c->fx.mark[IT_T_DLQ]);
        rc = WC_PRODUCER(c, false, "replay", "--topic", c->fx.topic[IT_T_CLEANUP], "--group",
                         c->fx.group, "--to-offset", "beginning");
        it_expect_int("joytify-producer replay --to-offset beginning: exit code", 0, rc);
        w2 = wc_worker_start(c);
        /* Each redelivered task finds its job finished: nothing to do, no event (issue 20: a
         * task whose result is recorded does nothing). */
        deadline = jt_time_mono_ms() + WAIT_JOB_MS;
        for (size_t i = 0; i < tasks.count;) {
                char line[300];
                snprintf(line, sizeof(line), "%s: the job is finished, nothing to do",
                         tasks.m[i].t.task_id);
                if (it_proc_log_contains(&c->workers[w2], line)) {
                        i++;
                        continue;
                }
                wc_expect_workers_alive(c);
                if (jt_time_mono_ms() > deadline)
                        wc_fail_with_logs(c,
                                          "redelivered task %s within %d s: expected \"%s\" in the "
                                          "worker's log, actual not there",
                                          tasks.m[i].t.task_id, WAIT_JOB_MS / 1000, line);
                it_sleep_ms(250);
        }
        /* Finalization happens in the handling of the last task, before its offset is stored:
         * once the worker has stopped, a second JOB_FINISHED would be on the topic. */
        wc_worker_stop(c, w2);

        wc_events_read(c, JOB_ID, &ev);
        if (wc_events_count(&ev, JT_STATUS_JOB_FINISHED) != 0)
                fail_msg("JOB_FINISHED events after the redelivery: expected 0 (the job finished "
                         "before), actual %zu (PRODUCT FINDING: the finalize claim did not hold)",
                         wc_events_count(&ev, JT_STATUS_JOB_FINISHED));
        it_expect_int("JOB_FAILED events after the redelivery", 0,
                      (int64_t)wc_events_count(&ev, JT_STATUS_JOB_FAILED));
        it_expect_int("TASK_STARTED events of the late duplicates", 0,
                      (int64_t)wc_events_count(&ev, JT_STATUS_TASK_STARTED));
        it_expect_int("TASK_FINISHED events of the late duplicates", 0,
                      (int64_t)wc_events_count(&ev, JT_STATUS_TASK_FINISHED));
        wc_events_free(&ev);
        if (!it_fixture_ledger_get(&wc_clients, &c->fx, JOB_ID, &ledger))
                fail_msg("ledger %s: expected an entry, actual none", JOB_ID);
        after_json = bson_as_canonical_extended_json(&ledger, NULL);
        bson_destroy(&ledger);
        it_expect_str("ledger entry after the redelivery (unchanged)", before_json, after_json);
        it_expect_int("old playbacks", 0, wc_count_playbacks(c, INT64_MIN, cutoff));
        wc_expect_playback_ids(c, cutoff, INT64_MAX, keep, n_new,
                               "playbacks after the cutoff (count, then ids)");
        it_expect_int("new DLQ messages", 0,
                      it_new_message_count(wc_clients.reader, &c->fx.mark[IT_T_DLQ]));
        expect_group_at_end(c);
        bson_free(before_json);
        bson_free(after_json);
        wc_tasks_free(&tasks);
        free(old);
        free(newer);
        free(keep);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(sigterm_mid_job_then_a_restart_finishes_exactly),
            cmocka_unit_test(redelivery_after_a_replay_counts_nothing_twice),
        };

        return wc_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
