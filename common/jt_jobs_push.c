/* The app push's progress in the job ledger (jt_jobs_push.h). */
#include "jt_jobs_push.h"

#include <stdio.h>
#include <string.h>

#include "jt_jobs.h"
#include "jt_mongo.h"

static int64_t field_i64(const bson_t *doc, const char *dotted) {
        bson_iter_t it, found;

        if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, dotted, &found) &&
            BSON_ITER_HOLDS_NUMBER(&found))
                return bson_iter_as_int64(&found);
        return 0;
}

static void field_str(const bson_t *doc, const char *dotted, char *out, size_t size) {
        bson_iter_t it, found;

        out[0] = '\0';
        if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, dotted, &found) &&
            BSON_ITER_HOLDS_UTF8(&found))
                snprintf(out, size, "%s", bson_iter_utf8(&found, NULL));
}

void jt_jobs_push_progress(const bson_t *entry, jt_push_progress_t *p) {
        bson_iter_t it, found;

        memset(p, 0, sizeof(*p));
        p->batches = field_i64(entry, "push.batches");
        p->users = field_i64(entry, "push.users");
        p->failed_batches = field_i64(entry, "push.failedBatches");
        p->failed_users = field_i64(entry, "push.failedUsers");
        field_str(entry, "push.after", p->after, sizeof(p->after));
        field_str(entry, "push.error", p->error, sizeof(p->error));
        p->done = bson_iter_init(&it, entry) &&
                  bson_iter_find_descendant(&it, "push.done", &found) &&
                  BSON_ITER_HOLDS_BOOL(&found) && bson_iter_bool(&found);
}

bool jt_jobs_push_record(mongoc_client_t *client, const char *db, const char *job_id,
                         const char *owner, const jt_push_progress_t *from,
                         const jt_push_progress_t *to, int64_t now_ms, int64_t lease_ms, bool *held,
                         jt_error_t *err) {
        mongoc_collection_t *coll = mongoc_client_get_collection(client, db, JT_JOBS_COLLECTION);
        bson_t filter = BSON_INITIALIZER, reply;
        bson_t *update;
        bson_error_t error;
        bson_iter_t it;
        bool ok;

        *held = false;
        BSON_APPEND_UTF8(&filter, "_id", job_id);
        BSON_APPEND_UTF8(&filter, "state", jt_job_state_name(JT_JOB_FINALIZING));
        BSON_APPEND_UTF8(&filter, "finalizeBy", owner);
        /* The compare half: the progress this writer read is still the recorded one, so a batch
         * is recorded once even if two holders of one claim (two threads of a process) push. */
        if (from->batches == 0)
                BCON_APPEND(&filter, "push", "{", "$exists", BCON_BOOL(false), "}");
        else
                BSON_APPEND_INT64(&filter, "push.batches", from->batches);
        update = BCON_NEW(
            "$set", "{", "push", "{", "batches", BCON_INT64(to->batches), "after",
            BCON_UTF8(to->after), "users", BCON_INT64(to->users), "failedBatches",
            BCON_INT64(to->failed_batches), "failedUsers", BCON_INT64(to->failed_users), "done",
            BCON_BOOL(to->done), "error", BCON_UTF8(to->error), "}", "finalizeUntil",
            BCON_DATE_TIME(now_ms + lease_ms), "updatedAt", BCON_DATE_TIME(now_ms), "}");
        /* A renewal before the first batch writes nothing but the lease: no push document yet,
         * so that the first record's compare still holds. */
        if (from->batches == 0 && to->batches == 0 && !to->done) {
                bson_destroy(update);
                update = BCON_NEW("$set", "{", "finalizeUntil", BCON_DATE_TIME(now_ms + lease_ms),
                                  "updatedAt", BCON_DATE_TIME(now_ms), "}");
        }
        ok = mongoc_collection_update_one(coll, &filter, update, NULL, &reply, &error);
        if (!ok) {
                if (jt_mongo_error_is_transient(&error))
                        jt_error_set_transient(err, JT_ERR_MONGO, (int)error.code,
                                               "recording the app push of job %s: %s", job_id,
                                               error.message);
                else
                        jt_error_set(err, JT_ERR_MONGO, (int)error.code,
                                     "recording the app push of job %s: %s", job_id, error.message);
        } else {
                *held = bson_iter_init_find(&it, &reply, "matchedCount") &&
                        BSON_ITER_HOLDS_NUMBER(&it) && bson_iter_as_int64(&it) == 1;
        }
        bson_destroy(&reply);
        bson_destroy(update);
        bson_destroy(&filter);
        mongoc_collection_destroy(coll);
        return ok;
}
