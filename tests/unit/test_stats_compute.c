/* Monthly statistics entries (worker/stats.c): entries computed by hand for three users,
 * the rules that make entries reproducible (exact sums in any order, ties by id, rounding half
 * away from zero, -0), bad data and month boundaries, a heavy user, and a seeded random dataset
 * cross-checked against tests/tools/stats_oracle.py, an independent Python implementation run
 * through $JT_PYTHON (default python3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "jt_test.h"
#include "stats.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define OCT_2026_MS INT64_C(1790812800000) /* 2026-10-01T00:00:00Z */
#define NOV_2026_MS INT64_C(1793491200000) /* 2026-11-01T00:00:00Z */
#define HOUR_MS     INT64_C(3600000)

/* 2026-10-DD HH:MM:SS.mmm UTC in milliseconds (a constant expression, for the tables). */
#define OCT(day, h, m, s, ms)                                                                      \
        (OCT_2026_MS + ((((int64_t)(day)-1) * 24 + (h)) * 60 + (m)) * 60000 + (s)*1000 + (ms))

/* Songs and artists of the hand-made dataset. S3 sorts after S4 and the artists sort R3 < R2 <
 * R1, against the order they are played in, so that ties are visibly ordered by id. */
#define S1  "650000000000000000000001"
#define S2  "650000000000000000000002"
#define S3  "650000000000000000000004"
#define S4  "650000000000000000000003"
#define S5  "650000000000000000000005"
#define S6  "650000000000000000000006"
#define S7  "650000000000000000000007"
#define S8  "650000000000000000000008"
#define S9  "650000000000000000000009"
#define S10 "65000000000000000000000a"
#define R1  "640000000000000000000003"
#define R2  "640000000000000000000002"
#define R3  "640000000000000000000001"
#define R4  "640000000000000000000004" /* not in `musicians` */
#define R5  "640000000000000000000005"
#define R6  "640000000000000000000006"
#define R7  "640000000000000000000007" /* its name is "" */

/* The `musicians` collection of the hand-made dataset. */
static const struct {
        const char *artist, *name;
} musicians[] = {
    {R1, "Air"}, {R2, "Daft Punk"}, {R3, "Beyoncé"}, {R5, "Röyksopp"}, {R6, "Sigur Rós"}, {R7, ""},
};

typedef struct {
        const char *song, *artist;
        double duration;
        int64_t at;
} play_t;

/* --- Helpers -------------------------------------------------------------------------------- */

static bson_oid_t oid(const char *hex) {
        bson_oid_t o;
        assert_true(bson_oid_is_valid(hex, strlen(hex)));
        bson_oid_init_from_string(&o, hex);
        return o;
}

static const char *name_of(const bson_oid_t *artist) {
        char hex[25];
        bson_oid_to_string(artist, hex);
        for (size_t i = 0; i < N(musicians); i++) {
                if (strcmp(musicians[i].artist, hex) == 0)
                        return musicians[i].name;
        }
        return NULL;
}

static jt_stats_acc_t *acc_oct_2026(void) {
        jt_error_t err;
        jt_error_clear(&err);
        jt_stats_acc_t *acc = jt_stats_acc_new(2026, 10, &err);
        if (!acc)
                fail_msg("jt_stats_acc_new: %s", err.message);
        return acc;
}

static void add_all(jt_stats_acc_t *acc, const play_t *plays, size_t n) {
        jt_error_t err;
        jt_error_clear(&err);
        for (size_t i = 0; i < n; i++) {
                bson_oid_t song = oid(plays[i].song), artist = oid(plays[i].artist);
                assert_ok(
                    jt_stats_acc_add(acc, &song, &artist, plays[i].duration, plays[i].at, &err),
                    err);
        }
}

/* The caller's sequence: top artist, its name from `musicians`, build. */
static void build(const jt_stats_acc_t *acc, const double *prev, bson_t *entry) {
        jt_error_t err;
        bson_oid_t top;

        jt_error_clear(&err);
        assert_true(jt_stats_acc_top_artist(acc, &top));
        if (!jt_stats_acc_build(acc, prev, name_of(&top), entry, &err)) {
                bson_destroy(entry);
                fail_msg("jt_stats_acc_build: %s", err.message);
        }
}

/* Hand-written expectations are relaxed Extended JSON with ' for ": a number with a point is a
 * double, without one an int32. */
static bson_t *doc_from(const char *quoted) {
        bson_error_t error;
        char *json = bson_strdup(quoted);

        for (char *p = json; *p; p++) {
                if (*p == '\'')
                        *p = '"';
        }
        bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, &error);
        if (!doc)
                print_error("cannot parse expected JSON (%s): %s\n", error.message, json);
        bson_free(json);
        assert_non_null(doc);
        return doc;
}

static void show_value(const bson_iter_t *it, char *buf, size_t size) {
        char hex[25];
        uint32_t len;

        switch (bson_iter_type(it)) {
        case BSON_TYPE_DOUBLE:
                snprintf(buf, size, "%.17g (double)", bson_iter_double(it));
                break;
        case BSON_TYPE_INT32:
                snprintf(buf, size, "%" PRId32 " (int32)", bson_iter_int32(it));
                break;
        case BSON_TYPE_INT64:
                snprintf(buf, size, "%" PRId64 " (int64)", bson_iter_int64(it));
                break;
        case BSON_TYPE_DATE_TIME:
                snprintf(buf, size, "%" PRId64 " (date)", bson_iter_date_time(it));
                break;
        case BSON_TYPE_OID:
                bson_oid_to_string(bson_iter_oid(it), hex);
                snprintf(buf, size, "ObjectId(%s)", hex);
                break;
        case BSON_TYPE_UTF8:
                snprintf(buf, size, "\"%s\"", bson_iter_utf8(it, &len));
                break;
        case BSON_TYPE_DOCUMENT:
                snprintf(buf, size, "a document");
                break;
        case BSON_TYPE_ARRAY:
                snprintf(buf, size, "an array");
                break;
        default:
                snprintf(buf, size, "BSON type 0x%02x", (unsigned)bson_iter_type(it));
        }
}

static bool same_value(const bson_iter_t *e, const bson_iter_t *a) {
        uint32_t el, al;
        const char *es, *as;

        switch (bson_iter_type(e)) {
        case BSON_TYPE_DOUBLE: {
                /* Bit for bit: the stored bytes must be identical, -0 differs from 0. */
                double x = bson_iter_double(e), y = bson_iter_double(a);
                return memcmp(&x, &y, sizeof(x)) == 0;
        }
        case BSON_TYPE_INT32:
                return bson_iter_int32(e) == bson_iter_int32(a);
        case BSON_TYPE_INT64:
                return bson_iter_int64(e) == bson_iter_int64(a);
        case BSON_TYPE_DATE_TIME:
                return bson_iter_date_time(e) == bson_iter_date_time(a);
        case BSON_TYPE_OID:
                return bson_oid_equal(bson_iter_oid(e), bson_iter_oid(a));
        case BSON_TYPE_UTF8:
                es = bson_iter_utf8(e, &el);
                as = bson_iter_utf8(a, &al);
                return el == al && memcmp(es, as, el) == 0;
        default:
                return false; /* no other type belongs in an entry */
        }
}

/* Walks both documents in step: same keys in the same order, same types, same values. The first
 * difference goes to msg with its path. */
static bool same_doc(bson_iter_t *e, bson_iter_t *a, const char *path, char *msg, size_t size) {
        char here[256], ev[160], av[160];

        for (;;) {
                bool more_e = bson_iter_next(e), more_a = bson_iter_next(a);
                if (!more_e && !more_a)
                        return true;
                if (!more_a) {
                        snprintf(msg, size, "%s: field \"%s\" is missing", *path ? path : "(top)",
                                 bson_iter_key(e));
                        return false;
                }
                if (!more_e) {
                        snprintf(msg, size, "%s: unexpected field \"%s\"", *path ? path : "(top)",
                                 bson_iter_key(a));
                        return false;
                }
                snprintf(here, sizeof(here), "%s%s%s", path, *path ? "." : "", bson_iter_key(e));
                if (strcmp(bson_iter_key(e), bson_iter_key(a)) != 0) {
                        snprintf(msg, size, "%s: expected field \"%s\", got \"%s\"", here,
                                 bson_iter_key(e), bson_iter_key(a));
                        return false;
                }
                show_value(e, ev, sizeof(ev));
                show_value(a, av, sizeof(av));
                if (bson_iter_type(e) != bson_iter_type(a)) {
                        snprintf(msg, size, "%s: expected %s, got %s", here, ev, av);
                        return false;
                }
                if (BSON_ITER_HOLDS_DOCUMENT(e) || BSON_ITER_HOLDS_ARRAY(e)) {
                        bson_iter_t ce, ca;
                        if (!bson_iter_recurse(e, &ce) || !bson_iter_recurse(a, &ca) ||
                            !same_doc(&ce, &ca, here, msg, size))
                                return false;
                } else if (!same_value(e, a)) {
                        snprintf(msg, size, "%s: expected %s, got %s", here, ev, av);
                        return false;
                }
        }
}

/* Field by field, then byte for byte (what idempotent writes need). */
static void assert_entry_equal(const bson_t *expected, const bson_t *actual, const char *what) {
        bson_iter_t e, a;
        char msg[512] = "";

        assert_true(bson_iter_init(&e, expected) && bson_iter_init(&a, actual));
        bool same = same_doc(&e, &a, "", msg, sizeof(msg));
        if (same && !bson_equal(expected, actual)) {
                same = false;
                snprintf(msg, sizeof(msg), "same fields, different bytes");
        }
        if (!same) {
                char *ej = bson_as_canonical_extended_json(expected, NULL);
                char *aj = bson_as_canonical_extended_json(actual, NULL);
                /* stderr directly: print_error truncates long messages. */
                fprintf(stderr, "expected: %s\nactual:   %s\n", ej, aj);
                bson_free(ej);
                bson_free(aj);
                fail_msg("%s: %s", what, msg);
        }
}

static void assert_build_fails(const jt_stats_acc_t *acc, const double *prev, const char *name,
                               const char *needle) {
        jt_error_t err;
        bson_t entry;

        jt_error_clear(&err);
        assert_false(jt_stats_acc_build(acc, prev, name, &entry, &err));
        assert_int_equal(err.domain, JT_ERR_INPUT);
        if (!strstr(err.message, needle))
                fail_msg("error \"%s\" does not mention \"%s\"", err.message, needle);
        assert_int_equal(bson_count_keys(&entry), 0); /* initialised even on failure */
        bson_destroy(&entry);
}

/* --- Hand-made dataset ------------------------------------------------------------------------ */

/* User A: hours 0, 12 and 23 including both ends of the month and on-the-hour times, a tie of
 * two songs and of all three artists at 300 s, growth against 800 s, a named top artist. */
static const play_t user_a[] = {
    {S1, R1, 200, OCT_2026_MS},            /* first millisecond of the month */
    {S2, R1, 100, OCT(1, 0, 59, 59, 999)}, /* still hour 0 */
    {S3, R2, 300, OCT(15, 23, 0, 0, 0)},   /* exactly 23:00 */
    {S4, R3, 150.5, NOV_2026_MS - 1},      /* last millisecond of the month */
    {S4, R3, 149.5, OCT(20, 12, 30, 0, 0)},
};
static const double user_a_prev = 800;
static const char user_a_entry[] =
    "{'songs': [{'song': {'$oid': '" S4 "'}, 'totalDuration': 300.0},"
    "           {'song': {'$oid': '" S3 "'}, 'totalDuration': 300.0},"
    "           {'song': {'$oid': '" S1 "'}, 'totalDuration': 200.0},"
    "           {'song': {'$oid': '" S2 "'}, 'totalDuration': 100.0}],"
    " 'artists': [{'artist': {'$oid': '" R3 "'}, 'totalDuration': 300.0},"
    "             {'artist': {'$oid': '" R2 "'}, 'totalDuration': 300.0},"
    "             {'artist': {'$oid': '" R1 "'}, 'totalDuration': 300.0}],"
    " 'peakHour': [{'hour': 0, 'totalDuration': 300.0, 'utilization': 8.33},"
    "              {'hour': 12, 'totalDuration': 149.5, 'utilization': 4.15},"
    "              {'hour': 23, 'totalDuration': 450.5, 'utilization': 12.51}],"
    " 'summary': {'month': 10, 'year': 2026, 'totalDuration': 900.0,"
    "             'growthPercentage': 12.5, 'topArtist': 'Beyoncé',"
    "             'topArtistTotalPlaybackTime': 300.0},"
    " 'createdAt': {'$date': '2026-10-01T00:00:00.000Z'},"
    " 'updatedAt': {'$date': '2026-10-31T23:59:59.999Z'}}";

/* User B: the top artist has no name; growth -100/3200*100 = -3.125 exactly, which rounds away
 * from zero to -3.13 (JavaScript's Math.round would give -3.12). */
static const play_t user_b[] = {
    {S5, R4, 1000, OCT(2, 5, 0, 0, 0)},
    {S5, R4, 1000, OCT(3, 5, 59, 59, 0)},
    {S6, R5, 600, OCT(3, 6, 0, 0, 0)}, /* exactly 06:00: hour 6, not 5 */
    {S7, R5, 500, OCT(4, 23, 30, 0, 0)},
};
static const double user_b_prev = 3200;
static const char user_b_entry[] =
    "{'songs': [{'song': {'$oid': '" S5 "'}, 'totalDuration': 2000.0},"
    "           {'song': {'$oid': '" S6 "'}, 'totalDuration': 600.0},"
    "           {'song': {'$oid': '" S7 "'}, 'totalDuration': 500.0}],"
    " 'artists': [{'artist': {'$oid': '" R4 "'}, 'totalDuration': 2000.0},"
    "             {'artist': {'$oid': '" R5 "'}, 'totalDuration': 1100.0}],"
    " 'peakHour': [{'hour': 5, 'totalDuration': 2000.0, 'utilization': 55.56},"
    "              {'hour': 6, 'totalDuration': 600.0, 'utilization': 16.67},"
    "              {'hour': 23, 'totalDuration': 500.0, 'utilization': 13.89}],"
    " 'summary': {'month': 10, 'year': 2026, 'totalDuration': 3100.0,"
    "             'growthPercentage': -3.13, 'topArtist': 'Unknown Artist',"
    "             'topArtistTotalPlaybackTime': 2000.0},"
    " 'createdAt': {'$date': '2026-10-02T05:00:00.000Z'},"
    " 'updatedAt': {'$date': '2026-10-04T23:30:00.000Z'}}";

/* User C: no previous month; fractional durations whose naive left-to-right sum is
 * 600.5999999999999 while the exact sum rounds to 600.6; utilizations on a rounding edge:
 * 4.5 s gives 0.125 * 100 = 12.5 exactly, so 0.13 (half away from zero, not 0.12), and
 * 45.9 s gives 1.275 * 100 = 127.49999999999999 in binary, so 1.27 (not 1.28). */
static const play_t user_c[] = {
    {S8, R6, 100.1, OCT(10, 0, 10, 0, 0)}, {S8, R6, 200.2, OCT(11, 23, 10, 0, 0)},
    {S8, R6, 300.3, OCT(12, 0, 20, 0, 0)}, {S9, R7, 4.5, OCT(13, 7, 0, 0, 0)},
    {S10, R7, 45.9, OCT(14, 8, 0, 0, 0)},
};
static const char user_c_entry[] =
    "{'songs': [{'song': {'$oid': '" S8 "'}, 'totalDuration': 600.6},"
    "           {'song': {'$oid': '" S10 "'}, 'totalDuration': 45.9},"
    "           {'song': {'$oid': '" S9 "'}, 'totalDuration': 4.5}],"
    " 'artists': [{'artist': {'$oid': '" R6 "'}, 'totalDuration': 600.6},"
    "             {'artist': {'$oid': '" R7 "'}, 'totalDuration': 50.4}],"
    " 'peakHour': [{'hour': 0, 'totalDuration': 400.4, 'utilization': 11.12},"
    "              {'hour': 7, 'totalDuration': 4.5, 'utilization': 0.13},"
    "              {'hour': 8, 'totalDuration': 45.9, 'utilization': 1.27},"
    "              {'hour': 23, 'totalDuration': 200.2, 'utilization': 5.56}],"
    " 'summary': {'month': 10, 'year': 2026, 'totalDuration': 651.0,"
    "             'growthPercentage': 0.0, 'topArtist': 'Sigur Rós',"
    "             'topArtistTotalPlaybackTime': 600.6},"
    " 'createdAt': {'$date': '2026-10-10T00:10:00.000Z'},"
    " 'updatedAt': {'$date': '2026-10-14T08:00:00.000Z'}}";

static void golden_entries(void **state) {
        static const struct {
                const char *user;
                const play_t *plays;
                size_t n;
                const double *prev;
                const char *top;
                const char *expected;
        } users[] = {
            {"user A", user_a, N(user_a), &user_a_prev, R3, user_a_entry},
            {"user B", user_b, N(user_b), &user_b_prev, R4, user_b_entry},
            {"user C", user_c, N(user_c), NULL, R6, user_c_entry},
        };
        jt_stats_acc_t *acc = acc_oct_2026();

        /* One accumulator for all three, reset in between, as the worker streams a shard. */
        for (size_t u = 0; u < N(users); u++) {
                bson_oid_t top, want = oid(users[u].top);
                bson_t entry;

                jt_stats_acc_reset(acc);
                add_all(acc, users[u].plays, users[u].n);
                assert_int_equal(jt_stats_acc_count(acc), users[u].n);
                assert_true(jt_stats_acc_top_artist(acc, &top));
                assert_true(bson_oid_equal(&top, &want));
                build(acc, users[u].prev, &entry);
                bson_t *expected = doc_from(users[u].expected);
                assert_entry_equal(expected, &entry, users[u].user);
                bson_destroy(expected);
                bson_destroy(&entry);
        }
        jt_stats_acc_destroy(acc);
}

/* --- Reproducibility ------------------------------------------------------------------------- */

static bool next_permutation(size_t *p, size_t n) {
        size_t i = n - 1;
        while (i > 0 && p[i - 1] >= p[i])
                i--;
        if (i == 0)
                return false;
        size_t j = n - 1;
        while (p[j] <= p[i - 1])
                j--;
        size_t t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
        for (size_t a = i, b = n - 1; a < b; a++, b--) {
                t = p[a];
                p[a] = p[b];
                p[b] = t;
        }
        return true;
}

/* The database returns playbacks with equal createdAt in any order, and reruns must write the
 * same bytes: every order of user C's playbacks (whose naive sums differ by order) gives
 * byte-identical entries, and building twice gives the same entry. */
static void any_order_same_bytes(void **state) {
        size_t perm[N(user_c)];
        play_t plays[N(user_c)];
        bson_t first, again;
        size_t orders = 0;
        jt_stats_acc_t *acc = acc_oct_2026();

        for (size_t i = 0; i < N(user_c); i++)
                perm[i] = i;
        add_all(acc, user_c, N(user_c));
        build(acc, NULL, &first);
        build(acc, NULL, &again);
        assert_entry_equal(&first, &again, "second build");
        bson_destroy(&again);
        do {
                for (size_t i = 0; i < N(user_c); i++)
                        plays[i] = user_c[perm[i]];
                jt_stats_acc_reset(acc);
                add_all(acc, plays, N(plays));
                build(acc, NULL, &again);
                assert_entry_equal(&first, &again, "permuted playbacks");
                bson_destroy(&again);
                orders++;
        } while (next_permutation(perm, N(perm)));
        assert_int_equal(orders, 120);
        bson_destroy(&first);
        jt_stats_acc_destroy(acc);
}

/* Growth: 0 without a previous month or when it was 0; a tiny decrease rounds to +0, never -0;
 * a bad stored total is refused rather than turned into a wrong percentage. */
static void growth_rules(void **state) {
        static const struct {
                bool has_prev;
                double prev;
                double growth;
        } cases[] = {
            {false, 0, 0},        {true, 0, 0},
            {true, 1000.04, 0},   /* -0.0039998...% rounds to -0, stored as 0 */
            {true, 1000, 0},      /* no change */
            {true, 500, 100},     /* doubled */
            {true, 3200, -68.75}, /* 1000 vs 3200 */
            {true, 999.9, 0.01},  /* 0.010001...% */
        };
        static const play_t plays[] = {{S1, R1, 1000, OCT_2026_MS}};
        jt_stats_acc_t *acc = acc_oct_2026();

        add_all(acc, plays, N(plays));
        for (size_t i = 0; i < N(cases); i++) {
                bson_t entry;
                bson_iter_t it;
                build(acc, cases[i].has_prev ? &cases[i].prev : NULL, &entry);
                assert_true(bson_iter_init(&it, &entry) &&
                            bson_iter_find_descendant(&it, "summary.growthPercentage", &it));
                double growth = bson_iter_double(&it);
                if (growth != cases[i].growth || signbit(growth) != signbit(cases[i].growth))
                        fail_msg("case %zu (prev %g): expected growth %g, got %g", i, cases[i].prev,
                                 cases[i].growth, growth);
                bson_destroy(&entry);
        }
        static const double bad[] = {-1, NAN, INFINITY, -INFINITY};
        for (size_t i = 0; i < N(bad); i++)
                assert_build_fails(acc, &bad[i], "Air", "previous month's totalDuration");
        assert_build_fails(acc, NULL, "Bj\xc3", "UTF-8"); /* truncated 2-byte sequence */
        jt_stats_acc_destroy(acc);
}

/* "" and NULL both name the top artist "Unknown Artist". */
static void unknown_artist_names(void **state) {
        static const play_t plays[] = {{S9, R7, 60, OCT_2026_MS}};
        jt_stats_acc_t *acc = acc_oct_2026();
        jt_error_t err;

        jt_error_clear(&err);
        add_all(acc, plays, N(plays));
        for (int i = 0; i < 2; i++) {
                bson_t entry;
                bson_iter_t it;
                uint32_t len;
                assert_ok(jt_stats_acc_build(acc, NULL, i ? "" : NULL, &entry, &err), err);
                assert_true(bson_iter_init(&it, &entry) &&
                            bson_iter_find_descendant(&it, "summary.topArtist", &it));
                assert_string_equal(bson_iter_utf8(&it, &len), JT_STATS_UNKNOWN_ARTIST);
                bson_destroy(&entry);
        }
        jt_stats_acc_destroy(acc);
}

/* --- Bad data and boundaries ------------------------------------------------------------------ */

/* A user without playback gets no entry: count 0, no top artist, build refuses. */
static void no_playback_no_entry(void **state) {
        jt_stats_acc_t *acc = acc_oct_2026();
        bson_oid_t top = oid(S1);

        assert_int_equal(jt_stats_acc_count(acc), 0);
        assert_false(jt_stats_acc_top_artist(acc, &top));
        bson_oid_t zero = {{0}};
        assert_true(bson_oid_equal(&top, &zero));
        assert_build_fails(acc, NULL, NULL, "no entry");

        /* Nor after a reset that follows a user who had playbacks. */
        add_all(acc, user_b, N(user_b));
        jt_stats_acc_reset(acc);
        assert_int_equal(jt_stats_acc_count(acc), 0);
        assert_false(jt_stats_acc_top_artist(acc, &top));
        assert_build_fails(acc, NULL, NULL, "no playback in 2026-10");
        jt_stats_acc_destroy(acc);
}

/* Bad playbacks are refused with JT_ERR_INPUT and leave the accumulator exactly as it was: the
 * entry equals the one built from the good playbacks alone. */
static void rejects_bad_playbacks(void **state) {
        static const struct {
                double duration;
                int64_t at;
                const char *needle;
        } bad[] = {
            {0, OCT_2026_MS, "duration"},
            {-0.0, OCT_2026_MS, "duration"},
            {-30, OCT_2026_MS, "duration"},
            {NAN, OCT_2026_MS, "duration"},
            {INFINITY, OCT_2026_MS, "duration"},
            {-INFINITY, OCT_2026_MS, "duration"},
            {0.0009, OCT_2026_MS, "duration"},
            {5e-324, OCT_2026_MS, "duration"},
            {2678400.001, OCT_2026_MS, "duration"},
            {1e308, OCT_2026_MS, "duration"},
            {60, OCT_2026_MS - 1, "outside the month 2026-10"},
            {60, NOV_2026_MS, "outside the month 2026-10"},
            {60, 0, "outside the month 2026-10"},
            {60, INT64_MIN, "outside the month 2026-10"},
            {60, INT64_MAX, "outside the month 2026-10"},
        };
        jt_stats_acc_t *acc = acc_oct_2026(), *clean = acc_oct_2026();
        bson_oid_t song = oid(S1), artist = oid(R1);
        jt_error_t err;
        bson_t with_bad, without;

        add_all(clean, user_a, N(user_a));
        add_all(acc, user_a, 2);
        for (size_t i = 0; i < N(bad); i++) {
                jt_error_clear(&err);
                if (jt_stats_acc_add(acc, &song, &artist, bad[i].duration, bad[i].at, &err))
                        fail_msg("case %zu: duration %g at %" PRId64 " accepted", i,
                                 bad[i].duration, bad[i].at);
                assert_int_equal(err.domain, JT_ERR_INPUT);
                if (!strstr(err.message, bad[i].needle))
                        fail_msg("case %zu: error \"%s\" does not mention \"%s\"", i, err.message,
                                 bad[i].needle);
        }
        jt_error_clear(&err);
        assert_false(jt_stats_acc_add(acc, NULL, &artist, 60, OCT_2026_MS, &err));
        assert_string_equal(err.message, "playback has no song id");
        assert_false(jt_stats_acc_add(acc, &song, NULL, 60, OCT_2026_MS, &err));
        assert_string_equal(err.message, "playback has no artist id");
        jt_error_clear(&err);
        assert_false(jt_stats_acc_add(acc, &song, &artist, 60, NOV_2026_MS, &err));
        assert_string_equal(err.message,
                            "playback createdAt 2026-11-01T00:00:00Z (1793491200000 ms) is outside "
                            "the month 2026-10, which is [2026-10-01T00:00:00Z, "
                            "2026-11-01T00:00:00Z)");

        add_all(acc, user_a + 2, N(user_a) - 2);
        assert_int_equal(jt_stats_acc_count(acc), N(user_a));
        build(acc, &user_a_prev, &with_bad);
        build(clean, &user_a_prev, &without);
        assert_entry_equal(&without, &with_bad, "after rejected playbacks");
        bson_destroy(&with_bad);
        bson_destroy(&without);

        /* The bounds themselves are accepted. */
        jt_stats_acc_reset(acc);
        jt_error_clear(&err);
        assert_ok(jt_stats_acc_add(acc, &song, &artist, JT_STATS_MIN_DURATION_S, OCT_2026_MS, &err),
                  err);
        assert_ok(
            jt_stats_acc_add(acc, &song, &artist, JT_STATS_MAX_DURATION_S, NOV_2026_MS - 1, &err),
            err);
        jt_stats_acc_destroy(acc);
        jt_stats_acc_destroy(clean);
}

/* Every hour of the day, at exactly HH:00:00.000 and at HH:59:59.999 (which stays in HH). */
static void hours_on_the_hour(void **state) {
        jt_stats_acc_t *acc = acc_oct_2026();
        bson_oid_t song = oid(S1), artist = oid(R1);
        jt_error_t err;
        bson_t entry;
        bson_iter_t it, hours, item;

        jt_error_clear(&err);
        for (int h = 0; h < 24; h++) {
                int64_t start = OCT(7, h, 0, 0, 0);
                assert_ok(jt_stats_acc_add(acc, &song, &artist, 36 * (h + 1), start, &err), err);
                assert_ok(jt_stats_acc_add(acc, &song, &artist, 36, start + HOUR_MS - 1, &err),
                          err);
        }
        build(acc, NULL, &entry);
        assert_true(bson_iter_init_find(&it, &entry, "peakHour") && bson_iter_recurse(&it, &hours));
        for (int h = 0; h < 24; h++) {
                bson_iter_t f;
                assert_true(bson_iter_next(&hours) && bson_iter_recurse(&hours, &item));
                assert_true(bson_iter_find_case(&item, "hour") && BSON_ITER_HOLDS_INT32(&item));
                assert_int_equal(bson_iter_int32(&item), h);
                /* 36 * (h + 2) seconds is exactly h + 2 percent of the hour. */
                assert_true(bson_iter_recurse(&hours, &f) && bson_iter_find(&f, "utilization"));
                assert_true(bson_iter_double(&f) == h + 2);
        }
        assert_false(bson_iter_next(&hours));
        bson_destroy(&entry);
        jt_stats_acc_destroy(acc);
}

/* Month ranges across a year end and a leap February; bad months refused. */
static void month_ranges(void **state) {
        static const struct {
                int year, month;
                int64_t start_ms, end_ms;
        } months[] = {
            {2026, 10, OCT_2026_MS, NOV_2026_MS},
            {2026, 12, INT64_C(1796083200000), INT64_C(1798761600000)}, /* to 2027-01-01 */
            {2028, 2, INT64_C(1832976000000), INT64_C(1835481600000)},  /* 29 days, 2505600000 ms */
            {1970, 1, 0, INT64_C(2678400000)},
        };
        jt_error_t err;
        int64_t start, end;

        for (size_t i = 0; i < N(months); i++) {
                jt_error_clear(&err);
                assert_ok(jt_stats_month_range(months[i].year, months[i].month, &start, &end, &err),
                          err);
                assert_int_equal(start, months[i].start_ms);
                assert_int_equal(end, months[i].end_ms);
        }

        /* 2028-02-29T23:59:59.999Z belongs to February 2028, 2028-03-01 does not. */
        jt_stats_acc_t *acc = jt_stats_acc_new(2028, 2, &err);
        bson_oid_t song = oid(S1), artist = oid(R1);
        assert_non_null(acc);
        assert_ok(jt_stats_acc_add(acc, &song, &artist, 60, INT64_C(1835481600000) - 1, &err), err);
        assert_false(jt_stats_acc_add(acc, &song, &artist, 60, INT64_C(1835481600000), &err));
        assert_non_null(strstr(err.message, "outside the month 2028-02"));
        jt_stats_acc_destroy(acc);

        static const int bad[][2] = {{2026, 0}, {2026, 13}, {1969, 12}, {10000, 1}, {-1, 5}};
        for (size_t i = 0; i < N(bad); i++) {
                jt_error_clear(&err);
                assert_null(jt_stats_acc_new(bad[i][0], bad[i][1], &err));
                assert_int_equal(err.domain, JT_ERR_INPUT);
                assert_non_null(strstr(err.message, "statistics month must be"));
                assert_false(jt_stats_month_range(bad[i][0], bad[i][1], &start, &end, &err));
                assert_true(start == 0 && end == 0);
        }
        jt_stats_acc_destroy(NULL);
}

/* The previous month's total as the app stored it: double, or int32/int64 for whole numbers. */
static void previous_entry_total(void **state) {
        static const struct {
                const char *json;
                bool ok;
                double total;
        } cases[] = {
            {"{'summary': {'totalDuration': 1234.5}}", true, 1234.5},
            {"{'summary': {'totalDuration': 1234}}", true, 1234},
            {"{'summary': {'totalDuration': {'$numberLong': '5000000000'}}}", true, 5e9},
            {"{'summary': {'totalDuration': 0.0}}", true, 0},
            {"{'summary': {'totalDuration': -1.0}}", false, 0},
            {"{'summary': {'totalDuration': {'$numberDouble': 'NaN'}}}", false, 0},
            {"{'summary': {'totalDuration': '1234'}}", false, 0},
            {"{'summary': {}}", false, 0},
            {"{'songs': []}", false, 0},
        };
        for (size_t i = 0; i < N(cases); i++) {
                bson_t *doc = doc_from(cases[i].json);
                jt_error_t err;
                double total = -7;
                jt_error_clear(&err);
                bool ok = jt_stats_entry_total(doc, &total, &err);
                if (ok != cases[i].ok || total != cases[i].total)
                        fail_msg("%s: expected %s %g, got %s %g (%s)", cases[i].json,
                                 cases[i].ok ? "ok" : "error", cases[i].total, ok ? "ok" : "error",
                                 total, err.message);
                if (!ok)
                        assert_int_equal(err.domain, JT_ERR_INPUT);
                bson_destroy(doc);
        }
}

/* A user far heavier than the real ~900 playbacks: 5,000 distinct songs (the maps grow many
 * times), all tied at 1 s so the whole list is ordered by id; then a light user in the same
 * accumulator sees none of it. */
static void heavy_user_then_light(void **state) {
        enum { SONGS = 5000, ARTISTS = 100 };
        jt_stats_acc_t *acc = acc_oct_2026();
        jt_error_t err;
        bson_t entry;
        bson_iter_t it, list, item;
        bson_oid_t song = oid(S1), artist = oid(R1), prev_id;

        jt_error_clear(&err);
        for (uint32_t i = 0; i < SONGS; i++) {
                uint32_t k = (SONGS - 1 - i) * 7919 % SONGS; /* not in id order */
                song.bytes[8] = (uint8_t)(k >> 24);
                song.bytes[9] = (uint8_t)(k >> 16);
                song.bytes[10] = (uint8_t)(k >> 8);
                song.bytes[11] = (uint8_t)k;
                artist.bytes[11] = (uint8_t)(k % ARTISTS);
                assert_ok(jt_stats_acc_add(acc, &song, &artist, 1, OCT_2026_MS + k * 1000, &err),
                          err);
        }
        build(acc, NULL, &entry);
        const char *lists[] = {"songs", "artists"};
        const uint32_t lens[] = {SONGS, ARTISTS};
        const double totals[] = {1, SONGS / ARTISTS};
        for (int l = 0; l < 2; l++) {
                uint32_t n = 0;
                assert_true(bson_iter_init_find(&it, &entry, lists[l]) &&
                            bson_iter_recurse(&it, &list));
                while (bson_iter_next(&list)) {
                        assert_true(bson_iter_recurse(&list, &item) && bson_iter_next(&item));
                        const bson_oid_t *id = bson_iter_oid(&item);
                        if (n > 0 && bson_oid_compare(&prev_id, id) >= 0)
                                fail_msg("%s[%u] is not in ascending id order", lists[l], n);
                        bson_oid_copy(id, &prev_id);
                        assert_true(bson_iter_next(&item));
                        assert_true(bson_iter_double(&item) == totals[l]);
                        n++;
                }
                assert_int_equal(n, lens[l]);
        }
        bson_destroy(&entry);

        jt_stats_acc_reset(acc);
        add_all(acc, user_c, N(user_c));
        build(acc, NULL, &entry);
        bson_t *expected = doc_from(user_c_entry);
        assert_entry_equal(expected, &entry, "user C after a heavy user");
        bson_destroy(expected);
        bson_destroy(&entry);
        jt_stats_acc_destroy(acc);
}

/* --- Cross-check against the Python oracle --------------------------------------------------- */

enum { O_USERS = 50, O_ARTISTS = 400, O_SONGS = 20000, O_YEAR = 2026, O_MONTH = 10 };

typedef struct {
        uint32_t user, song, artist;
        double duration;
        int64_t at;
} gen_play_t;

typedef struct {
        uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r) { /* splitmix64 */
        uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static uint64_t rng_below(rng_t *r, uint64_t n) {
        return rng_next(r) % n;
}

static double rng_unit(rng_t *r) {
        return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Ids: a kind byte, then the index scrambled so that id order is unrelated to popularity. */
static bson_oid_t gen_oid(uint8_t kind, uint32_t index) {
        bson_oid_t o = {{0}};
        uint32_t k = index * 2654435761u;
        o.bytes[0] = kind;
        o.bytes[8] = (uint8_t)(k >> 24);
        o.bytes[9] = (uint8_t)(k >> 16);
        o.bytes[10] = (uint8_t)(k >> 8);
        o.bytes[11] = (uint8_t)k; /* an odd multiplier: distinct indexes, distinct ids */
        return o;
}

static void hex_of(uint8_t kind, uint32_t index, char hex[25]) {
        bson_oid_t o = gen_oid(kind, index);
        bson_oid_to_string(&o, hex);
}

typedef struct {
        gen_play_t *plays; /* grouped by user, in generation order */
        size_t n, cap;
        size_t bad;             /* playbacks the generator made invalid on purpose */
        int prev_kind[O_USERS]; /* 0 absent, 1 null, 2 zero, 3 fractional, 4 whole */
        double prev[O_USERS];
        char *names[O_ARTISTS];    /* NULL: no name */
        bool name_null[O_ARTISTS]; /* the musician exists with name null */
        bool name_listed[O_ARTISTS];
} dataset_t;

static void push(dataset_t *d, gen_play_t p) {
        if (d->n == d->cap) {
                d->cap = d->cap ? d->cap * 2 : 1024;
                d->plays = realloc(d->plays, d->cap * sizeof(*d->plays));
                assert_non_null(d->plays);
        }
        d->plays[d->n++] = p;
}

/* Skewed popularity (a few hits, a long tail), playback counts from none to a heavy ~900,
 * ties (whole-second durations), sub-second durations, times on the hour and at both ends of
 * the month, and some bad rows that both implementations must skip. */
static void generate(dataset_t *d, uint64_t seed) {
        rng_t r = {seed};
        int64_t start, end;
        jt_error_t err;
        uint32_t *song_artist = malloc(O_SONGS * sizeof(*song_artist));

        assert_non_null(song_artist);
        assert_ok(jt_stats_month_range(O_YEAR, O_MONTH, &start, &end, &err), err);
        for (uint32_t s = 0; s < O_SONGS; s++)
                song_artist[s] = (uint32_t)(O_ARTISTS * pow(rng_unit(&r), 2));
        for (uint32_t a = 0; a < O_ARTISTS; a++) {
                d->name_listed[a] = a % 9 != 4;
                d->name_null[a] = a % 9 == 7;
                if (d->name_listed[a] && !d->name_null[a]) {
                        d->names[a] = malloc(64);
                        assert_non_null(d->names[a]);
                        if (a % 9 == 8)
                                d->names[a][0] = '\0';
                        else
                                snprintf(d->names[a], 64, "Artist %u \"Ünïcødé\" \\ %u", a, a % 7);
                }
        }
        for (uint32_t u = 0; u < O_USERS; u++) {
                d->prev_kind[u] = (int)(u % 5);
                d->prev[u] = d->prev_kind[u] == 3   ? 100 + rng_unit(&r) * 60000
                             : d->prev_kind[u] == 4 ? (double)(1 + rng_below(&r, 60000))
                                                    : 0;
                size_t n = u % 10 == 9 ? 0 : u % 10 == 0 ? 900 : 1 + rng_below(&r, 300);
                for (size_t i = 0; i < n; i++) {
                        gen_play_t p = {.user = u};
                        p.song = (uint32_t)(O_SONGS * pow(rng_unit(&r), 3));
                        p.artist = song_artist[p.song];
                        p.duration = rng_below(&r, 2) ? (double)(30 + rng_below(&r, 300))
                                                      : 30 + rng_below(&r, 300000) / 1000.0;
                        switch (rng_below(&r, 10)) {
                        case 0:
                                p.at = start + (int64_t)rng_below(&r, 744) * HOUR_MS;
                                break;
                        case 1:
                                p.at = rng_below(&r, 2) ? start : end - 1;
                                break;
                        default:
                                p.at = start + (int64_t)rng_below(&r, (uint64_t)(end - start));
                        }
                        push(d, p);
                }
                /* Every user, even one without a valid playback, gets a few bad rows. */
                for (uint64_t b = 1 + rng_below(&r, 3); b > 0; b--) {
                        static const double durations[] = {0, -5, 0.0005, 3e6};
                        gen_play_t p = {.user = u, .song = 1, .artist = song_artist[1]};
                        static const int64_t offsets[] = {-1, 0, 86400000};
                        uint64_t kind = rng_below(&r, 7);
                        p.duration = kind < 4 ? durations[kind] : 120;
                        /* kinds 4-6: a good duration at start - 1 ms, at end, a day after end */
                        p.at = kind < 4 ? start + HOUR_MS
                                        : (kind == 4 ? start : end) + offsets[kind - 4];
                        push(d, p);
                        d->bad++;
                }
        }
        free(song_artist);
}

static void dataset_free(dataset_t *d) {
        free(d->plays);
        for (int a = 0; a < O_ARTISTS; a++)
                free(d->names[a]);
}

static void write_json_line(FILE *f, json_t *value) {
        assert_non_null(value);
        assert_int_equal(json_dumpf(value, f, JSON_COMPACT), 0);
        assert_true(fputc('\n', f) != EOF);
        json_decref(value);
}

/* The oracle's input: playbacks in a shuffled order (users interleaved), and the context. */
static void write_inputs(const dataset_t *d, uint64_t seed, const char *playbacks_path,
                         const char *context_path) {
        rng_t r = {seed ^ 0x5eed};
        size_t *order = malloc(d->n * sizeof(*order));
        char user[25], song[25], artist[25];
        FILE *f = fopen(playbacks_path, "w");

        assert_non_null(order);
        assert_non_null(f);
        for (size_t i = 0; i < d->n; i++)
                order[i] = i;
        for (size_t i = d->n; i > 1; i--) {
                size_t j = rng_below(&r, i), t = order[i - 1];
                order[i - 1] = order[j];
                order[j] = t;
        }
        for (size_t i = 0; i < d->n; i++) {
                const gen_play_t *p = &d->plays[order[i]];
                hex_of('u', p->user, user);
                hex_of('s', p->song, song);
                hex_of('a', p->artist, artist);
                write_json_line(f, json_pack("{s:s, s:s, s:s, s:f, s:I}", "user", user, "song",
                                             song, "artist", artist, "duration", p->duration,
                                             "createdAt", (json_int_t)p->at));
        }
        assert_int_equal(fclose(f), 0);
        free(order);

        json_t *prev = json_object(), *names = json_object();
        for (uint32_t u = 0; u < O_USERS; u++) {
                hex_of('u', u, user);
                if (d->prev_kind[u] == 1)
                        json_object_set_new(prev, user, json_null());
                else if (d->prev_kind[u] >= 2)
                        json_object_set_new(prev, user, json_real(d->prev[u]));
        }
        for (uint32_t a = 0; a < O_ARTISTS; a++) {
                hex_of('a', a, artist);
                if (d->name_listed[a])
                        json_object_set_new(names, artist,
                                            d->name_null[a] ? json_null()
                                                            : json_string(d->names[a]));
        }
        f = fopen(context_path, "w");
        assert_non_null(f);
        write_json_line(f, json_pack("{s:i, s:i, s:o, s:o}", "year", O_YEAR, "month", O_MONTH,
                                     "previousTotals", prev, "artistNames", names));
        assert_int_equal(fclose(f), 0);
}

static void run_oracle(const char *playbacks, const char *context, const char *out) {
        const char *python = getenv("JT_PYTHON");
        if (!python || !*python)
                python = "python3";
        char *argv[] = {(char *)python,    JT_STATS_ORACLE, "--playbacks",
                        (char *)playbacks, "--context",     (char *)context,
                        "--out",           (char *)out,     NULL};
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                execvp(python, argv);
                fprintf(stderr, "cannot run %s (set JT_PYTHON to a Python 3): %s\n", python,
                        strerror(errno));
                _exit(127);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("%s %s failed (wait status %d)", python, JT_STATS_ORACLE, status);
}

static bson_t *read_oracle(const char *path) {
        FILE *f = fopen(path, "rb");
        bson_error_t error;

        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        long size = ftell(f);
        assert_true(size > 0);
        rewind(f);
        uint8_t *data = malloc((size_t)size);
        assert_non_null(data);
        assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
        fclose(f);
        bson_t *doc = bson_new_from_json(data, size, &error);
        free(data);
        if (!doc)
                fail_msg("cannot read the oracle's output %s: %s", path, error.message);
        return doc;
}

static void oracle_crosscheck(void **state) {
        uint64_t seed = 20261001;
        const char *seed_env = getenv("JT_STATS_SEED");
        if (seed_env && *seed_env)
                seed = strtoull(seed_env, NULL, 0);

        const char *tmp = getenv("TMPDIR");
        char dir[PATH_MAX], playbacks[PATH_MAX], context[PATH_MAX], out[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/jt_stats_oracle.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(dir));
        snprintf(playbacks, sizeof(playbacks), "%s/playbacks.jsonl", dir);
        snprintf(context, sizeof(context), "%s/context.json", dir);
        snprintf(out, sizeof(out), "%s/expected.json", dir);
        print_message("oracle cross-check: seed %" PRIu64 " (JT_STATS_SEED), files in %s\n", seed,
                      dir);

        dataset_t d = {0};
        generate(&d, seed);
        write_inputs(&d, seed, playbacks, context);
        run_oracle(playbacks, context, out);
        bson_t *oracle = read_oracle(out);

        bson_iter_t it, entries_it;
        bson_t entries;
        uint32_t len;
        const uint8_t *data;
        assert_true(bson_iter_init_find(&it, oracle, "rejected") && BSON_ITER_HOLDS_INT32(&it));
        int32_t oracle_rejected = bson_iter_int32(&it);
        assert_true(bson_iter_init_find(&entries_it, oracle, "entries") &&
                    BSON_ITER_HOLDS_DOCUMENT(&entries_it));
        bson_iter_document(&entries_it, &len, &data);
        assert_true(bson_init_static(&entries, data, len));

        jt_stats_acc_t *acc = acc_oct_2026();
        size_t i = 0, rejected = 0, built = 0, max_songs = 0;
        for (uint32_t u = 0; u < O_USERS; u++) {
                char user[25], what[64];
                jt_error_t err;
                jt_stats_acc_reset(acc);
                for (; i < d.n && d.plays[i].user == u; i++) {
                        const gen_play_t *p = &d.plays[i];
                        bson_oid_t song = gen_oid('s', p->song), artist = gen_oid('a', p->artist);
                        jt_error_clear(&err);
                        if (!jt_stats_acc_add(acc, &song, &artist, p->duration, p->at, &err)) {
                                assert_int_equal(err.domain, JT_ERR_INPUT); /* skip, count */
                                rejected++;
                        }
                }
                hex_of('u', u, user);
                snprintf(what, sizeof(what), "user %u (%s)", u, user);
                bool oracle_has = bson_iter_init_find(&it, &entries, user);
                if (jt_stats_acc_count(acc) == 0) {
                        if (oracle_has)
                                fail_msg("%s: no playback, yet the oracle has an entry", what);
                        continue;
                }
                if (!oracle_has)
                        fail_msg("%s: %zu playbacks, yet the oracle has no entry", what,
                                 jt_stats_acc_count(acc));

                bson_oid_t top;
                assert_true(jt_stats_acc_top_artist(acc, &top));
                uint32_t a = 0;
                while (a < O_ARTISTS) {
                        bson_oid_t id = gen_oid('a', a);
                        if (bson_oid_equal(&id, &top))
                                break;
                        a++;
                }
                assert_true(a < O_ARTISTS);
                const double *prev = d.prev_kind[u] >= 2 ? &d.prev[u] : NULL;
                bson_t entry, expected;
                jt_error_clear(&err);
                assert_ok(jt_stats_acc_build(acc, prev, d.names[a], &entry, &err), err);
                bson_iter_document(&it, &len, &data);
                assert_true(bson_init_static(&expected, data, len));
                assert_entry_equal(&expected, &entry, what);

                bson_iter_t songs;
                assert_true(bson_iter_init_find(&songs, &entry, "songs"));
                bson_iter_array(&songs, &len, &data);
                bson_t songs_doc;
                assert_true(bson_init_static(&songs_doc, data, len));
                if ((size_t)bson_count_keys(&songs_doc) > max_songs)
                        max_songs = bson_count_keys(&songs_doc);
                bson_destroy(&entry);
                built++;
        }
        assert_int_equal(i, d.n);
        assert_int_equal(rejected, d.bad);
        assert_int_equal(oracle_rejected, (int32_t)d.bad);
        assert_int_equal(bson_count_keys(&entries), built);
        assert_true(built >= 40); /* the dataset is not degenerate */
        print_message("oracle cross-check: %zu entries equal, %zu bad playbacks skipped by both, "
                      "up to %zu songs in an entry\n",
                      built, rejected, max_songs);

        jt_stats_acc_destroy(acc);
        bson_destroy(oracle);
        dataset_free(&d);
        unlink(playbacks);
        unlink(context);
        unlink(out);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(golden_entries),       cmocka_unit_test(any_order_same_bytes),
            cmocka_unit_test(growth_rules),         cmocka_unit_test(unknown_artist_names),
            cmocka_unit_test(no_playback_no_entry), cmocka_unit_test(rejects_bad_playbacks),
            cmocka_unit_test(hours_on_the_hour),    cmocka_unit_test(month_ranges),
            cmocka_unit_test(previous_entry_total), cmocka_unit_test(heavy_user_then_light),
            cmocka_unit_test(oracle_crosscheck),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
