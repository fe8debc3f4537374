/* mongo_probe (jt_mongo_probe): runs every kind of MongoDB operation the fleet needs against a
 * server, checks each result and times the heavy ones; deploy/local/mongo-bench runs it to choose
 * the local server, the ctest mongo_compat_probe to keep checking it. */

#include <getopt.h>
#include <inttypes.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Playbacks are spread evenly over 2026-01-01 .. 2026-04-01 (90 days); February is "the month". */
#define PROBE_T_START       1767225600000LL     /* 2026-01-01T00:00:00Z */
#define PROBE_SPAN          (90LL * 86400000LL) /* to 2026-04-01T00:00:00Z */
#define PROBE_FEB_START     1769904000000LL
#define PROBE_MAR_START     1772323200000LL
#define PROBE_ID_CUTOFF     (PROBE_T_START + 20LL * 86400000LL) /* cursor over _ids before Jan 21 */
#define PROBE_RANGE_FROM    (PROBE_MAR_START + 9LL * 86400000LL) /* deleteMany from Mar 10 */
#define PROBE_DOCS_PER_USER 500
#define PROBE_INSERT_CHUNK  10000
#define PROBE_DELETE_BATCH  10000
#define PROBE_SHARD_USERS   8

typedef struct {
        const char *uri;
        const char *db;
        int64_t docs;
        bool json;
        bool verify;
        bool ping;
        double op_budget_s;
        bool insert_only;
} probe_opts_t;

typedef struct {
        probe_opts_t opts;
        mongoc_client_t *client;
        mongoc_database_t *db;
        mongoc_collection_t *playbacks;
        int64_t users;
        bson_t ops;   /* array of {op, pass, expected, actual, ms} */
        bson_t times; /* named timings (ms) for the benchmark table */
        uint32_t n_ops;
        uint32_t n_fail;
        uint32_t n_warn;
        bool extra;          /* reporting checks beyond the required set: a failure is a WARN */
        char index_used[16]; /* yes / no / unknown */
        char explain[256];
        char server_version[64];
} probe_t;

/* ---- clock and deterministic data ------------------------------------------------------- */

static double probe_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int64_t probe_created_at(const probe_t *p, int64_t i) {
        return PROBE_T_START + i * PROBE_SPAN / p->opts.docs;
}

static void probe_oid(bson_oid_t *oid, const char tag[4], uint64_t n) {
        uint8_t b[12];
        memcpy(b, tag, 4);
        for (int k = 0; k < 8; k++) {
                b[4 + k] = (uint8_t)(n >> (56 - 8 * k));
        }
        bson_oid_init_from_data(oid, b);
}

/* Playback _ids carry the creation time like a driver-made ObjectId, then the index. */
static void probe_playback_id(const probe_t *p, bson_oid_t *oid, int64_t i) {
        uint8_t b[12] = {0};
        uint32_t secs = (uint32_t)(probe_created_at(p, i) / 1000);
        b[0] = (uint8_t)(secs >> 24);
        b[1] = (uint8_t)(secs >> 16);
        b[2] = (uint8_t)(secs >> 8);
        b[3] = (uint8_t)secs;
        b[4] = 'J';
        for (int k = 0; k < 4; k++) {
                b[8 + k] = (uint8_t)((uint64_t)i >> (24 - 8 * k));
        }
        bson_oid_init_from_data(oid, b);
}

static int64_t probe_user_of(const probe_t *p, int64_t i) {
        return i % p->users;
}

static double probe_duration_of(int64_t i) {
        return 30.0 + (double)(i % 300);
}

static void probe_playback(const probe_t *p, bson_t *doc, int64_t i) {
        bson_oid_t id, user, song, artist;
        int64_t song_n = (i * 7919) % 20000;
        probe_playback_id(p, &id, i);
        probe_oid(&user, "JTus", (uint64_t)probe_user_of(p, i));
        probe_oid(&song, "JTso", (uint64_t)song_n);
        probe_oid(&artist, "JTar", (uint64_t)(song_n % 3000));
        bson_init(doc);
        BSON_APPEND_OID(doc, "_id", &id);
        BSON_APPEND_OID(doc, "user", &user);
        BSON_APPEND_OID(doc, "song", &song);
        BSON_APPEND_OID(doc, "artist", &artist);
        BSON_APPEND_UTF8(doc, "state", i % 2 ? "playing" : "completed");
        BSON_APPEND_DOUBLE(doc, "duration", probe_duration_of(i));
        BSON_APPEND_DATE_TIME(doc, "createdAt", probe_created_at(p, i));
        BSON_APPEND_DATE_TIME(doc, "updatedAt", probe_created_at(p, i));
}

/* ---- reporting -------------------------------------------------------------------------- */

static void probe_report(probe_t *p, const char *op, bool pass, double ms, const char *expected,
                         const char *fmt, ...) BSON_GNUC_PRINTF(6, 7);

static void probe_report(probe_t *p, const char *op, bool pass, double ms, const char *expected,
                         const char *fmt, ...) {
        char actual[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(actual, sizeof actual, fmt, ap);
        va_end(ap);

        FILE *out = p->opts.json ? stderr : stdout;
        const char *verdict = pass ? "PASS" : p->extra ? "WARN" : "FAIL";
        if (ms >= 0) {
                fprintf(out, "%s %-28s expected %s, actual %s (%.1f ms)\n", verdict, op, expected,
                        actual, ms);
        } else {
                fprintf(out, "%s %-28s expected %s, actual %s\n", verdict, op, expected, actual);
        }
        fflush(out);

        char key[16];
        const char *k;
        bson_t d;
        bson_uint32_to_string(p->n_ops, &k, key, sizeof key);
        bson_append_document_begin(&p->ops, k, -1, &d);
        BSON_APPEND_UTF8(&d, "op", op);
        BSON_APPEND_BOOL(&d, "pass", pass);
        BSON_APPEND_BOOL(&d, "required", !p->extra);
        BSON_APPEND_UTF8(&d, "expected", expected);
        BSON_APPEND_UTF8(&d, "actual", actual);
        if (ms >= 0) {
                BSON_APPEND_DOUBLE(&d, "ms", ms);
        }
        bson_append_document_end(&p->ops, &d);
        p->n_ops++;
        if (!pass && p->extra) {
                p->n_warn++;
        } else if (!pass) {
                p->n_fail++;
        }
}

static void probe_time(probe_t *p, const char *name, double value) {
        BSON_APPEND_DOUBLE(&p->times, name, value);
}

/* An error as "domain.code: message", the form every FAIL line uses. */
static const char *probe_err(const bson_error_t *error) {
        static char buf[600];
        snprintf(buf, sizeof buf, "error %" PRIu32 ".%" PRIu32 ": %s", error->domain, error->code,
                 error->message);
        return buf;
}

static int64_t probe_get_int(const bson_t *doc, const char *dotted, int64_t dflt) {
        bson_iter_t it, f;
        if (doc && bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, dotted, &f) &&
            BSON_ITER_HOLDS_NUMBER(&f)) {
                return bson_iter_as_int64(&f);
        }
        return dflt;
}

/* ---- the operations --------------------------------------------------------------------- */

static void probe_create_indexes(probe_t *p) {
        bson_error_t error;
        bson_t reply;
        bson_t *cmd = BCON_NEW("createIndexes", "playbacks", "indexes", "[", "{", "key", "{",
                               "user", BCON_INT32(1), "createdAt", BCON_INT32(1), "}", "name",
                               "user_1_createdAt_1", "}", "{", "key", "{", "createdAt",
                               BCON_INT32(1), "}", "name", "createdAt_1", "}", "]");
        double t0 = probe_now_ms();
        bool ok = mongoc_database_write_command_with_opts(p->db, cmd, NULL, &reply, &error);
        double ms = probe_now_ms() - t0;
        bson_destroy(cmd);
        bson_destroy(&reply);
        if (!ok) {
                probe_report(p, "createIndexes", false, ms, "ok", "%s", probe_err(&error));
                return;
        }
        probe_report(p, "createIndexes", true, ms, "ok", "ok");
}

/* Both indexes listed by listIndexes (also run after a restart by --verify-persisted). */
static void probe_check_indexes(probe_t *p, const char *op) {
        bson_error_t error;
        const bson_t *doc;
        bool user_idx = false, created_idx = false;
        mongoc_cursor_t *c = mongoc_collection_find_indexes_with_opts(p->playbacks, NULL);
        while (mongoc_cursor_next(c, &doc)) {
                bson_iter_t it;
                if (bson_iter_init_find(&it, doc, "name") && BSON_ITER_HOLDS_UTF8(&it)) {
                        const char *name = bson_iter_utf8(&it, NULL);
                        user_idx |= strcmp(name, "user_1_createdAt_1") == 0;
                        created_idx |= strcmp(name, "createdAt_1") == 0;
                }
        }
        if (mongoc_cursor_error(c, &error)) {
                probe_report(p, op, false, -1, "both indexes", "%s", probe_err(&error));
        } else {
                probe_report(p, op, user_idx && created_idx, -1,
                             "user_1_createdAt_1 and createdAt_1",
                             "user_1_createdAt_1 %s, createdAt_1 %s",
                             user_idx ? "present" : "MISSING", created_idx ? "present" : "MISSING");
        }
        mongoc_cursor_destroy(c);
}

static void probe_insert(probe_t *p) {
        bson_error_t error;
        bool ok = true;
        int64_t inserted = 0, next_progress = p->opts.docs / 10;
        bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false));
        double t0 = probe_now_ms();
        for (int64_t start = 0; start < p->opts.docs && ok; start += PROBE_INSERT_CHUNK) {
                int64_t end = start + PROBE_INSERT_CHUNK;
                if (end > p->opts.docs) {
                        end = p->opts.docs;
                }
                mongoc_bulk_operation_t *bulk =
                    mongoc_collection_create_bulk_operation_with_opts(p->playbacks, opts);
                for (int64_t i = start; i < end; i++) {
                        bson_t doc;
                        probe_playback(p, &doc, i);
                        mongoc_bulk_operation_insert(bulk, &doc);
                        bson_destroy(&doc);
                }
                bson_t reply;
                ok = mongoc_bulk_operation_execute(bulk, &reply, &error) != 0;
                inserted += probe_get_int(&reply, "nInserted", 0);
                bson_destroy(&reply);
                mongoc_bulk_operation_destroy(bulk);
                if (!p->opts.json && p->opts.docs >= 100000 && inserted >= next_progress) {
                        fprintf(stderr, "  inserted %" PRId64 "/%" PRId64 " (%.0f s)\n", inserted,
                                p->opts.docs, (probe_now_ms() - t0) / 1e3);
                        next_progress += p->opts.docs / 10;
                }
        }
        double ms = probe_now_ms() - t0;
        bson_destroy(opts);
        char expected[64];
        snprintf(expected, sizeof expected, "%" PRId64 " inserted", p->opts.docs);
        probe_time(p, "insert_ms", ms);
        probe_time(p, "insert_docs_per_s", (double)inserted / (ms / 1e3));
        if (!ok) {
                probe_report(p, "bulk insert (unordered)", false, ms, expected, "%" PRId64 ", %s",
                             inserted, probe_err(&error));
                return;
        }
        probe_report(p, "bulk insert (unordered)", inserted == p->opts.docs, ms, expected,
                     "%" PRId64 " (%.0f docs/s)", inserted, (double)inserted / (ms / 1e3));
}

static void probe_count(probe_t *p, const char *op, const bson_t *filter, int64_t expected_n) {
        bson_error_t error;
        char expected[32];
        snprintf(expected, sizeof expected, "%" PRId64, expected_n);
        double t0 = probe_now_ms();
        int64_t n =
            mongoc_collection_count_documents(p->playbacks, filter, NULL, NULL, NULL, &error);
        double ms = probe_now_ms() - t0;
        if (n < 0) {
                probe_report(p, op, false, ms, expected, "%s", probe_err(&error));
        } else {
                probe_report(p, op, n == expected_n, ms, expected, "%" PRId64, n);
        }
}

static void probe_estimated_count(probe_t *p, int64_t expected_n) {
        bson_error_t error;
        char expected[32];
        snprintf(expected, sizeof expected, "%" PRId64, expected_n);
        double t0 = probe_now_ms();
        int64_t n =
            mongoc_collection_estimated_document_count(p->playbacks, NULL, NULL, NULL, &error);
        double ms = probe_now_ms() - t0;
        if (n < 0) {
                probe_report(p, "estimatedDocumentCount", false, ms, expected, "%s",
                             probe_err(&error));
        } else {
                probe_report(p, "estimatedDocumentCount", n == expected_n, ms, expected, "%" PRId64,
                             n);
        }
}

/* The statistics worker's per-user read: one user's month, projected, in time order. */
static void probe_find_user_month(probe_t *p, int64_t user_n, const char *op, const char *time_name,
                                  int64_t *count_out) {
        bson_error_t error;
        bson_oid_t user;
        int64_t exp_n = 0, n = 0;
        double exp_sum = 0, sum = 0;
        bool sorted = true, projected = true;
        int64_t last = INT64_MIN;

        for (int64_t i = 0; i < p->opts.docs; i++) {
                int64_t t = probe_created_at(p, i);
                if (probe_user_of(p, i) == user_n && t >= PROBE_FEB_START && t < PROBE_MAR_START) {
                        exp_n++;
                        exp_sum += probe_duration_of(i);
                }
        }
        probe_oid(&user, "JTus", (uint64_t)user_n);
        bson_t *filter =
            BCON_NEW("user", BCON_OID(&user), "createdAt", "{", "$gte",
                     BCON_DATE_TIME(PROBE_FEB_START), "$lt", BCON_DATE_TIME(PROBE_MAR_START), "}");
        bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(0), "song", BCON_INT32(1),
                                "artist", BCON_INT32(1), "duration", BCON_INT32(1), "createdAt",
                                BCON_INT32(1), "}", "sort", "{", "createdAt", BCON_INT32(1), "}");
        double t0 = probe_now_ms();
        mongoc_cursor_t *c = mongoc_collection_find_with_opts(p->playbacks, filter, opts, NULL);
        const bson_t *doc;
        while (mongoc_cursor_next(c, &doc)) {
                bson_iter_t it;
                n++;
                projected &= !bson_has_field(doc, "_id") && !bson_has_field(doc, "user") &&
                             bson_has_field(doc, "song") && bson_has_field(doc, "artist");
                if (bson_iter_init_find(&it, doc, "duration") && BSON_ITER_HOLDS_NUMBER(&it)) {
                        sum += bson_iter_as_double(&it);
                }
                if (bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
                        int64_t t = bson_iter_date_time(&it);
                        sorted &= t >= last;
                        last = t;
                } else {
                        sorted = false;
                }
        }
        double ms = probe_now_ms() - t0;
        char expected[96];
        snprintf(expected, sizeof expected,
                 "%" PRId64 " docs, duration sum %.0f, sorted, projected", exp_n, exp_sum);
        if (mongoc_cursor_error(c, &error)) {
                probe_report(p, op, false, ms, expected, "%s", probe_err(&error));
        } else {
                probe_report(p, op, n == exp_n && sum == exp_sum && sorted && projected, ms,
                             expected, "%" PRId64 " docs, duration sum %.0f, %s, %s", n, sum,
                             sorted ? "sorted" : "NOT SORTED",
                             projected ? "projected" : "NOT PROJECTED");
        }
        if (time_name) {
                probe_time(p, time_name, ms);
        }
        if (count_out) {
                *count_out = n;
        }
        mongoc_cursor_destroy(c);
        bson_destroy(filter);
        bson_destroy(opts);
}

/* The worker's shard query: several users and the month, sorted by user then time. */
static void probe_find_shard(probe_t *p) {
        bson_error_t error;
        int64_t ids[PROBE_SHARD_USERS];
        int n_ids = 0;
        static const int64_t pick[PROBE_SHARD_USERS] = {1, 2, 3, 5, 8, 13, 21, 34};
        for (int k = 0; k < PROBE_SHARD_USERS; k++) {
                int64_t u = pick[k] % p->users;
                bool dup = false;
                for (int j = 0; j < n_ids; j++) {
                        dup |= ids[j] == u;
                }
                if (!dup) {
                        ids[n_ids++] = u;
                }
        }
        int64_t exp_n = 0;
        for (int64_t i = 0; i < p->opts.docs; i++) {
                int64_t t = probe_created_at(p, i);
                if (t < PROBE_FEB_START || t >= PROBE_MAR_START) {
                        continue;
                }
                for (int j = 0; j < n_ids; j++) {
                        exp_n += probe_user_of(p, i) == ids[j];
                }
        }

        bson_t filter = BSON_INITIALIZER, in_doc, list, range;
        bson_append_document_begin(&filter, "user", -1, &in_doc);
        bson_append_array_begin(&in_doc, "$in", -1, &list);
        for (int j = 0; j < n_ids; j++) {
                char key[16];
                const char *k;
                bson_oid_t oid;
                probe_oid(&oid, "JTus", (uint64_t)ids[j]);
                bson_uint32_to_string((uint32_t)j, &k, key, sizeof key);
                BSON_APPEND_OID(&list, k, &oid);
        }
        bson_append_array_end(&in_doc, &list);
        bson_append_document_end(&filter, &in_doc);
        bson_append_document_begin(&filter, "createdAt", -1, &range);
        BSON_APPEND_DATE_TIME(&range, "$gte", PROBE_FEB_START);
        BSON_APPEND_DATE_TIME(&range, "$lt", PROBE_MAR_START);
        bson_append_document_end(&filter, &range);
        bson_t *opts = BCON_NEW("sort", "{", "user", BCON_INT32(1), "createdAt", BCON_INT32(1), "}",
                                "projection", "{", "user", BCON_INT32(1), "createdAt",
                                BCON_INT32(1), "duration", BCON_INT32(1), "}");

        int64_t n = 0;
        bool ordered = true;
        bson_oid_t last_user;
        int64_t last_t = INT64_MIN;
        memset(&last_user, 0, sizeof last_user);
        double t0 = probe_now_ms();
        mongoc_cursor_t *c = mongoc_collection_find_with_opts(p->playbacks, &filter, opts, NULL);
        const bson_t *doc;
        while (mongoc_cursor_next(c, &doc)) {
                bson_iter_t iu, it;
                n++;
                if (!bson_iter_init_find(&iu, doc, "user") || !BSON_ITER_HOLDS_OID(&iu) ||
                    !bson_iter_init_find(&it, doc, "createdAt") ||
                    !BSON_ITER_HOLDS_DATE_TIME(&it)) {
                        ordered = false;
                        continue;
                }
                const bson_oid_t *u = bson_iter_oid(&iu);
                int64_t t = bson_iter_date_time(&it);
                int cmp = bson_oid_compare(u, &last_user);
                if (cmp < 0 || (cmp == 0 && t < last_t)) {
                        ordered = false;
                }
                bson_oid_copy(u, &last_user);
                last_t = t;
        }
        double ms = probe_now_ms() - t0;
        char expected[96];
        snprintf(expected, sizeof expected,
                 "%" PRId64 " docs of %d users, sorted by user,createdAt", exp_n, n_ids);
        if (mongoc_cursor_error(c, &error)) {
                probe_report(p, "find shard ($in + range)", false, ms, expected, "%s",
                             probe_err(&error));
        } else {
                probe_report(p, "find shard ($in + range)", n == exp_n && ordered, ms, expected,
                             "%" PRId64 " docs, %s", n, ordered ? "sorted" : "NOT SORTED");
        }
        probe_time(p, "shard_query_ms", ms);
        mongoc_cursor_destroy(c);
        bson_destroy(&filter);
        bson_destroy(opts);
}

/* The whole month of every user (what a non-sharded statistics pass would read). */
static void probe_find_month(probe_t *p) {
        bson_error_t error;
        int64_t exp_n = 0, n = 0;
        for (int64_t i = 0; i < p->opts.docs; i++) {
                int64_t t = probe_created_at(p, i);
                exp_n += t >= PROBE_FEB_START && t < PROBE_MAR_START;
        }
        bson_t *filter = BCON_NEW("createdAt", "{", "$gte", BCON_DATE_TIME(PROBE_FEB_START), "$lt",
                                  BCON_DATE_TIME(PROBE_MAR_START), "}");
        double t0 = probe_now_ms();
        mongoc_cursor_t *c = mongoc_collection_find_with_opts(p->playbacks, filter, NULL, NULL);
        const bson_t *doc;
        while (mongoc_cursor_next(c, &doc)) {
                n++;
        }
        double ms = probe_now_ms() - t0;
        char expected[32];
        snprintf(expected, sizeof expected, "%" PRId64 " docs", exp_n);
        if (mongoc_cursor_error(c, &error)) {
                probe_report(p, "find month range", false, ms, expected, "%s", probe_err(&error));
        } else {
                probe_report(p, "find month range", n == exp_n, ms, expected, "%" PRId64 " docs",
                             n);
        }
        probe_time(p, "month_range_ms", ms);
        mongoc_cursor_destroy(c);
        bson_destroy(filter);
}

/* The cleanup producer's first step: the oldest playback. */
static void probe_find_oldest(probe_t *p) {
        bson_error_t error;
        bson_t *opts = BCON_NEW("sort", "{", "createdAt", BCON_INT32(1), "}", "limit",
                                BCON_INT64(1), "projection", "{", "createdAt", BCON_INT32(1), "}");
        bson_t filter = BSON_INITIALIZER;
        int64_t got = -1, n = 0;
        double t0 = probe_now_ms();
        mongoc_cursor_t *c = mongoc_collection_find_with_opts(p->playbacks, &filter, opts, NULL);
        const bson_t *doc;
        while (mongoc_cursor_next(c, &doc)) {
                bson_iter_t it;
                n++;
                if (bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
                        got = bson_iter_date_time(&it);
                }
        }
        double ms = probe_now_ms() - t0;
        char expected[64];
        snprintf(expected, sizeof expected, "1 doc, createdAt %" PRId64, probe_created_at(p, 0));
        if (mongoc_cursor_error(c, &error)) {
                probe_report(p, "find oldest (sort+limit 1)", false, ms, expected, "%s",
                             probe_err(&error));
        } else {
                probe_report(p, "find oldest (sort+limit 1)",
                             n == 1 && got == probe_created_at(p, 0), ms, expected,
                             "%" PRId64 " doc, createdAt %" PRId64, n, got);
        }
        probe_time(p, "oldest_ms", ms);
        mongoc_cursor_destroy(c);
        bson_destroy(opts);
}

/* The cleanup worker: a cursor over the _ids older than the cutoff, then unordered bulks of
 * deleteOne by _id (the original's way), then as many by one deleteMany {_id: {$in}}.
 * Returns the number deleted. */
static int64_t probe_cursor_and_delete_ids(probe_t *p, int64_t batch) {
        bson_error_t error;
        int64_t exp_n = 0, n = 0;
        bool only_ids = true;
        for (int64_t i = 0; i < p->opts.docs; i++) {
                exp_n += probe_created_at(p, i) < PROBE_ID_CUTOFF;
        }
        if (batch > exp_n) {
                batch = exp_n;
        }
        /* The first `batch` ids go to the deleteOne bulks, the next `in_n` to one deleteMany $in.
         */
        int64_t in_n = exp_n - batch < batch ? exp_n - batch : batch;
        bson_oid_t *ids = bson_malloc0(sizeof *ids * (size_t)(batch + in_n > 0 ? batch + in_n : 1));
        bson_t *filter = BCON_NEW("createdAt", "{", "$lt", BCON_DATE_TIME(PROBE_ID_CUTOFF), "}");
        bson_t *opts =
            BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "batchSize", BCON_INT32(10000));
        double t0 = probe_now_ms();
        mongoc_cursor_t *c = mongoc_collection_find_with_opts(p->playbacks, filter, opts, NULL);
        const bson_t *doc;
        while (mongoc_cursor_next(c, &doc)) {
                bson_iter_t it;
                if (bson_count_keys(doc) != 1 || !bson_iter_init_find(&it, doc, "_id") ||
                    !BSON_ITER_HOLDS_OID(&it)) {
                        only_ids = false;
                } else if (n < batch + in_n) {
                        bson_oid_copy(bson_iter_oid(&it), &ids[n]);
                }
                n++;
        }
        double ms = probe_now_ms() - t0;
        char expected[64];
        snprintf(expected, sizeof expected, "%" PRId64 " docs with only _id", exp_n);
        if (mongoc_cursor_error(c, &error)) {
                probe_report(p, "cursor of _ids (createdAt<)", false, ms, expected, "%s",
                             probe_err(&error));
        } else {
                probe_report(p, "cursor of _ids (createdAt<)", n == exp_n && only_ids, ms, expected,
                             "%" PRId64 " docs%s", n,
                             only_ids ? " with only _id" : ", NOT only _id");
        }
        probe_time(p, "id_cursor_ms", ms);
        mongoc_cursor_destroy(c);
        bson_destroy(filter);
        bson_destroy(opts);

        int64_t removed = 0, attempted = 0;
        if (n >= batch && batch > 0) {
                /* Unordered bulks of 10, 90, 900, then the rest (9,000 of the 10,000): each step
                 * runs only when the rate so far says it fits in --op-budget, so a server that
                 * takes seconds per delete is measured on fewer documents instead of for hours (the
                 * table says n). */
                bson_t *bopts = BCON_NEW("ordered", BCON_BOOL(false));
                bool ok = true;
                double total_ms = 0;
                char stop[128] = "";
                int64_t step_end = 10;
                while (ok && attempted < batch) {
                        int64_t end = step_end < batch ? step_end : batch;
                        if (attempted > 0) {
                                double projected_s =
                                    total_ms / (double)attempted * (double)(end - attempted) / 1e3;
                                if (total_ms / 1e3 + projected_s > p->opts.op_budget_s) {
                                        snprintf(stop, sizeof stop,
                                                 "; stopped after %" PRId64 ": %" PRId64
                                                 " more would take ~%.0f s",
                                                 attempted, end - attempted, projected_s);
                                        break;
                                }
                        }
                        mongoc_bulk_operation_t *bulk =
                            mongoc_collection_create_bulk_operation_with_opts(p->playbacks, bopts);
                        for (int64_t k = attempted; k < end; k++) {
                                bson_t sel = BSON_INITIALIZER;
                                BSON_APPEND_OID(&sel, "_id", &ids[k]);
                                mongoc_bulk_operation_remove_one_with_opts(bulk, &sel, NULL,
                                                                           &error);
                                bson_destroy(&sel);
                        }
                        bson_t reply;
                        t0 = probe_now_ms();
                        ok = mongoc_bulk_operation_execute(bulk, &reply, &error) != 0;
                        total_ms += probe_now_ms() - t0;
                        removed += probe_get_int(&reply, "nRemoved", 0);
                        attempted = end;
                        bson_destroy(&reply);
                        mongoc_bulk_operation_destroy(bulk);
                        step_end = step_end < 1000 ? step_end * 10 : batch;
                }
                snprintf(expected, sizeof expected, "%" PRId64 " removed", attempted);
                if (!ok) {
                        probe_report(p, "bulk deleteOne by _id", false, total_ms, expected,
                                     "%" PRId64 ", %s", removed, probe_err(&error));
                } else {
                        probe_report(p, "bulk deleteOne by _id", removed == attempted, total_ms,
                                     expected, "%" PRId64 " removed%s", removed, stop);
                }
                probe_time(p, "delete_ids_ms", total_ms);
                probe_time(p, "delete_ids_n", (double)attempted);
                bson_destroy(bopts);

                /* The same kind of batch as one deleteMany {_id: {$in: [...]}}: one command, not N.
                 */
                if (in_n > 0 && n >= batch + in_n) {
                        bson_t sel = BSON_INITIALIZER, in_doc, list;
                        bson_append_document_begin(&sel, "_id", -1, &in_doc);
                        bson_append_array_begin(&in_doc, "$in", -1, &list);
                        for (int64_t k = 0; k < in_n; k++) {
                                char key[16];
                                const char *kk;
                                bson_uint32_to_string((uint32_t)k, &kk, key, sizeof key);
                                BSON_APPEND_OID(&list, kk, &ids[batch + k]);
                        }
                        bson_append_array_end(&in_doc, &list);
                        bson_append_document_end(&sel, &in_doc);
                        bson_t reply;
                        t0 = probe_now_ms();
                        ok =
                            mongoc_collection_delete_many(p->playbacks, &sel, NULL, &reply, &error);
                        ms = probe_now_ms() - t0;
                        int64_t deleted = probe_get_int(&reply, "deletedCount", -1);
                        snprintf(expected, sizeof expected, "%" PRId64 " deleted", in_n);
                        if (!ok) {
                                probe_report(p, "deleteMany _id $in", false, ms, expected, "%s",
                                             probe_err(&error));
                        } else {
                                probe_report(p, "deleteMany _id $in", deleted == in_n, ms, expected,
                                             "%" PRId64 " deleted", deleted);
                                removed += deleted;
                        }
                        probe_time(p, "delete_in_ms", ms);
                        probe_time(p, "delete_in_n", (double)in_n);
                        bson_destroy(&reply);
                        bson_destroy(&sel);
                }

                bson_t *left =
                    BCON_NEW("createdAt", "{", "$lt", BCON_DATE_TIME(PROBE_ID_CUTOFF), "}");
                probe_count(p, "count after _id deletes", left, exp_n - removed);
                bson_destroy(left);
        } else {
                probe_report(p, "bulk deleteOne by _id", false, -1, "ids to delete",
                             "cursor gave %" PRId64, n);
        }
        bson_free(ids);
        return removed;
}

/* The cleanup job's direct mode: deleteMany over a createdAt range of `batch` documents. */
static int64_t probe_delete_range(probe_t *p, int64_t batch) {
        bson_error_t error;
        int64_t first = -1;
        for (int64_t i = 0; i < p->opts.docs; i++) {
                if (probe_created_at(p, i) >= PROBE_RANGE_FROM) {
                        first = i;
                        break;
                }
        }
        if (first < 0 || first + batch > p->opts.docs) {
                batch = first < 0 ? 0 : p->opts.docs - first;
        }
        int64_t from = probe_created_at(p, first < 0 ? 0 : first);
        int64_t to = first + batch < p->opts.docs ? probe_created_at(p, first + batch)
                                                  : PROBE_T_START + PROBE_SPAN;
        int64_t exp_n = 0;
        for (int64_t i = 0; i < p->opts.docs; i++) {
                int64_t t = probe_created_at(p, i);
                exp_n += t >= from && t < to;
        }
        bson_t *filter = BCON_NEW("createdAt", "{", "$gte", BCON_DATE_TIME(from), "$lt",
                                  BCON_DATE_TIME(to), "}");
        bson_t reply;
        double t0 = probe_now_ms();
        bool ok = mongoc_collection_delete_many(p->playbacks, filter, NULL, &reply, &error);
        double ms = probe_now_ms() - t0;
        int64_t deleted = probe_get_int(&reply, "deletedCount", -1);
        char expected[48];
        snprintf(expected, sizeof expected, "%" PRId64 " deleted", exp_n);
        if (!ok) {
                probe_report(p, "deleteMany by range", false, ms, expected, "%s",
                             probe_err(&error));
        } else {
                probe_report(p, "deleteMany by range", deleted == exp_n, ms, expected,
                             "%" PRId64 " deleted", deleted);
        }
        probe_time(p, "delete_range_ms", ms);
        probe_time(p, "delete_range_n", (double)exp_n);
        bson_destroy(&reply);
        probe_count(p, "count after deleteMany", filter, 0);
        bson_destroy(filter);
        return ok ? deleted : 0;
}

/* Explain the user+range query: does the server use an index or scan the collection? */
static void probe_explain_walk(bson_iter_t *it, bool *ix, bool *scan, char *summary, size_t size) {
        while (bson_iter_next(it)) {
                const char *key = bson_iter_key(it);
                if (BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) {
                        bson_iter_t child;
                        if (bson_iter_recurse(it, &child)) {
                                probe_explain_walk(&child, ix, scan, summary, size);
                        }
                        continue;
                }
                if (!BSON_ITER_HOLDS_UTF8(it)) {
                        if (BSON_ITER_HOLDS_BOOL(it) && strstr(key, "ushdown")) {
                                size_t len = strlen(summary);
                                snprintf(summary + len, size - len, "%s%s=%s", len ? "; " : "", key,
                                         bson_iter_bool(it) ? "true" : "false");
                        }
                        continue;
                }
                const char *v = bson_iter_utf8(it, NULL);
                bool relevant = false;
                if (strcmp(key, "stage") == 0) { /* MongoDB-style plans */
                        relevant = true;
                        *ix |= strcmp(v, "IXSCAN") == 0;
                        *scan |= strcmp(v, "COLLSCAN") == 0;
                } else if (strcmp(key, "Node Type") == 0) { /* PostgreSQL EXPLAIN (FerretDB pg) */
                        relevant = true;
                        *ix |= strstr(v, "Index") != NULL;
                        *scan |= strcmp(v, "Seq Scan") == 0;
                } else if (strcmp(key, "detail") == 0) { /* SQLite EXPLAIN QUERY PLAN */
                        relevant = true;
                        *ix |= strstr(v, "USING INDEX") != NULL ||
                               strstr(v, "USING COVERING INDEX") != NULL;
                        *scan |= strncmp(v, "SCAN", 4) == 0;
                } else if (strstr(v,
                                  "detail=")) { /* SQLite plan rows as strings (FerretDB sqlite) */
                        relevant = true;
                        *ix |= strstr(v, "USING INDEX") != NULL ||
                               strstr(v, "USING COVERING INDEX") != NULL;
                        *scan |= strstr(v, "detail=SCAN") != NULL;
                        v = strstr(v, "detail=") + strlen("detail=");
                } else if (strcmp(key, "Index Name") == 0) {
                        relevant = true;
                }
                if (relevant) {
                        size_t len = strlen(summary);
                        if (len + strlen(v) + 4 < size) {
                                snprintf(summary + len, size - len, "%s%s", len ? "; " : "", v);
                        }
                }
        }
}

static void probe_explain(probe_t *p) {
        bson_error_t error;
        bson_oid_t user;
        bson_t reply;
        probe_oid(&user, "JTus", 7 % (uint64_t)p->users);
        bson_t *cmd =
            BCON_NEW("explain", "{", "find", "playbacks", "filter", "{", "user", BCON_OID(&user),
                     "createdAt", "{", "$gte", BCON_DATE_TIME(PROBE_FEB_START), "$lt",
                     BCON_DATE_TIME(PROBE_MAR_START), "}", "}", "sort", "{", "createdAt",
                     BCON_INT32(1), "}", "}", "verbosity", "queryPlanner");
        bool ok = mongoc_database_command_simple(p->db, cmd, NULL, &reply, &error);
        bson_destroy(cmd);
        if (!ok) {
                snprintf(p->index_used, sizeof p->index_used, "unknown");
                snprintf(p->explain, sizeof p->explain, "no explain: %.200s", error.message);
        } else {
                bool ix = false, scan = false;
                bson_iter_t it;
                p->explain[0] = '\0';
                if (bson_iter_init(&it, &reply)) {
                        probe_explain_walk(&it, &ix, &scan, p->explain, sizeof p->explain);
                }
                snprintf(p->index_used, sizeof p->index_used, "%s",
                         ix     ? "yes"
                         : scan ? "no"
                                : "unknown");
                if (!p->opts.json && getenv("JT_PROBE_EXPLAIN")) {
                        char *s = bson_as_relaxed_extended_json(&reply, NULL);
                        fprintf(stderr, "explain: %s\n", s);
                        bson_free(s);
                }
        }
        bson_destroy(&reply);
        FILE *out = p->opts.json ? stderr : stdout;
        fprintf(out, "INFO explain user+range           index used: %s (%s)\n", p->index_used,
                p->explain);
}

/* ---- the document updates of the statistics finalize step and the job ledger ------------- */

static bson_t *probe_find_one(mongoc_collection_t *coll, const bson_t *filter) {
        const bson_t *doc;
        bson_t *copy = NULL;
        mongoc_cursor_t *c = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
        if (mongoc_cursor_next(c, &doc)) {
                copy = bson_copy(doc);
        }
        mongoc_cursor_destroy(c);
        return copy;
}

static int64_t probe_array_len(const bson_t *doc, const char *field) {
        bson_iter_t it, a;
        int64_t n = 0;
        if (!doc || !bson_iter_init_find(&it, doc, field) || !BSON_ITER_HOLDS_ARRAY(&it) ||
            !bson_iter_recurse(&it, &a)) {
                return -1;
        }
        while (bson_iter_next(&a)) {
                n++;
        }
        return n;
}

static void probe_update_check(probe_t *p, const char *op, bool ok, const bson_t *reply,
                               const bson_error_t *error, int64_t exp_matched, int64_t exp_modified,
                               int64_t exp_upserted) {
        char expected[96];
        snprintf(expected, sizeof expected,
                 "matched %" PRId64 " modified %" PRId64 " upserted %" PRId64, exp_matched,
                 exp_modified, exp_upserted);
        if (!ok) {
                probe_report(p, op, false, -1, expected, "%s", probe_err(error));
                return;
        }
        int64_t m = probe_get_int(reply, "matchedCount", -1);
        int64_t mod = probe_get_int(reply, "modifiedCount", -1);
        int64_t up = probe_get_int(reply, "upsertedCount", 0);
        probe_report(p, op, m == exp_matched && mod == exp_modified && up == exp_upserted, -1,
                     expected, "matched %" PRId64 " modified %" PRId64 " upserted %" PRId64, m, mod,
                     up);
}

static void probe_user_updates(probe_t *p) {
        bson_error_t error;
        bson_t reply;
        bson_oid_t uid, n1, n2, n3;
        mongoc_collection_t *users = mongoc_database_get_collection(p->db, "users");
        probe_oid(&uid, "JTuD", 1);
        probe_oid(&n1, "JTno", 1);
        probe_oid(&n2, "JTno", 2);
        probe_oid(&n3, "JTno", 3);
        bson_t *sel = BCON_NEW("_id", BCON_OID(&uid));

        /* replaceOne with upsert: inserts, then replaces. */
        bson_t *v1 = BCON_NEW("username", "probe", "email", "probe@example.com", "version",
                              BCON_INT32(1), "notifications", "[", "]", "userPreferences", "{",
                              "notifications", "{", "monthlyStatistic", BCON_BOOL(true), "}", "}");
        bson_t *v2 = BCON_NEW("username", "probe", "email", "probe@example.com", "version",
                              BCON_INT32(2), "notifications", "[", "]", "userPreferences", "{",
                              "notifications", "{", "monthlyStatistic", BCON_BOOL(true), "}", "}");
        bson_t *upsert = BCON_NEW("upsert", BCON_BOOL(true));
        bool ok = mongoc_collection_replace_one(users, sel, v1, upsert, &reply, &error);
        probe_update_check(p, "replaceOne upsert (insert)", ok, &reply, &error, 0, 0, 1);
        bson_destroy(&reply);
        ok = mongoc_collection_replace_one(users, sel, v2, upsert, &reply, &error);
        probe_update_check(p, "replaceOne upsert (replace)", ok, &reply, &error, 1, 1, 0);
        bson_destroy(&reply);
        bson_t *got = probe_find_one(users, sel);
        int64_t version = probe_get_int(got, "version", -1);
        probe_report(p, "replaceOne result", version == 2, -1, "version 2", "version %" PRId64,
                     version);
        bson_destroy(got);

        /* $push guarded by "notifications.id" $ne: applies once. */
        bson_t *guard =
            BCON_NEW("_id", BCON_OID(&uid), "notifications.id", "{", "$ne", BCON_OID(&n1), "}");
        bson_t *push = BCON_NEW("$push", "{", "notifications", "{", "id", BCON_OID(&n1), "viewed",
                                BCON_BOOL(false), "read", BCON_BOOL(false), "}", "}");
        ok = mongoc_collection_update_one(users, guard, push, NULL, &reply, &error);
        probe_update_check(p, "$push guarded (1st)", ok, &reply, &error, 1, 1, 0);
        bson_destroy(&reply);
        ok = mongoc_collection_update_one(users, guard, push, NULL, &reply, &error);
        probe_update_check(p, "$push guarded (2nd: no-op)", ok, &reply, &error, 0, 0, 0);
        bson_destroy(&reply);

        /* $addToSet: applies once. */
        bson_t *add = BCON_NEW("$addToSet", "{", "notifications", "{", "id", BCON_OID(&n2),
                               "viewed", BCON_BOOL(false), "read", BCON_BOOL(false), "}", "}");
        ok = mongoc_collection_update_one(users, sel, add, NULL, &reply, &error);
        probe_update_check(p, "$addToSet (1st)", ok, &reply, &error, 1, 1, 0);
        bson_destroy(&reply);
        ok = mongoc_collection_update_one(users, sel, add, NULL, &reply, &error);
        probe_update_check(p, "$addToSet (2nd: no-op)", ok, &reply, &error, 1, 0, 0);
        bson_destroy(&reply);
        got = probe_find_one(users, sel);
        int64_t len = probe_array_len(got, "notifications");
        probe_report(p, "notifications array", len == 2, -1, "2 entries", "%" PRId64 " entries",
                     len);
        bson_destroy(got);

        /* The finalize step over many users: updateMany with $in and the same guard. */
        enum { MANY = 100 };
        bson_t many = BSON_INITIALIZER, in_doc, list;
        mongoc_bulk_operation_t *bulk =
            mongoc_collection_create_bulk_operation_with_opts(users, NULL);
        bson_append_document_begin(&many, "_id", -1, &in_doc);
        bson_append_array_begin(&in_doc, "$in", -1, &list);
        for (uint32_t k = 0; k < MANY; k++) {
                char key[16];
                const char *kk;
                bson_oid_t oid;
                probe_oid(&oid, "JTuM", k);
                bson_uint32_to_string(k, &kk, key, sizeof key);
                BSON_APPEND_OID(&list, kk, &oid);
                bson_t *u = BCON_NEW("_id", BCON_OID(&oid), "notifications", "[", "]");
                mongoc_bulk_operation_insert(bulk, u);
                bson_destroy(u);
        }
        bson_append_array_end(&in_doc, &list);
        bson_append_document_end(&many, &in_doc);
        ok = mongoc_bulk_operation_execute(bulk, &reply, &error) != 0;
        bson_destroy(&reply);
        mongoc_bulk_operation_destroy(bulk);
        BSON_APPEND_DOCUMENT_BEGIN(&many, "notifications.id", &in_doc);
        BSON_APPEND_OID(&in_doc, "$ne", &n3);
        bson_append_document_end(&many, &in_doc);
        bson_t *push3 = BCON_NEW("$push", "{", "notifications", "{", "id", BCON_OID(&n3), "viewed",
                                 BCON_BOOL(false), "read", BCON_BOOL(false), "}", "}");
        if (ok) {
                ok = mongoc_collection_update_many(users, &many, push3, NULL, &reply, &error);
        }
        probe_update_check(p, "updateMany $in + guard (1st)", ok, &reply, &error, MANY, MANY, 0);
        bson_destroy(&reply);
        ok = mongoc_collection_update_many(users, &many, push3, NULL, &reply, &error);
        probe_update_check(p, "updateMany $in + guard (2nd)", ok, &reply, &error, 0, 0, 0);
        bson_destroy(&reply);

        bson_destroy(push3);
        bson_destroy(&many);
        bson_destroy(add);
        bson_destroy(push);
        bson_destroy(guard);
        bson_destroy(upsert);
        bson_destroy(v2);
        bson_destroy(v1);
        bson_destroy(sel);
        mongoc_collection_destroy(users);
}

/* The job ledger: findAndModify upserting the job and recording task results by task id. */
static void probe_ledger(probe_t *p) {
        bson_error_t error;
        bson_t reply;
        mongoc_collection_t *jobs = mongoc_database_get_collection(p->db, "jobs");
        bson_t *sel = BCON_NEW("_id", "test-stats-2026-02");
        const char *tasks[2] = {"results.shard-0003", "results.shard-0004"};
        for (int k = 0; k < 2; k++) {
                mongoc_find_and_modify_opts_t *fam = mongoc_find_and_modify_opts_new();
                bson_t *update =
                    BCON_NEW("$setOnInsert", "{", "kind", "stats", "state", "running", "}", "$set",
                             "{", tasks[k], "{", "users", BCON_INT32(10 + k), "}", "}", "$inc", "{",
                             "done", BCON_INT32(1), "}");
                mongoc_find_and_modify_opts_set_update(fam, update);
                mongoc_find_and_modify_opts_set_flags(fam, MONGOC_FIND_AND_MODIFY_UPSERT |
                                                               MONGOC_FIND_AND_MODIFY_RETURN_NEW);
                bool ok =
                    mongoc_collection_find_and_modify_with_opts(jobs, sel, fam, &reply, &error);
                const char *op =
                    k == 0 ? "findAndModify upsert+new (1)" : "findAndModify upsert+new (2)";
                if (!ok) {
                        probe_report(p, op, false, -1, "returned new doc", "%s", probe_err(&error));
                } else {
                        bson_iter_t it, v;
                        bson_t value;
                        int64_t done = -1;
                        bool has_result = false, has_kind = false;
                        if (bson_iter_init_find(&it, &reply, "value") &&
                            BSON_ITER_HOLDS_DOCUMENT(&it)) {
                                uint32_t vlen;
                                const uint8_t *vdata;
                                bson_iter_document(&it, &vlen, &vdata);
                                if (bson_init_static(&value, vdata, vlen)) {
                                        done = probe_get_int(&value, "done", -1);
                                        has_result = bson_iter_init(&v, &value) &&
                                                     bson_iter_find_descendant(&v, tasks[k], &v);
                                        has_kind = bson_has_field(&value, "kind");
                                }
                        }
                        probe_report(p, op, done == k + 1 && has_result && has_kind, -1,
                                     k == 0 ? "new doc, done 1, result, kind"
                                            : "done 2, result, kind",
                                     "done %" PRId64 ", result %s, kind %s", done,
                                     has_result ? "yes" : "no", has_kind ? "yes" : "no");
                }
                bson_destroy(&reply);
                bson_destroy(update);
                mongoc_find_and_modify_opts_destroy(fam);
        }

        /* Finalize exactly once: a conditional findAndModify that only the first caller wins. */
        bson_t *cond = BCON_NEW("_id", "test-stats-2026-02", "state", "running");
        bson_t *fin = BCON_NEW("$set", "{", "state", "finalized", "}");
        int won = 0;
        for (int k = 0; k < 2; k++) {
                mongoc_find_and_modify_opts_t *fam = mongoc_find_and_modify_opts_new();
                mongoc_find_and_modify_opts_set_update(fam, fin);
                mongoc_find_and_modify_opts_set_flags(fam, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
                if (mongoc_collection_find_and_modify_with_opts(jobs, cond, fam, &reply, &error)) {
                        bson_iter_t it;
                        won += bson_iter_init_find(&it, &reply, "value") &&
                               BSON_ITER_HOLDS_DOCUMENT(&it);
                } else {
                        won = -100;
                }
                bson_destroy(&reply);
                mongoc_find_and_modify_opts_destroy(fam);
        }
        probe_report(p, "findAndModify finalize once", won == 1, -1, "1 winner of 2", "%d", won);
        bson_destroy(fin);
        bson_destroy(cond);
        bson_destroy(sel);
        mongoc_collection_destroy(jobs);
}

/* Workers record task results into one ledger document at the same time: concurrent updates
 * of one document must all land (FerretDB 1.24 on SQLite lost most of them: 132 of 600). Four
 * threads, each its own connection, each 150 $inc of the same field. */
#define PROBE_INC_THREADS 4
#define PROBE_INC_EACH    150

typedef struct {
        const probe_t *p;
        int failures;
        char error[128];
} probe_inc_arg_t;

static void *probe_inc_thread(void *opaque) {
        probe_inc_arg_t *a = opaque;
        bson_error_t error;
        mongoc_client_t *client = mongoc_client_new(a->p->opts.uri);
        mongoc_collection_t *jobs =
            client ? mongoc_client_get_collection(client, a->p->opts.db, "jobs") : NULL;
        bson_t *sel = BCON_NEW("_id", "probe-concurrent");
        bson_t *inc = BCON_NEW("$inc", "{", "n", BCON_INT32(1), "}");

        for (int k = 0; jobs && k < PROBE_INC_EACH; k++) {
                if (!mongoc_collection_update_one(jobs, sel, inc, NULL, NULL, &error)) {
                        a->failures++;
                        snprintf(a->error, sizeof a->error, "%s", error.message);
                }
        }
        if (!jobs)
                a->failures = PROBE_INC_EACH;
        bson_destroy(inc);
        bson_destroy(sel);
        if (jobs)
                mongoc_collection_destroy(jobs);
        if (client)
                mongoc_client_destroy(client);
        return NULL;
}

static void probe_concurrent_inc(probe_t *p) {
        bson_error_t error;
        mongoc_collection_t *jobs = mongoc_database_get_collection(p->db, "jobs");
        bson_t *doc = BCON_NEW("_id", "probe-concurrent", "n", BCON_INT32(0));
        pthread_t threads[PROBE_INC_THREADS];
        probe_inc_arg_t args[PROBE_INC_THREADS];
        int failures = 0, started = 0;
        const char *last_error = "";
        const int expected = PROBE_INC_THREADS * PROBE_INC_EACH;

        if (!mongoc_collection_insert_one(jobs, doc, NULL, NULL, &error)) {
                probe_report(p, "concurrent $inc of one doc", false, -1, "insert", "%s",
                             probe_err(&error));
                goto done;
        }
        double t0 = probe_now_ms();
        for (int i = 0; i < PROBE_INC_THREADS; i++) {
                args[i] = (probe_inc_arg_t){.p = p};
                if (pthread_create(&threads[i], NULL, probe_inc_thread, &args[i]) == 0)
                        started++;
        }
        for (int i = 0; i < started; i++) {
                pthread_join(threads[i], NULL);
                failures += args[i].failures;
                if (args[i].error[0])
                        last_error = args[i].error;
        }
        double ms = probe_now_ms() - t0;
        bson_t *sel = BCON_NEW("_id", "probe-concurrent");
        bson_t *found = probe_find_one(jobs, sel);
        int64_t n = found ? probe_get_int(found, "n", -1) : -1;
        char expected_text[64];
        snprintf(expected_text, sizeof expected_text, "n = %d", expected);
        probe_report(p, "concurrent $inc of one doc", started == PROBE_INC_THREADS && n == expected,
                     ms, expected_text, "n = %" PRId64 " (%d threads, %d failed updates%s%s)", n,
                     started, failures, *last_error ? ": " : "", last_error);
        if (found)
                bson_destroy(found);
        bson_destroy(sel);
done:
        bson_destroy(doc);
        mongoc_collection_destroy(jobs);
}

/* Stats documents: an array of month entries, queried by a dotted path into the array, and one
 * month's entry replaced by $pull (by condition) + $push. */
static void probe_stats_doc(probe_t *p) {
        bson_error_t error;
        bson_t reply;
        bson_oid_t uid;
        mongoc_collection_t *stats = mongoc_database_get_collection(p->db, "stats");
        probe_oid(&uid, "JTus", 7);
        bson_t *doc = BCON_NEW("user", BCON_OID(&uid), "stats", "[", "{", "createdAt",
                               BCON_DATE_TIME(PROBE_FEB_START + 3600000), "summary", "{",
                               "totalDuration", BCON_DOUBLE(1.0), "}", "}", "]");
        bool ok = mongoc_collection_insert_one(stats, doc, NULL, NULL, &error);
        bson_t *q = BCON_NEW("stats.createdAt", "{", "$gte", BCON_DATE_TIME(PROBE_FEB_START), "$lt",
                             BCON_DATE_TIME(PROBE_MAR_START), "}");
        int64_t n = ok ? mongoc_collection_count_documents(stats, q, NULL, NULL, NULL, &error) : -1;
        probe_report(p, "find by array dotted range", n == 1, -1, "1", "%" PRId64 "%s%s", n,
                     n < 0 ? " " : "", n < 0 ? probe_err(&error) : "");

        bson_t *sel = BCON_NEW("user", BCON_OID(&uid));
        bson_t *pull = BCON_NEW("$pull", "{", "stats", "{", "createdAt", "{", "$gte",
                                BCON_DATE_TIME(PROBE_FEB_START), "$lt",
                                BCON_DATE_TIME(PROBE_MAR_START), "}", "}", "}");
        bson_t *push = BCON_NEW("$push", "{", "stats", "{", "createdAt",
                                BCON_DATE_TIME(PROBE_FEB_START + 7200000), "summary", "{",
                                "totalDuration", BCON_DOUBLE(2.0), "}", "}", "}");
        ok = mongoc_collection_update_one(stats, sel, pull, NULL, &reply, &error);
        probe_update_check(p, "$pull by condition", ok, &reply, &error, 1, 1, 0);
        bson_destroy(&reply);
        ok = mongoc_collection_update_one(stats, sel, push, NULL, &reply, &error);
        probe_update_check(p, "$push month entry", ok, &reply, &error, 1, 1, 0);
        bson_destroy(&reply);
        bson_t *got = probe_find_one(stats, sel);
        int64_t len = probe_array_len(got, "stats");
        probe_report(p, "stats entry replaced", len == 1, -1, "1 entry", "%" PRId64 " entries",
                     len);
        bson_destroy(got);

        bson_destroy(push);
        bson_destroy(pull);
        bson_destroy(sel);
        bson_destroy(q);
        bson_destroy(doc);
        mongoc_collection_destroy(stats);
}

/* ---- persistence ------------------------------------------------------------------------ */

static void probe_save_meta(probe_t *p, int64_t final_count, int64_t user_month) {
        bson_error_t error;
        mongoc_collection_t *meta = mongoc_database_get_collection(p->db, "probe_meta");
        bson_t *doc = BCON_NEW("_id", "probe", "docs", BCON_INT64(p->opts.docs), "count",
                               BCON_INT64(final_count), "userMonth", BCON_INT64(user_month));
        bool ok = mongoc_collection_insert_one(meta, doc, NULL, NULL, &error);
        probe_report(p, "save probe_meta", ok, -1, "ok", "%s", ok ? "ok" : probe_err(&error));
        bson_destroy(doc);
        mongoc_collection_destroy(meta);
}

static void probe_verify_persisted(probe_t *p) {
        mongoc_collection_t *meta = mongoc_database_get_collection(p->db, "probe_meta");
        bson_t *sel = BCON_NEW("_id", "probe");
        bson_t *m = probe_find_one(meta, sel);
        bson_destroy(sel);
        mongoc_collection_destroy(meta);
        if (!m) {
                probe_report(p, "probe_meta present", false, -1, "the previous run's probe_meta",
                             "none (data lost, or no previous run against this --db)");
                return;
        }
        p->opts.docs = probe_get_int(m, "docs", 1);
        p->users = p->opts.docs / PROBE_DOCS_PER_USER > 0 ? p->opts.docs / PROBE_DOCS_PER_USER : 1;
        int64_t count = probe_get_int(m, "count", -1);
        int64_t user_month = probe_get_int(m, "userMonth", -1);
        bson_destroy(m);
        probe_report(p, "probe_meta present", true, -1, "present", "present");

        bson_t empty = BSON_INITIALIZER;
        probe_count(p, "playbacks count persisted", &empty, count);
        probe_check_indexes(p, "indexes persisted");
        int64_t n = -1;
        probe_find_user_month(p, 7 % p->users, "user month persisted", NULL, &n);
        (void)user_month;

        mongoc_collection_t *users = mongoc_database_get_collection(p->db, "users");
        bson_oid_t uid;
        probe_oid(&uid, "JTuD", 1);
        bson_t *usel = BCON_NEW("_id", BCON_OID(&uid));
        bson_t *u = probe_find_one(users, usel);
        int64_t len = probe_array_len(u, "notifications");
        int64_t version = probe_get_int(u, "version", -1);
        probe_report(p, "user updates persisted", len == 2 && version == 2, -1,
                     "version 2, 2 notifications", "version %" PRId64 ", %" PRId64 " notifications",
                     version, len);
        bson_destroy(u);
        bson_destroy(usel);
        mongoc_collection_destroy(users);
}

/* ---- main ------------------------------------------------------------------------------- */

static void probe_usage(FILE *out) {
        fprintf(
            out,
            "usage: jt_mongo_probe [--uri URI] [--db NAME] [--docs N] [--json] "
            "[--verify-persisted]\n"
            "  --uri URI            server (default $JT_MONGO_URI, else "
            "mongodb://127.0.0.1:27017)\n"
            "  --db NAME            database, dropped at start (default jt_probe)\n"
            "  --docs N             playbacks to insert (default 20000)\n"
            "  --json               timings and results as JSON on stdout, lines on stderr\n"
            "  --verify-persisted   check a previous run's data (after a server restart)\n"
            "  --op-budget S        seconds the deleteOne-by-_id measurement may take (120)\n"
            "  --insert-only        only create the indexes and insert (the benchmark's "
            "calibration)\n"
            "  --ping               only check that the server answers (exit 0 when it does)\n");
}

static bool probe_parse(probe_opts_t *o, int argc, char **argv) {
        static const struct option longopts[] = {{"uri", required_argument, NULL, 'u'},
                                                 {"db", required_argument, NULL, 'd'},
                                                 {"docs", required_argument, NULL, 'n'},
                                                 {"json", no_argument, NULL, 'j'},
                                                 {"verify-persisted", no_argument, NULL, 'v'},
                                                 {"ping", no_argument, NULL, 'p'},
                                                 {"op-budget", required_argument, NULL, 'b'},
                                                 {"insert-only", no_argument, NULL, 'i'},
                                                 {"help", no_argument, NULL, 'h'},
                                                 {NULL, 0, NULL, 0}};
        const char *env = getenv("JT_MONGO_URI");
        o->uri = env && *env ? env : "mongodb://127.0.0.1:27017";
        o->db = "jt_probe";
        o->docs = 20000;
        o->json = false;
        o->verify = false;
        o->ping = false;
        o->op_budget_s = 120;
        o->insert_only = false;
        int c;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                char *end;
                switch (c) {
                case 'u':
                        o->uri = optarg;
                        break;
                case 'd':
                        o->db = optarg;
                        break;
                case 'n':
                        o->docs = strtoll(optarg, &end, 10);
                        if (*end || o->docs < 1000 || o->docs > 100000000) {
                                fprintf(stderr, "--docs must be 1000..100000000 (got %s)\n",
                                        optarg);
                                return false;
                        }
                        break;
                case 'j':
                        o->json = true;
                        break;
                case 'v':
                        o->verify = true;
                        break;
                case 'p':
                        o->ping = true;
                        break;
                case 'i':
                        o->insert_only = true;
                        break;
                case 'b':
                        o->op_budget_s = strtod(optarg, &end);
                        if (*end || o->op_budget_s < 1) {
                                fprintf(stderr,
                                        "--op-budget must be a number of seconds >= 1 (got %s)\n",
                                        optarg);
                                return false;
                        }
                        break;
                case 'h':
                        probe_usage(stdout);
                        exit(0);
                default:
                        probe_usage(stderr);
                        return false;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "unexpected argument: %s\n", argv[optind]);
                return false;
        }
        return true;
}

static void probe_run(probe_t *p) {
        bson_error_t error;
        if (!mongoc_database_drop_with_opts(p->db, NULL, &error) &&
            error.code != 26 /* NamespaceNotFound */) {
                probe_report(p, "dropDatabase", false, -1, "ok", "%s", probe_err(&error));
        }
        p->users = p->opts.docs / PROBE_DOCS_PER_USER > 0 ? p->opts.docs / PROBE_DOCS_PER_USER : 1;

        probe_create_indexes(p);
        probe_check_indexes(p, "listIndexes");
        probe_insert(p);
        bson_t empty = BSON_INITIALIZER;
        probe_count(p, "countDocuments {}", &empty, p->opts.docs);
        probe_estimated_count(p, p->opts.docs);
        if (p->opts.insert_only) {
                return;
        }

        int64_t user_month = 0;
        probe_find_user_month(p, 7 % p->users, "find user month (proj+sort)", "user_month_ms",
                              &user_month);
        /* Twice more, other users: the first read may include warm-up. */
        probe_find_user_month(p, 11 % p->users, "find user month (2nd user)", "user_month_ms_2",
                              NULL);
        bson_oid_t user;
        probe_oid(&user, "JTus", 7 % (uint64_t)p->users);
        bson_t *cf =
            BCON_NEW("user", BCON_OID(&user), "createdAt", "{", "$gte",
                     BCON_DATE_TIME(PROBE_FEB_START), "$lt", BCON_DATE_TIME(PROBE_MAR_START), "}");
        probe_count(p, "countDocuments user+range", cf, user_month);
        bson_destroy(cf);
        probe_explain(p);
        probe_find_shard(p);
        probe_find_month(p);
        probe_find_oldest(p);

        int64_t removed = probe_cursor_and_delete_ids(
            p, PROBE_DELETE_BATCH < p->opts.docs / 10 ? PROBE_DELETE_BATCH : p->opts.docs / 10);
        int64_t deleted = probe_delete_range(
            p, PROBE_DELETE_BATCH < p->opts.docs / 10 ? PROBE_DELETE_BATCH : p->opts.docs / 10);
        int64_t final_count = p->opts.docs - removed - deleted;
        probe_estimated_count(p, final_count);

        probe_user_updates(p);
        probe_ledger(p);
        probe_concurrent_inc(p);
        /* Not required (the product reads and rewrites stats documents whole), reported as WARN. */
        p->extra = true;
        probe_stats_doc(p);
        p->extra = false;
        probe_save_meta(p, final_count, user_month);
}

int main(int argc, char **argv) {
        probe_t p;
        bson_error_t error;
        memset(&p, 0, sizeof p);
        if (!probe_parse(&p.opts, argc, argv)) {
                return 2;
        }
        mongoc_init();
        bson_init(&p.ops);
        bson_init(&p.times);
        snprintf(p.index_used, sizeof p.index_used, "unknown");
        snprintf(p.explain, sizeof p.explain, "not run");

        mongoc_uri_t *uri = mongoc_uri_new_with_error(p.opts.uri, &error);
        if (!uri) {
                fprintf(stderr, "--uri %s: %s\n", p.opts.uri, error.message);
                return 2;
        }
        p.client = mongoc_client_new_from_uri_with_error(uri, &error);
        mongoc_uri_destroy(uri);
        if (!p.client) {
                fprintf(stderr, "--uri %s: %s\n", p.opts.uri, error.message);
                return 2;
        }
        mongoc_client_set_appname(p.client, "jt_mongo_probe");
        mongoc_client_set_error_api(p.client, MONGOC_ERROR_API_VERSION_2);
        p.db = mongoc_client_get_database(p.client, p.opts.db);
        p.playbacks = mongoc_database_get_collection(p.db, "playbacks");

        /* Reachable at all? Say so plainly rather than fail every operation. */
        bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
        bson_t reply;
        bool up = mongoc_client_command_simple(p.client, "admin", ping, NULL, &reply, &error);
        bson_destroy(ping);
        bson_destroy(&reply);
        if (up && p.opts.ping) {
                mongoc_database_destroy(p.db);
                mongoc_collection_destroy(p.playbacks);
                mongoc_client_destroy(p.client);
                mongoc_cleanup();
                return 0;
        }
        if (up) {
                bson_t *bi = BCON_NEW("buildInfo", BCON_INT32(1));
                bson_iter_t it;
                if (mongoc_client_command_simple(p.client, "admin", bi, NULL, &reply, &error) &&
                    bson_iter_init_find(&it, &reply, "version") && BSON_ITER_HOLDS_UTF8(&it)) {
                        snprintf(p.server_version, sizeof p.server_version, "%s",
                                 bson_iter_utf8(&it, NULL));
                }
                bson_destroy(&reply);
                bson_destroy(bi);
        }
        if (!up && p.opts.ping) {
                fprintf(stderr, "ping %s: %s\n", p.opts.uri, error.message);
                return 1;
        }
        if (!up) {
                probe_report(&p, "ping", false, -1, "server reachable", "%s", probe_err(&error));
        } else if (p.opts.verify) {
                probe_verify_persisted(&p);
        } else {
                probe_run(&p);
        }

        if (p.opts.json) {
                bson_t out = BSON_INITIALIZER;
                BSON_APPEND_UTF8(&out, "uri", p.opts.uri);
                BSON_APPEND_INT64(&out, "docs", p.opts.docs);
                BSON_APPEND_UTF8(&out, "mode", p.opts.verify ? "verify-persisted" : "run");
                BSON_APPEND_UTF8(&out, "server_version", p.server_version);
                BSON_APPEND_BOOL(&out, "pass", p.n_fail == 0);
                BSON_APPEND_INT32(&out, "failed", (int32_t)p.n_fail);
                BSON_APPEND_INT32(&out, "warned", (int32_t)p.n_warn);
                BSON_APPEND_DOCUMENT(&out, "times", &p.times);
                BSON_APPEND_UTF8(&out, "index_used", p.index_used);
                BSON_APPEND_UTF8(&out, "explain", p.explain);
                BSON_APPEND_ARRAY(&out, "ops", &p.ops);
                char *s = bson_as_relaxed_extended_json(&out, NULL);
                printf("%s\n", s);
                bson_free(s);
                bson_destroy(&out);
        }
        FILE *out = p.opts.json ? stderr : stdout;
        if (p.n_warn) {
                fprintf(out, "%" PRIu32 " checks beyond the required set failed (WARN above)\n",
                        p.n_warn);
        }
        fprintf(out, "%" PRIu32 " passed, %" PRIu32 " failed\n", p.n_ops - p.n_fail - p.n_warn,
                p.n_fail);

        bool pass = p.n_fail == 0;
        bson_destroy(&p.ops);
        bson_destroy(&p.times);
        mongoc_collection_destroy(p.playbacks);
        mongoc_database_destroy(p.db);
        mongoc_client_destroy(p.client);
        mongoc_cleanup();
        return pass ? 0 : 1;
}
