/* A statistics range: the month's entry of every user of [user_from, user_to), computed from
 * the playbacks and written into the user's stats document in place of any entry for that
 * month, then the month's notification added to those users who want it. The range is read
 * in chunks of users: the users' ids by one cursor sorted by _id, each chunk's stats documents
 * by one `user $in` query, and the chunk's playbacks of the month by one cursor sorted by user
 * (or a query per user); after each chunk the ledger holds a checkpoint
 * (the last user done and the figures so far), so a task stopped by SIGTERM, killed, or out of
 * its time budget is resumed after that user, by its redelivery or by the continuation task it
 * sends, and no user is counted twice. Memory holds one chunk, never the range. */
#include "stats_task.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "artist_names.h"
#include "jt_bson.h"
#include "jt_jobs.h"
#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_mongo.h"
#include "jt_retention.h"
#include "jt_status.h"
#include "stats_compute.h"
#include "stats_finalize.h"
#include "stats_notification.h"
#include "stats_writes.h"

#define CHUNK_USERS       1000  /* --chunk-users at most */
#define USERS_BATCH       5000  /* ids and one preference each: small documents */
#define PLAYBACKS_BATCH   50000 /* projected playbacks are about 100 bytes */
#define NAME_CACHE_SIZE   1024  /* top artists are few and popular: a small cache saves reads */
#define PROGRESS_EVERY_MS 1000
#define RANGE_LEASE_MS    30000 /* plus --chunk-delay-ms: renewed after every chunk */

typedef struct {
        const jt_task_env_t *env;
        const jt_stats_task_t *task;
        mongoc_client_t *client;
        mongoc_collection_t *users, *playbacks, *stats, *musicians, *notifications;
        bool per_user; /* --playback-reads per-user: one query per user instead of one cursor */
        int64_t start_ms, end_ms, prev_start_ms;
        jt_stats_acc_t *acc;
        jt_stats_writes_t writes;
        char key[64];
        const char *root_id; /* the listed task whose result this one records */
        bson_oid_t nid;      /* the month's notification, once made ... */
        bool notification_made;
        bool notification_fresh; /* ... by this job run (stats_notification.h) */
        /* The cursors over what is left of the range, and a document each read past the
         * current chunk (kept for the next one). */
        mongoc_cursor_t *user_cur, *play_cur;
        bson_t *play_next;
        bool users_end;
        /* The chunk: its users (sorted), whether each wants the notification, got an entry,
         * had playbacks, and its stats document as read. */
        bson_oid_t ids[CHUNK_USERS];
        bool wants[CHUNK_USERS], has_entry[CHUNK_USERS], seen[CHUNK_USERS];
        bson_t *stored[CHUNK_USERS];
        size_t n, chunk; /* users in the chunk; --chunk-users */
        /* Where the range stands: every user up to `after` done and in the figures. */
        jt_range_figures_t fig;
        bool have_after;
        bson_oid_t after;
        int64_t last_progress;
        /* This run's hold on the range (a lease renewed at each checkpoint), so that a second
         * run of the same range (a redelivery next to its continuation, a task still running on
         * a partition revoked from its worker) waits instead of colliding with it. */
        char holder[256];
        int64_t lease_ms;
} range_run_t;

static const char *coll_name(bool test_mode, const char *base, char *buf, size_t size) {
        snprintf(buf, size, "%s%s", test_mode ? "test-" : "", base);
        return buf;
}

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
static void open_cursors(range_run_t *run) {
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

static void chunk_clear(range_run_t *run) {
        for (size_t i = 0; i < run->n; i++) {
                if (run->stored[i])
                        bson_destroy(run->stored[i]);
                run->stored[i] = NULL;
        }
        run->n = 0;
}

/* The chunk's users from the users cursor: the next --chunk-users ObjectId ids. */
static jt_task_outcome_t read_chunk_users(range_run_t *run, jt_error_t *err) {
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
 * range by reading the whole collection (19.2 s per open at 200,000 users). */
static jt_task_outcome_t read_chunk_docs(range_run_t *run, jt_error_t *err) {
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
static jt_task_outcome_t finish_user(range_run_t *run, size_t slot, jt_error_t *err) {
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
                        outcome = finish_user(run, (size_t)*current, err);
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
static jt_task_outcome_t notify_chunk(range_run_t *run, jt_error_t *err) {
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

static bool send_event(range_run_t *run, jt_status_type_t type, jt_error_t *err) {
        jt_status_event_t ev = {.job_id = run->task->job_id,
                                .task_id = run->task->task_id,
                                .type = type,
                                .job_kind = JT_JOB_KIND_STATS,
                                .timestamp_ms = jt_task_now_ms(),
                                .worker_id = (char *)run->env->worker_id,
                                .test_mode = run->task->test_mode,
                                .month = run->task->month,
                                .progress_done = {true, run->fig.users}};
        if (type == JT_STATUS_TASK_FINISHED) {
                ev.users_processed = (jt_opt_long_t){true, run->fig.with_entry};
                ev.tasks_done = (jt_opt_long_t){true, 1};
        }
        return jt_status_send(run->env->producer, run->env->reg, run->env->status_topic, &ev, err);
}

/* Another run of this range wrote first (a guard missed, an upsert was refused, or the
 * checkpoint did not move). When the ledger shows another holder ahead, this run yields:
 * JT_TASK_WAIT, no attempt spent; its message comes back later and then finds the range done,
 * or takes it over from the checkpoint once the other run's lease has lapsed. Otherwise the
 * change was someone else's (the app's) and `otherwise` stands (a retry re-reads the chunk). */
static jt_task_outcome_t overtaken(range_run_t *run, jt_task_outcome_t otherwise, jt_error_t *err) {
        jt_job_view_t view;
        jt_error_t read_err;
        char after[25] = "";

        jt_error_clear(&read_err);
        if (!jt_jobs_view(run->client, run->env->db, run->task->job_id, run->task->run_nonce,
                          run->root_id, run->key, &view, &read_err)) {
                *err = read_err;
                return JT_TASK_RETRY;
        }
        if (run->have_after)
                bson_oid_to_string(&run->after, after);
        if (view.recorded || (view.after_user[0] && strcmp(view.holder, run->holder) != 0 &&
                              strcmp(view.after_user, after) >= 0)) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "another run of range %s is further on (%s, user %s): this one "
                             "yields",
                             run->root_id, view.recorded ? "done" : view.holder, view.after_user);
                return JT_TASK_WAIT;
        }
        if (otherwise == JT_TASK_WAIT)
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "the checkpoint of range %s did not move and no other run is ahead: "
                             "the run is gone",
                             run->root_id);
        return otherwise == JT_TASK_WAIT ? JT_TASK_RETRY : otherwise;
}

/* One chunk: its users, their stats documents and playbacks, their entries written (a user
 * without playback this month loses a month entry it still has: drift of the app's incremental
 * updates), the notification, then the checkpoint. A failure leaves the chunk for the retry,
 * which starts after the checkpoint. */
static jt_task_outcome_t process_chunk(range_run_t *run, jt_error_t *err) {
        long current = -1;
        char after[25];
        jt_task_outcome_t outcome;

        if ((outcome = read_chunk_users(run, err)) != JT_TASK_DONE || run->n == 0)
                return outcome;
        outcome = read_chunk_docs(run, err);
        if (outcome == JT_TASK_DONE)
                outcome = run->per_user ? read_user_playbacks(run, &current, err)
                                        : read_chunk_playbacks(run, &current, err);
        if (outcome == JT_TASK_DONE && current >= 0)
                outcome = finish_user(run, (size_t)current, err);
        jt_stats_acc_reset(run->acc);
        for (size_t i = 0; outcome == JT_TASK_DONE && i < run->n; i++) {
                bson_iter_t st;
                if (!run->seen[i] && run->stored[i] &&
                    bson_iter_init_find(&st, run->stored[i], "stats") && BSON_ITER_HOLDS_ARRAY(&st))
                        outcome = jt_stats_writes_queue(&run->writes, &run->ids[i], run->stored[i],
                                                        NULL, err);
        }
        if (outcome == JT_TASK_DONE) {
                bool changed = false;
                outcome = jt_stats_writes_flush(&run->writes, &changed, err);
                if (outcome != JT_TASK_DONE && changed)
                        outcome = overtaken(run, outcome, err);
        } else {
                jt_stats_writes_discard(&run->writes);
        }
        if (outcome == JT_TASK_DONE)
                outcome = notify_chunk(run, err);
        if (outcome == JT_TASK_DONE && run->n > 0) {
                bool moved = false;
                for (size_t i = 0; i < run->n; i++)
                        run->fig.with_entry += run->has_entry[i];
                run->fig.users += (int64_t)run->n;
                bson_oid_copy(&run->ids[run->n - 1], &run->after);
                run->have_after = true;
                bson_oid_to_string(&run->after, after);
                if (!jt_jobs_checkpoint_users(run->client, run->env->db, run->task->job_id,
                                              run->task->run_nonce, run->key, after, &run->fig,
                                              run->holder, jt_task_now_ms() + run->lease_ms, &moved,
                                              err))
                        outcome = JT_TASK_RETRY;
                else if (!moved)
                        outcome = overtaken(run, JT_TASK_WAIT, err);
        }
        chunk_clear(run);
        return outcome;
}

/* Sends the rest of the range as a new task (after the checkpoint the last chunk wrote). */
static jt_task_outcome_t send_continuation(range_run_t *run, jt_error_t *err) {
        jt_stats_task_t next = *run->task;
        char task_id[256], after[25];
        void *buf = NULL;
        size_t len = 0;
        bool ok;

        bson_oid_to_string(&run->after, after);
        next.continuation_seq = run->task->continuation_seq + 1;
        snprintf(task_id, sizeof(task_id), "%s+c%d", run->root_id, next.continuation_seq);
        next.task_id = task_id;
        next.parent_task_id = (char *)run->root_id;
        next.resume_after_user = after;
        next.users_so_far = run->fig.users;
        next.with_entry_so_far = run->fig.with_entry;
        next.bad_rows_so_far = run->fig.bad_rows;
        next.notified_so_far = run->fig.notified;
        next.created_at_ms = run->task->created_at_ms; /* updatedAt of what the range writes */
        ok = jt_stats_task_encode(run->env->reg, &next, &buf, &len, err) &&
             jt_kafka_send(run->env->producer, run->env->stats_topic, task_id, strlen(task_id), buf,
                           len, NULL, err) &&
             jt_kafka_flush(run->env->producer, run->env->kafka_timeout_ms, err);
        free(buf);
        if (!ok)
                return JT_TASK_RETRY;
        jt_log_info("job=%s task=%s time budget spent after %" PRId64
                    " users: continuation %s resumes after user %s",
                    run->task->job_id, run->task->task_id, run->fig.users, task_id, after);
        return JT_TASK_DONE;
}

static jt_task_outcome_t finish_range(range_run_t *run, jt_error_t *err) {
        const jt_task_env_t *env = run->env;
        const jt_stats_task_t *task = run->task;
        bson_t *result;
        bool recorded = false, complete = false;

        result =
            BCON_NEW("users", BCON_INT64(run->fig.users), "withEntry",
                     BCON_INT64(run->fig.with_entry), "badRows", BCON_INT64(run->fig.bad_rows),
                     "notified", BCON_INT64(run->fig.notified), "continuations",
                     BCON_INT32(task->continuation_seq), "finishedBy", BCON_UTF8(env->worker_id));
        if (!jt_jobs_record_result(run->client, env->db, task->job_id, task->run_nonce,
                                   run->root_id, run->key, result, jt_task_now_ms(), &recorded,
                                   &complete, err)) {
                bson_destroy(result);
                return err->domain == JT_ERR_INPUT ? JT_TASK_REJECTED : JT_TASK_RETRY;
        }
        bson_destroy(result);
        /* A second run of the range that finished after the first announces nothing. */
        if (recorded && !send_event(run, JT_STATUS_TASK_FINISHED, err))
                return JT_TASK_RETRY;
        jt_log_info("job=%s task=%s done: %" PRId64 " users, %" PRId64 " entries written, %" PRId64
                    " notified, %" PRId64 " bad playbacks skipped%s",
                    task->job_id, task->task_id, run->fig.users, run->fig.with_entry,
                    run->fig.notified, run->fig.bad_rows,
                    recorded ? "" : " (result recorded before: a redelivery)");
        if (complete && !jt_stats_finalize_send(env, task, err))
                return JT_TASK_RETRY;
        return jt_kafka_flush(env->producer, env->kafka_timeout_ms, err) ? JT_TASK_DONE
                                                                         : JT_TASK_RETRY;
}

/* A range whose result is recorded already (a redelivery, or a replay of a failed job's range
 * that had finished): no work again; the FINALIZE goes out if the job is complete, so that a
 * re-opened job finishes. */
static jt_task_outcome_t range_done_before(const jt_task_env_t *env, const jt_stats_task_t *task,
                                           const jt_job_view_t *view, jt_error_t *err) {
        jt_log_info("job=%s task=%s: result recorded before, nothing to compute%s", task->job_id,
                    task->task_id, view->complete ? "; the job is complete: FINALIZE sent" : "");
        if (!view->complete)
                return JT_TASK_DONE;
        if (!jt_stats_finalize_send(env, task, err) ||
            !jt_kafka_flush(env->producer, env->kafka_timeout_ms, err))
                return JT_TASK_RETRY;
        return JT_TASK_DONE;
}

/* The worker's own check that no playback of the month can have been deleted (the producer
 * checked when it sent the job, but a replayed topic or an old run reaches the worker later):
 * the month must start after now - this worker's --retention-days and after every cleanup
 * cutoff in the ledger. JT_TASK_PERMANENT otherwise: the job fails, nothing is written. */
static jt_task_outcome_t month_whole(const jt_task_env_t *env, mongoc_client_t *client,
                                     const jt_stats_task_t *task, int64_t start_ms,
                                     jt_error_t *err) {
        char reason[JT_ERROR_MSG_MAX - 64];
        bool safe = false;

        if (!jt_retention_month_safe(client, env->db, task->test_mode, start_ms,
                                     (int)jt_config_int(env->cfg, "retention-days"),
                                     jt_task_now_ms(), &safe, reason, sizeof(reason), err))
                return JT_TASK_RETRY;
        if (safe)
                return JT_TASK_DONE;
        jt_error_set(err, JT_ERR_INPUT, 0, "refused, no entry written: %s", reason);
        return JT_TASK_PERMANENT;
}

static bool same_bound(const char *task_bound, const char *plan_bound) {
        return task_bound ? strcasecmp(task_bound, plan_bound) == 0 : plan_bound[0] == '\0';
}

/* Whether the task is a range its job planned (params.bounds), and a continuation's resume point
 * lies inside that range. Checked before anything else about the range (its recorded result, a
 * finished job), so that a forged or corrupt task is refused whenever it arrives. */
static jt_task_outcome_t range_planned(const jt_stats_task_t *task, const jt_job_view_t *view,
                                       jt_error_t *err) {
        const char *r = task->resume_after_user;

        if (view->have_plan && (task->shard_count != view->plan_ranges ||
                                !same_bound(task->user_from, view->plan_from) ||
                                !same_bound(task->user_to, view->plan_to))) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "task %s covers [%s, %s) of %d ranges, but its job planned [%s, %s) "
                             "of %" PRId64 ": refused, nothing done",
                             task->task_id, task->user_from ? task->user_from : "-",
                             task->user_to ? task->user_to : "-", task->shard_count,
                             view->plan_from[0] ? view->plan_from : "-",
                             view->plan_to[0] ? view->plan_to : "-", view->plan_ranges);
                return JT_TASK_REJECTED;
        }
        if (r && ((task->user_from && strcasecmp(r, task->user_from) < 0) ||
                  (task->user_to && strcasecmp(r, task->user_to) >= 0))) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "continuation %s resumes after user %s, outside its range [%s, %s): "
                             "refused, nothing done",
                             task->task_id, r, task->user_from ? task->user_from : "-",
                             task->user_to ? task->user_to : "-");
                return JT_TASK_REJECTED;
        }
        return JT_TASK_DONE;
}

/* Where the range starts, or why it does not. It starts after the ledger's checkpoint, with its
 * figures: a continuation's own resume point is only checked, since the worker that sends one
 * records the checkpoint first (one ahead of the ledger was not sent by a worker: refused).
 * While another run holds the range (its lease), this one waits. */
static jt_task_outcome_t resume_point(range_run_t *run, const jt_job_view_t *view,
                                      jt_error_t *err) {
        const jt_stats_task_t *task = run->task;
        const char *r = task->resume_after_user;

        if (r && (!view->after_user[0] || strcasecmp(r, view->after_user) > 0)) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "continuation %s resumes after user %s, ahead of the range's "
                             "checkpoint (%s): refused, nothing done",
                             task->task_id, r, view->after_user[0] ? view->after_user : "none");
                return JT_TASK_REJECTED;
        }
        if (view->after_user[0] && view->held_until_ms > jt_task_now_ms() &&
            strcmp(view->holder, run->holder) != 0) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "range %s is held by another run (%s, at user %s) for %" PRId64
                             " s more: waiting",
                             run->root_id, view->holder, view->after_user,
                             (view->held_until_ms - jt_task_now_ms()) / 1000 + 1);
                return JT_TASK_WAIT;
        }
        if (view->after_user[0]) {
                bson_oid_init_from_string(&run->after, view->after_user);
                run->have_after = true;
                run->fig = view->after_figures;
                jt_log_info("job=%s task=%s resumes after user %s (%" PRId64 " users done)",
                            task->job_id, task->task_id, view->after_user, run->fig.users);
        }
        return JT_TASK_DONE;
}

/* Runs the range from its resume point until it is done, the time budget is spent (then a
 * continuation carries on) or a stop is requested (the checkpoint stays for the redelivery). */
static jt_task_outcome_t run_chunks(range_run_t *run, jt_error_t *err) {
        int budget_s = run->task->time_budget_s > 0
                           ? run->task->time_budget_s
                           : (int)jt_config_int(run->env->cfg, "task-budget");
        int64_t started = jt_task_mono_ms();
        jt_task_outcome_t outcome = JT_TASK_DONE;

        open_cursors(run);
        if (!send_event(run, JT_STATUS_TASK_STARTED, err))
                return JT_TASK_RETRY;
        while (outcome == JT_TASK_DONE && !run->users_end) {
                if (*run->env->stop)
                        return JT_TASK_STOPPED;
                if (run->have_after && jt_task_mono_ms() - started >= (int64_t)budget_s * 1000) {
                        /* Released first, so that the continuation need not wait for it. */
                        if (!jt_jobs_release_range(run->client, run->env->db, run->task->job_id,
                                                   run->key, run->holder, err))
                                return JT_TASK_RETRY;
                        return send_continuation(run, err);
                }
                outcome = process_chunk(run, err);
                if (outcome == JT_TASK_DONE &&
                    jt_task_mono_ms() - run->last_progress >= PROGRESS_EVERY_MS) {
                        if (!send_event(run, JT_STATUS_TASK_PROGRESS, err))
                                outcome = JT_TASK_RETRY;
                        run->last_progress = jt_task_mono_ms();
                }
                if (outcome == JT_TASK_DONE && !run->users_end)
                        /* --chunk-delay-ms spares the database; a stop ends the pause */
                        jt_task_sleep(run->env,
                                      (int)jt_config_int(run->env->cfg, "chunk-delay-ms"));
        }
        return outcome == JT_TASK_DONE ? finish_range(run, err) : outcome;
}

static void run_free(range_run_t *run) {
        chunk_clear(run);
        jt_stats_writes_discard(&run->writes);
        if (run->play_next)
                bson_destroy(run->play_next);
        mongoc_cursor_destroy(run->play_cur);
        mongoc_cursor_destroy(run->user_cur);
        mongoc_collection_destroy(run->notifications);
        mongoc_collection_destroy(run->musicians);
        mongoc_collection_destroy(run->stats);
        mongoc_collection_destroy(run->playbacks);
        mongoc_collection_destroy(run->users);
        jt_stats_acc_destroy(run->acc);
}

static jt_task_outcome_t run_range(const jt_task_env_t *env, const jt_stats_task_t *task,
                                   jt_error_t *err) {
        range_run_t run = {.env = env, .task = task};
        int year = 0, month = 0;
        int64_t prev_end = 0;
        char name[64], nonce[JT_JOBS_NONCE_SIZE];
        jt_job_view_t view;
        bool proceed = false;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        run.root_id = task->parent_task_id ? task->parent_task_id : task->task_id;
        if (sscanf(task->month, "%4d-%2d", &year, &month) != 2 ||
            !jt_stats_month_range(year, month, &run.start_ms, &run.end_ms, err) ||
            !jt_stats_month_range(month == 1 ? year - 1 : year, month == 1 ? 12 : month - 1,
                                  &run.prev_start_ms, &prev_end, err) ||
            !jt_jobs_task_key(task->job_id, run.root_id, run.key, sizeof(run.key), err))
                return JT_TASK_PERMANENT;
        run.client = mongoc_client_pool_pop(env->pool);
        outcome = jt_task_admit(env, run.client, task->job_id, task->run_nonce, task->task_id,
                                run.root_id, run.key, &view, &proceed, err);
        if (outcome == JT_TASK_DONE && view.exists && view.same_run)
                outcome = range_planned(task, &view, err);
        if (outcome == JT_TASK_DONE && proceed)
                outcome =
                    jt_task_agrees(&view, task->task_id, task->test_mode, task->month, 0, err);
        if (outcome != JT_TASK_DONE || !proceed) {
                mongoc_client_pool_push(env->pool, run.client);
                return outcome;
        }
        if (view.recorded) {
                outcome = range_done_before(env, task, &view, err);
                mongoc_client_pool_push(env->pool, run.client);
                return outcome;
        }
        /* A month a cleanup may have cut into is never recomputed: its stored entries stay. */
        if ((outcome = month_whole(env, run.client, task, run.start_ms, err)) != JT_TASK_DONE ||
            !(run.acc = jt_stats_acc_new(year, month, err))) {
                mongoc_client_pool_push(env->pool, run.client);
                return outcome != JT_TASK_DONE ? outcome : JT_TASK_PERMANENT;
        }
        run.chunk = (size_t)jt_config_int(env->cfg, "chunk-users");
        run.lease_ms = RANGE_LEASE_MS + jt_config_int(env->cfg, "chunk-delay-ms");
        if (!jt_jobs_new_nonce(nonce, err)) {
                jt_stats_acc_destroy(run.acc);
                mongoc_client_pool_push(env->pool, run.client);
                return JT_TASK_RETRY;
        }
        snprintf(run.holder, sizeof(run.holder), "%s#%.8s", env->worker_id, nonce);
        run.per_user = strcmp(jt_config_str(env->cfg, "playback-reads"), "per-user") == 0;
        run.users = mongoc_client_get_collection(
            run.client, env->db, coll_name(task->test_mode, "users", name, sizeof(name)));
        run.playbacks = mongoc_client_get_collection(
            run.client, env->db, coll_name(task->test_mode, "playbacks", name, sizeof(name)));
        run.stats = mongoc_client_get_collection(
            run.client, env->db, coll_name(task->test_mode, "stats", name, sizeof(name)));
        run.notifications = mongoc_client_get_collection(
            run.client, env->db, coll_name(task->test_mode, "notifications", name, sizeof(name)));
        run.musicians = mongoc_client_get_collection(run.client, env->db, "musicians");
        run.writes = (jt_stats_writes_t){.stats = run.stats,
                                         .start_ms = run.start_ms,
                                         .end_ms = run.end_ms,
                                         .updated_at_ms = task->created_at_ms};
        outcome = resume_point(&run, &view, err);
        if (outcome == JT_TASK_DONE) {
                jt_error_t ignored;
                outcome = run_chunks(&run, err);
                /* Whatever the end, the next run of the range may start at once (a crash
                 * leaves the lease to lapse instead). */
                jt_jobs_release_range(run.client, env->db, task->job_id, run.key, run.holder,
                                      &ignored);
        }
        run_free(&run);
        mongoc_client_pool_push(env->pool, run.client);
        return outcome;
}

jt_task_outcome_t jt_stats_task_run(const jt_task_env_t *env, const jt_stats_task_t *task,
                                    jt_error_t *err) {
        if (task->kind == JT_STATS_TASK_FINALIZE)
                return jt_stats_finalize_run(env, task, err);
        if (task->kind == JT_STATS_TASK_SHARD) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "task %s is a hash shard (stats task v1/v2): this worker runs user "
                             "ranges (v3); send the job again with a current producer "
                             "(--run-id for a new run)",
                             task->task_id);
                return JT_TASK_PERMANENT;
        }
        return run_range(env, task, err);
}
