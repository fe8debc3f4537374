/* Job ledger: the checkpoints of a range's progress (progress.<key>), moved only forward. */
#include "jt_jobs.h"
#include "jt_jobs_private.h"

#include <stdio.h>
#include <string.h>

/* progress.<key> = the sub-document `point` (its first field the position, e.g. resumeFrom)
 * unless a checkpoint at or past it is there (`position` is that field's value), in run
 * run_nonce's entry only. Every figure goes in the one $set: they always belong together. No
 * match: a checkpoint as far or further is there already, or the run is gone (its tasks are
 * refused at admission); either way nothing to do. Not findAndModify: the entry with every
 * result would come back for nothing. */
static bool checkpoint_forward(mongoc_client_t *client, const char *db, const char *job_id,
                               const char *run_nonce, const char *key, const bson_t *point,
                               bool *moved, jt_error_t *err) {
        mongoc_collection_t *coll = mongoc_client_get_collection(client, db, JT_JOBS_COLLECTION);
        char path[160], at[200];
        bson_t *query, *update, before, cond, not_yet, later, reply;
        bson_iter_t first;
        bson_error_t error;
        bool ok;

        if (!bson_iter_init(&first, point) || !bson_iter_next(&first)) {
                mongoc_collection_destroy(coll);
                return jt_error_set(err, JT_ERR_INPUT, 0, "an empty checkpoint");
        }
        snprintf(path, sizeof(path), "progress.%s", key);
        snprintf(at, sizeof(at), "%s.%s", path, bson_iter_key(&first));
        query = BCON_NEW("_id", BCON_UTF8(job_id));
        BSON_APPEND_ARRAY_BEGIN(query, "$or", &before);
        BSON_APPEND_DOCUMENT_BEGIN(&before, "0", &not_yet);
        BCON_APPEND(&not_yet, path, "{", "$exists", BCON_BOOL(false), "}");
        bson_append_document_end(&before, &not_yet);
        BSON_APPEND_DOCUMENT_BEGIN(&before, "1", &later);
        BSON_APPEND_DOCUMENT_BEGIN(&later, at, &cond);
        bson_append_iter(&cond, "$lt", 3, &first);
        bson_append_document_end(&later, &cond);
        bson_append_document_end(&before, &later);
        bson_append_array_end(query, &before);
        jt_jobs_append_run(query, run_nonce);
        update = BCON_NEW("$set", "{", path, BCON_DOCUMENT(point), "}");
        ok = mongoc_collection_update_one(coll, query, update, NULL, &reply, &error);
        if (!ok)
                jt_jobs_mongo_fail(err, &error, "recording a range checkpoint", job_id);
        if (moved)
                *moved = ok && jt_jobs_doc_int64(&reply, "matchedCount", 0) > 0;
        bson_destroy(&reply);
        mongoc_collection_destroy(coll);
        bson_destroy(update);
        bson_destroy(query);
        return ok;
}

bool jt_jobs_checkpoint(mongoc_client_t *client, const char *db, const char *job_id,
                        const char *run_nonce, const char *key, int64_t resume_from_ms,
                        int64_t deleted, jt_error_t *err) {
        bson_t *point =
            BCON_NEW("resumeFrom", BCON_DATE_TIME(resume_from_ms), "deleted", BCON_INT64(deleted));
        bool ok = checkpoint_forward(client, db, job_id, run_nonce, key, point, NULL, err);

        bson_destroy(point);
        return ok;
}

bool jt_jobs_checkpoint_users(mongoc_client_t *client, const char *db, const char *job_id,
                              const char *run_nonce, const char *key, const char *after_user,
                              const jt_range_figures_t *f, const char *holder,
                              int64_t held_until_ms, bool *moved, jt_error_t *err) {
        /* Hex ObjectIds of one case order as the ids do. */
        bson_t *point =
            BCON_NEW("afterUser", BCON_UTF8(after_user), "users", BCON_INT64(f->users), "withEntry",
                     BCON_INT64(f->with_entry), "badRows", BCON_INT64(f->bad_rows), "notified",
                     BCON_INT64(f->notified), "holder", BCON_UTF8(holder), "heldUntil",
                     BCON_DATE_TIME(held_until_ms));
        bool ok = checkpoint_forward(client, db, job_id, run_nonce, key, point, moved, err);

        bson_destroy(point);
        return ok;
}
