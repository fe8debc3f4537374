/* The range cut of a statistics job (common/jt_stats_plan.c), table-driven over user counts,
 * --users-per-task and --shards: zero users, one, exact multiples and one over, the --shards
 * cap (users per range grow), and enough ids to make the cut thin its candidates. Checked on
 * the plan as the producer sends it: every id falls in exactly one range, ranges hold
 * users-per-task users but the last, there are ceil(users / users-per-task) of them unless the
 * cap is reached, and the plan survives its round trip through the ledger's params. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_stats_plan.h"

typedef struct {
        const char *name;
        int64_t users;
        int64_t per;  /* --users-per-task */
        int32_t max;  /* --shards */
        size_t count; /* expected ranges; 0: only "at most max" */
} cut_case_t;

/* The i-th of a run of ascending ids (a timestamp shared by a batch, then a counter). */
static void nth_oid(int64_t i, bson_oid_t *oid) {
        uint8_t raw[12] = {0x65, 0x4f, 0x00, 0x00, 0xab, 0xcd, 0xef, 0x01, 0x23};
        raw[9] = (uint8_t)(i >> 16);
        raw[10] = (uint8_t)(i >> 8);
        raw[11] = (uint8_t)i;
        raw[3] = (uint8_t)(i >> 24);
        bson_oid_init_from_data(oid, raw);
}

/* Which range holds oid: the one whose [from, to) contains it; fails on none or two. */
static size_t range_of(const cut_case_t *c, const jt_stats_plan_t *plan, const bson_oid_t *oid) {
        size_t found = plan->count;
        for (size_t r = 0; r < plan->count; r++) {
                const char *from, *to;
                bson_oid_t f, t;
                jt_stats_plan_range(plan, r, &from, &to);
                if (from)
                        bson_oid_init_from_string(&f, from);
                if (to)
                        bson_oid_init_from_string(&t, to);
                if ((!from || bson_oid_compare(oid, &f) >= 0) &&
                    (!to || bson_oid_compare(oid, &t) < 0)) {
                        if (found != plan->count)
                                fail_msg("%s: an id in ranges %zu and %zu", c->name, found, r);
                        found = r;
                }
        }
        if (found == plan->count)
                fail_msg("%s: an id in no range", c->name);
        return found;
}

static void check_params_round_trip(const cut_case_t *c, const jt_stats_plan_t *plan) {
        bson_t *params = BCON_NEW("month", BCON_UTF8("2026-10"));
        jt_stats_plan_t back;
        bool found = false;
        jt_error_t err;

        jt_error_clear(&err);
        jt_stats_plan_append_params(plan, params);
        if (!jt_stats_plan_from_params(params, &back, &found, &err) || !found)
                fail_msg("%s: plan read back from params: expected found, actual %s", c->name,
                         err.message[0] ? err.message : "not found");
        if (back.count != plan->count)
                fail_msg("%s: ranges read back: expected %zu, actual %zu", c->name, plan->count,
                         back.count);
        for (size_t i = 0; i + 1 < plan->count; i++)
                if (strcmp(back.bounds[i], plan->bounds[i]) != 0)
                        fail_msg("%s: bound %zu read back: expected %s, actual %s", c->name, i,
                                 plan->bounds[i], back.bounds[i]);
        jt_stats_plan_clear(&back);
        bson_destroy(params);
}

static void check(const cut_case_t *c) {
        jt_stats_plan_cut_t *cut = jt_stats_plan_cut_new(c->per, c->max);
        size_t *sizes;
        jt_stats_plan_t plan;
        size_t want;
        jt_error_t err;

        jt_error_clear(&err);
        assert_non_null(cut);
        for (int64_t i = 0; i < c->users; i++) {
                bson_oid_t oid;
                nth_oid(i, &oid);
                if (!jt_stats_plan_cut_add(cut, &oid, &err))
                        fail_msg("%s: adding id %" PRId64 ": %s", c->name, i, err.message);
        }
        if (!jt_stats_plan_cut_finish(cut, &plan, &err))
                fail_msg("%s: finish: %s", c->name, err.message);
        printf("%-28s %" PRId64 " users, %zu ranges of %" PRId64 "\n", c->name, c->users,
               plan.count, plan.users_per_task);
        want = c->count ? c->count : plan.count;
        if (plan.count != want || plan.count < 1 || plan.count > (size_t)c->max)
                fail_msg("%s: ranges expected %zu (1..%d), actual %zu", c->name, want, c->max,
                         plan.count);
        if (plan.users != c->users)
                fail_msg("%s: users expected %" PRId64 ", actual %" PRId64, c->name, c->users,
                         plan.users);
        if (plan.users_per_task < c->per)
                fail_msg("%s: users per range expected at least %" PRId64 ", actual %" PRId64,
                         c->name, c->per, plan.users_per_task);
        sizes = calloc(plan.count, sizeof(*sizes));
        for (int64_t i = 0; i < c->users; i++) {
                bson_oid_t oid;
                nth_oid(i, &oid);
                sizes[range_of(c, &plan, &oid)]++;
        }
        for (size_t r = 0; r < plan.count; r++) {
                size_t expected = r + 1 < plan.count
                                      ? (size_t)plan.users_per_task
                                      : (size_t)(c->users - (int64_t)r * plan.users_per_task);
                if (sizes[r] != expected)
                        fail_msg("%s: range %zu: expected %zu users, actual %zu", c->name, r,
                                 expected, sizes[r]);
        }
        /* Ids below the first and above the last user (inserted later) fall in the end ranges. */
        if (c->users > 0) {
                bson_oid_t low, high;
                memset(&low, 0, sizeof(low));
                memset(&high, 0xff, sizeof(high));
                if (range_of(c, &plan, &low) != 0 || range_of(c, &plan, &high) != plan.count - 1)
                        fail_msg("%s: the lowest and highest ids expected in the first and last "
                                 "ranges",
                                 c->name);
        }
        check_params_round_trip(c, &plan);
        free(sizes);
        jt_stats_plan_clear(&plan);
        jt_stats_plan_cut_destroy(cut);
}

static void cuts(void **state) {
        static const cut_case_t cases[] = {
            {"zero users", 0, 2000, 16, 1},           {"one user", 1, 2000, 16, 1},
            {"exactly one range", 2000, 2000, 16, 1}, {"one over", 2001, 2000, 16, 2},
            {"5000 by 2000", 5000, 2000, 16, 3},      {"10 by 3", 10, 3, 16, 4},
            {"every user a range", 7, 1, 16, 7},      {"at the cap", 160, 10, 16, 16},
            {"over the cap grows", 1000, 10, 16, 0},  {"cap of one", 999, 10, 1, 1},
            {"thinned candidates", 100000, 1, 4, 4},  {"thinned, uneven", 70001, 3, 7, 0},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                check(&cases[i]);
}

static void unsorted_ids_are_refused(void **state) {
        jt_stats_plan_cut_t *cut = jt_stats_plan_cut_new(2, 16);
        bson_oid_t a, b;
        jt_error_t err;

        (void)state;
        jt_error_clear(&err);
        nth_oid(5, &a);
        nth_oid(4, &b);
        assert_true(jt_stats_plan_cut_add(cut, &a, &err));
        if (jt_stats_plan_cut_add(cut, &b, &err) || !strstr(err.message, "out of order"))
                fail_msg("a lower id after a higher one: expected an \"out of order\" error, "
                         "actual \"%s\"",
                         err.message);
        if (jt_stats_plan_cut_add(cut, &a, &err))
                fail_msg("the same id twice: expected an error, actual accepted");
        jt_stats_plan_cut_destroy(cut);
}

static void bad_stored_plans_are_errors(void **state) {
        static const char *const bad[] = {
            "{\"tasks\": 2, \"bounds\": [\"nothex\"]}",
            "{\"tasks\": 3, \"bounds\": [\"654f0000abcdef0123000002\"]}",
            "{\"tasks\": 3, \"bounds\": [\"654f0000abcdef0123000002\", "
            "\"654f0000abcdef0123000001\"]}",
            "{\"tasks\": 0, \"bounds\": []}",
            "{\"bounds\": []}",
            "{\"tasks\": 1, \"bounds\": \"x\"}",
        };
        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                bson_error_t berr;
                bson_t *params = bson_new_from_json((const uint8_t *)bad[i], -1, &berr);
                jt_stats_plan_t plan;
                bool found = true;
                jt_error_t err;
                jt_error_clear(&err);
                assert_non_null(params);
                if (jt_stats_plan_from_params(params, &plan, &found, &err))
                        fail_msg("stored plan %s: expected an error, actual accepted (%zu ranges)",
                                 bad[i], plan.count);
                printf("%s -> %s\n", bad[i], err.message);
                bson_destroy(params);
        }
        {
                bson_t *old = BCON_NEW("month", BCON_UTF8("2026-10"), "shards", BCON_INT32(5));
                jt_stats_plan_t plan;
                bool found = true;
                jt_error_t err;
                jt_error_clear(&err);
                if (!jt_stats_plan_from_params(old, &plan, &found, &err) || found)
                        fail_msg("params of a hash-shard job: expected no plan and no error, "
                                 "actual found %d, \"%s\"",
                                 found, err.message);
                bson_destroy(old);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(cuts),
            cmocka_unit_test(unsorted_ids_are_refused),
            cmocka_unit_test(bad_stored_plans_are_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
