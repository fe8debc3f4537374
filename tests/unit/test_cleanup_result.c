/* The figures a cleanup job reports (common/jt_cleanup_result.c), by the original function's
 * rules: processingMode none / direct / batch (direct while the total found fits in one batch),
 * completionPercentage to one decimal (100 when nothing was found). Issue 16 item 6: the fleet
 * reported "batch" for every job that found anything, and the percentage unrounded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jt_cleanup_result.h"

static void test_processing_mode(void **state) {
        static const struct {
                int64_t found, batch;
                const char *want;
        } cases[] = {{0, 10000, "none"},       {1, 10000, "direct"},       {9999, 10000, "direct"},
                     {10000, 10000, "direct"}, {10001, 10000, "batch"},    {1500, 10000, "direct"},
                     {1000, 50, "batch"},      {1750000, 10000, "batch"},  {-1, 10000, "none"},
                     {5, 0, "batch"},          {INT64_MAX, 10000, "batch"}};
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *got = jt_cleanup_result_processing_mode(cases[i].found, cases[i].batch);
                if (strcmp(got, cases[i].want) != 0)
                        fail_msg("processing mode of %lld found, batch %lld: expected %s, "
                                 "actual %s",
                                 (long long)cases[i].found, (long long)cases[i].batch,
                                 cases[i].want, got);
        }
}

static void test_completion_percentage(void **state) {
        static const struct {
                int64_t deleted, found;
                double want;
        } cases[] = {{0, 0, 100.0},
                     {1750000, 1750000, 100.0},
                     {1347887, 1750000, 77.0},
                     {1, 3, 33.3},
                     {2, 3, 66.7},
                     {1, 2000, 0.1}, /* 0.05: half up */
                     {1, 20001, 0.0},
                     {0, 10, 0.0},
                     {9999, 10000, 99.9}, /* not 100 while one is left (the original said 100.0) */
                     {9995, 10000, 99.9},
                     {9994, 10000, 99.9},
                     {975, 1000, 97.5},
                     {INT64_MAX, INT64_MAX, 100.0}};
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                double got =
                    jt_cleanup_result_completion_percentage(cases[i].deleted, cases[i].found);
                if (fabs(got - cases[i].want) > 1e-9)
                        fail_msg("completion of %lld deleted of %lld: expected %.10g, actual %.10g",
                                 (long long)cases[i].deleted, (long long)cases[i].found,
                                 cases[i].want, got);
        }
}

static void test_fill(void **state) {
        jt_status_event_t ev = {0};
        (void)state;
        jt_cleanup_result_fill(&ev, 1750000, 1347887, 402113, 10000);
        assert_true(ev.records_deleted.set && ev.records_deleted.value == 1347887);
        assert_true(ev.total_records_found.set && ev.total_records_found.value == 1750000);
        assert_true(ev.remaining_records.set && ev.remaining_records.value == 402113);
        assert_true(ev.completion_percentage.set && ev.completion_percentage.value == 77.0);
        assert_true(ev.was_timeout_stopped.set && !ev.was_timeout_stopped.value);
        assert_string_equal(ev.processing_mode, "batch");
        jt_cleanup_result_fill(&ev, 0, 0, 0, 10000);
        assert_string_equal(ev.processing_mode, "none");
        assert_true(ev.completion_percentage.value == 100.0);
        jt_cleanup_result_fill(&ev, 1500, 1500, 0, 10000);
        assert_string_equal(ev.processing_mode, "direct");
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_processing_mode),
            cmocka_unit_test(test_completion_percentage),
            cmocka_unit_test(test_fill),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
