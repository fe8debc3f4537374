/* Cleanup time slices (worker/cleanup_slice.c): the worker's loop replayed over playback times
 * held in memory, as the database would answer it (a slice's deleteMany removes the times in
 * [from, end of slice)). Checked: slices tile the range with no gap or overlap, so every
 * playback is deleted exactly once; batches stay near batch_size on even data; a redelivered
 * range with an empty head, a dense instant, playbacks bunched at the end and a range of
 * centuries all finish in a bounded number of steps; no arithmetic overflows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

#include "cleanup_slice.h"

#define DAY_MS INT64_C(86400000)

typedef struct {
        int64_t slices;    /* deleteMany calls */
        int64_t deleted;   /* playbacks removed in all */
        int64_t max_batch; /* the most one slice removed */
        int64_t min_batch; /* the least a non-empty slice removed, the last one excepted */
} replay_t;

/* Runs the worker's loop over times[0..n) (ascending) in [start, end) with batch_size. */
static replay_t replay(const int64_t *times, size_t n, int64_t start, int64_t end, int64_t batch) {
        replay_t r = {0, 0, 0, INT64_MAX};
        size_t next = 0; /* first time not yet deleted: slices only move forward */
        int64_t left = (int64_t)n, last_nonempty = -1;
        jt_cleanup_slice_t s = jt_cleanup_slice_first(start, end, batch, left);

        assert_int_equal(s.from_ms, start);
        while (s.from_ms < end) {
                int64_t to = jt_cleanup_slice_end(&s, end), d = 0;

                assert_true(to > s.from_ms);
                assert_true(to <= end);
                while (next < n && times[next] < to) {
                        assert_true(times[next] >= s.from_ms); /* no gap behind the slice */
                        next++, d++;
                }
                r.slices++;
                r.deleted += d;
                if (d > r.max_batch)
                        r.max_batch = d;
                if (d > 0) {
                        if (last_nonempty >= 0 && last_nonempty < r.min_batch)
                                r.min_batch = last_nonempty;
                        last_nonempty = d;
                }
                left -= d;
                jt_cleanup_slice_next(&s, d, left, batch, end);
                assert_int_equal(s.from_ms, to); /* the next slice starts where this one ended */
                assert_true(s.width_ms >= 1);
                if (r.slices > 1000000)
                        fail_msg("slices: expected the range done within 1,000,000, actual more");
        }
        assert_int_equal(r.deleted, (int64_t)n);
        return r;
}

static int64_t *even_times(size_t n, int64_t from, int64_t to) {
        int64_t *t = malloc(n * sizeof(*t));
        assert_non_null(t);
        for (size_t i = 0; i < n; i++)
                t[i] = from + (int64_t)((double)(to - from) * (double)i / (double)n);
        return t;
}

static void first_slice_spreads_the_batch_evenly(void **state) {
        (void)state;
        jt_cleanup_slice_t s = jt_cleanup_slice_first(1000, 2000, 10, 100);
        assert_int_equal(s.from_ms, 1000);
        assert_int_equal(s.width_ms, 100);
        s = jt_cleanup_slice_first(0, DAY_MS, 10000, 0); /* nothing counted: the whole range */
        assert_int_equal(s.width_ms, DAY_MS);
        s = jt_cleanup_slice_first(0, 10, 1, 1000000); /* denser than 1 per ms: 1 ms */
        assert_int_equal(s.width_ms, 1);
}

/* A day of 58,000 playbacks (a 24-hour range at the original's scale), 10,000 per batch. */
static void even_range_takes_batches_of_about_batch_size(void **state) {
        (void)state;
        int64_t *t = even_times(58000, 0, DAY_MS);
        replay_t r = replay(t, 58000, 0, DAY_MS, 10000);

        print_message("even: %" PRId64 " slices, batches %" PRId64 "..%" PRId64 "\n", r.slices,
                      r.min_batch, r.max_batch);
        assert_in_range(r.max_batch, 9000, 11000);
        assert_in_range(r.min_batch, 9000, 11000);
        assert_in_range(r.slices, 6, 8);
        free(t);
}

/* A redelivery after half the range was deleted: the empty head is crossed in steps no wider
 * than the first, so the first dense slice holds about two batches, not the rest at once. */
static void empty_head_is_crossed_without_a_huge_batch(void **state) {
        (void)state;
        int64_t *t = even_times(50000, DAY_MS / 2, DAY_MS);
        replay_t r = replay(t, 50000, 0, DAY_MS, 1000);

        print_message("empty head: %" PRId64 " slices, largest batch %" PRId64 "\n", r.slices,
                      r.max_batch);
        assert_true(r.max_batch <= 2100);
        assert_true(r.slices <= 2 * 50000 / 1000 + 10);
        free(t);
}

/* 10,000 playbacks in one millisecond (the width falls to 1 ms), then 10,000 over the rest of
 * a 10-day range: the width must grow back, not crawl 1 ms at a time. */
static void width_grows_back_after_a_dense_instant(void **state) {
        (void)state;
        int64_t *t = malloc(20000 * sizeof(*t)), *rest = even_times(10000, DAY_MS, 10 * DAY_MS);
        assert_non_null(t);
        for (int i = 0; i < 10000; i++)
                t[i] = 5; /* ties at one time: one slice must take them all */
        for (int i = 0; i < 10000; i++)
                t[10000 + i] = rest[i];
        replay_t r = replay(t, 20000, 0, 10 * DAY_MS, 500);

        print_message("dense instant: %" PRId64 " slices\n", r.slices);
        assert_true(r.slices <= 200);
        free(rest);
        free(t);
}

/* Everything in the last 1% of the range: no more steps than an even spread would take, twice
 * (the bunch itself is one batch: slices cannot see ahead, see cleanup_slice.h). */
static void playbacks_bunched_at_the_end(void **state) {
        (void)state;
        int64_t *t = even_times(20000, 99 * DAY_MS / 100, DAY_MS);
        replay_t r = replay(t, 20000, 0, DAY_MS, 1000);

        print_message("bunched at the end: %" PRId64 " slices, largest %" PRId64 "\n", r.slices,
                      r.max_batch);
        assert_true(r.slices <= 2 * 20000 / 1000 + 10);
        free(t);
}

/* Centuries before and after 1970, one playback per year: no overflow, few steps. */
static void huge_and_pre_1970_ranges(void **state) {
        (void)state;
        int64_t year = 365 * DAY_MS, start = -300 * year, end = 300 * year;
        int64_t *t = even_times(600, start, end);
        replay_t r = replay(t, 600, start, end, 50);
        assert_true(r.slices <= 30);
        free(t);

        /* The largest widths: the end saturates instead of wrapping. */
        jt_cleanup_slice_t s = {INT64_MAX - 10, INT64_MAX / 4};
        assert_int_equal(jt_cleanup_slice_end(&s, INT64_MAX), INT64_MAX);
        s = (jt_cleanup_slice_t){INT64_MIN + 10, INT64_MAX / 4};
        assert_int_equal(jt_cleanup_slice_end(&s, INT64_MAX), INT64_MIN + 10 + INT64_MAX / 4);
        jt_cleanup_slice_next(&s, 0, 0, 10000, INT64_MAX); /* the rest: clamped, positive */
        assert_true(s.width_ms >= 1);
        s = (jt_cleanup_slice_t){INT64_MAX - 10, INT64_MAX / 4};
        jt_cleanup_slice_next(&s, 5, 5, 10000, INT64_MAX); /* 8 times as wide: clamped */
        assert_int_equal(s.from_ms, INT64_MAX);
        assert_int_equal(s.width_ms, INT64_MAX / 4);
        s = (jt_cleanup_slice_t){0, 1};
        jt_cleanup_slice_next(&s, 1000000, 10, 1, 100); /* denser than 1 ms can split */
        assert_int_equal(s.width_ms, 1);
}

/* A job's task for everything older than its ranges: [INT64_MIN, end). Odd dates (INT64_MIN,
 * year 1, the day before the epoch) go in one slice that ends at the epoch, so no query names a
 * date before year 1; the dated part after it is sliced as a range of its own. */
static void range_from_int64_min(void **state) {
        (void)state;
        const int64_t y1 = INT64_C(-62135596800000), end = 400 * DAY_MS;
        const size_t n_odd = 4, n = n_odd + 10000;
        int64_t *t = malloc(n * sizeof(*t));
        int64_t *dated = even_times(n - n_odd, 0, end);
        jt_cleanup_slice_t s;
        replay_t r;

        assert_non_null(t);
        t[0] = INT64_MIN;
        t[1] = INT64_MIN + 1;
        t[2] = y1;
        t[3] = -DAY_MS;
        for (size_t i = n_odd; i < n; i++)
                t[i] = dated[i - n_odd];
        s = jt_cleanup_slice_first(INT64_MIN, end, 100, (int64_t)n);
        assert_int_equal(s.from_ms, INT64_MIN);
        assert_int_equal(jt_cleanup_slice_end(&s, end), -1);
        s = jt_cleanup_slice_first(y1, end, 100, (int64_t)n); /* from year 1: up to the epoch */
        assert_int_equal(jt_cleanup_slice_end(&s, end), 0);
        s = jt_cleanup_slice_first(INT64_MIN, -DAY_MS, 100, 5); /* all before: one slice */
        assert_int_equal(jt_cleanup_slice_end(&s, -DAY_MS), -DAY_MS);
        r = replay(t, n, INT64_MIN, end, 100);
        assert_true(r.max_batch <= 4 * 100);
        if (r.slices > 400)
                fail_msg("slices: expected at most 400 for 10,004 playbacks, actual %" PRId64,
                         r.slices);
        free(dated);
        free(t);
}

/* Nothing left by the count after an empty slice: the rest of the range in one deleteMany
 * (what a concurrent worker left behind, if anything, is still deleted). */
static void nothing_left_takes_the_rest_at_once(void **state) {
        (void)state;
        jt_cleanup_slice_t s = {0, 100};
        jt_cleanup_slice_next(&s, 0, 0, 10000, DAY_MS);
        assert_int_equal(s.from_ms, 100);
        assert_int_equal(s.width_ms, DAY_MS - 100);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(first_slice_spreads_the_batch_evenly),
            cmocka_unit_test(even_range_takes_batches_of_about_batch_size),
            cmocka_unit_test(empty_head_is_crossed_without_a_huge_batch),
            cmocka_unit_test(width_grows_back_after_a_dense_instant),
            cmocka_unit_test(playbacks_bunched_at_the_end),
            cmocka_unit_test(huge_and_pre_1970_ranges),
            cmocka_unit_test(nothing_left_takes_the_rest_at_once),
            cmocka_unit_test(range_from_int64_min),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
