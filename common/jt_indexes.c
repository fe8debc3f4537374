#include "jt_indexes.h"

#include <stdio.h>

typedef struct {
        const char *collection; /* without the test- prefix */
        const char *name;
        const char *field1, *field2;
} index_spec_t;

static const index_spec_t indexes[] = {
    {"playbacks", "user_1_createdAt_1", "user", "createdAt"},
    {"playbacks", "createdAt_1", "createdAt", NULL},
    {"stats", "user_1", "user", NULL},
};

/* The createIndexes command (libmongoc 1.23 has no index-model helper that is not deprecated). */
static bool ensure_one(mongoc_client_t *client, const char *db, bool test_mode,
                       const index_spec_t *spec, jt_error_t *err) {
        char coll_name[64];
        bson_t cmd = BSON_INITIALIZER, list, index, keys;
        bson_error_t error;
        mongoc_database_t *database = mongoc_client_get_database(client, db);
        bool ok;

        snprintf(coll_name, sizeof(coll_name), "%s%s", test_mode ? "test-" : "", spec->collection);
        BSON_APPEND_UTF8(&cmd, "createIndexes", coll_name);
        BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &list);
        BSON_APPEND_DOCUMENT_BEGIN(&list, "0", &index);
        BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &keys);
        BSON_APPEND_INT32(&keys, spec->field1, 1);
        if (spec->field2)
                BSON_APPEND_INT32(&keys, spec->field2, 1);
        bson_append_document_end(&index, &keys);
        BSON_APPEND_UTF8(&index, "name", spec->name);
        bson_append_document_end(&list, &index);
        bson_append_array_end(&cmd, &list);
        ok = mongoc_database_write_command_with_opts(database, &cmd, NULL, NULL, &error);
        if (!ok)
                jt_error_set(err, JT_ERR_MONGO, (int)error.code, "creating index %s on %s.%s: %s",
                             spec->name, db, coll_name, error.message);
        mongoc_database_destroy(database);
        bson_destroy(&cmd);
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
