/* Numbers from the wire (status events on the topic) at their extremes: the saturating helpers
 * (common/jt_sat.c), the status event's ranges checked when it is decoded (common/
 * jt_status_event.c), and progress folded and rendered from counts of INT64_MAX (notifier/
 * progress.c, message.c). Under the sanitizer build a signed overflow or an out-of-range
 * float cast aborts, so passing there means no undefined behaviour on these inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <avro.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_avro.h"
#include "jt_sat.h"
#include "jt_test.h"
#include "message.h"
#include "progress.h"

static jt_avro_registry_t *reg;

static int setup(void **state) {
        jt_error_t err;
        (void)state;
        jt_error_clear(&err);
        reg = jt_avro_registry_new(&err);
        return reg ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        jt_avro_registry_destroy(reg);
        return 0;
}

static void test_sat(void **state) {
        static const struct {
                int64_t a, b, sum, diff;
        } cases[] = {
            {1, 2, 3, -1},
            {INT64_MAX, 1, INT64_MAX, INT64_MAX - 1},
            {INT64_MAX, INT64_MAX, INT64_MAX, 0},
            {INT64_MIN, -1, INT64_MIN, INT64_MIN + 1},
            {INT64_MIN, INT64_MIN, INT64_MIN, 0},
            {INT64_MAX, INT64_MIN, -1, INT64_MAX},
            {INT64_MIN, INT64_MAX, -1, INT64_MIN},
            {0, INT64_MIN, INT64_MIN, INT64_MAX},
        };
        static const struct {
                double d;
                bool ok;
                int64_t want;
        } conv[] = {
            {0.0, true, 0},
            {-0.9, true, 0},
            {1e300, true, INT64_MAX},
            {-1e300, true, INT64_MIN},
            {9223372036854775807.0, true, INT64_MAX}, /* 2^63 once a double */
            {9223372036854774784.0, true, INT64_C(9223372036854774784)},
            {-9223372036854775808.0, true, INT64_MIN},
            {INFINITY, true, INT64_MAX},
            {-INFINITY, true, INT64_MIN},
            {NAN, false, 0},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int64_t s = jt_sat_add_i64(cases[i].a, cases[i].b);
                int64_t d = jt_sat_sub_i64(cases[i].a, cases[i].b);
                if (s != cases[i].sum || d != cases[i].diff)
                        fail_msg("%lld, %lld: expected sum %lld diff %lld, actual %lld %lld",
                                 (long long)cases[i].a, (long long)cases[i].b,
                                 (long long)cases[i].sum, (long long)cases[i].diff, (long long)s,
                                 (long long)d);
        }
        for (size_t i = 0; i < sizeof(conv) / sizeof(conv[0]); i++) {
                int64_t out = 42;
                bool ok = jt_sat_i64_from_double(conv[i].d, &out);
                if (ok != conv[i].ok || out != conv[i].want)
                        fail_msg("%g: expected %d %lld, actual %d %lld", conv[i].d, conv[i].ok,
                                 (long long)conv[i].want, ok, (long long)out);
        }
        assert_true(jt_sat_clamp_double(NAN, 0, 1) == 0.0);
        assert_true(jt_sat_clamp_double(1e300, 0, 1) == 1.0);
        assert_true(jt_sat_clamp_double(-INFINITY, 0, 1) == 0.0);
        assert_true(jt_sat_clamp_double(0.25, 0, 1) == 0.25);
}

static jt_status_event_t finished_event(void) {
        jt_status_event_t e = {.job_id = "stats-2026-10",
                               .type = JT_STATUS_JOB_FINISHED,
                               .job_kind = JT_JOB_KIND_STATS,
                               .timestamp_ms = INT64_C(1793494572000),
                               .users_processed = {true, 5000},
                               .completion_percentage = {true, 50.0}};
        return e;
}

/* The bytes a forger (or a bug) would send: a valid event with one field overwritten in the
 * Avro value, so that the encoder's own validation is bypassed. */
static void *forged(const char *field, bool is_double, int64_t l, double d, size_t *len) {
        jt_status_event_t e = finished_event();
        avro_value_t v;
        void *buf = NULL;
        jt_error_t err;

        jt_error_clear(&err);
        assert_ok(jt_status_event_encode(reg, &e, &buf, len, &err), err);
        assert_ok(jt_avro_decode(reg, JT_AVRO_STATUS_EVENT, buf, *len, &v, &err), err);
        free(buf);
        buf = NULL;
        if (is_double)
                assert_ok(jt_avro_value_set_double(&v, field, d, &err), err);
        else
                assert_ok(jt_avro_value_set_long(&v, field, l, &err), err);
        assert_ok(jt_avro_encode(reg, JT_AVRO_STATUS_EVENT, &v, &buf, len, &err), err);
        avro_value_decref(&v);
        return buf;
}

static void test_event_ranges(void **state) {
        static const struct {
                const char *field;
                bool is_double;
                int64_t l;
                double d;
                const char *refused; /* NULL: accepted */
        } cases[] = {
            {"timestamp", false, 0, 0, NULL},
            {"timestamp", false, JT_STATUS_TIME_MAX_MS, 0, NULL},
            {"timestamp", false, JT_STATUS_TIME_MAX_MS + 1, 0, "timestamp must be"},
            {"timestamp", false, INT64_MAX, 0, "timestamp must be"},
            {"timestamp", false, -1, 0, "timestamp must be"},
            {"timestamp", false, INT64_MIN, 0, "timestamp must be"},
            {"users_processed", false, INT64_MAX, 0, NULL},
            {"users_processed", false, -1, 0, "users_processed must be >= 0"},
            {"notifications_created", false, INT64_MIN, 0, "notifications_created must be >= 0"},
            {"batch_size", false, -5, 0, "batch_size must be >= 0"},
            {"progress_total", false, INT64_MAX, 0, NULL},
            {"progress_done", false, INT64_MIN, 0, "progress_done must be >= 0"},
            {"execution_ms", false, INT64_MAX, 0, NULL},
            {"cutoff_date", false, INT64_MIN, 0, NULL}, /* only shown, and any value shows */
            {"completion_percentage", true, 0, 1e300, NULL},
            {"completion_percentage", true, 0, NAN, "completion_percentage must be"},
            {"completion_percentage", true, 0, INFINITY, "completion_percentage must be"},
            {"completion_percentage", true, 0, -1.0, "completion_percentage must be"},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t len;
                void *buf =
                    forged(cases[i].field, cases[i].is_double, cases[i].l, cases[i].d, &len);
                jt_status_event_t ev;
                jt_error_t err;
                bool ok;

                jt_error_clear(&err);
                ok = jt_status_event_decode(reg, buf, len, &ev, &err);
                free(buf);
                if (ok)
                        jt_status_event_clear(&ev);
                if (ok != !cases[i].refused ||
                    (cases[i].refused &&
                     (err.domain != JT_ERR_INPUT || !strstr(err.message, cases[i].refused))))
                        fail_msg("%s = %lld / %g: expected %s%s, actual %s (%s)", cases[i].field,
                                 (long long)cases[i].l, cases[i].d,
                                 cases[i].refused ? "refused: " : "accepted",
                                 cases[i].refused ? cases[i].refused : "",
                                 ok ? "accepted" : "refused", err.message);
        }
}

/* Ids of any length reached the notifier's progress, which keeps every task id of a job: 64
 * events with 1 MB task ids held 64 MB. Ids over 256 bytes are refused at decode. */
static void test_event_id_lengths(void **state) {
        static const char *fields[] = {"job_id", "task_id", "worker_id"};
        char *big = malloc(1 << 20);
        (void)state;

        assert_non_null(big);
        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
                for (size_t n = 255; n <= 257; n++) {
                        jt_status_event_t e = finished_event(), ev;
                        avro_value_t v;
                        void *buf = NULL;
                        size_t len;
                        jt_error_t err;
                        bool ok;

                        memset(big, 'x', n);
                        big[n] = '\0';
                        jt_error_clear(&err);
                        assert_ok(jt_status_event_encode(reg, &e, &buf, &len, &err), err);
                        assert_ok(jt_avro_decode(reg, JT_AVRO_STATUS_EVENT, buf, len, &v, &err),
                                  err);
                        free(buf);
                        buf = NULL;
                        assert_ok(jt_avro_value_set_string(&v, fields[f], big, &err), err);
                        assert_ok(jt_avro_encode(reg, JT_AVRO_STATUS_EVENT, &v, &buf, &len, &err),
                                  err);
                        avro_value_decref(&v);
                        ok = jt_status_event_decode(reg, buf, len, &ev, &err);
                        free(buf);
                        if (ok)
                                jt_status_event_clear(&ev);
                        if (ok != (n <= 256) || (!ok && !strstr(err.message, "at most 256 bytes")))
                                fail_msg("%s of %zu bytes: expected %s, actual %s (%s)", fields[f],
                                         n, n <= 256 ? "accepted" : "refused",
                                         ok ? "accepted" : "refused", err.message);
                }
        }
        free(big);
}

static jt_status_event_t task_event(jt_status_type_t type, const char *task, int64_t ts,
                                    int64_t done, int64_t total) {
        jt_status_event_t e = {.job_id = "stats-huge",
                               .task_id = (char *)task,
                               .type = type,
                               .job_kind = JT_JOB_KIND_STATS,
                               .timestamp_ms = ts,
                               .worker_id = "w/1",
                               .progress_done = {true, done},
                               .progress_total = {true, total}};
        return e;
}

/* Renders job the two ways the notifier does (watch's numbers, run's Discord message). */
static void render(const jt_job_progress_t *job, int64_t now_ms, jt_progress_summary_t *s) {
        jt_message_t msg;
        char bar[128];

        jt_progress_summarize(job, now_ms, s);
        jt_message_for_progress(job, now_ms, &msg);
        assert_non_null(msg.body);
        jt_message_clear(&msg);
        jt_progress_bar(s->fraction, 20, bar, sizeof(bar));
        /* What watch and message.c convert; each must be in range (the summary's bounds). */
        assert_true(s->rate_per_s >= 0 && s->rate_per_s * 10.0 < 9.2e18);
        assert_true(s->eta_s < 0 || s->eta_s * 1000.0 < 9.2e18);
        assert_true(s->fraction >= 0 && s->fraction <= 1);
        assert_true(s->elapsed_ms >= 0);
}

static void test_progress_extremes(void **state) {
        jt_progress_t *p = jt_progress_new(8);
        jt_status_event_t start = {.job_id = "stats-huge",
                                   .type = JT_STATUS_JOB_STARTED,
                                   .job_kind = JT_JOB_KIND_STATS,
                                   .timestamp_ms = 1000,
                                   .tasks_total = {true, INT64_MAX}};
        jt_status_event_t ev;
        jt_job_progress_t *job;
        jt_progress_summary_t s;

        (void)state;
        assert_non_null(p);
        assert_non_null(jt_progress_apply(p, &start));
        /* Two tasks of INT64_MAX users each, both done a millisecond after the start. */
        ev = task_event(JT_STATUS_TASK_PROGRESS, "stats-huge/0001", 1001, INT64_MAX, INT64_MAX);
        assert_non_null(jt_progress_apply(p, &ev));
        ev = task_event(JT_STATUS_TASK_PROGRESS, "stats-huge/0002", 1001, INT64_MAX, INT64_MAX);
        assert_non_null(job = jt_progress_apply(p, &ev));
        render(job, 1001, &s);
        assert_int_equal(s.items_done, INT64_MAX);
        assert_int_equal(s.items_total, INT64_MAX);
        assert_true(s.rate_per_s == JT_PROGRESS_RATE_MAX);
        /* A sliver done of INT64_MAX tasks: an ETA of about 10^34 years, bounded. */
        ev = task_event(JT_STATUS_TASK_PROGRESS, "stats-huge/0003", 1002, 1, INT64_MAX);
        assert_non_null(job = jt_progress_apply(p, &ev));
        render(job, INT64_MAX, &s);
        assert_true(s.eta_s >= 0 && s.eta_s <= JT_PROGRESS_ETA_MAX_S);
        /* A clock far before the job, and after it. */
        render(job, INT64_MIN, &s);
        assert_int_equal(s.elapsed_ms, 0);
        render(job, INT64_MAX, &s);
        assert_int_equal(s.elapsed_ms, INT64_MAX - 1000);
        jt_progress_destroy(p);
}

/* Timestamps at the ends of the range an event may carry. */
static void test_progress_time_range(void **state) {
        jt_progress_t *p = jt_progress_new(8);
        jt_status_event_t ev = task_event(JT_STATUS_TASK_STARTED, "stats-huge/0001", 0, 0, 10);
        jt_job_progress_t *job;
        jt_progress_summary_t s;

        (void)state;
        assert_non_null(jt_progress_apply(p, &ev));
        ev = task_event(JT_STATUS_TASK_FINISHED, "stats-huge/0001", JT_STATUS_TIME_MAX_MS, 10, 10);
        assert_non_null(job = jt_progress_apply(p, &ev));
        render(job, 0, &s);
        render(job, JT_STATUS_TIME_MAX_MS, &s);
        assert_int_equal(s.elapsed_ms, JT_STATUS_TIME_MAX_MS);
        jt_progress_destroy(p);
}

static void test_bar_hostile_fraction(void **state) {
        static const double fractions[] = {NAN, -1.0, 1e300, -INFINITY, INFINITY, 0.5};
        char bar[128];
        (void)state;
        for (size_t i = 0; i < sizeof(fractions) / sizeof(fractions[0]); i++)
                assert_true(strlen(jt_progress_bar(fractions[i], 20, bar, sizeof(bar))) == 60);
        assert_string_equal(jt_progress_bar(NAN, 2, bar, sizeof(bar)), "\xE2\x96\x91\xE2\x96\x91");
        assert_string_equal(jt_progress_bar(1e300, 2, bar, sizeof(bar)),
                            "\xE2\x96\x88\xE2\x96\x88");
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sat),
            cmocka_unit_test(test_event_ranges),
            cmocka_unit_test(test_event_id_lengths),
            cmocka_unit_test(test_progress_extremes),
            cmocka_unit_test(test_progress_time_range),
            cmocka_unit_test(test_bar_hostile_fraction),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
