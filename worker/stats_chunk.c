/* One chunk of a statistics range: its users read by the range's cursor, their stats documents
 * by one query, their playbacks of the month by the range's cursor (or a query per user); each
 * user's entry built and queued for writing, then the month's notification given to those who
 * want it. */
#include <stdlib.h>
#include <string.h>

#include "artist_names.h"
#include "jt_bson.h"
#include "jt_log.h"
#include "jt_mongo.h"
#include "stats_notification.h"
#include "stats_range.h"

static int oid_cmp(const void *a, const void *b) {
        return bson_oid_compare(a, b);
}

/* {field: {$gt: after | $gte: user_from (or the lowest ObjectId), $lt: user_to}} into doc: what
 * is left of the range. */
static void append_rest(const range_run_t *run, bson_t *doc, const char *field) {
        bson_t cond;
        bson_oid_t oid;

        BSON_APPEND_DOCUMENT_BEGIN(doc, field, &cond);
        if (run->have_after) {
                BSON_APPEND_OID(&cond, "$gt", &run->after);
        } else if (run->task->user_from) {
                bson_oid_init_from_string(&oid, run->task->user_from);
                BSON_APPEND_OID(&cond, "$gte", &oid);
        } else {
                /* From the lowest ObjectId: every query has an ObjectId bound, so ids of other
                 * types (not app users) are never read, whatever the plan. */
                bson_oid_init_from_data(&oid, (const uint8_t[12]){0});
                BSON_APPEND_OID(&cond, "$gte", &oid);
        }
        if (run->task->user_to) {
                bson_oid_init_from_string(&oid, run->task->user_to);
                BSON_APPEND_OID(&cond, "$lt", &oid);
        }
        bson_append_document_end(doc, &cond);
}

static void append_month(const range_run_t *run, bson_t *doc) {
        bson_t range;

        BSON_APPEND_DOCUMENT_BEGIN(doc, "createdAt", &range);
        BSON_APPEND_DATE_TIME(&range, "$gte", run->start_ms);
        BSON_APPEND_DATE_TIME(&range, "$lt", run->end_ms);
        bson_append_document_end(doc, &range);
}

/* The cursors over the rest of the range, each sorted by user through its index: a real
 * MongoDB answers both from the index without an in-memory sort (playbacks by {user,
 * createdAt}, with bounds on both fields). The stats documents are read per chunk instead
 * (read_chunk_docs). */
void jt_stats_chunk_open(range_run_t *run) {
        bson_t filter = BSON_INITIALIZER;
        bson_t *opts;

        append_rest(run, &filter, "_id");
        opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1),
                        "userPreferences.notifications.monthlyStatistic", BCON_INT32(1), "}",
                        "sort", "{", "_id", BCON_INT32(1), "}", "hint", "{", "_id", BCON_INT32(1),
                        "}", "batchSize", BCON_INT32(USERS_BATCH));
        run->user_cur = mongoc_collection_find_with_opts(run->users, &filter, opts, NULL);
        bson_destroy(opts);
        bson_reinit(&filter);

        if (!run->per_user) {
                append_rest(run, &filter, "user");
                append_month(run, &filter);
                opts = BCON_NEW("projection", "{", "_id", BCON_INT32(0), "user", BCON_INT32(1),
                                "song", BCON_INT32(1), "artist", BCON_INT32(1), "duration",
                                BCON_INT32(1), "createdAt", BCON_INT32(1), "}", "sort", "{", "user",
                                BCON_INT32(1), "createdAt", BCON_INT32(1), "}", "hint", "{", "user",
                                BCON_INT32(1), "createdAt", BCON_INT32(1), "}", "batchSize",
                                BCON_INT32(PLAYBACKS_BATCH));
                run->play_cur =
                    mongoc_collection_find_with_opts(run->playbacks, &filter, opts, NULL);
                bson_destroy(opts);
        }
        bson_destroy(&filter);
}

void jt_stats_chunk_clear(range_run_t *run) {
        for (size_t i = 0; i < run->n; i++) {
                if (run->stored[i])
                        bson_destroy(run->stored[i]);
                run->stored[i] = NULL;
        }
        run->n = 0;
}

/* The chunk's users from the users cursor: the next --chunk-users ObjectId ids. */
jt_task_outcome_t jt_stats_chunk_read_users(range_run_t *run, jt_error_t *err) {
        const bson_t *doc;
        bson_error_t error;
        bson_iter_t it, pref;
        int64_t read = 0;

        while (run->n < run->chunk && mongoc_cursor_next(run->user_cur, &doc)) {
                read++;
                if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it))
                        continue; /* not an app user */
                bson_oid_copy(bson_iter_oid(&it), &run->ids[run->n]);
                run->wants[run->n] =
                    bson_iter_init(&pref, doc) &&
                    bson_iter_find_descendant(
                        &pref, "userPreferences.notifications.monthlyStatistic", &it) &&
                    BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
                run->has_entry[run->n] = run->seen[run->n] = false;
                run->n++;
        }
        jt_metrics_users_read(run->env->metrics, read);
        if (mongoc_cursor_error(run->user_cur, &error))
                return jt_task_mongo_failed(&error, err, "reading the range's users");
        if (run->n < run->chunk)
                run->users_end = true;
        return JT_TASK_DONE;
}

/* The slot of user in the chunk, or -1. */
static long chunk_slot(const range_run_t *run, const bson_oid_t *user) {
        const bson_oid_t *hit = bsearch(user, run->ids, run->n, sizeof(*run->ids), oid_cmp);
        return hit ? (long)(hit - run->ids) : -1;
}

/* Whether user lies past the chunk's last user (the next chunk's). */
static bool past_chunk(const range_run_t *run, const bson_oid_t *user) {
        return !run->users_end && bson_oid_compare(user, &run->ids[run->n - 1]) > 0;
}

static const bson_oid_t *doc_user(const bson_t *doc, const char *field) {
        bson_iter_t it;
        return bson_iter_init_find(&it, doc, field) && BSON_ITER_HOLDS_OID(&it) ? bson_iter_oid(&it)
                                                                                : NULL;
}

/* The chunk's users' stats documents, by one {user: {$in: chunk}} query: answered from the
 * {user: 1} index (unique) by point lookups on any server. A range cursor over the stats
 * collection was opened once per task run, and SecantusDB, the local stack's server, answers a
 * range by reading the whole collection, which grows with the number of users. */
jt_task_outcome_t jt_stats_chunk_read_docs(range_run_t *run, jt_error_t *err) {
        bson_t filter = BSON_INITIALIZER, cond, list;
        /* The chunk in one batch: its documents are at most --chunk-users (1,000). */
        bson_t *opts = BCON_NEW("batchSize", BCON_INT32((int32_t)run->n));
        mongoc_cursor_t *cursor;
        const bson_t *doc;
        bson_error_t error;
        char key[16];
        bool failed;

        BSON_APPEND_DOCUMENT_BEGIN(&filter, "user", &cond);
        BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &list);
        for (size_t i = 0; i < run->n; i++) {
                const char *k;
                bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
                bson_append_oid(&list, k, -1, &run->ids[i]);
        }
        bson_append_array_end(&cond, &list);
        bson_append_document_end(&filter, &cond);
        cursor = mongoc_collection_find_with_opts(run->stats, &filter, opts, NULL);
        while (mongoc_cursor_next(cursor, &doc)) {
                const bson_oid_t *user = doc_user(doc, "user");
                long slot = user ? chunk_slot(run, user) : -1;
                if (slot >= 0 && !run->stored[slot])
                        run->stored[slot] = bson_copy(doc);
        }
        failed = mongoc_cursor_error(cursor, &error);
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(&filter);
        if (failed)
                return jt_task_mongo_failed(&error, err, "reading the range's stats documents");
        return JT_TASK_DONE;
}

/* The artist's name from musicians (NULL when none; the caller frees it), through the
 * worker's shared cache. *failed on a database error. */
static char *artist_name(range_run_t *run, const bson_oid_t *artist, bool *failed,
                         jt_error_t *err) {
        bson_t *filter, *opts;
        mongoc_cursor_t *cursor;
        const bson_t *doc;
        bson_error_t error;
        bson_iter_t it;
        char *name = NULL;

        *failed = false;
        if (jt_artist_names_get(run->env->names, artist, &name))
                return name;
        filter = BCON_NEW("_id", BCON_OID(artist));
        opts = BCON_NEW("projection", "{", "name", BCON_INT32(1), "}", "limit", BCON_INT64(1));
        cursor = mongoc_collection_find_with_opts(run->musicians, filter, opts, NULL);
        if (mongoc_cursor_next(cursor, &doc)) {
                if (bson_iter_init_find(&it, doc, "name") && BSON_ITER_HOLDS_UTF8(&it))
                        name = strdup(bson_iter_utf8(&it, NULL));
        } else if (mongoc_cursor_error(cursor, &error)) {
                jt_task_mongo_failed(&error, err, "reading the top artist's name");
                *failed = true;
        }
        if (!*failed)
                jt_artist_names_put(run->env->names, artist, name);
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(filter);
        return name;
}

/* The entry of the chunk's user at slot, whose month is in run->acc. */
jt_task_outcome_t jt_stats_chunk_finish_user(range_run_t *run, size_t slot, jt_error_t *err) {
        const bson_oid_t *user = &run->ids[slot];
        const bson_t *stored = run->stored[slot];
        bson_t entry = BSON_INITIALIZER;
        bson_iter_t it, child;
        double prev_total = 0;
        bool have_prev = false, name_failed = false;
        bson_oid_t top;
        char *name = NULL;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        if (stored && bson_iter_init_find(&it, stored, "stats") && BSON_ITER_HOLDS_ARRAY(&it) &&
            bson_iter_recurse(&it, &child)) {
                while (bson_iter_next(&child)) {
                        const uint8_t *data;
                        uint32_t len;
                        bson_t old;
                        jt_error_t ignored;
                        if (!BSON_ITER_HOLDS_DOCUMENT(&child))
                                continue;
                        bson_iter_document(&child, &len, &data);
                        if (bson_init_static(&old, data, len) &&
                            jt_stats_entry_in(&old, run->prev_start_ms, run->start_ms) &&
                            jt_stats_entry_total(&old, &prev_total, &ignored))
                                have_prev = true;
                }
        }
        if (jt_stats_acc_top_artist(run->acc, &top)) {
                name = artist_name(run, &top, &name_failed, err);
                if (name_failed) {
                        outcome = JT_TASK_RETRY;
                        goto done;
                }
        }
        if (!jt_stats_acc_build(run->acc, have_prev ? &prev_total : NULL, name, &entry, err)) {
                /* e.g. an artist name that is not UTF-8: build without it rather than fail. */
                jt_log_warn("job=%s task=%s user: %s; top artist shown as unknown",
                            run->task->job_id, run->task->task_id, err->message);
                bson_reinit(&entry);
                if (!jt_stats_acc_build(run->acc, have_prev ? &prev_total : NULL, NULL, &entry,
                                        err)) {
                        outcome = JT_TASK_PERMANENT;
                        goto done;
                }
        }
        outcome = jt_stats_writes_queue(&run->writes, user, stored, &entry, err);
        if (outcome == JT_TASK_DONE) {
                run->has_entry[slot] = true;
                jt_metrics_documents(run->env->metrics, "written", 1);
        }
done:
        free(name);
        bson_destroy(&entry);
        return outcome;
}

/* Adds one playback to the figures of the user it belongs to; the previous user's entry is
 * finished when the user changes. *current: the chunk slot being accumulated (-1: none). */
static jt_task_outcome_t add_playback(range_run_t *run, const bson_t *doc, long *current,
                                      jt_error_t *err) {
        const bson_oid_t *user = doc_user(doc, "user"), *song = NULL, *artist = NULL;
        bson_iter_t it;
        double duration = 0;
        int64_t at = 0;
        long slot;
        jt_error_t row_err;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        jt_metrics_documents(run->env->metrics, "read", 1);
        if (!user) {
                run->fig.bad_rows++;
                return JT_TASK_DONE;
        }
        if (*current < 0 || !bson_oid_equal(user, &run->ids[*current])) {
                if (*current >= 0) {
                        outcome = jt_stats_chunk_finish_user(run, (size_t)*current, err);
                        jt_stats_acc_reset(run->acc);
                        *current = -1;
                        if (outcome != JT_TASK_DONE)
                                return outcome;
                }
                slot = chunk_slot(run, user);
                if (slot < 0)
                        return JT_TASK_DONE; /* a playback of no user of the range: ignored */
                run->seen[slot] = true;
                *current = slot;
        }
        if (bson_iter_init_find(&it, doc, "song") && BSON_ITER_HOLDS_OID(&it))
                song = bson_iter_oid(&it);
        if (bson_iter_init_find(&it, doc, "artist") && BSON_ITER_HOLDS_OID(&it))
                artist = bson_iter_oid(&it);
        if (bson_iter_init_find(&it, doc, "duration") && BSON_ITER_HOLDS_NUMBER(&it))
                duration = bson_iter_as_double(&it);
        if (bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
                at = bson_iter_date_time(&it);
        if (!jt_stats_acc_add(run->acc, song, artist, duration, at, &row_err)) {
                if (row_err.domain != JT_ERR_INPUT) {
                        *err = row_err;
                        return JT_TASK_RETRY;
                }
                run->fig.bad_rows++; /* a malformed playback never stops the month */
        }
        return JT_TASK_DONE;
}

/* The chunk's playbacks from the range's one cursor, sorted by user: the document read past the
 * chunk waits for the next one. */
static jt_task_outcome_t read_chunk_playbacks(range_run_t *run, long *current, jt_error_t *err) {
        const bson_t *doc;
        bson_error_t error;
        const bson_oid_t *user;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        if (run->play_next) {
                user = doc_user(run->play_next, "user");
                if (user && past_chunk(run, user))
                        return JT_TASK_DONE;
                outcome = add_playback(run, run->play_next, current, err);
                bson_destroy(run->play_next);
                run->play_next = NULL;
        }
        while (outcome == JT_TASK_DONE && mongoc_cursor_next(run->play_cur, &doc)) {
                user = doc_user(doc, "user");
                if (user && past_chunk(run, user)) {
                        run->play_next = bson_copy(doc);
                        break;
                }
                outcome = add_playback(run, doc, current, err);
        }
        if (outcome == JT_TASK_DONE && mongoc_cursor_error(run->play_cur, &error))
                outcome = jt_task_mongo_failed(&error, err, "reading the range's playbacks");
        return outcome;
}

/* The chunk's playbacks one user at a time (--playback-reads per-user): equality on user, for a
 * server that scans a whole collection for a range of users (the local one does). */
static jt_task_outcome_t read_user_playbacks(range_run_t *run, long *current, jt_error_t *err) {
        /* One request per user: the server's first batch is 101 documents unless told more. */
        bson_t *opts =
            BCON_NEW("projection", "{", "_id", BCON_INT32(0), "user", BCON_INT32(1), "song",
                     BCON_INT32(1), "artist", BCON_INT32(1), "duration", BCON_INT32(1), "createdAt",
                     BCON_INT32(1), "}", "batchSize", BCON_INT32(PLAYBACKS_BATCH));
        jt_task_outcome_t outcome = JT_TASK_DONE;

        for (size_t i = 0; outcome == JT_TASK_DONE && i < run->n; i++) {
                bson_t filter = BSON_INITIALIZER;
                mongoc_cursor_t *cursor;
                const bson_t *doc;
                bson_error_t error;

                BSON_APPEND_OID(&filter, "user", &run->ids[i]);
                append_month(run, &filter);
                cursor = mongoc_collection_find_with_opts(run->playbacks, &filter, opts, NULL);
                while (outcome == JT_TASK_DONE && mongoc_cursor_next(cursor, &doc))
                        outcome = add_playback(run, doc, current, err);
                if (outcome == JT_TASK_DONE && mongoc_cursor_error(cursor, &error))
                        outcome = jt_task_mongo_failed(&error, err, "reading a user's playbacks");
                mongoc_cursor_destroy(cursor);
                bson_destroy(&filter);
        }
        bson_destroy(opts);
        return outcome;
}

/* The month's notification, chosen once per job (the Lambda's of the month, or the job's own:
 * stats_notification.h) and made if it is the job's own, before the range's first user with an
 * entry gets it. Made once a user has an entry, whether or not anyone wants it, as the
 * original did. */
static jt_task_outcome_t make_notification(range_run_t *run, jt_error_t *err) {
        jt_stats_notification_t note;
        jt_task_outcome_t outcome;

        if (run->notification_made)
                return JT_TASK_DONE;
        outcome = jt_stats_notification_ensure(run->client, run->env->db, run->notifications,
                                               run->task, &note, err);
        if (outcome == JT_TASK_DONE) {
                bson_oid_copy(&note.id, &run->nid);
                run->notification_fresh = note.fresh;
        }
        run->notification_made = outcome == JT_TASK_DONE;
        return outcome;
}

/* How many of the chunk's k users the notification update changed. A notification this run made
 * was nobody's before the run, so every one of them who has it now got it from the run: a count
 * that a chunk redone after a kill makes again, exactly. Any other (the Lambda's, or one an
 * earlier run of the job id made) counts what the update changed: a user who had it is not
 * counted (nor, after a kill between the update and the checkpoint, the chunk's users it
 * reached: never twice). */
static jt_task_outcome_t count_notified(range_run_t *run, const bson_oid_t *ids, size_t k,
                                        const bson_t *reply, jt_error_t *err) {
        bson_t filter = BSON_INITIALIZER;
        bson_error_t error;
        bson_iter_t it;
        int64_t n;

        if (!run->notification_fresh) {
                if (bson_iter_init_find(&it, reply, "modifiedCount") && BSON_ITER_HOLDS_NUMBER(&it))
                        run->fig.notified += bson_iter_as_int64(&it);
                return JT_TASK_DONE;
        }
        jt_bson_append_oid_in(&filter, "_id", ids, k);
        BSON_APPEND_OID(&filter, "notifications.id", &run->nid);
        n = mongoc_collection_count_documents(run->users, &filter, NULL, NULL, NULL, &error);
        bson_destroy(&filter);
        if (n < 0)
                return jt_task_mongo_failed(&error, err, "counting the users notified");
        run->fig.notified += n;
        return JT_TASK_DONE;
}

/* The notification added to the chunk's users with an entry who want it, where absent ({$ne} on
 * its id, so also not again after the user has viewed it, nor to a user the Lambda gave it):
 * one update of at most a chunk, then what it changed counted (count_notified). */
jt_task_outcome_t jt_stats_chunk_notify(range_run_t *run, jt_error_t *err) {
        bson_oid_t ids[CHUNK_USERS];
        size_t k = 0;
        bool any_entry = false;
        bson_t filter = BSON_INITIALIZER, reply;
        bson_t *update;
        bson_error_t error;
        jt_task_outcome_t outcome;

        for (size_t i = 0; i < run->n; i++) {
                any_entry = any_entry || run->has_entry[i];
                if (run->has_entry[i] && run->wants[i])
                        bson_oid_copy(&run->ids[i], &ids[k++]);
        }
        if (!any_entry)
                return JT_TASK_DONE;
        if ((outcome = make_notification(run, err)) != JT_TASK_DONE || k == 0)
                return outcome;
        jt_bson_append_oid_in(&filter, "_id", ids, k);
        BSON_APPEND_BOOL(&filter, "userPreferences.notifications.monthlyStatistic", true);
        BCON_APPEND(&filter, "notifications.id", "{", "$ne", BCON_OID(&run->nid), "}");
        update = BCON_NEW("$push", "{", "notifications", "{", "id", BCON_OID(&run->nid), "viewed",
                          BCON_BOOL(false), "read", BCON_BOOL(false), "}", "}");
        if (!mongoc_collection_update_many(run->users, &filter, update, NULL, &reply, &error))
                outcome = jt_task_mongo_failed(&error, err, "adding the notification to users");
        else
                outcome = count_notified(run, ids, k, &reply, err);
        bson_destroy(&reply);
        bson_destroy(update);
        bson_destroy(&filter);
        return outcome;
}

jt_task_outcome_t jt_stats_chunk_read_playbacks(range_run_t *run, long *current, jt_error_t *err) {
        return run->per_user ? read_user_playbacks(run, current, err)
                             : read_chunk_playbacks(run, current, err);
}
