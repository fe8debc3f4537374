/* Job ids (common/jt_job_ids.c): the month rule of the statistics job, one id per month, one per
 * fire for a test-mode scheduler (the fire's minute after '@'), cleanup ids by the minute, and
 * --run-id; every id a valid prefix of its task ids and ledger keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jt_time.h"
#include "jt_job_ids.h"
#include "jt_jobs.h"
#include "jt_test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int64_t at(const char *iso) {
        jt_error_t err;
        int64_t t;

        jt_error_clear(&err);
        assert_ok(jt_time_parse_iso(iso, &t, &err), err);
        return t;
}

typedef struct {
        const char *month;
        const char *fire; /* NULL: 0, one job per month */
        bool test_mode;
        const char *run_id;
        const char *expected;
} stats_id_case_t;

static void stats_ids_per_month_or_per_fire(void **state) {
        static const stats_id_case_t cases[] = {
            {"2026-11", NULL, false, NULL, "stats-2026-11"},
            {"2026-11", NULL, true, NULL, "test-stats-2026-11"},
            {"2026-11", NULL, false, "again", "stats-2026-11-run-again"},
            {"2026-11", "2026-12-07T04:05Z", true, NULL, "test-stats-2026-11@2026-12-07T0405Z"},
            /* Seconds are dropped: the fire is a whole minute, as in cleanup ids. */
            {"2026-11", "2026-12-07T04:05:59Z", true, NULL, "test-stats-2026-11@2026-12-07T0405Z"},
            {"2026-11", "2026-12-07T04:10Z", true, NULL, "test-stats-2026-11@2026-12-07T0410Z"},
            {"2026-12", "2027-01-01T00:00Z", false, "x", "stats-2026-12@2027-01-01T0000Z-run-x"},
        };

        for (size_t i = 0; i < N(cases); i++) {
                const stats_id_case_t *k = &cases[i];
                char id[128], task[160], key[64];
                jt_error_t err;

                jt_job_ids_stats_fire(k->month, k->fire ? at(k->fire) : 0, k->test_mode, k->run_id,
                                      id, sizeof(id));
                if (strcmp(id, k->expected) != 0)
                        fail_msg("stats id of %s fired %s%s: expected %s, got %s", k->month,
                                 k->fire ? k->fire : "(none)", k->test_mode ? " test mode" : "",
                                 k->expected, id);
                /* Its tasks' ledger keys work (no '.' or '$' in what follows the job id). */
                snprintf(task, sizeof(task), "%s/0003", id);
                jt_error_clear(&err);
                assert_ok(jt_jobs_task_key(id, task, key, sizeof(key), &err), err);
                assert_string_equal(key, "0003");
        }
        /* Without a fire time: the per-month id, whatever the function. */
        {
                char a[64], b[64];
                jt_job_ids_stats("2026-11", true, NULL, a, sizeof(a));
                jt_job_ids_stats_fire("2026-11", 0, true, NULL, b, sizeof(b));
                assert_string_equal(a, b);
        }
}

static void cleanup_ids_by_the_minute(void **state) {
        char id[128];

        jt_job_ids_cleanup(at("2026-11-23T04:00:42Z"), false, NULL, id, sizeof(id));
        assert_string_equal(id, "cleanup-2026-11-23T0400Z");
        jt_job_ids_cleanup(at("2026-12-07T04:11Z"), true, "r1", id, sizeof(id));
        assert_string_equal(id, "test-cleanup-2026-12-07T0411Z-run-r1");
}

/* The month a fire computes: the previous complete UTC month, across a year end. */
static void fires_compute_the_previous_month(void **state) {
        static const struct {
                const char *fire, *month;
        } cases[] = {{"2026-12-07T04:05Z", "2026-11"},
                     {"2026-12-01T00:00Z", "2026-11"},
                     {"2026-11-30T23:59:59Z", "2026-10"},
                     {"2027-01-01T02:00Z", "2026-12"}};

        for (size_t i = 0; i < N(cases); i++) {
                char month[8];
                jt_error_t err;

                jt_error_clear(&err);
                assert_ok(jt_job_ids_month(NULL, at(cases[i].fire) * 1000, month, &err), err);
                if (strcmp(month, cases[i].month) != 0)
                        fail_msg("fire %s: expected month %s, got %s", cases[i].fire,
                                 cases[i].month, month);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(stats_ids_per_month_or_per_fire),
            cmocka_unit_test(cleanup_ids_by_the_minute),
            cmocka_unit_test(fires_compute_the_previous_month),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
