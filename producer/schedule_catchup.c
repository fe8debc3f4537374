/* The ledger's side of the scheduler's catch-up (schedule_catchup.h). */
#include "schedule_catchup.h"

#include <stdio.h>

#include "jt_cron.h"
#include "jt_time.h"
#include "jt_job_ids.h"
#include "jt_jobs.h"
#include "jt_mongo.h"

bool jt_catchup_newest_month(mongoc_client_t *client, const char *db, bool test_mode, char month[8],
                             bool *found, jt_error_t *err) {
        mongoc_collection_t *jobs = mongoc_client_get_collection(client, db, JT_JOBS_COLLECTION);
        /* runId null matches a missing runId too. Few stats jobs exist (one a month, or one per
         * fire of a test schedule), so the sort needs no index. */
        bson_t *filter =
            BCON_NEW("kind", "stats", "testMode", BCON_BOOL(test_mode), "runId", BCON_NULL);
        bson_t *opts =
            BCON_NEW("sort", "{", "params.month", BCON_INT32(-1), "}", "limit", BCON_INT64(1),
                     "projection", "{", "params.month", BCON_INT32(1), "}");
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(jobs, filter, opts, NULL);
        const bson_t *doc;
        bson_error_t error;
        bson_iter_t it;
        bool ok = true;

        *found = false;
        month[0] = '\0';
        if (mongoc_cursor_next(cursor, &doc) && bson_iter_init(&it, doc) &&
            bson_iter_find_descendant(&it, "params.month", &it) && BSON_ITER_HOLDS_UTF8(&it)) {
                snprintf(month, 8, "%s", bson_iter_utf8(&it, NULL));
                *found = true;
        }
        if (mongoc_cursor_error(cursor, &error)) {
                ok = false;
                *found = false;
                month[0] = '\0';
                if (jt_mongo_error_is_transient(&error))
                        jt_error_set_transient(err, JT_ERR_MONGO, (int)error.code,
                                               "reading the newest statistics month of %s.%s: %s",
                                               db, JT_JOBS_COLLECTION, error.message);
                else
                        jt_error_set(err, JT_ERR_MONGO, (int)error.code,
                                     "reading the newest statistics month of %s.%s: %s", db,
                                     JT_JOBS_COLLECTION, error.message);
        }
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(filter);
        mongoc_collection_destroy(jobs);
        return ok;
}

int64_t jt_catchup_after_month(const char *month) {
        int64_t start_ms, end_ms;
        jt_error_t err;

        jt_error_clear(&err);
        if (!jt_job_ids_month_range(month, &start_ms, &end_ms, &err))
                return JT_CRON_NONE;
        /* end_ms is the start of M+1; the start of M+2 is the month after it. */
        return jt_time_month_start(end_ms / 1000 + 32 * 86400) - 1;
}
