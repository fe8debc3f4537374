/* Which notification is the original Lambda's of a month (worker/stats_notification.c): the
 * window it was created in (the next month, across year ends and February), and the id test
 * that tells a driver-made ObjectId from the fleet's hashed ones, for the fleet's ids of a few
 * years of jobs at the time the fleet would make them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jt_job_ids.h"
#include "jt_test.h"
#include "jt_time.h"
#include "stats_notification.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void window(void **state) {
        static const struct {
                const char *month;
                int64_t from, to;
        } cases[] = {
            {"2026-10", INT64_C(1793491200000), INT64_C(1796083200000)}, /* Nov 2026 */
            {"2026-11", INT64_C(1796083200000), INT64_C(1798761600000)}, /* Dec 2026 */
            {"2026-12", INT64_C(1798761600000), INT64_C(1801440000000)}, /* Jan 2027 */
            {"2027-01", INT64_C(1801440000000), INT64_C(1803859200000)}, /* Feb 2027 */
            {"2024-01", INT64_C(1706745600000), INT64_C(1709251200000)}, /* Feb 2024 (29 d) */
        };
        int64_t from, to;
        jt_error_t err;
        (void)state;

        for (size_t i = 0; i < N(cases); i++) {
                jt_error_clear(&err);
                assert_ok(jt_stats_notification_window(cases[i].month, &from, &to, &err), err);
                if (from != cases[i].from || to != cases[i].to)
                        fail_msg("%s: expected [%" PRId64 ", %" PRId64 "), actual [%" PRId64
                                 ", %" PRId64 ")",
                                 cases[i].month, cases[i].from, cases[i].to, from, to);
        }
        for (size_t i = 0; i < 3; i++) {
                const char *bad[] = {"2026-13", "2026-00", "next"};
                jt_error_clear(&err);
                assert_false(jt_stats_notification_window(bad[i], &from, &to, &err));
                assert_non_null(strstr(err.message, bad[i]));
        }
}

static bson_oid_t oid_at(int64_t seconds, uint8_t tail) {
        uint8_t raw[12] = {(uint8_t)(seconds >> 24),
                           (uint8_t)(seconds >> 16),
                           (uint8_t)(seconds >> 8),
                           (uint8_t)seconds,
                           tail,
                           1,
                           2,
                           3,
                           4,
                           5,
                           6,
                           7};
        bson_oid_t oid;
        bson_oid_init_from_data(&oid, raw);
        return oid;
}

static void driver_made(void **state) {
        static const struct {
                int64_t id_s, created_ms;
                bool want;
        } cases[] = {
            {1796090405, INT64_C(1796090405123), true},  /* the Lambda at 02:00:05 */
            {1796090405, INT64_C(1796090465999), true},  /* createdAt 60 s later */
            {1796090405, INT64_C(1796090345000), true},  /* 60 s earlier */
            {1796090405, INT64_C(1796090466000), false}, /* 61 s later */
            {1796090405, INT64_C(1796090344999), false}, /* just over 60 s earlier */
            {1796090405, INT64_C(1798768805000), false}, /* a month later */
            {0, INT64_C(-1), true},                      /* before 1970: no overflow */
        };
        bson_oid_t oid;
        (void)state;

        for (size_t i = 0; i < N(cases); i++) {
                oid = oid_at(cases[i].id_s, (uint8_t)i);
                if (jt_stats_notification_driver_made(&oid, cases[i].created_ms) != cases[i].want)
                        fail_msg("id time %" PRId64 " s, createdAt %" PRId64
                                 " ms: expected driver-made %d, actual %d",
                                 cases[i].id_s, cases[i].created_ms, cases[i].want, !cases[i].want);
        }
}

/* The fleet's own notification of every month of 2020-2035 (its test-mode and --run-id jobs
 * too), created at the schedule's time (02:00 on the 1st of the next month) or in the first
 * minute of it, is not taken for a driver-made one: the rule that keeps the fleet's notification
 * of another month from being reused. (Its hashed id embeds a second uniformly spread over 136
 * years: a chance of 121 in 2^32 to fall within the drift of a given createdAt.) */
static void fleet_ids_are_not_driver_made(void **state) {
        const char *const runs[] = {NULL, "rerun", "b"};
        const int64_t after_end_ms[] = {60000, 7200000};
        char month[8], job_id[128];
        uint8_t raw[12];
        bson_oid_t oid;
        int64_t start, end, checked = 0;
        (void)state;

        for (int year = 2020; year <= 2035; year++) {
                for (int mon = 1; mon <= 12; mon++) {
                        snprintf(month, sizeof(month), "%04d-%02d", year, mon);
                        jt_time_month_bounds_ms(year, mon, &start, &end);
                        for (int test_mode = 0; test_mode <= 1; test_mode++) {
                                for (size_t r = 0; r < N(runs); r++) {
                                        jt_job_ids_stats(month, test_mode, runs[r], job_id,
                                                         sizeof(job_id));
                                        jt_job_ids_notification_oid(job_id, raw);
                                        bson_oid_init_from_data(&oid, raw);
                                        for (size_t k = 0; k < N(after_end_ms); k++, checked++)
                                                if (jt_stats_notification_driver_made(
                                                        &oid, end + after_end_ms[k]))
                                                        fail_msg("%s: its notification id would "
                                                                 "pass for a driver's",
                                                                 job_id);
                                }
                        }
                }
        }
        assert_int_equal(checked, 16 * 12 * 2 * 3 * 2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(window),
            cmocka_unit_test(driver_made),
            cmocka_unit_test(fleet_ids_are_not_driver_made),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
