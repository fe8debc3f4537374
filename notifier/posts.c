/* The notifier's record of posted messages (posts.h). */
#include "posts.h"

#include <stdio.h>
#include <string.h>

#include "jt_mongo.h"

#define DUPLICATE_KEY 11000

static void record_id(const jt_posts_t *p, const char *job_id, const char *what, char *out,
                      size_t size) {
        snprintf(out, size, "%s|%s|%s", p->group, job_id, what);
}

static bool db_error(const bson_error_t *error, const char *doing, jt_error_t *err) {
        if (jt_mongo_error_is_transient(error))
                return jt_error_set_transient(err, JT_ERR_MONGO, (int)error->code, "%s in %s: %s",
                                              doing, JT_POSTS_COLLECTION, error->message);
        return jt_error_set(err, JT_ERR_MONGO, (int)error->code, "%s in %s: %s", doing,
                            JT_POSTS_COLLECTION, error->message);
}

static void copy_str(const bson_t *doc, const char *key, char *out, size_t size) {
        bson_iter_t it;
        if (out && bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
                snprintf(out, size, "%s", bson_iter_utf8(&it, NULL));
}

/* An existing record: done, ours, busy, or lapsed (then taken over with a guarded update, so
 * two notifiers taking over at once cannot both win). */
static bool settle_existing(const jt_posts_t *p, mongoc_collection_t *coll, const char *id,
                            int64_t now_ms, jt_post_claim_t *claim, bool *retaken, char *message_id,
                            jt_error_t *err) {
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(id)), *guard = NULL, *update = NULL;
        const bson_t *doc = NULL;
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
        char state[32] = "", owner[256] = "";
        int64_t lease = 0;
        bson_iter_t it;
        bson_error_t error;
        bson_t reply;
        bool ok = true, found = mongoc_cursor_next(cursor, &doc);

        if (!found && mongoc_cursor_error(cursor, &error)) {
                ok = db_error(&error, "reading a post record", err);
                goto done;
        }
        if (!found) { /* deleted between our insert and this read: take it as busy, look again */
                *claim = JT_POST_CLAIM_BUSY;
                goto done;
        }
        copy_str(doc, "state", state, sizeof(state));
        copy_str(doc, "owner", owner, sizeof(owner));
        copy_str(doc, "messageId", message_id, 32);
        if (bson_iter_init_find(&it, doc, "leaseUntil") && BSON_ITER_HOLDS_DATE_TIME(&it))
                lease = bson_iter_date_time(&it);
        if (strcmp(state, "posting") != 0) {
                *claim = JT_POST_CLAIM_DONE;
        } else if (strcmp(owner, p->owner) == 0) {
                *claim = JT_POST_CLAIM_MINE;
        } else if (lease > now_ms) {
                *claim = JT_POST_CLAIM_BUSY;
        } else {
                guard = BCON_NEW("_id", BCON_UTF8(id), "state", "posting", "owner",
                                 BCON_UTF8(owner), "leaseUntil", BCON_DATE_TIME(lease));
                update = BCON_NEW("$set", "{", "owner", BCON_UTF8(p->owner), "leaseUntil",
                                  BCON_DATE_TIME(now_ms + p->lease_ms), "updatedAt",
                                  BCON_DATE_TIME(now_ms), "}");
                if (!mongoc_collection_update_one(coll, guard, update, NULL, &reply, &error)) {
                        ok = db_error(&error, "taking over a lapsed post claim", err);
                } else {
                        bool won = bson_iter_init_find(&it, &reply, "modifiedCount") &&
                                   bson_iter_as_int64(&it) == 1;
                        *claim = won ? JT_POST_CLAIM_MINE : JT_POST_CLAIM_BUSY;
                        *retaken = won;
                }
                bson_destroy(&reply);
        }
done:
        mongoc_cursor_destroy(cursor);
        bson_destroy(filter);
        if (guard)
                bson_destroy(guard);
        if (update)
                bson_destroy(update);
        return ok;
}

/* The posts collection on a client from the pool; posts_close gives both back. */
static mongoc_collection_t *posts_open(const jt_posts_t *p, mongoc_client_t **client) {
        *client = mongoc_client_pool_pop(p->pool);
        return mongoc_client_get_collection(*client, p->db, JT_POSTS_COLLECTION);
}

static void posts_close(const jt_posts_t *p, mongoc_client_t *client, mongoc_collection_t *coll) {
        mongoc_collection_destroy(coll);
        mongoc_client_pool_push(p->pool, client);
}

bool jt_posts_claim(const jt_posts_t *p, const char *job_id, const char *what, int64_t now_ms,
                    jt_post_claim_t *claim, bool *retaken, char *message_id, jt_error_t *err) {
        char id[512];
        mongoc_client_t *client;
        mongoc_collection_t *coll = posts_open(p, &client);
        bson_t *doc;
        bson_error_t error;
        bool ok = true;

        *claim = JT_POST_CLAIM_BUSY;
        *retaken = false;
        if (message_id)
                message_id[0] = '\0';
        record_id(p, job_id, what, id, sizeof(id));
        doc = BCON_NEW("_id", BCON_UTF8(id), "group", BCON_UTF8(p->group), "job", BCON_UTF8(job_id),
                       "what", BCON_UTF8(what), "state", "posting", "owner", BCON_UTF8(p->owner),
                       "leaseUntil", BCON_DATE_TIME(now_ms + p->lease_ms), "createdAt",
                       BCON_DATE_TIME(now_ms), "updatedAt", BCON_DATE_TIME(now_ms));
        if (mongoc_collection_insert_one(coll, doc, NULL, NULL, &error))
                *claim = JT_POST_CLAIM_MINE;
        else if (error.code == DUPLICATE_KEY)
                ok = settle_existing(p, coll, id, now_ms, claim, retaken, message_id, err);
        else
                ok = db_error(&error, "claiming a post", err);
        bson_destroy(doc);
        posts_close(p, client, coll);
        return ok;
}

static bool update_mine(const jt_posts_t *p, const char *job_id, const char *what,
                        const bson_t *update, const char *doing, jt_error_t *err) {
        char id[512];
        mongoc_client_t *client;
        mongoc_collection_t *coll = posts_open(p, &client);
        bson_t *filter;
        bson_error_t error;
        bool ok;

        record_id(p, job_id, what, id, sizeof(id));
        filter = BCON_NEW("_id", BCON_UTF8(id), "owner", BCON_UTF8(p->owner));
        ok = update ? mongoc_collection_update_one(coll, filter, update, NULL, NULL, &error)
                    : mongoc_collection_delete_one(coll, filter, NULL, NULL, &error);
        if (!ok)
                db_error(&error, doing, err);
        bson_destroy(filter);
        posts_close(p, client, coll);
        return ok;
}

bool jt_posts_extend(const jt_posts_t *p, const char *job_id, const char *what, int64_t now_ms,
                     jt_error_t *err) {
        bson_t *update = BCON_NEW("$set", "{", "leaseUntil", BCON_DATE_TIME(now_ms + p->lease_ms),
                                  "updatedAt", BCON_DATE_TIME(now_ms), "}");
        bool ok = update_mine(p, job_id, what, update, "extending a post claim", err);
        bson_destroy(update);
        return ok;
}

bool jt_posts_finish(const jt_posts_t *p, const char *job_id, const char *what, bool posted,
                     const char *message_id, long http_status, int64_t now_ms, jt_error_t *err) {
        bson_t *update =
            BCON_NEW("$set", "{", "state", posted ? "posted" : "rejected", "messageId",
                     BCON_UTF8(message_id ? message_id : ""), "httpStatus", BCON_INT64(http_status),
                     "updatedAt", BCON_DATE_TIME(now_ms), "}");
        bool ok = update_mine(p, job_id, what, update, "recording a post", err);
        bson_destroy(update);
        return ok;
}

bool jt_posts_release(const jt_posts_t *p, const char *job_id, const char *what, jt_error_t *err) {
        return update_mine(p, job_id, what, NULL, "releasing a post claim", err);
}
