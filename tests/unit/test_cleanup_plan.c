/* The ranges of a cleanup job (common/jt_cleanup_plan.c), table-driven over the oldest
 * playback's date: year 1, 1965, 1970-01-01, INT64_MIN and its neighbour, the day before the
 * cutoff, a normal backlog, the floor itself, cutoffs before 1970 and in year 1. Checked on the ids
 * as the producer sends them and the ranges rebuilt from those ids alone: the task count is
 * bounded, the ranges tile [oldest's hour or INT64_MIN, cutoff) with no gap or overlap, and every
 * id is a valid ledger key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jt_cleanup_plan.h"

#define HOUR_MS INT64_C(3600000)
#define DAY_MS  (24 * HOUR_MS)
#define JOB     "cleanup-2026-11-02T0400Z"
/* 2026-09-03T04:00:17Z: a cutoff of a manual job, not on the minute. */
#define CUTOFF INT64_C(1788408017000)

typedef struct {
        const char *name;
        int64_t oldest_ms;
        int64_t cutoff_ms;
        int range_hours;
        int max_ranges;
        bool older;   /* expected: a task for everything before the floor */
        size_t count; /* expected task count; 0: just at most max_ranges */
} plan_case_t;

static void check(const plan_case_t *c) {
        jt_cleanup_plan_t plan;
        int64_t prev_end = 0, start = 0, end = 0;
        char id[160];
        size_t count;
        jt_error_t err;

        jt_cleanup_plan_make(c->oldest_ms, c->cutoff_ms, c->range_hours, c->max_ranges, &plan);
        count = jt_cleanup_plan_count(&plan);
        printf("%-28s %zu tasks, older %d\n", c->name, count, plan.older);
        if (count > (size_t)c->max_ranges || count == 0)
                fail_msg("%s: tasks expected 1..%d, actual %zu", c->name, c->max_ranges, count);
        if (c->count && count != c->count)
                fail_msg("%s: tasks expected %zu, actual %zu", c->name, c->count, count);
        if (plan.older != c->older)
                fail_msg("%s: older task expected %d, actual %d", c->name, c->older, plan.older);
        for (size_t i = 0; i < count; i++) {
                jt_error_clear(&err);
                jt_cleanup_plan_task_id(&plan, JOB, i, id, sizeof(id));
                if (strncmp(id, JOB "/", strlen(JOB) + 1) != 0 || strpbrk(id, ".$") ||
                    strlen(id) - strlen(JOB) - 1 >= 128)
                        fail_msg("%s: task %zu id %s: expected %s/KEY, KEY under 128 characters "
                                 "without '.' or '$'",
                                 c->name, i, id, JOB);
                if (!jt_cleanup_plan_range(id, c->cutoff_ms, c->range_hours, &start, &end, &err))
                        fail_msg("%s: task %zu id %s: expected a range, actual: %s", c->name, i, id,
                                 err.message);
                if (i == 0 && start > c->oldest_ms)
                        fail_msg("%s: first range starts at %" PRId64 ", after the oldest "
                                 "playback %" PRId64,
                                 c->name, start, c->oldest_ms);
                if (i > 0 && start != prev_end)
                        fail_msg("%s: task %zu (%s) starts at %" PRId64 ", expected the end of "
                                 "the one before, %" PRId64,
                                 c->name, i, id, start, prev_end);
                if (end <= start)
                        fail_msg("%s: task %zu (%s): empty range [%" PRId64 ", %" PRId64 ")",
                                 c->name, i, id, start, end);
                if (i + 1 < count && start != INT64_MIN &&
                    end - start != (int64_t)c->range_hours * HOUR_MS)
                        fail_msg("%s: task %zu (%s): a window expected %d h, actual %" PRId64 " ms",
                                 c->name, i, id, c->range_hours, end - start);
                prev_end = end;
        }
        if (prev_end != c->cutoff_ms)
                fail_msg("%s: last range ends at %" PRId64 ", expected the cutoff %" PRId64,
                         c->name, prev_end, c->cutoff_ms);
}

static void plans_are_bounded_and_tile_to_the_cutoff(void **state) {
        (void)state;
        static const plan_case_t cases[] = {
            {"normal: 10 days of backlog", CUTOFF - 10 * DAY_MS + 1234, CUTOFF, 24, 400, false, 11},
            {"the day before the cutoff", CUTOFF - 1, CUTOFF, 24, 400, false, 1},
            {"year 1", INT64_C(-62135596800000), CUTOFF, 24, 400, true, 400},
            {"1970-01-01", 0, CUTOFF, 24, 400, true, 400},
            {"INT64_MIN", INT64_MIN, CUTOFF, 24, 400, true, 400},
            {"INT64_MIN + 1", INT64_MIN + 1, CUTOFF, 24, 400, true, 400},
            {"year 1, hourly ranges", INT64_C(-62135596800000), CUTOFF, 1, 400, true, 400},
            {"year 1, 2 ranges at most", INT64_C(-62135596800000), CUTOFF, 24, 2, true, 2},
            {"year 1, year-long ranges", INT64_C(-62135596800000), CUTOFF, 8784, 10000, false, 0},
            {"INT64_MIN, year-long ranges", INT64_MIN, CUTOFF, 8784, 10000, true, 0},
            {"1965, year-long ranges", INT64_C(-152803800000), CUTOFF, 8784, 400, false, 62},
            {"INT64_MIN, cutoff before 1970", INT64_MIN, -5 * DAY_MS + 7, 24, 400, true, 400},
            {"cutoff just after 1970", INT64_MIN, 3 * HOUR_MS + 7, 24, 400, true, 400},
            {"cutoff in year 1", INT64_MIN, INT64_C(-62135596800000) + 5 * DAY_MS, 24, 400, true,
             6},
            {"399 days back", CUTOFF - 398 * DAY_MS, CUTOFF, 24, 400, false, 399},
            {"401 days back", CUTOFF - 401 * DAY_MS, CUTOFF, 24, 400, true, 400},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                check(&cases[i]);
}

static void ids_of_neither_form_are_refused(void **state) {
        (void)state;
        static const char *const bad[] = {JOB,
                                          JOB "/0003",
                                          JOB "/before-",
                                          JOB "/before-2026",
                                          JOB "/20261302T0000",
                                          JOB "/before-20260230T0000"};
        int64_t start, end;
        jt_error_t err;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                jt_error_clear(&err);
                if (jt_cleanup_plan_range(bad[i], CUTOFF, 24, &start, &end, &err))
                        fail_msg("%s: expected refused, actual [%" PRId64 ", %" PRId64 ")", bad[i],
                                 start, end);
                printf("%s: %s\n", bad[i], err.message);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(plans_are_bounded_and_tile_to_the_cutoff),
            cmocka_unit_test(ids_of_neither_form_are_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
