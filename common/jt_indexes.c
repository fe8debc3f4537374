/* The fleet's indexes (jt_indexes.h): created if missing, an older non-unique stats index
 * replaced by the unique one, duplicates reported rather than removed. */
#include "jt_indexes.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DUPLICATE_KEY_ERROR      11000
#define INDEX_OPTIONS_CONFLICT   85
#define INDEX_KEY_SPECS_CONFLICT 86

typedef struct {
        const char *collection; /* without the test- prefix */
        const char *name;
        const char *field1, *field2;
        bool unique;
} index_spec_t;

static const index_spec_t indexes[] = {
    {"playbacks", "user_1_createdAt_1", "user", "createdAt", false},
    {"playbacks", "createdAt_1", "createdAt", NULL, false},
    /* One stats document per user: a second one (two upserts racing) would split a user's
     * entries, and a shard's writes address the document by user. */
    {"stats", "user_1", "user", NULL, true},
};

/* The createIndexes command (libmongoc 1.23 has no index-model helper that is not deprecated). */
static bool create_index(mongoc_database_t *database, const char *coll_name,
                         const index_spec_t *spec, bool unique, bson_error_t *error) {
        bson_t cmd = BSON_INITIALIZER, list, index, keys;
        bool ok;

        BSON_APPEND_UTF8(&cmd, "createIndexes", coll_name);
        BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &list);
        BSON_APPEND_DOCUMENT_BEGIN(&list, "0", &index);
        BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &keys);
        BSON_APPEND_INT32(&keys, spec->field1, 1);
        if (spec->field2)
                BSON_APPEND_INT32(&keys, spec->field2, 1);
        bson_append_document_end(&index, &keys);
        BSON_APPEND_UTF8(&index, "name", spec->name);
        if (unique)
                BSON_APPEND_BOOL(&index, "unique", true);
        bson_append_document_end(&list, &index);
        bson_append_array_end(&cmd, &list);
        ok = mongoc_database_write_command_with_opts(database, &cmd, NULL, NULL, error);
        bson_destroy(&cmd);
        return ok;
}

/* A value of field1 held by more than one document (as text, in buf) and how many hold it. */
static bool find_duplicate(mongoc_collection_t *coll, const index_spec_t *spec, char *buf,
                           size_t size, int64_t *count) {
        char path[64];
        bson_t *pipeline;
        mongoc_cursor_t *cursor;
        const bson_t *doc;
        bson_iter_t it;
        bool found = false;

        snprintf(path, sizeof(path), "$%s", spec->field1);
        pipeline =
            BCON_NEW("pipeline", "[", "{", "$group", "{", "_id", BCON_UTF8(path), "n", "{", "$sum",
                     BCON_INT32(1), "}", "}", "}", "{", "$match", "{", "n", "{", "$gt",
                     BCON_INT32(1), "}", "}", "}", "{", "$limit", BCON_INT32(1), "}", "]");
        cursor = mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, pipeline, NULL, NULL);
        if (mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&it, doc, "_id")) {
                found = true;
                if (BSON_ITER_HOLDS_OID(&it)) {
                        bson_oid_to_string(bson_iter_oid(&it), buf);
                } else {
                        bson_t one = BSON_INITIALIZER;
                        char *json;
                        bson_append_iter(&one, spec->field1, -1, &it);
                        json = bson_as_relaxed_extended_json(&one, NULL);
                        snprintf(buf, size, "%s", json ? json : "?");
                        bson_free(json);
                        bson_destroy(&one);
                }
                *count = bson_iter_init_find(&it, doc, "n") && BSON_ITER_HOLDS_NUMBER(&it)
                             ? bson_iter_as_int64(&it)
                             : 2;
        }
        mongoc_cursor_destroy(cursor);
        bson_destroy(pipeline);
        return found;
}

/* When coll holds two documents with the same spec->field1: err names them and says what to do
 * ("cannot <verb> index NAME on DB.COLL<after>: N documents have ..."), and true. Nothing is
 * removed: which document is right is not ours to decide. */
static bool duplicate_named(mongoc_collection_t *coll, const char *db, const char *coll_name,
                            const index_spec_t *spec, const char *verb, const char *after,
                            jt_error_t *err) {
        char value[128];
        int64_t count = 0;

        if (!find_duplicate(coll, spec, value, sizeof(value), &count))
                return false;
        jt_error_set(err, JT_ERR_MONGO, DUPLICATE_KEY_ERROR,
                     "cannot %s index %s on %s.%s%s: %" PRId64
                     " documents have %s %s (expected one per %s); merge them into one document, "
                     "then run again (nothing was dropped)",
                     verb, spec->name, db, coll_name, after, count, spec->field1, value,
                     spec->field1);
        return true;
}

/* The unique index cannot be built: names a duplicate (found again: the server's message is
 * the fallback) and says what to do. Nothing is removed: which document is right is not ours to
 * decide. */
static bool duplicate_failed(mongoc_collection_t *coll, const char *db, const char *coll_name,
                             const index_spec_t *spec, const bson_error_t *error, jt_error_t *err) {
        if (duplicate_named(coll, db, coll_name, spec, "create the unique", "", err))
                return false;
        return jt_error_set(err, JT_ERR_MONGO, (int)error->code,
                            "cannot create the unique index %s on %s.%s: %s (expected one "
                            "document per %s); merge the duplicates into one document, then run "
                            "again (nothing was dropped)",
                            spec->name, db, coll_name, error->message, spec->field1);
}

/* Whether the collection's index named spec->name has exactly spec's key and is not unique
 * (what createIndexes made before the index was unique). */
static bool is_old_non_unique(mongoc_collection_t *coll, const index_spec_t *spec) {
        mongoc_cursor_t *cursor = mongoc_collection_find_indexes_with_opts(coll, NULL);
        bson_t want = BSON_INITIALIZER, keys;
        const bson_t *doc;
        bson_iter_t it;
        const uint8_t *data;
        uint32_t len;
        bool old = false;

        BSON_APPEND_INT32(&want, spec->field1, 1);
        if (spec->field2)
                BSON_APPEND_INT32(&want, spec->field2, 1);
        while (mongoc_cursor_next(cursor, &doc)) {
                if (!bson_iter_init_find(&it, doc, "name") || !BSON_ITER_HOLDS_UTF8(&it) ||
                    strcmp(bson_iter_utf8(&it, NULL), spec->name) != 0)
                        continue;
                old = !(bson_iter_init_find(&it, doc, "unique") && bson_iter_as_bool(&it)) &&
                      bson_iter_init_find(&it, doc, "key") && BSON_ITER_HOLDS_DOCUMENT(&it);
                if (old) {
                        bson_iter_document(&it, &len, &data);
                        old = bson_init_static(&keys, data, len) && bson_equal(&keys, &want);
                }
                break;
        }
        mongoc_cursor_destroy(cursor);
        bson_destroy(&want);
        return old;
}

/* The index of an older version, same key but not unique: replaced, unless duplicates exist
 * (checked first, so a refused upgrade leaves the old index in place). */
static bool replace_non_unique(mongoc_database_t *database, mongoc_collection_t *coll,
                               const char *db, const char *coll_name, const index_spec_t *spec,
                               const bson_error_t *conflict, jt_error_t *err) {
        bson_error_t error;
        bson_t *drop;
        bool ok;

        if (!is_old_non_unique(coll, spec))
                return jt_error_set(err, JT_ERR_MONGO, (int)conflict->code,
                                    "creating index %s on %s.%s: %s (an index of that name with "
                                    "another key or options is in the way)",
                                    spec->name, db, coll_name, conflict->message);
        if (duplicate_named(coll, db, coll_name, spec, "make", " unique", err))
                return false;
        drop = BCON_NEW("dropIndexes", BCON_UTF8(coll_name), "index", BCON_UTF8(spec->name));
        ok = mongoc_database_write_command_with_opts(database, drop, NULL, NULL, &error);
        bson_destroy(drop);
        if (!ok)
                return jt_error_set(err, JT_ERR_MONGO, (int)error.code,
                                    "dropping the non-unique index %s on %s.%s to make it unique: "
                                    "%s",
                                    spec->name, db, coll_name, error.message);
        if (create_index(database, coll_name, spec, true, &error))
                return true;
        if (error.code == DUPLICATE_KEY_ERROR) {
                bson_error_t again;
                /* A duplicate written since the check: the old index back, the duplicate named. */
                create_index(database, coll_name, spec, false, &again);
                return duplicate_failed(coll, db, coll_name, spec, &error, err);
        }
        return jt_error_set(err, JT_ERR_MONGO, (int)error.code, "creating index %s on %s.%s: %s",
                            spec->name, db, coll_name, error.message);
}

static bool ensure_one(mongoc_client_t *client, const char *db, bool test_mode,
                       const index_spec_t *spec, jt_error_t *err) {
        char coll_name[64];
        bson_error_t error;
        mongoc_database_t *database = mongoc_client_get_database(client, db);
        mongoc_collection_t *coll;
        bool ok;

        snprintf(coll_name, sizeof(coll_name), "%s%s", test_mode ? "test-" : "", spec->collection);
        coll = mongoc_database_get_collection(database, coll_name);
        ok = create_index(database, coll_name, spec, spec->unique, &error);
        if (!ok && spec->unique && error.code == DUPLICATE_KEY_ERROR)
                duplicate_failed(coll, db, coll_name, spec, &error, err);
        else if (!ok && spec->unique &&
                 (error.code == INDEX_OPTIONS_CONFLICT || error.code == INDEX_KEY_SPECS_CONFLICT))
                ok = replace_non_unique(database, coll, db, coll_name, spec, &error, err);
        else if (!ok)
                jt_error_set(err, JT_ERR_MONGO, (int)error.code, "creating index %s on %s.%s: %s",
                             spec->name, db, coll_name, error.message);
        mongoc_collection_destroy(coll);
        mongoc_database_destroy(database);
        return ok;
}

bool jt_indexes_ensure(mongoc_client_pool_t *pool, const char *db, bool test_mode,
                       jt_error_t *err) {
        mongoc_client_t *client = mongoc_client_pool_pop(pool);
        bool ok = true;

        for (size_t i = 0; ok && i < sizeof(indexes) / sizeof(indexes[0]); i++)
                ok = ensure_one(client, db, test_mode, &indexes[i], err);
        mongoc_client_pool_push(pool, client);
        return ok;
}
