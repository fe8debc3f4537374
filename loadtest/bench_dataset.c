/* The bench's dataset record: one document in <db>.bench_dataset. */
#include "bench_dataset.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define RECORD_COLLECTION "bench_dataset"
#define RECORD_ID         "dataset"

static mongoc_collection_t *records(mongoc_client_t *client, const char *db) {
        return mongoc_client_get_collection(client, db, RECORD_COLLECTION);
}

/* jt_error scrubs driver text of secrets itself. */
static bool failed(jt_error_t *err, const bson_error_t *error, const char *what) {
        jt_error_set(err, JT_ERR_MONGO, 0, "%s: %s", what, error->message);
        return false;
}

bool jt_bench_dataset_forget(mongoc_client_t *client, const char *db, jt_error_t *err) {
        mongoc_collection_t *c = records(client, db);
        bson_t *filter = BCON_NEW("_id", RECORD_ID);
        bson_error_t error;
        bool ok = mongoc_collection_delete_one(c, filter, NULL, NULL, &error);

        bson_destroy(filter);
        mongoc_collection_destroy(c);
        return ok || failed(err, &error, "removing the dataset record");
}

bool jt_bench_dataset_record(mongoc_client_t *client, const char *db, const jt_bench_dataset_t *d,
                             jt_error_t *err) {
        mongoc_collection_t *c = records(client, db);
        bson_t *filter = BCON_NEW("_id", RECORD_ID);
        bson_t *doc =
            BCON_NEW("_id", RECORD_ID, "users", BCON_INT64(d->users), "playbacksPerUser",
                     BCON_INT64(d->playbacks_per_user), "seed", BCON_INT64(d->seed),
                     "historyMonths", BCON_INT64(d->history_months), "now", BCON_UTF8(d->now));
        bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
        bson_error_t error;
        bool ok = mongoc_collection_replace_one(c, filter, doc, opts, NULL, &error);

        bson_destroy(opts);
        bson_destroy(doc);
        bson_destroy(filter);
        mongoc_collection_destroy(c);
        return ok || failed(err, &error, "recording the dataset");
}

static int64_t field_int(const bson_t *doc, const char *name) {
        bson_iter_t it;
        return bson_iter_init_find(&it, doc, name) &&
                       (BSON_ITER_HOLDS_INT64(&it) || BSON_ITER_HOLDS_INT32(&it))
                   ? bson_iter_as_int64(&it)
                   : -1;
}

static int64_t count(mongoc_client_t *client, const char *db, const char *name) {
        mongoc_collection_t *c = mongoc_client_get_collection(client, db, name);
        bson_t filter = BSON_INITIALIZER;
        int64_t n = mongoc_collection_count_documents(c, &filter, NULL, NULL, NULL, NULL);

        mongoc_collection_destroy(c);
        return n;
}

bool jt_bench_dataset_matches(mongoc_client_t *client, const char *db, const jt_bench_dataset_t *d,
                              char *why, size_t why_size) {
        mongoc_collection_t *c = records(client, db);
        bson_t *filter = BCON_NEW("_id", RECORD_ID);
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(c, filter, NULL, NULL);
        const bson_t *doc;
        bson_iter_t it;
        bool same = false;
        int64_t users, playbacks;

        if (!mongoc_cursor_next(cursor, &doc)) {
                snprintf(why, why_size, "no dataset record in %s.%s", db, RECORD_COLLECTION);
        } else if (field_int(doc, "users") != d->users ||
                   field_int(doc, "playbacksPerUser") != d->playbacks_per_user ||
                   field_int(doc, "seed") != d->seed ||
                   field_int(doc, "historyMonths") != d->history_months ||
                   !bson_iter_init_find(&it, doc, "now") || !BSON_ITER_HOLDS_UTF8(&it) ||
                   strcmp(bson_iter_utf8(&it, NULL), d->now) != 0) {
                snprintf(why, why_size,
                         "the dataset in %s was generated with other values (users, playbacks "
                         "per user, seed, history months or month)",
                         db);
        } else if ((users = count(client, db, "users")) != d->users) {
                snprintf(why, why_size, "%s holds %" PRId64 " users, not %" PRId64, db, users,
                         d->users);
        } else if ((playbacks = count(client, db, "playbacks")) !=
                   d->users * d->playbacks_per_user) {
                snprintf(why, why_size, "%s holds %" PRId64 " playbacks, not %" PRId64, db,
                         playbacks, d->users * d->playbacks_per_user);
        } else {
                same = true;
        }
        mongoc_cursor_destroy(cursor);
        bson_destroy(filter);
        mongoc_collection_destroy(c);
        return same;
}
