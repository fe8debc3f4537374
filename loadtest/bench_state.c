/* Fingerprints and resets of the benchmark's database (bench_state.h). */
#include "bench_state.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME  1099511628211ULL

static uint64_t fnv(uint64_t h, const void *data, size_t len) {
        const unsigned char *p = data;
        for (size_t i = 0; i < len; i++)
                h = (h ^ p[i]) * FNV_PRIME;
        return h;
}

static bool db_fail(const bson_error_t *error, const char *doing, jt_error_t *err) {
        return jt_error_set(err, JT_ERR_MONGO, (int)error->code, "%s: %s", doing, error->message);
}

static bool is_month(const bson_t *entry, int year, int month) {
        bson_iter_t it;
        int64_t y = -1, m = -1;
        if (bson_iter_init_find(&it, entry, "summary") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
                bson_iter_t s;
                if (bson_iter_recurse(&it, &s))
                        while (bson_iter_next(&s)) {
                                if (strcmp(bson_iter_key(&s), "year") == 0 &&
                                    BSON_ITER_HOLDS_NUMBER(&s))
                                        y = bson_iter_as_int64(&s);
                                else if (strcmp(bson_iter_key(&s), "month") == 0 &&
                                         BSON_ITER_HOLDS_NUMBER(&s))
                                        m = bson_iter_as_int64(&s);
                        }
        }
        return y == year && m == month;
}

static bool hash_entries(mongoc_database_t *d, int year, int month, jt_bench_state_t *s,
                         jt_error_t *err) {
        mongoc_collection_t *stats = mongoc_database_get_collection(d, "stats");
        bson_t filter = BSON_INITIALIZER;
        bson_t *opts = BCON_NEW("sort", "{", "user", BCON_INT32(1), "}");
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(stats, &filter, opts, NULL);
        const bson_t *doc;
        bson_error_t error;
        bool ok = true;

        s->entries_hash = FNV_OFFSET;
        while (mongoc_cursor_next(cur, &doc)) {
                bson_iter_t it, arr;
                if (!bson_iter_init_find(&it, doc, "stats") || !BSON_ITER_HOLDS_ARRAY(&it) ||
                    !bson_iter_recurse(&it, &arr))
                        continue;
                while (bson_iter_next(&arr)) {
                        const uint8_t *data;
                        uint32_t len;
                        bson_t entry, bare;
                        char *json;
                        bson_iter_t u;
                        if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
                                continue;
                        bson_iter_document(&arr, &len, &data);
                        if (!bson_init_static(&entry, data, len) || !is_month(&entry, year, month))
                                continue;
                        bson_init(&bare);
                        bson_copy_to_excluding_noinit(&entry, &bare, "createdAt", "updatedAt",
                                                      "_id", NULL);
                        json = bson_as_canonical_extended_json(&bare, NULL);
                        if (bson_iter_init_find(&u, doc, "user") && BSON_ITER_HOLDS_OID(&u))
                                s->entries_hash = fnv(s->entries_hash, bson_iter_oid(&u), 12);
                        s->entries_hash = fnv(s->entries_hash, json, strlen(json));
                        s->entries++;
                        bson_free(json);
                        bson_destroy(&bare);
                }
        }
        if (mongoc_cursor_error(cur, &error))
                ok = db_fail(&error, "reading the stats documents", err);
        mongoc_cursor_destroy(cur);
        bson_destroy(opts);
        mongoc_collection_destroy(stats);
        return ok;
}

static bool hash_notified(mongoc_database_t *d, jt_bench_state_t *s, jt_error_t *err) {
        mongoc_collection_t *users = mongoc_database_get_collection(d, "users");
        bson_t *filter = BCON_NEW("notifications.0", "{", "$exists", BCON_BOOL(true), "}");
        bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "projection", "{",
                                "notifications", BCON_INT32(1), "}");
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(users, filter, opts, NULL);
        const bson_t *doc;
        bson_error_t error;
        bool ok = true;

        s->notified_hash = FNV_OFFSET;
        while (mongoc_cursor_next(cur, &doc)) {
                bson_iter_t it, arr;
                uint32_t n = 0;
                if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it))
                        s->notified_hash = fnv(s->notified_hash, bson_iter_oid(&it), 12);
                if (bson_iter_init_find(&it, doc, "notifications") && BSON_ITER_HOLDS_ARRAY(&it) &&
                    bson_iter_recurse(&it, &arr))
                        while (bson_iter_next(&arr))
                                n++;
                s->notified_hash = fnv(s->notified_hash, &n, sizeof(n));
                s->notified++;
        }
        if (mongoc_cursor_error(cur, &error))
                ok = db_fail(&error, "reading the users", err);
        mongoc_cursor_destroy(cur);
        bson_destroy(opts);
        bson_destroy(filter);
        mongoc_collection_destroy(users);
        return ok;
}

bool jt_bench_state_read(mongoc_client_t *client, const char *db, int year, int month,
                         bool count_playbacks, int64_t cutoff_ms, jt_bench_state_t *state,
                         jt_error_t *err) {
        mongoc_database_t *d = mongoc_client_get_database(client, db);
        mongoc_collection_t *playbacks = mongoc_database_get_collection(d, "playbacks");
        bson_t all = BSON_INITIALIZER;
        bson_t *older = BCON_NEW("createdAt", "{", "$lt", BCON_DATE_TIME(cutoff_ms), "}");
        bson_error_t error;
        bool ok;

        memset(state, 0, sizeof(*state));
        ok = hash_entries(d, year, month, state, err) && hash_notified(d, state, err);
        state->playbacks = state->older = -1;
        if (ok && count_playbacks &&
            ((state->playbacks = mongoc_collection_count_documents(playbacks, &all, NULL, NULL,
                                                                   NULL, &error)) < 0 ||
             (state->older = mongoc_collection_count_documents(playbacks, older, NULL, NULL, NULL,
                                                               &error)) < 0))
                ok = db_fail(&error, "counting the playbacks", err);
        bson_destroy(older);
        mongoc_collection_destroy(playbacks);
        mongoc_database_destroy(d);
        return ok;
}

void jt_bench_state_describe(const jt_bench_state_t *s, char *buf, size_t size) {
        int n = snprintf(buf, size,
                         "entries %" PRId64 " #%016" PRIx64 ", notified %" PRId64 " #%016" PRIx64,
                         s->entries, s->entries_hash, s->notified, s->notified_hash);
        if (s->playbacks >= 0 && n > 0 && (size_t)n < size)
                snprintf(buf + n, size - (size_t)n,
                         ", playbacks %" PRId64 " (%" PRId64 " older than the cutoff)",
                         s->playbacks, s->older);
}

static bool run(mongoc_database_t *d, const char *coll, const bson_t *filter, const bson_t *update,
                const char *doing, jt_error_t *err) {
        mongoc_collection_t *c = mongoc_database_get_collection(d, coll);
        bson_error_t error;
        bool ok = update ? mongoc_collection_update_many(c, filter, update, NULL, NULL, &error)
                         : mongoc_collection_delete_many(c, filter, NULL, NULL, &error);
        mongoc_collection_destroy(c);
        return ok || db_fail(&error, doing, err);
}

bool jt_bench_state_reset_notifications(mongoc_client_t *client, const char *db, jt_error_t *err) {
        mongoc_database_t *d = mongoc_client_get_database(client, db);
        bson_t all = BSON_INITIALIZER;
        bson_t *clear = BCON_NEW("$set", "{", "notifications", "[", "]", "}");
        bool ok = run(d, "users", &all, clear, "clearing the users' notifications", err) &&
                  run(d, "notifications", &all, NULL, "deleting the notifications", err);
        bson_destroy(clear);
        mongoc_database_destroy(d);
        return ok;
}

bool jt_bench_state_reset_stats(mongoc_client_t *client, const char *db, int year, int month,
                                jt_error_t *err) {
        mongoc_database_t *d = mongoc_client_get_database(client, db);
        bson_t all = BSON_INITIALIZER;
        bson_t *pull = BCON_NEW("$pull", "{", "stats", "{", "summary.year", BCON_INT32(year),
                                "summary.month", BCON_INT32(month), "}", "}");
        bool ok = run(d, "stats", &all, pull, "removing the month's entries", err) &&
                  run(d, "jobs", &all, NULL, "clearing the job ledger", err);
        bson_destroy(pull);
        mongoc_database_destroy(d);
        return ok && jt_bench_state_reset_notifications(client, db, err);
}
