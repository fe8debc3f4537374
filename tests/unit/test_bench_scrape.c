/* The benchmark's reading of worker counters (loadtest/bench_scrape.c): a metric's samples are
 * summed over every label set, other metrics sharing its prefix are not counted, and a metric
 * the body lacks is reported absent (the bench then writes an empty cell, never 0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>

#include "bench_scrape.h"

static const char body[] = "# HELP joytify_db_requests_total Database commands sent.\n"
                           "# TYPE joytify_db_requests_total counter\n"
                           "joytify_db_requests_total{command=\"find\"} 12\n"
                           "joytify_db_requests_total{command=\"getMore\"} 30\n"
                           "joytify_db_requests_total{command=\"odd } label\"} 0.5\n"
                           "joytify_db_requests_total_created 1.7e9\n"
                           "joytify_users_read_total 5000\n"
                           "joytify_up 1";

static void test_sums_every_label(void **state) {
        double sum = -1;
        (void)state;
        assert_true(jt_bench_scrape_sum(body, "joytify_db_requests_total", &sum));
        if (sum != 42.5)
                fail_msg("joytify_db_requests_total: expected 42.5, actual %g", sum);
        assert_true(jt_bench_scrape_sum(body, "joytify_users_read_total", &sum));
        if (sum != 5000)
                fail_msg("joytify_users_read_total: expected 5000, actual %g", sum);
        assert_true(jt_bench_scrape_sum(body, "joytify_up", &sum));
        if (sum != 1)
                fail_msg("joytify_up (last line, no newline): expected 1, actual %g", sum);
}

static void test_absent_metric(void **state) {
        double sum = -1;
        (void)state;
        if (jt_bench_scrape_sum(body, "joytify_db_requests", &sum) || sum != 0)
                fail_msg("a prefix of a metric's name: expected absent and 0, actual %g", sum);
        if (jt_bench_scrape_sum("", "joytify_up", &sum) || sum != 0)
                fail_msg("empty body: expected absent and 0, actual %g", sum);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sums_every_label),
            cmocka_unit_test(test_absent_metric),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
