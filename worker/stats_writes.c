/* Entry writes of a statistics range (stats_writes.h). */
#include "stats_writes.h"

#include <inttypes.h>
#include <stdio.h>

#include "stats.h"

#define DUPLICATE_KEY 11000

/* Sends one bulk and checks that each of its `ops` writes matched (or inserted) its document. */
static jt_task_outcome_t execute_bulk(mongoc_bulk_operation_t *bulk, size_t ops, bool *changed,
                                      jt_error_t *err) {
        bson_t reply;
        bson_error_t error;
        bson_iter_t it;
        int64_t matched = 0;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        if (!bulk || !ops)
                return JT_TASK_DONE;
        if (!mongoc_bulk_operation_execute(bulk, &reply, &error)) {
                outcome = jt_task_mongo_failed(&error, err, "writing the chunk's stats documents");
                /* A document created meanwhile by another writer of the same user (the app, or
                 * another run of the range): the unique index refused the upsert. */
                *changed = error.code == DUPLICATE_KEY;
        }
        if (outcome == JT_TASK_DONE) {
                if (bson_iter_init_find(&it, &reply, "nMatched") && BSON_ITER_HOLDS_NUMBER(&it))
                        matched += bson_iter_as_int64(&it);
                if (bson_iter_init_find(&it, &reply, "nUpserted") && BSON_ITER_HOLDS_NUMBER(&it))
                        matched += bson_iter_as_int64(&it);
        }
        if (outcome == JT_TASK_DONE && matched != (int64_t)ops) {
                /* The app wrote a month entry or removed a document meanwhile: the retry
                 * re-reads the documents and decides again. */
                /* Not an outage: an attempt, so that a mismatch that never clears ends. */
                jt_error_set(err, JT_ERR_MONGO, 0,
                             "writing the chunk's stats documents: %zu writes expected to match a "
                             "document as read, %" PRId64
                             " did; the others changed since they were read (retrying re-reads "
                             "them)",
                             ops, matched);
                outcome = JT_TASK_RETRY;
                *changed = true;
        }
        bson_destroy(&reply);
        return outcome;
}

jt_task_outcome_t jt_stats_writes_flush(jt_stats_writes_t *w, bool *changed, jt_error_t *err) {
        jt_task_outcome_t outcome;

        *changed = false;
        outcome = execute_bulk(w->pulls, w->pull_ops, changed, err);
        if (outcome == JT_TASK_DONE)
                outcome = execute_bulk(w->bulk, w->bulk_ops, changed, err);
        jt_stats_writes_discard(w);
        return outcome;
}

void jt_stats_writes_discard(jt_stats_writes_t *w) {
        mongoc_bulk_operation_destroy(w->pulls);
        mongoc_bulk_operation_destroy(w->bulk);
        w->pulls = w->bulk = NULL;
        w->pull_ops = w->bulk_ops = 0;
}

/* Where a user's stored entries stand for the month. */
typedef struct {
        bool have_doc;     /* the user has a stats document */
        uint32_t in_month; /* its entries of the month */
        uint32_t position; /* where a new entry goes once those are gone: before the first
                            * other entry not created before it (chronological order) */
} month_view_t;

/* Reads stored (NULL: no document) for the month. Fails on a `stats` that is not an array:
 * a shard never overwrites data it does not understand. */
static bool month_view(jt_stats_writes_t *w, const bson_oid_t *user, const bson_t *stored,
                       int64_t entry_at, month_view_t *view, jt_error_t *err) {
        bson_iter_t it, child;
        bool placed = false;
        char hex[25];

        *view = (month_view_t){.have_doc = stored != NULL};
        if (!stored || !bson_iter_init_find(&it, stored, "stats"))
                return true;
        if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child)) {
                bson_oid_to_string(user, hex);
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "the stats document of user %s has a `stats` field of BSON "
                                    "type 0x%02x: expected an array of entries (left unchanged)",
                                    hex, (unsigned)bson_iter_type(&it));
        }
        while (bson_iter_next(&child)) {
                const uint8_t *data;
                uint32_t len;
                bson_t old;
                bool is_doc = BSON_ITER_HOLDS_DOCUMENT(&child);
                if (is_doc) {
                        bson_iter_document(&child, &len, &data);
                        is_doc = bson_init_static(&old, data, len);
                }
                if (is_doc && jt_stats_entry_in(&old, w->start_ms, w->end_ms)) {
                        view->in_month++;
                        continue;
                }
                if (!placed && is_doc && !jt_stats_entry_in(&old, INT64_MIN, entry_at))
                        placed = true;
                if (!placed)
                        view->position++;
        }
        return true;
}

/* {createdAt: {$gte: start, $lt: end}}: an entry of the month. */
static void append_month_range(jt_stats_writes_t *w, bson_t *doc) {
        bson_t range;

        BSON_APPEND_DOCUMENT_BEGIN(doc, "createdAt", &range);
        BSON_APPEND_DATE_TIME(&range, "$gte", w->start_ms);
        BSON_APPEND_DATE_TIME(&range, "$lt", w->end_ms);
        bson_append_document_end(doc, &range);
}

typedef enum {
        GUARD_NONE,     /* {user: U} */
        GUARD_IN_MONTH, /* and stats: {$elemMatch: <an entry of the month>} */
        GUARD_NO_MONTH, /* and stats: {$not: {$elemMatch: <an entry of the month>}} */
} guard_t;

static bson_t *user_filter(jt_stats_writes_t *w, const bson_oid_t *user, guard_t guard) {
        bson_t *filter = BCON_NEW("user", BCON_OID(user));
        bson_t stats, not_, match;

        if (guard == GUARD_NONE)
                return filter;
        BSON_APPEND_DOCUMENT_BEGIN(filter, "stats", &stats);
        if (guard == GUARD_NO_MONTH) {
                BSON_APPEND_DOCUMENT_BEGIN(&stats, "$not", &not_);
                BSON_APPEND_DOCUMENT_BEGIN(&not_, "$elemMatch", &match);
                append_month_range(w, &match);
                bson_append_document_end(&not_, &match);
                bson_append_document_end(&stats, &not_);
        } else {
                BSON_APPEND_DOCUMENT_BEGIN(&stats, "$elemMatch", &match);
                append_month_range(w, &match);
                bson_append_document_end(&stats, &match);
        }
        bson_append_document_end(filter, &stats);
        return filter;
}

/* {$pull: {stats: <the month's entries>}, $set: {updatedAt}} */
static bson_t *pull_update(jt_stats_writes_t *w) {
        bson_t *update = bson_new();
        bson_t pull, cond;

        BSON_APPEND_DOCUMENT_BEGIN(update, "$pull", &pull);
        BSON_APPEND_DOCUMENT_BEGIN(&pull, "stats", &cond);
        append_month_range(w, &cond);
        bson_append_document_end(&pull, &cond);
        bson_append_document_end(update, &pull);
        BCON_APPEND(update, "$set", "{", "updatedAt", BCON_DATE_TIME(w->updated_at_ms), "}");
        return update;
}

/* Queues one update into *bulk (created on first use); takes filter and update. */
static jt_task_outcome_t queue_update(jt_stats_writes_t *w, mongoc_bulk_operation_t **bulk,
                                      size_t *ops, bson_t *filter, bson_t *update, bool upsert,
                                      jt_error_t *err) {
        bson_t opts = BSON_INITIALIZER;
        bson_error_t error;
        bool ok;

        if (!*bulk) {
                bson_t bulk_opts = BSON_INITIALIZER;
                BSON_APPEND_BOOL(&bulk_opts, "ordered", false);
                *bulk = mongoc_collection_create_bulk_operation_with_opts(w->stats, &bulk_opts);
                bson_destroy(&bulk_opts);
        }
        BSON_APPEND_BOOL(&opts, "upsert", upsert);
        ok = mongoc_bulk_operation_update_one_with_opts(*bulk, filter, update, &opts, &error);
        if (ok)
                (*ops)++;
        bson_destroy(&opts);
        bson_destroy(update);
        bson_destroy(filter);
        return ok ? JT_TASK_DONE
                  : jt_task_mongo_failed(&error, err, "queueing a stats document write");
}

/* One entry of the month is replaced in place; none: the entry is inserted in
 * chronological order (the document created if there is none); several (drift left by the
 * app's incremental updates): they are removed first. Each write is guarded by the state it was
 * decided on, so a concurrent change makes it miss (flush_writes retries). */
jt_task_outcome_t jt_stats_writes_queue(jt_stats_writes_t *w, const bson_oid_t *user,
                                        const bson_t *stored, const bson_t *entry,
                                        jt_error_t *err) {
        bson_iter_t it;
        int64_t entry_at = 0;
        month_view_t view;
        bson_t *update;
        jt_task_outcome_t outcome;

        if (entry && bson_iter_init_find(&it, entry, "createdAt"))
                entry_at = bson_iter_date_time(&it);
        if (!month_view(w, user, stored, entry_at, &view, err))
                return JT_TASK_PERMANENT;
        if (!entry)
                return view.in_month == 0 ? JT_TASK_DONE
                                          : queue_update(w, &w->bulk, &w->bulk_ops,
                                                         user_filter(w, user, GUARD_NONE),
                                                         pull_update(w), false, err);
        if (view.in_month == 1) {
                update = BCON_NEW("$set", "{", "stats.$", BCON_DOCUMENT(entry), "updatedAt",
                                  BCON_DATE_TIME(w->updated_at_ms), "}");
                return queue_update(w, &w->bulk, &w->bulk_ops, user_filter(w, user, GUARD_IN_MONTH),
                                    update, false, err);
        }
        if (view.in_month > 1) {
                outcome = queue_update(w, &w->pulls, &w->pull_ops, user_filter(w, user, GUARD_NONE),
                                       pull_update(w), false, err);
                if (outcome != JT_TASK_DONE)
                        return outcome;
        }
        update = BCON_NEW("$push", "{", "stats", "{", "$each", "[", BCON_DOCUMENT(entry), "]",
                          "$position", BCON_INT32((int32_t)view.position), "}", "}", "$set", "{",
                          "updatedAt", BCON_DATE_TIME(w->updated_at_ms), "}");
        if (!view.have_doc) /* the upsert creates it: the unique index stops a second one */
                BCON_APPEND(update, "$setOnInsert", "{", "createdAt",
                            BCON_DATE_TIME(w->updated_at_ms), "}");
        return queue_update(w, &w->bulk, &w->bulk_ops, user_filter(w, user, GUARD_NO_MONTH), update,
                            !view.have_doc, err);
}
