/* UTC cron: the producer's two schedules across month ends, year ends and leap years, catch-up
 * with prev and one fire per missed month (jt_cron_month_fires), next/prev properties against a
 * brute-force reference built on gmtime_r, Vixie day semantics, every parse error, and ISO 8601
 * times. */
#include <setjmp.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "jt_cron.h"
#include "jt_time.h"
#include "jt_test.h"

#define STATS   "0 2 1 * *" /* joytify-producer schedule --stats-cron */
#define CLEANUP "0 4 * * 1" /* --cleanup-cron */
#define DAY     86400
#define N(a)    (sizeof(a) / sizeof((a)[0]))

static int64_t at(const char *iso) {
        jt_error_t err;
        int64_t t;

        jt_error_clear(&err);
        assert_ok(jt_time_parse_iso(iso, &t, &err), err);
        return t;
}

static jt_cron_t cron_of(const char *expr) {
        jt_error_t err;
        jt_cron_t cron;

        jt_error_clear(&err);
        assert_ok(jt_cron_parse(expr, &cron, &err), err);
        return cron;
}

static void show(int64_t t, char *buf) {
        if (t == JT_CRON_NONE)
                snprintf(buf, JT_TIME_ISO_BUF, "none");
        else
                jt_time_format_iso(t, buf, JT_TIME_ISO_BUF);
}

/* Compares as ISO strings, so a failure shows both times and the case that produced them. */
static void assert_time_equal(int64_t expected, int64_t actual, const char *context) {
        char e[JT_TIME_ISO_BUF], a[JT_TIME_ISO_BUF];

        show(expected, e);
        show(actual, a);
        if (strcmp(e, a) != 0)
                print_error("%s: expected %s, got %s\n", context, e, a);
        assert_string_equal(e, a);
}

/* The reference: libc's calendar, not ours, applied to the parsed bitmasks with Vixie's rule. */
static bool reference_fires(const jt_cron_t *c, int64_t t) {
        time_t tt = (time_t)t;
        struct tm tm;

        assert_non_null(gmtime_r(&tt, &tm));
        bool dom = c->days >> tm.tm_mday & 1;
        bool dow = c->weekdays >> tm.tm_wday & 1;
        bool day = c->days_star || c->weekdays_star ? dom && dow : dom || dow;
        return tm.tm_sec == 0 && (c->minutes >> tm.tm_min & 1) && (c->hours >> tm.tm_hour & 1) &&
               (c->months >> (tm.tm_mon + 1) & 1) && day;
}

static struct tm utc(int64_t t) {
        time_t tt = (time_t)t;
        struct tm tm;

        assert_non_null(gmtime_r(&tt, &tm));
        return tm;
}

typedef struct {
        const char *expr;
        char dir; /* 'n': jt_cron_next, 'p': jt_cron_prev */
        const char *from;
        const char *expected; /* NULL: JT_CRON_NONE */
} cron_case_t;

static void run_cases(const cron_case_t *cases, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const cron_case_t *k = &cases[i];
                jt_cron_t cron = cron_of(k->expr);
                int64_t from = at(k->from);
                int64_t got = k->dir == 'n' ? jt_cron_next(&cron, from) : jt_cron_prev(&cron, from);
                char context[256];

                snprintf(context, sizeof(context), "%s(\"%s\", %s)",
                         k->dir == 'n' ? "next" : "prev", k->expr, k->from);
                assert_time_equal(k->expected ? at(k->expected) : JT_CRON_NONE, got, context);
        }
}

static void product_schedules_cross_month_and_year_ends(void **state) {
        static const cron_case_t cases[] = {
            {STATS, 'n', "2026-01-31T23:59:59Z", "2026-02-01T02:00Z"},
            {STATS, 'n', "2026-02-01T01:59:59Z", "2026-02-01T02:00Z"},
            {STATS, 'n', "2026-02-01T02:00:00Z", "2026-03-01T02:00Z"}, /* strictly after */
            {STATS, 'n', "2026-02-01T02:00:30Z", "2026-03-01T02:00Z"},
            {STATS, 'n', "2026-02-28T23:59:00Z", "2026-03-01T02:00Z"},
            {STATS, 'n', "2026-04-30T12:00Z", "2026-05-01T02:00Z"},
            {STATS, 'n', "2026-12-01T02:00Z", "2027-01-01T02:00Z"},
            {STATS, 'n', "2026-12-31T23:59:59Z", "2027-01-01T02:00Z"},
            {STATS, 'n', "2028-02-29T02:00Z", "2028-03-01T02:00Z"},
            {CLEANUP, 'n', "2026-01-31T00:00Z", "2026-02-02T04:00Z"},
            {CLEANUP, 'n', "2026-11-02T03:59:59Z", "2026-11-02T04:00Z"},
            {CLEANUP, 'n', "2026-11-02T04:00Z", "2026-11-09T04:00Z"},
            {CLEANUP, 'n', "2026-12-28T04:00Z", "2027-01-04T04:00Z"},
            {CLEANUP, 'n', "2026-12-31T12:00Z", "2027-01-04T04:00Z"},
            {CLEANUP, 'n', "2028-02-27T00:00Z", "2028-02-28T04:00Z"},
            {CLEANUP, 'n', "2028-02-28T04:00Z", "2028-03-06T04:00Z"}, /* 29th is a Tuesday */
            {CLEANUP, 'n', "2100-02-28T00:00Z", "2100-03-01T04:00Z"}, /* 2100: no 29th */
            {CLEANUP, 'n', "1969-12-31T23:59:59Z", "1970-01-05T04:00Z"},
        };
        run_cases(cases, N(cases));
}

static void leap_years(void **state) {
        static const cron_case_t cases[] = {
            {"0 0 29 2 *", 'n', "2026-01-01T00:00Z", "2028-02-29T00:00Z"},
            {"0 0 29 2 *", 'n', "2096-02-29T00:00Z", "2104-02-29T00:00Z"}, /* 2100 not leap */
            {"0 0 29 2 *", 'n', "1997-01-01T00:00Z", "2000-02-29T00:00Z"}, /* 2000 is leap */
            {"0 0 29 2 *", 'p', "2103-12-31T23:59Z", "2096-02-29T00:00Z"},
            {"0 0 29 2 *", 'p', "2000-02-29T00:00Z", "2000-02-29T00:00Z"},
            {"59 23 28-31 2 *", 'n', "2100-02-28T23:59Z", "2101-02-28T23:59Z"},
            {"59 23 28-31 2 *", 'p', "2100-03-01T00:00Z", "2100-02-28T23:59Z"},
            {"59 23 28-31 2 *", 'p', "2028-03-01T00:00Z", "2028-02-29T23:59Z"},
            {"0 12 * * *", 'n', "2100-02-28T12:00Z", "2100-03-01T12:00Z"},
            {"0 12 * * *", 'n', "2000-02-28T12:00Z", "2000-02-29T12:00Z"},
            {"0 12 * * *", 'n', "2028-02-28T12:00Z", "2028-02-29T12:00Z"},
            /* `*\/7` counts as unrestricted (Vixie), so both day fields must match: a 29 February
             * that is a Sunday, 40 years after the previous one across 2100. */
            {"0 0 29 2 */7", 'n', "2088-02-29T00:00Z", "2128-02-29T00:00Z"},
            {"0 0 29 2 */7", 'p', "2128-02-28T00:00Z", "2088-02-29T00:00Z"},
        };
        run_cases(cases, N(cases));
}

/* 2026-06-01 is a Monday and the 1st: both schedules fire that day, stats first. */
static void monday_the_first_fires_both(void **state) {
        static const cron_case_t cases[] = {
            {STATS, 'n', "2026-05-31T00:00Z", "2026-06-01T02:00Z"},
            {CLEANUP, 'n', "2026-05-31T00:00Z", "2026-06-01T04:00Z"},
            {STATS, 'n', "2026-06-01T02:00Z", "2026-07-01T02:00Z"},
            {CLEANUP, 'n', "2026-06-01T02:00Z", "2026-06-01T04:00Z"},
            {CLEANUP, 'n', "2026-06-01T04:00Z", "2026-06-08T04:00Z"},
            /* Down over both fires: each is caught up once. */
            {STATS, 'p', "2026-06-01T05:00Z", "2026-06-01T02:00Z"},
            {CLEANUP, 'p', "2026-06-01T05:00Z", "2026-06-01T04:00Z"},
        };
        struct tm tm = utc(at("2026-06-01T00:00Z"));

        assert_int_equal(tm.tm_wday, 1);
        run_cases(cases, N(cases));
}

static void stats_fires_twelve_times_a_year(void **state) {
        jt_cron_t cron = cron_of(STATS);

        for (int year = 2026; year <= 2030; year++) {
                char iso[32];
                int64_t t, end;
                int count = 0;

                snprintf(iso, sizeof(iso), "%04d-01-01T00:00Z", year);
                t = at(iso) - 1;
                snprintf(iso, sizeof(iso), "%04d-01-01T00:00Z", year + 1);
                end = at(iso);
                while ((t = jt_cron_next(&cron, t)) < end) {
                        count++;
                        snprintf(iso, sizeof(iso), "%04d-%02d-01T02:00Z", year, count);
                        assert_in_range(count, 1, 12);
                        assert_time_equal(at(iso), t, "monthly stats fire");
                }
                assert_int_equal(count, 12);
        }
}

/* Every Monday at 04:00, the Mondays found by stepping through the days with gmtime_r. */
static void cleanup_fires_every_monday(void **state) {
        jt_cron_t cron = cron_of(CLEANUP);
        bool saw_53 = false;

        for (int year = 2024; year <= 2030; year++) {
                char iso[32];
                int64_t t, day, end;
                int mondays = 0;

                snprintf(iso, sizeof(iso), "%04d-01-01T00:00Z", year);
                t = day = at(iso);
                snprintf(iso, sizeof(iso), "%04d-01-01T00:00Z", year + 1);
                end = at(iso);
                for (; day < end; day += DAY) {
                        if (utc(day).tm_wday != 1)
                                continue;
                        mondays++;
                        t = jt_cron_next(&cron, t);
                        snprintf(iso, sizeof(iso), "Monday %d of %d", mondays, year);
                        assert_time_equal(day + 4 * 3600, t, iso);
                }
                assert_true(jt_cron_next(&cron, t) >= end);
                assert_in_range(mondays, 52, 53);
                saw_53 |= mondays == 53;
        }
        assert_true(saw_53); /* 2024 and 2029 */
}

/* The scheduler was down from 2026-10-30 to 2026-11-03: it fires the latest missed run once. */
static void prev_finds_the_run_to_catch_up(void **state) {
        static const cron_case_t cases[] = {
            {STATS, 'p', "2026-11-03T00:00Z", "2026-11-01T02:00Z"},
            {CLEANUP, 'p', "2026-11-03T00:00Z", "2026-11-02T04:00Z"},
            {STATS, 'n', "2026-11-03T00:00Z", "2026-12-01T02:00Z"},
            {CLEANUP, 'n', "2026-11-03T00:00Z", "2026-11-09T04:00Z"},
            {STATS, 'p', "2026-11-01T02:00:00Z", "2026-11-01T02:00Z"}, /* at a fire: itself */
            {STATS, 'p', "2026-11-01T02:00:59Z", "2026-11-01T02:00Z"},
            {STATS, 'p', "2026-11-01T01:59:59Z", "2026-10-01T02:00Z"},
            {STATS, 'p', "2027-01-01T01:00Z", "2026-12-01T02:00Z"},
            {CLEANUP, 'p', "2027-01-03T23:59:59Z", "2026-12-28T04:00Z"},
            {CLEANUP, 'p', "2026-06-01T03:59:59Z", "2026-05-25T04:00Z"},
            {CLEANUP, 'p', "1970-01-05T03:00Z", "1969-12-29T04:00Z"},
        };
        int64_t down = at("2026-10-30T00:00Z"), up = at("2026-11-03T00:00Z");
        jt_cron_t stats = cron_of(STATS), cleanup = cron_of(CLEANUP);

        run_cases(cases, N(cases));
        /* Both schedules missed runs while down; a schedule that did not is left alone. */
        assert_true(jt_cron_prev(&stats, up) > down);
        assert_true(jt_cron_prev(&cleanup, up) > down);
        assert_false(jt_cron_prev(&stats, at("2026-10-31T00:00Z")) > down);
}

typedef struct {
        const char *expr, *after, *upto; /* after NULL: JT_CRON_NONE */
        size_t max, months;
        const char *fires[4]; /* expected, oldest first */
} month_fires_case_t;

/* The statistics catch-up: one fire per missed month (the latest of each), newest months kept
 * when max cuts, returned oldest first, and the count of every missed month. */
static void month_fires_catch_up_one_per_month(void **state) {
        static const month_fires_case_t cases[] = {
            /* Down from just after the August fire to 7 November: Sep, Oct, Nov fires. */
            {STATS,
             "2026-08-01T02:00Z",
             "2026-11-07T03:00Z",
             3,
             3,
             {"2026-09-01T02:00Z", "2026-10-01T02:00Z", "2026-11-01T02:00Z"}},
            {STATS,
             "2026-08-01T02:00Z",
             "2026-11-07T03:00Z",
             2,
             3,
             {"2026-10-01T02:00Z", "2026-11-01T02:00Z"}},
            {STATS, "2026-08-01T02:00Z", "2026-11-07T03:00Z", 1, 3, {"2026-11-01T02:00Z"}},
            {STATS, "2026-08-01T02:00Z", "2026-11-07T03:00Z", 0, 3, {NULL}},
            /* Across a year end; a fire exactly at upto counts, one exactly at after does not. */
            {STATS,
             "2026-11-30T00:00Z",
             "2027-02-01T02:00Z",
             5,
             3,
             {"2026-12-01T02:00Z", "2027-01-01T02:00Z", "2027-02-01T02:00Z"}},
            {STATS, "2026-12-01T02:00Z", "2027-01-01T02:00Z", 5, 1, {"2027-01-01T02:00Z"}},
            /* The original's 5-minute test schedule: the latest fire of each month only. */
            {"*/5 * * * *",
             "2026-11-28T10:00Z",
             "2026-12-07T04:12:30Z",
             5,
             2,
             {"2026-11-30T23:55Z", "2026-12-07T04:10Z"}},
            /* Nothing missed, and no start point (a first start): the latest fire alone. */
            {STATS, "2026-11-01T02:00Z", "2026-11-07T03:00Z", 5, 0, {NULL}},
            {STATS, "2026-12-01T00:00Z", "2026-11-07T03:00Z", 5, 0, {NULL}},
            {STATS, NULL, "2026-11-07T03:00Z", 5, 1, {"2026-11-01T02:00Z"}},
            {STATS, NULL, "2026-11-07T03:00Z", 0, 1, {NULL}},
        };

        for (size_t i = 0; i < N(cases); i++) {
                const month_fires_case_t *k = &cases[i];
                jt_cron_t cron = cron_of(k->expr);
                int64_t out[8] = {0};
                size_t written = 99, expected_written = 0;
                size_t months = jt_cron_month_fires(&cron, k->after ? at(k->after) : JT_CRON_NONE,
                                                    at(k->upto), out, k->max, &written);
                char context[256];

                while (expected_written < 4 && k->fires[expected_written])
                        expected_written++;
                snprintf(context, sizeof(context), "month_fires(\"%s\", %s, %s, max %zu)", k->expr,
                         k->after ? k->after : "none", k->upto, k->max);
                if (months != k->months || written != expected_written)
                        fail_msg("%s: expected %zu month(s) and %zu fire(s), got %zu and %zu",
                                 context, k->months, expected_written, months, written);
                for (size_t j = 0; j < written; j++)
                        assert_time_equal(at(k->fires[j]), out[j], context);
        }
        assert_time_equal(at("2026-11-01T00:00Z"), jt_time_month_start(at("2026-11-30T23:59:59Z")),
                          "month_start(2026-11-30T23:59:59Z)");
        assert_time_equal(at("2024-02-01T00:00Z"), jt_time_month_start(at("2024-02-29T12:00Z")),
                          "month_start(2024-02-29T12:00Z)");
        assert_time_equal(at("1969-12-01T00:00Z"), jt_time_month_start(at("1969-12-31T23:59Z")),
                          "month_start(1969-12-31T23:59Z)");
}

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rng(void) { /* xorshift64*: fixed seed, same times on every run */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

/* For seeded random t: next(t) is the first fire after t and prev(t) the last at or before it,
 * checked against each other, against the reference, and minute by minute in small windows. */
static void next_and_prev_agree_with_brute_force(void **state) {
        static const char *const exprs[] = {
            "* * * * *",         "*/7 3-5 * * *",      "0 2 1 * *",
            "0 4 * * 1",         "0 0 13 * 5",         "15,45 */6 1-7 * MON-FRI",
            "0 0 29 2 *",        "30 23 31 * *",       "*/15 * * JAN,JUL SUN",
            "59 23 31 12 *",     "0 0 */2 * 5",        "5-10/3 22-23 28-31 * *",
            "0,30 9-17 * * 1-5", "0 0 1,15 * 7",       "@hourly",
            "59 23 * * MON,THU", "58-59 0,23 */3 * *",
        };
        const int64_t lo = at("1900-01-01T00:00Z"), hi = at("2150-01-01T00:00Z");

        for (size_t e = 0; e < N(exprs); e++) {
                jt_cron_t cron = cron_of(exprs[e]);

                for (int i = 0; i < 2000; i++) {
                        int64_t t = lo + (int64_t)(rng() % (uint64_t)(hi - lo));
                        int64_t next = jt_cron_next(&cron, t);
                        int64_t prev = jt_cron_prev(&cron, t);
                        char context[128], when[JT_TIME_ISO_BUF];

                        show(t, when);
                        snprintf(context, sizeof(context), "\"%s\" at %s", exprs[e], when);
                        if (!(next > t && next % 60 == 0 && reference_fires(&cron, next)) ||
                            !(prev <= t && prev % 60 == 0 && reference_fires(&cron, prev)))
                                fail_msg("%s: next or prev is not a fire around t", context);
                        assert_time_equal(next, jt_cron_prev(&cron, next), context);
                        assert_time_equal(prev, jt_cron_prev(&cron, next - 1), context);
                        assert_time_equal(next, jt_cron_next(&cron, prev), context);
                        assert_time_equal(prev, jt_cron_prev(&cron, prev + 59), context);

                        /* Brute force over windows of up to two days each side. */
                        if (i >= 300)
                                continue;
                        for (int64_t m = prev + 60; m < next && m < prev + 2 * DAY; m += 60)
                                if (reference_fires(&cron, m))
                                        fail_msg("%s: %" PRId64 " fires between prev and next",
                                                 context, m);
                        for (int64_t m = next - 60; m > prev && m > next - 2 * DAY; m -= 60)
                                if (reference_fires(&cron, m))
                                        fail_msg("%s: %" PRId64 " fires between prev and next",
                                                 context, m);
                }
        }
}

/* Day by day over 2026-2027, which days fire, against the rule written out by hand. */
static void day_fields_follow_vixie_semantics(void **state) {
        static const struct {
                const char *expr;
                int rule;
        } cases[] = {
            {"0 0 13 * 5", 0},         /* both restricted: the 13th OR a Friday */
            {"0 0 13 * *", 1},         /* the 13th */
            {"0 0 * * 5", 2},          /* Fridays */
            {"0 0 */2 * 5", 3},        /* `*\/2` is unrestricted: odd days AND Fridays */
            {"0 0 1-31 * 5", 4},       /* both restricted: every day */
            {"0 0 1,15 * MON-FRI", 5}, /* 1st or 15th, OR a weekday */
        };
        const int64_t start = at("2026-01-01T00:00Z"), end = at("2028-01-01T00:00Z");

        for (size_t i = 0; i < N(cases); i++) {
                jt_cron_t cron = cron_of(cases[i].expr);
                int fires_2026 = 0;

                for (int64_t day = start; day < end; day += DAY) {
                        struct tm tm = utc(day);
                        int d = tm.tm_mday, w = tm.tm_wday;
                        bool want[] = {
                            d == 13 || w == 5,    d == 13, w == 5,
                            d % 2 == 1 && w == 5, true,    d == 1 || d == 15 || (w >= 1 && w <= 5)};
                        bool got = jt_cron_next(&cron, day - 1) == day;
                        char context[96], when[JT_TIME_ISO_BUF];

                        show(day, when);
                        snprintf(context, sizeof(context), "\"%s\" on %s", cases[i].expr, when);
                        if (got != want[cases[i].rule])
                                fail_msg("%s: fires %s, expected %s", context, got ? "yes" : "no",
                                         want[cases[i].rule] ? "yes" : "no");
                        fires_2026 += got && tm.tm_year == 126;
                }
                if (i == 0) /* 52 Fridays + 12 thirteenths - 3 Friday 13ths */
                        assert_int_equal(fires_2026, 61);
        }
}

static void assert_same_cron(const char *a, const char *b) {
        jt_cron_t x = cron_of(a), y = cron_of(b);

        if (x.minutes != y.minutes || x.hours != y.hours || x.days != y.days ||
            x.months != y.months || x.weekdays != y.weekdays || x.days_star != y.days_star ||
            x.weekdays_star != y.weekdays_star)
                fail_msg("\"%s\" and \"%s\" differ", a, b);
}

static void names_macros_and_sunday_seven(void **state) {
        static const char *const same[][2] = {
            {"0 0 * * 7", "0 0 * * 0"},
            {"0 0 * * sun", "0 0 * * 0"},
            {"0 0 * * SUN", "0 0 * * 7"},
            {"0 0 * * Mon-Fri", "0 0 * * 1-5"},
            {"0 0 * * 5-7", "0 0 * * 0,5,6"},
            {"0 0 * * 0-7/7", "0 0 * * 0"},
            {"0 0 * jan,Jul *", "0 0 * 1,7 *"},
            {"0 0 * JAN-MAR/2 *", "0 0 * 1,3 *"},
            {"0 0 1 dec *", "0 0 1 12 *"},
            {"*/15 * * * *", "0,15,30,45 * * * *"},
            {"10-40/10 * * * *", "10,20,30,40 * * * *"},
            {"0 */6 * * *", "0 0,6,12,18 * * *"},
            {"  0   2 1  *\t*  ", STATS},
            {"@yearly", "0 0 1 1 *"},
            {"@annually", "0 0 1 1 *"},
            {"@monthly", "0 0 1 * *"},
            {"@weekly", "0 0 * * 0"},
            {"@daily", "0 0 * * *"},
            {"@midnight", "0 0 * * *"},
            {"@hourly", "0 * * * *"},
            {" @Daily ", "0 0 * * *"},
        };
        static const cron_case_t cases[] = {
            {"0 0 * * 7", 'n', "2026-06-01T00:00Z", "2026-06-07T00:00Z"},
            {"0 0 * * sun", 'n', "2026-06-01T00:00Z", "2026-06-07T00:00Z"},
            {"0 0 * * 5-7", 'n', "2026-06-05T00:00Z", "2026-06-06T00:00Z"},
            {"0 0 * * 5-7", 'n', "2026-06-06T00:00Z", "2026-06-07T00:00Z"},
            {"0 0 * * 5-7", 'n', "2026-06-07T00:00Z", "2026-06-12T00:00Z"},
            {"0 0 1 jul *", 'n', "2026-06-07T00:00Z", "2026-07-01T00:00Z"},
            {"@weekly", 'n', "2026-06-01T00:00Z", "2026-06-07T00:00Z"},
        };
        jt_cron_t stats = cron_of(STATS);

        for (size_t i = 0; i < N(same); i++)
                assert_same_cron(same[i][0], same[i][1]);
        run_cases(cases, N(cases));
        /* The bits themselves, once. */
        assert_int_equal(stats.minutes, 1);
        assert_int_equal(stats.hours, 1 << 2);
        assert_int_equal(stats.days, 1 << 1);
        assert_int_equal(stats.months, 0x1ffe);
        assert_int_equal(stats.weekdays, 0x7f);
        assert_false(stats.days_star);
        assert_true(stats.weekdays_star);
}

static void parse_errors_name_field_token_and_range(void **state) {
        static const struct {
                const char *expr;
                const char *message;
        } cases[] = {
            {"0 25 * * *", "cron \"0 25 * * *\": hour 25 is out of range 0-23"},
            {"60 * * * *", "cron \"60 * * * *\": minute 60 is out of range 0-59"},
            {"0 0 0 * *", "cron \"0 0 0 * *\": day-of-month 0 is out of range 1-31"},
            {"0 0 32 * *", "cron \"0 0 32 * *\": day-of-month 32 is out of range 1-31"},
            {"0 0 * 13 *", "cron \"0 0 * 13 *\": month 13 is out of range 1-12"},
            {"0 0 * * 8", "cron \"0 0 * * 8\": day-of-week 8 is out of range 0-7"},
            {"0 0-99999999999 * * *",
             "cron \"0 0-99999999999 * * *\": hour 99999999999 is out of range 0-23"},
            {"0 2 1 * * *", "cron \"0 2 1 * * *\": expected 5 fields, got 6"},
            {"0 2 1 *", "cron \"0 2 1 *\": expected 5 fields, got 4"},
            {"", "cron \"\": expected 5 fields, got 0"},
            {"   ", "cron \"   \": expected 5 fields, got 0"},
            {"*/0 * * * *", "cron \"*/0 * * * *\": minute step 0 is out of range 1-59"},
            {"0 0-23/24 * * *", "cron \"0 0-23/24 * * *\": hour step 24 is out of range 1-23"},
            {"*/x * * * *", "cron \"*/x * * * *\": minute step \"x\" is not a number 1-59"},
            {"*/ * * * *", "cron \"*/ * * * *\": minute \"*/\" is missing a step after \"/\""},
            {"5/15 * * * *",
             "cron \"5/15 * * * *\": minute \"5/15\" has a step but no range (write 5-59/15)"},
            {"0 0 * * 5-1",
             "cron \"0 0 * * 5-1\": day-of-week range 5-1 is reversed (the start must not "
             "exceed the end)"},
            {"0 0 * * FRI-SUN",
             "cron \"0 0 * * FRI-SUN\": day-of-week range FRI-SUN is reversed (the start must "
             "not exceed the end)"},
            {"1,,2 * * * *", "cron \"1,,2 * * * *\": minute has an empty list item in \"1,,2\""},
            {"1, * * * *", "cron \"1, * * * *\": minute has an empty list item in \"1,\""},
            {"0 ,3 * * *", "cron \"0 ,3 * * *\": hour has an empty list item in \",3\""},
            {"5x * * * *", "cron \"5x * * * *\": minute \"5x\" has unexpected \"x\" after \"5\""},
            {"*5 * * * *", "cron \"*5 * * * *\": minute \"*5\" has unexpected \"5\" after \"*\""},
            {"*/5x * * * *",
             "cron \"*/5x * * * *\": minute \"*/5x\" has unexpected \"x\" after \"*/5\""},
            {"0 0 * * MON5",
             "cron \"0 0 * * MON5\": day-of-week \"MON5\" has unexpected \"5\" after \"MON\""},
            {"1- * * * *", "cron \"1- * * * *\": minute \"1-\" is missing a number after \"-\""},
            {"-1 * * * *", "cron \"-1 * * * *\": minute \"-1\" is not a number 0-59"},
            {"0 x * * *", "cron \"0 x * * *\": hour \"x\" is not a number 0-23"},
            {"0 0 * FOO *",
             "cron \"0 0 * FOO *\": month \"FOO\" is not a number 1-12 or a name JAN-DEC"},
            {"0 0 * MON *",
             "cron \"0 0 * MON *\": month \"MON\" is not a number 1-12 or a name JAN-DEC"},
            {"0 0 * * MONDAY",
             "cron \"0 0 * * MONDAY\": day-of-week \"MONDAY\" is not a number 0-7 or a name "
             "SUN-SAT"},
            {"0 0 * JAN-FOO *",
             "cron \"0 0 * JAN-FOO *\": month \"FOO\" is not a number 1-12 or a name JAN-DEC"},
            {"0 0 30 2 *",
             "cron \"0 0 30 2 *\": never fires: day-of-month 30 does not occur in month 2"},
            {"0 0 31 4 *",
             "cron \"0 0 31 4 *\": never fires: day-of-month 31 does not occur in month 4"},
            {"0 0 31 FEB,APR,JUN,SEP,NOV *",
             "cron \"0 0 31 FEB,APR,JUN,SEP,NOV *\": never fires: day-of-month 31 does not "
             "occur in month FEB,APR,JUN,SEP,NOV"},
            {"0 0 30-31 2 */2",
             "cron \"0 0 30-31 2 */2\": never fires: day-of-month 30-31 does not occur in month "
             "2"},
            {"@reboot",
             "cron \"@reboot\": unknown macro @reboot (expected @yearly, @annually, @monthly, "
             "@weekly, @daily, @midnight, @hourly or 5 fields)"},
            {"@daily 0", "cron \"@daily 0\": unexpected \"0\" after @daily"},
            {NULL, "cron expression is missing"},
        };

        for (size_t i = 0; i < N(cases); i++) {
                jt_error_t err;
                jt_cron_t cron;

                jt_error_clear(&err);
                memset(&cron, 0xff, sizeof(cron));
                assert_false(jt_cron_parse(cases[i].expr, &cron, &err));
                assert_int_equal(err.domain, JT_ERR_CONFIG);
                assert_string_equal(err.message, cases[i].message);
                /* The out-parameter is left empty, and an empty cron never fires. */
                assert_int_equal(cron.minutes | cron.hours | cron.days | cron.months, 0);
                assert_true(jt_cron_next(&cron, 0) == JT_CRON_NONE);
                assert_true(jt_cron_prev(&cron, 0) == JT_CRON_NONE);
        }
        /* Possible ones that look close. */
        cron_of("0 0 29 2 *");
        cron_of("0 0 30 1-2 *");
        cron_of("0 0 31 2 1"); /* both restricted: every Monday */
        cron_of("0 0 31 4 1"); /* likewise */
}

static void times_round_trip(void **state) {
        static const struct {
                const char *text;
                const char *canonical;
                int64_t t;
        } cases[] = {
            {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", 0},
            {"1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z", -1},
            {"2026-11-23T04:00Z", "2026-11-23T04:00:00Z", 1795406400},
            {"2026-11-23T04:00:00+00:00", "2026-11-23T04:00:00Z", 1795406400},
            {"2026-11-23T04:00+00:00", "2026-11-23T04:00:00Z", 1795406400},
            {"2028-02-29T12:34:56Z", "2028-02-29T12:34:56Z", 1835440496},
            {"2000-02-29T00:00Z", "2000-02-29T00:00:00Z", 951782400},
            {"1900-03-01T00:00Z", "1900-03-01T00:00:00Z", -2203891200},
            {"0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", JT_CRON_TIME_MIN},
            {"9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z", JT_CRON_TIME_MAX},
        };
        char buf[JT_TIME_ISO_BUF];

        for (size_t i = 0; i < N(cases); i++) {
                assert_int_equal(at(cases[i].text), cases[i].t);
                assert_int_equal(jt_time_format_iso(cases[i].t, buf, sizeof(buf)), 20);
                assert_string_equal(buf, cases[i].canonical);
        }
        /* Random times: our calendar against libc's, and back. */
        for (int i = 0; i < 5000; i++) {
                int64_t t = JT_CRON_TIME_MIN +
                            (int64_t)(rng() % (uint64_t)(JT_CRON_TIME_MAX - JT_CRON_TIME_MIN + 1));
                struct tm tm = utc(t);
                char want[64];

                snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
                jt_time_format_iso(t, buf, sizeof(buf));
                assert_string_equal(buf, want);
                assert_int_equal(at(buf), t);
        }
        /* Truncated like snprintf, and the extremes of int64_t do not overflow. */
        assert_int_equal(jt_time_format_iso(1795406400, buf, 8), 20);
        assert_string_equal(buf, "2026-11");
        assert_int_equal(jt_time_format_iso(1795406400, NULL, 0), 20);
        assert_true(jt_time_format_iso(INT64_MIN, buf, sizeof(buf)) < sizeof(buf));
        assert_true(jt_time_format_iso(INT64_MAX, buf, sizeof(buf)) < sizeof(buf));
}

static void impossible_times_are_rejected(void **state) {
        static const char *const malformed = "expected YYYY-MM-DDTHH:MM[:SS]Z in UTC, such as "
                                             "2026-11-23T04:00Z";
        static const struct {
                const char *text;
                const char *message; /* after `time "<text>": ` */
        } cases[] = {
            {"2026-02-30T00:00Z", "day 30 is out of range 01-28 for 2026-02"},
            {"2100-02-29T00:00Z", "day 29 is out of range 01-28 for 2100-02"},
            {"2026-04-31T00:00Z", "day 31 is out of range 01-30 for 2026-04"},
            {"2026-01-00T00:00Z", "day 00 is out of range 01-31 for 2026-01"},
            {"2026-13-01T00:00Z", "month 13 is out of range 01-12"},
            {"2026-00-10T00:00Z", "month 00 is out of range 01-12"},
            {"2026-01-01T24:00Z", "hour 24 is out of range 00-23"},
            {"2026-01-01T23:60Z", "minute 60 is out of range 00-59"},
            {"2026-01-01T23:59:60Z", "second 60 is out of range 00-59"},
            {"2026-01-01T00:00+01:00",
             "offset +01:00 is not accepted (times are UTC: write Z or +00:00)"},
            {"2026-01-01T00:00-00:00",
             "offset -00:00 is not accepted (times are UTC: write Z or +00:00)"},
            {"2026-01-01T00:00", NULL},
            {"2026-01-01 00:00Z", NULL},
            {"2026-1-01T00:00Z", NULL},
            {"2026-01-01T00:00:0Z", NULL},
            {"2026-01-01T00:00Zjunk", NULL},
            {"26-01-01T00:00Z", NULL},
            {"", NULL},
        };

        for (size_t i = 0; i < N(cases); i++) {
                jt_error_t err;
                int64_t t = 42;
                char want[JT_ERROR_MSG_MAX];

                snprintf(want, sizeof(want), "time \"%s\": %s", cases[i].text,
                         cases[i].message ? cases[i].message : malformed);
                jt_error_clear(&err);
                assert_false(jt_time_parse_iso(cases[i].text, &t, &err));
                assert_int_equal(err.domain, JT_ERR_CONFIG);
                assert_string_equal(err.message, want);
                assert_int_equal(t, 0);
        }
}

static void range_edges_and_empty_cron(void **state) {
        jt_cron_t every = cron_of("* * * * *"), yearly = cron_of("@yearly");
        jt_cron_t second_of_jan = cron_of("0 0 2 1 *"), empty;

        memset(&empty, 0, sizeof(empty));
        assert_true(jt_cron_next(&empty, 0) == JT_CRON_NONE);
        assert_true(jt_cron_prev(&empty, 0) == JT_CRON_NONE);
        assert_time_equal(JT_CRON_TIME_MIN, jt_cron_next(&every, INT64_MIN), "next from INT64_MIN");
        assert_time_equal(at("9999-12-31T23:59Z"), jt_cron_prev(&every, INT64_MAX),
                          "prev from INT64_MAX");
        assert_time_equal(JT_CRON_NONE, jt_cron_next(&every, JT_CRON_TIME_MAX), "next past 9999");
        assert_time_equal(JT_CRON_NONE, jt_cron_next(&every, INT64_MAX), "next from INT64_MAX");
        assert_time_equal(JT_CRON_NONE, jt_cron_prev(&every, JT_CRON_TIME_MIN - 1),
                          "prev before year 0");
        assert_time_equal(JT_CRON_NONE, jt_cron_next(&yearly, at("9999-06-01T00:00Z")),
                          "next yearly in 9999");
        assert_time_equal(JT_CRON_TIME_MIN, jt_cron_prev(&yearly, at("0000-06-01T00:00Z")),
                          "prev yearly in year 0");
        assert_time_equal(JT_CRON_NONE, jt_cron_prev(&second_of_jan, at("0000-01-01T12:00Z")),
                          "prev before the first 2 January");
}

/* A year of every-minute fires, both ways: each step must be constant time. */
static void a_year_of_every_minute_is_fast(void **state) {
        static const struct {
                const char *expr;
                int count;
        } cases[] = {
            {"* * * * *", 366 * 24 * 60},
            {"*/7 3-5 * * *", 366 * 3 * 9},
            {"0 4 * * 1", 52},
        };
        const int64_t start = at("2028-01-01T00:00Z"), end = at("2029-01-01T00:00Z");

        for (size_t i = 0; i < N(cases); i++) {
                jt_cron_t cron = cron_of(cases[i].expr);
                int forward = 0, backward = 0;

                for (int64_t t = jt_cron_next(&cron, start - 1); t < end;
                     t = jt_cron_next(&cron, t))
                        forward++;
                for (int64_t t = jt_cron_prev(&cron, end - 1); t >= start;
                     t = jt_cron_prev(&cron, t - 1))
                        backward++;
                assert_int_equal(forward, cases[i].count);
                assert_int_equal(backward, cases[i].count);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(product_schedules_cross_month_and_year_ends),
            cmocka_unit_test(leap_years),
            cmocka_unit_test(monday_the_first_fires_both),
            cmocka_unit_test(stats_fires_twelve_times_a_year),
            cmocka_unit_test(cleanup_fires_every_monday),
            cmocka_unit_test(prev_finds_the_run_to_catch_up),
            cmocka_unit_test(month_fires_catch_up_one_per_month),
            cmocka_unit_test(next_and_prev_agree_with_brute_force),
            cmocka_unit_test(day_fields_follow_vixie_semantics),
            cmocka_unit_test(names_macros_and_sunday_seven),
            cmocka_unit_test(parse_errors_name_field_token_and_range),
            cmocka_unit_test(times_round_trip),
            cmocka_unit_test(impossible_times_are_rejected),
            cmocka_unit_test(range_edges_and_empty_cron),
            cmocka_unit_test(a_year_of_every_minute_is_fast),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
