/* The check that keeps statistics from being recomputed over playbacks a cleanup deleted. */
#include "jt_retention.h"

#include <stdio.h>
#include <time.h>

#include "jt_time.h"
#include "jt_jobs.h"
#include "jt_mongo.h"

#define DAY_MS (24LL * 3600 * 1000)

static void month_name(int64_t month_start_ms, char out[8]) {
        time_t t = (time_t)(month_start_ms / 1000);
        struct tm tm;

        gmtime_r(&t, &tm);
        snprintf(out, 8, "%04d-%02d", (tm.tm_year + 1900) % 10000, tm.tm_mon + 1);
}

bool jt_retention_newest_job(mongoc_client_t *client, const char *db, const bson_t *filter,
                             const char *field, const char *what, bson_t *newest, bool *found,
                             jt_error_t *err) {
        mongoc_collection_t *jobs = mongoc_client_get_collection(client, db, JT_JOBS_COLLECTION);
        bson_t *opts = BCON_NEW("sort", "{", field, BCON_INT32(-1), "}", "limit", BCON_INT64(1),
                                "projection", "{", field, BCON_INT32(1), "}");
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(jobs, filter, opts, NULL);
        const bson_t *doc;
        bson_error_t error;
        bool ok = true;

        *found = mongoc_cursor_next(cursor, &doc);
        if (*found)
                bson_copy_to(doc, newest);
        else
                bson_init(newest);
        if (mongoc_cursor_error(cursor, &error)) {
                ok = false;
                *found = false;
                bson_reinit(newest);
                if (jt_mongo_error_is_transient(&error))
                        jt_error_set_transient(err, JT_ERR_MONGO, (int)error.code,
                                               "reading %s of %s.%s: %s", what, db,
                                               JT_JOBS_COLLECTION, error.message);
                else
                        jt_error_set(err, JT_ERR_MONGO, (int)error.code, "reading %s of %s.%s: %s",
                                     what, db, JT_JOBS_COLLECTION, error.message);
        }
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        mongoc_collection_destroy(jobs);
        return ok;
}

/* The newest cleanup cutoff after month_start_ms in the ledger: *found, its job id and cutoff.
 * Few jobs exist (one cleanup a week), so no index is needed for the sort. */
static bool newest_cutoff_after(mongoc_client_t *client, const char *db, bool test_mode,
                                int64_t month_start_ms, bool *found, char *job_id,
                                size_t job_id_size, int64_t *cutoff_ms, jt_error_t *err) {
        bson_t *filter = BCON_NEW("kind", "cleanup", "testMode", BCON_BOOL(test_mode),
                                  "params.cutoff", "{", "$gt", BCON_DATE_TIME(month_start_ms), "}");
        bson_t newest;
        bson_iter_t it;
        bool ok = jt_retention_newest_job(client, db, filter, "params.cutoff",
                                          "the cleanup cutoffs", &newest, found, err);

        *cutoff_ms = 0;
        job_id[0] = '\0';
        if (*found) {
                if (bson_iter_init_find(&it, &newest, "_id") && BSON_ITER_HOLDS_UTF8(&it))
                        snprintf(job_id, job_id_size, "%s", bson_iter_utf8(&it, NULL));
                if (bson_iter_init(&it, &newest) &&
                    bson_iter_find_descendant(&it, "params.cutoff", &it) &&
                    BSON_ITER_HOLDS_DATE_TIME(&it))
                        *cutoff_ms = bson_iter_date_time(&it);
        }
        bson_destroy(&newest);
        bson_destroy(filter);
        return ok;
}

bool jt_retention_month_safe(mongoc_client_t *client, const char *db, bool test_mode,
                             int64_t month_start_ms, int retention_days, int64_t now_ms, bool *safe,
                             char *reason, size_t reason_size, jt_error_t *err) {
        char month[8], start[JT_TIME_ISO_BUF], bound[JT_TIME_ISO_BUF], job_id[128];
        int64_t keep_from = now_ms - retention_days * DAY_MS;
        int64_t cutoff_ms;
        bool found;

        *safe = false;
        if (reason_size)
                reason[0] = '\0';
        month_name(month_start_ms, month);
        jt_time_format_iso(month_start_ms / 1000, start, sizeof(start));
        if (month_start_ms < keep_from) {
                jt_time_format_iso(keep_from / 1000, bound, sizeof(bound));
                snprintf(reason, reason_size,
                         "month %s starts %s, before %s (now - %d days of retention): a cleanup "
                         "may already have deleted some of its playbacks, so its statistics are "
                         "not recomputed and its stored entries stay as they are",
                         month, start, bound, retention_days);
                return true;
        }
        if (!newest_cutoff_after(client, db, test_mode, month_start_ms, &found, job_id,
                                 sizeof(job_id), &cutoff_ms, err))
                return false;
        if (found) {
                jt_time_format_iso(cutoff_ms / 1000, bound, sizeof(bound));
                snprintf(reason, reason_size,
                         "month %s starts %s, before the cutoff %s of cleanup job %s in the "
                         "ledger: some of its playbacks may be deleted, so its statistics are not "
                         "recomputed and its stored entries stay as they are",
                         month, start, bound, job_id);
                return true;
        }
        *safe = true;
        return true;
}
