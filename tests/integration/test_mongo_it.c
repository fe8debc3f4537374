/* A document written and read back through the local MongoDB-compatible server with the
 * product's client pool, and an unreachable server reported with its address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "it_env.h"
#include "jt_test.h"
#include "jt_mongo.h"

static void document_round_trips(void **state) {
        const char *uri = it_env("JT_MONGO_URI");
        jt_error_t err;
        mongoc_client_pool_t *pool;
        mongoc_client_t *client;
        mongoc_collection_t *coll;
        mongoc_cursor_t *cursor;
        const bson_t *found;
        bson_error_t berr;
        bson_oid_t user;
        char db[64];
        bson_t *doc, *filter;

        snprintf(db, sizeof(db), "jt_it_mongo_%d", (int)getpid());
        jt_error_clear(&err);
        pool = jt_mongo_pool_new(uri, "jt-it", 5000, &err);
        assert_ok(pool, err);
        assert_ok(jt_mongo_ping(pool, uri, &err), err);
        client = mongoc_client_pool_pop(pool);
        coll = mongoc_client_get_collection(client, db, "playbacks");

        bson_oid_init(&user, NULL);
        doc = BCON_NEW("user", BCON_OID(&user), "state", "completed", "duration",
                       BCON_DOUBLE(187.5), "createdAt", BCON_DATE_TIME(1790000000000LL));
        if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &berr))
                fail_msg("insert: %s", berr.message);

        filter = BCON_NEW("user", BCON_OID(&user));
        cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
        assert_true(mongoc_cursor_next(cursor, &found));
        {
                bson_iter_t it;
                assert_true(bson_iter_init_find(&it, found, "duration"));
                assert_true(bson_iter_double(&it) == 187.5);
                assert_true(bson_iter_init_find(&it, found, "state"));
                assert_string_equal(bson_iter_utf8(&it, NULL), "completed");
                assert_true(bson_iter_init_find(&it, found, "createdAt"));
                assert_int_equal(bson_iter_date_time(&it), 1790000000000LL);
        }
        assert_false(mongoc_cursor_next(cursor, &found));
        if (mongoc_cursor_error(cursor, &berr))
                fail_msg("cursor: %s", berr.message);

        mongoc_cursor_destroy(cursor);
        {
                mongoc_database_t *database = mongoc_client_get_database(client, db);
                mongoc_database_drop(database, NULL);
                mongoc_database_destroy(database);
        }
        bson_destroy(filter);
        bson_destroy(doc);
        mongoc_collection_destroy(coll);
        mongoc_client_pool_push(pool, client);
        jt_mongo_pool_destroy(pool);
}

static void unreachable_server_is_named_without_password(void **state) {
        const char *uri = "mongodb://bob:hunter2@127.0.0.1:1/?serverSelectionTimeoutMS=500";
        jt_error_t err;
        mongoc_client_pool_t *pool;

        jt_error_clear(&err);
        pool = jt_mongo_pool_new(uri, "jt-it", 500, &err);
        assert_ok(pool, err);
        assert_false(jt_mongo_ping(pool, uri, &err));
        assert_true(err.transient);
        assert_non_null(strstr(err.message, "cannot reach MongoDB at mongodb://***@127.0.0.1:1"));
        /* The user name too: for MONGODB-AWS it is the access key id. */
        assert_null(strstr(err.message, "hunter2"));
        assert_null(strstr(err.message, "bob"));
        jt_mongo_pool_destroy(pool);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(document_round_trips),
            cmocka_unit_test(unreachable_server_is_named_without_password),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
