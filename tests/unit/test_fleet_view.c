/* The fleet view's pure parts: the marks that record dead letters handled one by one (kept in
 * a commit's metadata), a ledger entry read as a job (state, records, claims, failure), the
 * JSON shape the status command and the web page share, and status's durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jt_fleet_jobs.h"
#include "jt_fleet_view.h"
#include "status_cmd.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void marks_round_trip_and_advance(void **state) {
        const char meta[] = "jt-dlq-done:9,4,7";
        jt_fleet_dlq_marks_t m;
        int64_t committed = 4;
        char buf[256];

        (void)state;
        jt_fleet_dlq_marks_parse(meta, strlen(meta), &m);
        assert_int_equal(m.count, 3);
        assert_true(jt_fleet_dlq_marks_has(&m, 7));
        assert_false(jt_fleet_dlq_marks_has(&m, 5));
        jt_fleet_dlq_marks_format(&m, buf, sizeof(buf));
        assert_string_equal(buf, "jt-dlq-done:4,7,9"); /* sorted */
        /* 4 handled: the place moves to 5 (pending), and 4 is dropped. */
        jt_fleet_dlq_marks_advance(&m, &committed);
        assert_int_equal(committed, 5);
        jt_fleet_dlq_marks_format(&m, buf, sizeof(buf));
        assert_string_equal(buf, "jt-dlq-done:7,9");
        assert_true(jt_fleet_dlq_marks_add(&m, 5));
        assert_true(jt_fleet_dlq_marks_add(&m, 6));
        jt_fleet_dlq_marks_advance(&m, &committed);
        assert_int_equal(committed, 8); /* 5, 6, 7 handled in a row */
        jt_fleet_dlq_marks_format(&m, buf, sizeof(buf));
        assert_string_equal(buf, "jt-dlq-done:9");
}

static void marks_ignore_foreign_metadata_and_stay_bounded(void **state) {
        static const char *const foreign[] = {"", "hello", "jt-dlq-done:", "jt-dlq-done:x"};
        jt_fleet_dlq_marks_t m;

        (void)state;
        for (size_t i = 0; i < N(foreign); i++) {
                jt_fleet_dlq_marks_parse(foreign[i], strlen(foreign[i]), &m);
                assert_int_equal(m.count, 0);
        }
        jt_fleet_dlq_marks_parse(NULL, 0, &m);
        for (int64_t o = 0; o < JT_FLEET_DLQ_MARKS_MAX; o++)
                assert_true(jt_fleet_dlq_marks_add(&m, 100 + o));
        assert_false(jt_fleet_dlq_marks_add(&m, 1));
        assert_true(jt_fleet_dlq_marks_add(&m, 100)); /* there already */
}

static void ledger_entry_as_job(void **state) {
        bson_t *doc = BCON_NEW(
            "_id", BCON_UTF8("cleanup-x"), "kind", BCON_UTF8("cleanup"), "state",
            BCON_UTF8("failed"), "tasksDone", BCON_INT32(1), "tasksTotal", BCON_INT32(3),
            "createdAt", BCON_DATE_TIME(1000), "failedAt", BCON_DATE_TIME(61000), "updatedAt",
            BCON_DATE_TIME(5000), "progressAt", BCON_DATE_TIME(9000), "failures", BCON_INT32(2),
            "lastFailure", "{", "reason", BCON_UTF8("bad\x1b[2Jrow"), "task",
            BCON_UTF8("cleanup-x/0002"), "at", BCON_DATE_TIME(61000), "}", "claimedBy",
            BCON_UTF8("producer@h/1"), "claimUntil", BCON_DATE_TIME(7000), "results", "{", "0001",
            "{", "deleted", BCON_INT64(10), "}", "}", "progress", "{", "0001", "{", "deleted",
            BCON_INT64(4), "}", "0002", "{", "deleted", BCON_INT64(3), "}", "}");
        jt_fleet_job_t job;

        (void)state;
        jt_fleet_jobs_from_bson(doc, 100000, &job);
        assert_string_equal(job.id, "cleanup-x");
        assert_int_equal(job.state, JT_JOB_FAILED);
        assert_int_equal(job.records, 13); /* 10 done + 3 of the unfinished range */
        assert_string_equal(job.records_unit, "playbacks deleted");
        assert_int_equal(job.duration_ms, 60000);
        assert_int_equal(job.last_progress_ms, 9000);
        assert_string_equal(job.failure_reason, "bad\\x1b[2Jrow"); /* escaped */
        assert_string_equal(job.claimed_by, "producer@h/1");
        bson_destroy(doc);
}

static void view_json_shape(void **state) {
        jt_fleet_job_t job = {.id = "stats-2026-11",
                              .kind = "stats",
                              .state = JT_JOB_RUNNING,
                              .stuck = true,
                              .tasks_done = 1,
                              .tasks_total = 4,
                              .records_unit = "users"};
        jt_fleet_dead_letter_t dead = {.partition = 0,
                                       .offset = 3,
                                       .key = "j/1",
                                       .job = "j",
                                       .attempts = -1,
                                       .orig_partition = -1,
                                       .orig_offset = 5};
        jt_fleet_view_t v = {.jobs = &job,
                             .job_count = 1,
                             .dead = &dead,
                             .dead_count = 1,
                             .group = "g",
                             .group_state = "Empty",
                             .stuck = 1};
        json_t *doc;

        (void)state;
        doc = jt_fleet_view_json(&v);
        assert_non_null(doc);
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(doc, "jobs"), 0), "state")),
                            "running");
        assert_true(json_is_true(
            json_object_get(json_array_get(json_object_get(doc, "jobs"), 0), "stuck")));
        assert_true(json_is_null(
            json_object_get(json_array_get(json_object_get(doc, "jobs"), 0), "createdAt")));
        assert_int_equal(json_integer_value(json_object_get(doc, "stuck")), 1);
        assert_true(json_is_null(json_object_get(
            json_array_get(json_object_get(json_object_get(doc, "deadLetters"), "messages"), 0),
            "attempts")));
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(doc, "group"), "state")), "Empty");
        json_decref(doc);
}

static void durations(void **state) {
        static const struct {
                const char *text;
                bool ok;
                int64_t ms;
        } cases[] = {{"90m", true, 5400000},   {"7d", true, 604800000}, {"30", true, 30000},
                     {"2w", true, 1209600000}, {"0", true, 0},          {"5x", false, 0},
                     {"", false, 0},           {"-1h", false, 0},       {"1h2", false, 0},
                     {"h", false, 0}};
        int64_t ms;

        (void)state;
        for (size_t i = 0; i < N(cases); i++) {
                bool ok = jt_status_cmd_parse_duration(cases[i].text, &ms);
                if (ok != cases[i].ok || ms != cases[i].ms)
                        fail_msg("\"%s\": expected %s %lld, actual %s %lld", cases[i].text,
                                 cases[i].ok ? "ok" : "refused", (long long)cases[i].ms,
                                 ok ? "ok" : "refused", (long long)ms);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(marks_round_trip_and_advance),
            cmocka_unit_test(marks_ignore_foreign_metadata_and_stay_bounded),
            cmocka_unit_test(ledger_entry_as_job),
            cmocka_unit_test(view_json_shape),
            cmocka_unit_test(durations),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
