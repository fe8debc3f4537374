/* A statistics shard: the month's entry of every user of the shard, computed from the
 * playbacks and written into the user's stats document in place of any entry for that month.
 * The shard's users come from the users collection by id hash; their playbacks are read with
 * one query per user and streamed into the user's figures, so memory holds one user's figures
 * (and the shard's user ids), never the shard's playbacks. */
#include "stats_task.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_bson.h"
#include "jt_jobs.h"
#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_mongo.h"
#include "jt_retention.h"
#include "jt_shard.h"
#include "jt_status.h"
#include "stats_compute.h"
#include "stats_finalize.h"

#define USERS_PER_QUERY 200 /* users whose stats documents are read and written together */
/* Playbacks are read one user per query. Measured on the local server (SecantusDB, 1,000
 * users, 500k playbacks, 2026-12-01): 200 users' month (30,000 playbacks) took 25.3 s by $in of
 * 200, 8.0 s by $in of 8 sorted by user, 4.4 s one user at a time sorted by time and 3.7 s
 * unsorted, against 3.2 s for the same share of one cursor over the whole month. So: one user,
 * by equality, unsorted (the figures do not depend on the order); a real MongoDB answers it from
 * the {user, createdAt} index as well. */
#define NAME_CACHE_SIZE   1024 /* top artists are few and popular: a small cache saves reads */
#define PROGRESS_EVERY_MS 1000

typedef struct {
        const jt_task_env_t *env;
        const jt_stats_task_t *task;
        mongoc_client_t *client;
        mongoc_collection_t *users, *playbacks, *stats, *musicians;
        int64_t start_ms, end_ms, prev_start_ms;
        jt_stats_acc_t *acc;
        bson_oid_t *ids; /* the shard's users, sorted */
        size_t id_count;
        int64_t with_entry, bad_rows, users_done;
        int64_t last_progress;
        /* The chunk being processed: its users' stats documents, read in one query, and the
         * writes, sent as one unordered bulk (preceded by a bulk of the drift's removals, which
         * must land before the entry is added). Every write must match its document (or insert
         * it): a guard that fails means the document changed since it was read. */
        size_t chunk_from, chunk_to;
        bson_t *stored[USERS_PER_QUERY];
        mongoc_bulk_operation_t *bulk, *pulls;
        size_t bulk_ops, pull_ops;
        /* Artist names by id (open addressing; cleared when full). */
        bson_oid_t name_ids[NAME_CACHE_SIZE];
        char *names[NAME_CACHE_SIZE];
        bool name_used[NAME_CACHE_SIZE];
        size_t names_count;
} shard_run_t;

static jt_task_outcome_t db_failed(const bson_error_t *error, jt_error_t *err, const char *what) {
        if (jt_mongo_error_is_transient(error))
                jt_error_set_transient(err, JT_ERR_MONGO, (int)error->code, "%s: %s", what,
                                       error->message);
        else
                jt_error_set(err, JT_ERR_MONGO, (int)error->code, "%s: %s", what, error->message);
        return JT_TASK_RETRY; /* bounded by --max-attempts, then the DLQ */
}

static const char *coll_name(bool test_mode, const char *base, char *buf, size_t size) {
        snprintf(buf, size, "%s%s", test_mode ? "test-" : "", base);
        return buf;
}

static int oid_cmp(const void *a, const void *b) {
        return bson_oid_compare(a, b);
}

static jt_task_outcome_t list_shard_users(shard_run_t *run, jt_error_t *err) {
        bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}");
        bson_t filter = BSON_INITIALIZER;
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(run->users, &filter, opts, NULL);
        const bson_t *doc;
        bson_error_t error;
        bson_iter_t it;
        size_t cap = 0;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        while (mongoc_cursor_next(cursor, &doc)) {
                if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it))
                        continue; /* not an app user */
                if (jt_shard_of(bson_iter_oid(&it), (uint32_t)run->task->shard_count) !=
                    (uint32_t)run->task->shard)
                        continue;
                if (run->id_count == cap) {
                        cap = cap ? cap * 2 : 256;
                        bson_oid_t *grown = realloc(run->ids, cap * sizeof(*grown));
                        if (!grown) {
                                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                                outcome = JT_TASK_RETRY;
                                break;
                        }
                        run->ids = grown;
                }
                bson_oid_copy(bson_iter_oid(&it), &run->ids[run->id_count++]);
        }
        if (mongoc_cursor_error(cursor, &error))
                outcome = db_failed(&error, err, "listing the shard's users");
        mongoc_cursor_destroy(cursor);
        bson_destroy(&filter);
        bson_destroy(opts);
        if (run->id_count > 1)
                qsort(run->ids, run->id_count, sizeof(*run->ids), oid_cmp);
        return outcome;
}

static bool date_in(const bson_t *entry, int64_t from, int64_t to) {
        bson_iter_t it;
        int64_t t;

        if (!bson_iter_init_find(&it, entry, "createdAt") || !BSON_ITER_HOLDS_DATE_TIME(&it))
                return false;
        t = bson_iter_date_time(&it);
        return t >= from && t < to;
}

static size_t name_slot(shard_run_t *run, const bson_oid_t *artist, bool *found) {
        size_t i = bson_oid_hash(artist) % NAME_CACHE_SIZE;

        while (run->name_used[i] && !bson_oid_equal(&run->name_ids[i], artist))
                i = (i + 1) % NAME_CACHE_SIZE;
        *found = run->name_used[i];
        return i;
}

static void name_cache_clear(shard_run_t *run) {
        for (size_t i = 0; i < NAME_CACHE_SIZE; i++) {
                free(run->names[i]);
                run->names[i] = NULL;
                run->name_used[i] = false;
        }
        run->names_count = 0;
}

/* The artist's name from musicians (NULL when none), cached. *failed on a database error. */
static const char *artist_name(shard_run_t *run, const bson_oid_t *artist, bool *failed,
                               jt_error_t *err) {
        bson_t *filter, *opts;
        mongoc_cursor_t *cursor;
        const bson_t *doc;
        bson_error_t error;
        bson_iter_t it;
        bool found;
        size_t slot = name_slot(run, artist, &found);

        *failed = false;
        if (found)
                return run->names[slot];
        if (run->names_count >= NAME_CACHE_SIZE / 2) {
                name_cache_clear(run);
                slot = name_slot(run, artist, &found);
        }
        filter = BCON_NEW("_id", BCON_OID(artist));
        opts = BCON_NEW("projection", "{", "name", BCON_INT32(1), "}", "limit", BCON_INT64(1));
        cursor = mongoc_collection_find_with_opts(run->musicians, filter, opts, NULL);
        if (mongoc_cursor_next(cursor, &doc)) {
                if (bson_iter_init_find(&it, doc, "name") && BSON_ITER_HOLDS_UTF8(&it))
                        run->names[slot] = strdup(bson_iter_utf8(&it, NULL));
        } else if (mongoc_cursor_error(cursor, &error)) {
                db_failed(&error, err, "reading the top artist's name");
                *failed = true;
        }
        if (!*failed) {
                bson_oid_copy(artist, &run->name_ids[slot]);
                run->name_used[slot] = true;
                run->names_count++;
        }
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(filter);
        return run->names[slot];
}

/* The chunk's users' stats documents, by position in the chunk. */
static jt_task_outcome_t read_chunk_docs(shard_run_t *run, jt_error_t *err) {
        bson_t filter = BSON_INITIALIZER;
        mongoc_cursor_t *cursor;
        const bson_t *doc;
        bson_error_t error;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        jt_bson_append_oid_in(&filter, "user", run->ids + run->chunk_from,
                              run->chunk_to - run->chunk_from);
        cursor = mongoc_collection_find_with_opts(run->stats, &filter, NULL, NULL);
        while (mongoc_cursor_next(cursor, &doc)) {
                bson_iter_t it;
                bson_oid_t *hit;
                if (!bson_iter_init_find(&it, doc, "user") || !BSON_ITER_HOLDS_OID(&it))
                        continue;
                hit = bsearch(bson_iter_oid(&it), run->ids + run->chunk_from,
                              run->chunk_to - run->chunk_from, sizeof(*run->ids), oid_cmp);
                if (hit && !run->stored[hit - (run->ids + run->chunk_from)])
                        run->stored[hit - (run->ids + run->chunk_from)] = bson_copy(doc);
        }
        if (mongoc_cursor_error(cursor, &error))
                outcome = db_failed(&error, err, "reading the chunk's stats documents");
        mongoc_cursor_destroy(cursor);
        bson_destroy(&filter);
        return outcome;
}

static void chunk_docs_free(shard_run_t *run) {
        for (size_t i = 0; i < USERS_PER_QUERY; i++) {
                if (run->stored[i])
                        bson_destroy(run->stored[i]);
                run->stored[i] = NULL;
        }
}

/* The stored stats document of a user of the current chunk, or NULL. */
static const bson_t *stored_doc(shard_run_t *run, const bson_oid_t *user) {
        bson_oid_t *hit = bsearch(user, run->ids + run->chunk_from, run->chunk_to - run->chunk_from,
                                  sizeof(*run->ids), oid_cmp);
        return hit ? run->stored[hit - (run->ids + run->chunk_from)] : NULL;
}

static void flush_discard(shard_run_t *run) {
        mongoc_bulk_operation_destroy(run->pulls);
        mongoc_bulk_operation_destroy(run->bulk);
        run->pulls = run->bulk = NULL;
        run->pull_ops = run->bulk_ops = 0;
}

/* Sends one bulk and checks that each of its `ops` writes matched (or inserted) its document. */
static jt_task_outcome_t execute_bulk(mongoc_bulk_operation_t *bulk, size_t ops, jt_error_t *err) {
        bson_t reply;
        bson_error_t error;
        bson_iter_t it;
        int64_t matched = 0;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        if (!bulk || !ops)
                return JT_TASK_DONE;
        if (!mongoc_bulk_operation_execute(bulk, &reply, &error))
                outcome = db_failed(&error, err, "writing the chunk's stats documents");
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
        }
        bson_destroy(&reply);
        return outcome;
}

static jt_task_outcome_t flush_writes(shard_run_t *run, jt_error_t *err) {
        jt_task_outcome_t outcome = execute_bulk(run->pulls, run->pull_ops, err);

        if (outcome == JT_TASK_DONE)
                outcome = execute_bulk(run->bulk, run->bulk_ops, err);
        flush_discard(run);
        return outcome;
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
static bool month_view(shard_run_t *run, const bson_oid_t *user, const bson_t *stored,
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
                if (is_doc && date_in(&old, run->start_ms, run->end_ms)) {
                        view->in_month++;
                        continue;
                }
                if (!placed && is_doc && !date_in(&old, INT64_MIN, entry_at))
                        placed = true;
                if (!placed)
                        view->position++;
        }
        return true;
}

/* {createdAt: {$gte: start, $lt: end}}: an entry of the month. */
static void append_month_range(shard_run_t *run, bson_t *doc) {
        bson_t range;

        BSON_APPEND_DOCUMENT_BEGIN(doc, "createdAt", &range);
        BSON_APPEND_DATE_TIME(&range, "$gte", run->start_ms);
        BSON_APPEND_DATE_TIME(&range, "$lt", run->end_ms);
        bson_append_document_end(doc, &range);
}

typedef enum {
        GUARD_NONE,     /* {user: U} */
        GUARD_IN_MONTH, /* and stats: {$elemMatch: <an entry of the month>} */
        GUARD_NO_MONTH, /* and stats: {$not: {$elemMatch: <an entry of the month>}} */
} guard_t;

static bson_t *user_filter(shard_run_t *run, const bson_oid_t *user, guard_t guard) {
        bson_t *filter = BCON_NEW("user", BCON_OID(user));
        bson_t stats, not_, match;

        if (guard == GUARD_NONE)
                return filter;
        BSON_APPEND_DOCUMENT_BEGIN(filter, "stats", &stats);
        if (guard == GUARD_NO_MONTH) {
                BSON_APPEND_DOCUMENT_BEGIN(&stats, "$not", &not_);
                BSON_APPEND_DOCUMENT_BEGIN(&not_, "$elemMatch", &match);
                append_month_range(run, &match);
                bson_append_document_end(&not_, &match);
                bson_append_document_end(&stats, &not_);
        } else {
                BSON_APPEND_DOCUMENT_BEGIN(&stats, "$elemMatch", &match);
                append_month_range(run, &match);
                bson_append_document_end(&stats, &match);
        }
        bson_append_document_end(filter, &stats);
        return filter;
}

/* {$pull: {stats: <the month's entries>}, $set: {updatedAt}} */
static bson_t *pull_update(shard_run_t *run) {
        bson_t *update = bson_new();
        bson_t pull, cond;

        BSON_APPEND_DOCUMENT_BEGIN(update, "$pull", &pull);
        BSON_APPEND_DOCUMENT_BEGIN(&pull, "stats", &cond);
        append_month_range(run, &cond);
        bson_append_document_end(&pull, &cond);
        bson_append_document_end(update, &pull);
        BCON_APPEND(update, "$set", "{", "updatedAt", BCON_DATE_TIME(run->task->created_at_ms),
                    "}");
        return update;
}

/* Queues one update into *bulk (created on first use); takes filter and update. */
static jt_task_outcome_t queue_update(shard_run_t *run, mongoc_bulk_operation_t **bulk, size_t *ops,
                                      bson_t *filter, bson_t *update, bool upsert,
                                      jt_error_t *err) {
        bson_t opts = BSON_INITIALIZER;
        bson_error_t error;
        bool ok;

        if (!*bulk) {
                bson_t bulk_opts = BSON_INITIALIZER;
                BSON_APPEND_BOOL(&bulk_opts, "ordered", false);
                *bulk = mongoc_collection_create_bulk_operation_with_opts(run->stats, &bulk_opts);
                bson_destroy(&bulk_opts);
        }
        BSON_APPEND_BOOL(&opts, "upsert", upsert);
        ok = mongoc_bulk_operation_update_one_with_opts(*bulk, filter, update, &opts, &error);
        if (ok)
                (*ops)++;
        bson_destroy(&opts);
        bson_destroy(update);
        bson_destroy(filter);
        return ok ? JT_TASK_DONE : db_failed(&error, err, "queueing a stats document write");
}

/* Writes entry as the user's entry of the month (entry NULL: removes the month's entries, for a
 * user without playback this month), touching nothing else of the document: the app may write
 * to it meanwhile. One entry of the month is replaced in place; none: the entry is inserted in
 * chronological order (the document created if there is none); several (drift left by the
 * app's incremental updates): they are removed first. Each write is guarded by the state it was
 * decided on, so a concurrent change makes it miss (flush_writes retries). */
static jt_task_outcome_t write_entry(shard_run_t *run, const bson_oid_t *user, const bson_t *stored,
                                     const bson_t *entry, jt_error_t *err) {
        bson_iter_t it;
        int64_t entry_at = 0;
        month_view_t view;
        bson_t *update;
        jt_task_outcome_t outcome;

        if (entry && bson_iter_init_find(&it, entry, "createdAt"))
                entry_at = bson_iter_date_time(&it);
        if (!month_view(run, user, stored, entry_at, &view, err))
                return JT_TASK_PERMANENT;
        if (!entry)
                return view.in_month == 0 ? JT_TASK_DONE
                                          : queue_update(run, &run->bulk, &run->bulk_ops,
                                                         user_filter(run, user, GUARD_NONE),
                                                         pull_update(run), false, err);
        if (view.in_month == 1) {
                update = BCON_NEW("$set", "{", "stats.$", BCON_DOCUMENT(entry), "updatedAt",
                                  BCON_DATE_TIME(run->task->created_at_ms), "}");
                return queue_update(run, &run->bulk, &run->bulk_ops,
                                    user_filter(run, user, GUARD_IN_MONTH), update, false, err);
        }
        if (view.in_month > 1) {
                outcome =
                    queue_update(run, &run->pulls, &run->pull_ops,
                                 user_filter(run, user, GUARD_NONE), pull_update(run), false, err);
                if (outcome != JT_TASK_DONE)
                        return outcome;
        }
        update = BCON_NEW("$push", "{", "stats", "{", "$each", "[", BCON_DOCUMENT(entry), "]",
                          "$position", BCON_INT32((int32_t)view.position), "}", "}", "$set", "{",
                          "updatedAt", BCON_DATE_TIME(run->task->created_at_ms), "}");
        if (!view.have_doc) /* the upsert creates it: the unique index stops a second one */
                BCON_APPEND(update, "$setOnInsert", "{", "createdAt",
                            BCON_DATE_TIME(run->task->created_at_ms), "}");
        return queue_update(run, &run->bulk, &run->bulk_ops, user_filter(run, user, GUARD_NO_MONTH),
                            update, !view.have_doc, err);
}

/* The entry of one user whose month is in run->acc. */
static jt_task_outcome_t finish_user(shard_run_t *run, const bson_oid_t *user, jt_error_t *err) {
        const bson_t *stored = stored_doc(run, user);
        bson_t entry = BSON_INITIALIZER;
        bson_iter_t it, child;
        double prev_total = 0;
        bool have_prev = false, name_failed = false;
        bson_oid_t top;
        const char *name = NULL;
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
                            date_in(&old, run->prev_start_ms, run->start_ms) &&
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
        outcome = write_entry(run, user, stored, &entry, err);
        if (outcome == JT_TASK_DONE) {
                run->with_entry++;
                jt_metrics_documents(run->env->metrics, "written", 1);
        }
done:
        bson_destroy(&entry);
        return outcome;
}

static bool send_event(shard_run_t *run, jt_status_type_t type, jt_error_t *err) {
        jt_status_event_t ev = {.job_id = run->task->job_id,
                                .task_id = run->task->task_id,
                                .type = type,
                                .job_kind = JT_JOB_KIND_STATS,
                                .timestamp_ms = jt_task_now_ms(),
                                .worker_id = (char *)run->env->worker_id,
                                .test_mode = run->task->test_mode,
                                .month = run->task->month,
                                .progress_done = {true, run->users_done},
                                .progress_total = {true, (int64_t)run->id_count}};
        if (type == JT_STATUS_TASK_FINISHED) {
                ev.users_processed = (jt_opt_long_t){true, run->with_entry};
                ev.tasks_done = (jt_opt_long_t){true, 1};
        }
        return jt_status_send(run->env->producer, run->env->reg, run->env->status_topic, &ev, err);
}

/* Users of a chunk without playback this month: a month entry they still have is drift (the
 * app's incremental updates counted playbacks that are not there), so it goes. A `stats` that is
 * not an array is left alone: there is nothing to write for these users. */
static jt_task_outcome_t clear_stale_entries(shard_run_t *run, const bson_oid_t *users, size_t n,
                                             jt_error_t *err) {
        jt_task_outcome_t outcome = JT_TASK_DONE;

        for (size_t i = 0; outcome == JT_TASK_DONE && i < n; i++) {
                const bson_t *doc = stored_doc(run, &users[i]);
                bson_iter_t st;
                if (doc && bson_iter_init_find(&st, doc, "stats") && BSON_ITER_HOLDS_ARRAY(&st))
                        outcome = write_entry(run, &users[i], doc, NULL, err);
        }
        return outcome;
}

/* Streams the month's playbacks of user `from` of the shard, finishing its entry. seen[i] marks
 * user chunk_from + i as having playbacks. */
static jt_task_outcome_t read_playbacks(shard_run_t *run, size_t from, bool *seen,
                                        jt_error_t *err) {
        bson_t filter = BSON_INITIALIZER, range;
        bson_t *opts =
            BCON_NEW("projection", "{", "user", BCON_INT32(1), "song", BCON_INT32(1), "artist",
                     BCON_INT32(1), "duration", BCON_INT32(1), "createdAt", BCON_INT32(1), "}");
        mongoc_cursor_t *cursor;
        const bson_t *doc;
        bson_error_t error;
        bson_oid_t current;
        bool have_current = false;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        BSON_APPEND_OID(&filter, "user", &run->ids[from]);
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "createdAt", &range);
        BSON_APPEND_DATE_TIME(&range, "$gte", run->start_ms);
        BSON_APPEND_DATE_TIME(&range, "$lt", run->end_ms);
        bson_append_document_end(&filter, &range);

        cursor = mongoc_collection_find_with_opts(run->playbacks, &filter, opts, NULL);
        while (outcome == JT_TASK_DONE && mongoc_cursor_next(cursor, &doc)) {
                bson_iter_t it;
                const bson_oid_t *user = NULL, *song = NULL, *artist = NULL;
                double duration = 0;
                int64_t at = 0;
                jt_error_t row_err;

                jt_metrics_documents(run->env->metrics, "read", 1);
                if (bson_iter_init_find(&it, doc, "user") && BSON_ITER_HOLDS_OID(&it))
                        user = bson_iter_oid(&it);
                if (!user) {
                        run->bad_rows++;
                        continue;
                }
                if (have_current && !bson_oid_equal(user, &current)) {
                        if (*run->env->stop) {
                                outcome = JT_TASK_STOPPED;
                                break;
                        }
                        outcome = finish_user(run, &current, err);
                        jt_stats_acc_reset(run->acc);
                        run->users_done++;
                }
                if (!have_current || !bson_oid_equal(user, &current)) {
                        bson_oid_t *hit =
                            bsearch(user, run->ids + run->chunk_from,
                                    run->chunk_to - run->chunk_from, sizeof(*run->ids), oid_cmp);
                        if (hit)
                                seen[hit - (run->ids + run->chunk_from)] = true;
                        bson_oid_copy(user, &current);
                        have_current = true;
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
                                outcome = JT_TASK_RETRY;
                        }
                        run->bad_rows++; /* a malformed playback never stops the month */
                }
        }
        if (outcome == JT_TASK_DONE && mongoc_cursor_error(cursor, &error))
                outcome = db_failed(&error, err, "reading the shard's playbacks");
        if (outcome == JT_TASK_DONE && have_current) {
                outcome = finish_user(run, &current, err);
                jt_stats_acc_reset(run->acc);
                run->users_done++;
        }
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(&filter);
        return outcome;
}

/* Users [from, to) of the shard: their stats documents in one query, their playbacks in one
 * query per user, their entries written in one unordered bulk. */
static jt_task_outcome_t process_chunk(shard_run_t *run, size_t from, size_t to, jt_error_t *err) {
        bool *seen = calloc(to - from, sizeof(*seen));
        bson_oid_t *unseen = calloc(to - from, sizeof(*unseen));
        size_t unseen_count = 0;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        if (!seen || !unseen) {
                free(seen);
                free(unseen);
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                return JT_TASK_RETRY;
        }
        run->chunk_from = from;
        run->chunk_to = to;
        outcome = read_chunk_docs(run, err);
        for (size_t i = from; outcome == JT_TASK_DONE && i < to; i++)
                outcome = read_playbacks(run, i, seen, err);
        for (size_t i = 0; outcome == JT_TASK_DONE && i < to - from; i++)
                if (!seen[i])
                        bson_oid_copy(&run->ids[from + i], &unseen[unseen_count++]);
        if (outcome == JT_TASK_DONE)
                outcome = clear_stale_entries(run, unseen, unseen_count, err);
        /* The chunk's writes go out together; a failure leaves them for the retry. */
        if (outcome == JT_TASK_DONE)
                outcome = flush_writes(run, err);
        else
                flush_discard(run);
        chunk_docs_free(run);
        /* Users of the chunk without playback this month count as done too. */
        if (outcome == JT_TASK_DONE)
                run->users_done = (int64_t)to;
        free(seen);
        free(unseen);
        return outcome;
}

static jt_task_outcome_t finish_shard(shard_run_t *run, const char *key, jt_error_t *err) {
        const jt_task_env_t *env = run->env;
        const jt_stats_task_t *task = run->task;
        bson_t *result;
        bool recorded = false, complete = false;

        result = BCON_NEW("users", BCON_INT64((int64_t)run->id_count), "withEntry",
                          BCON_INT64(run->with_entry), "badRows", BCON_INT64(run->bad_rows),
                          "finishedBy", BCON_UTF8(env->worker_id));
        if (!jt_jobs_record_result(run->client, env->db, task->job_id, task->run_nonce,
                                   task->task_id, key, result, jt_task_now_ms(), &recorded,
                                   &complete, err)) {
                bson_destroy(result);
                return err->domain == JT_ERR_INPUT ? JT_TASK_REJECTED : JT_TASK_RETRY;
        }
        bson_destroy(result);
        if (!send_event(run, JT_STATUS_TASK_FINISHED, err))
                return JT_TASK_RETRY;
        jt_log_info("job=%s task=%s done: %zu users, %" PRId64 " entries written, %" PRId64
                    " bad playbacks skipped%s",
                    task->job_id, task->task_id, run->id_count, run->with_entry, run->bad_rows,
                    recorded ? "" : " (result recorded before: a redelivery)");
        if (complete && !jt_stats_finalize_send(env, task, err))
                return JT_TASK_RETRY;
        return jt_kafka_flush(env->producer, env->kafka_timeout_ms, err) ? JT_TASK_DONE
                                                                         : JT_TASK_RETRY;
}

/* A shard whose result is recorded already (a redelivery, or a replay of a failed job's shard
 * that had finished): no work again; the FINALIZE goes out if the job is complete, so that a
 * re-opened job finishes. */
static jt_task_outcome_t shard_done_before(const jt_task_env_t *env, const jt_stats_task_t *task,
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

static jt_task_outcome_t run_shard(const jt_task_env_t *env, const jt_stats_task_t *task,
                                   jt_error_t *err) {
        shard_run_t run = {.env = env, .task = task};
        int year = 0, month = 0;
        int64_t prev_end = 0;
        char name[64], key[64];
        jt_job_view_t view;
        bool proceed = false;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        if (sscanf(task->month, "%4d-%2d", &year, &month) != 2 ||
            !jt_stats_month_range(year, month, &run.start_ms, &run.end_ms, err) ||
            !jt_stats_month_range(month == 1 ? year - 1 : year, month == 1 ? 12 : month - 1,
                                  &run.prev_start_ms, &prev_end, err) ||
            !jt_jobs_task_key(task->job_id, task->task_id, key, sizeof(key), err))
                return JT_TASK_PERMANENT;
        run.client = mongoc_client_pool_pop(env->pool);
        outcome = jt_task_admit(env, run.client, task->job_id, task->run_nonce, task->task_id,
                                task->task_id, key, &view, &proceed, err);
        if (outcome == JT_TASK_DONE && proceed)
                outcome =
                    jt_task_agrees(&view, task->task_id, task->test_mode, task->month, 0, err);
        if (outcome != JT_TASK_DONE || !proceed) {
                mongoc_client_pool_push(env->pool, run.client);
                return outcome;
        }
        if (view.recorded) {
                mongoc_client_pool_push(env->pool, run.client);
                return shard_done_before(env, task, &view, err);
        }
        /* A month a cleanup may have cut into is never recomputed: its stored entries stay. */
        outcome = month_whole(env, run.client, task, run.start_ms, err);
        if (outcome != JT_TASK_DONE) {
                mongoc_client_pool_push(env->pool, run.client);
                return outcome;
        }
        if (!(run.acc = jt_stats_acc_new(year, month, err))) {
                mongoc_client_pool_push(env->pool, run.client);
                return JT_TASK_PERMANENT;
        }
        run.users = mongoc_client_get_collection(
            run.client, env->db, coll_name(task->test_mode, "users", name, sizeof(name)));
        run.playbacks = mongoc_client_get_collection(
            run.client, env->db, coll_name(task->test_mode, "playbacks", name, sizeof(name)));
        run.stats = mongoc_client_get_collection(
            run.client, env->db, coll_name(task->test_mode, "stats", name, sizeof(name)));
        run.musicians = mongoc_client_get_collection(run.client, env->db, "musicians");

        outcome = list_shard_users(&run, err);
        if (outcome == JT_TASK_DONE && !send_event(&run, JT_STATUS_TASK_STARTED, err))
                outcome = JT_TASK_RETRY;
        for (size_t from = 0; outcome == JT_TASK_DONE && from < run.id_count;
             from += USERS_PER_QUERY) {
                size_t to =
                    from + USERS_PER_QUERY < run.id_count ? from + USERS_PER_QUERY : run.id_count;
                outcome = process_chunk(&run, from, to, err);
                if (outcome == JT_TASK_DONE &&
                    jt_task_mono_ms() - run.last_progress >= PROGRESS_EVERY_MS) {
                        if (!send_event(&run, JT_STATUS_TASK_PROGRESS, err))
                                outcome = JT_TASK_RETRY;
                        run.last_progress = jt_task_mono_ms();
                }
        }
        if (outcome == JT_TASK_DONE)
                outcome = finish_shard(&run, key, err);

        mongoc_collection_destroy(run.musicians);
        mongoc_collection_destroy(run.stats);
        mongoc_collection_destroy(run.playbacks);
        mongoc_collection_destroy(run.users);
        mongoc_client_pool_push(env->pool, run.client);
        jt_stats_acc_destroy(run.acc);
        name_cache_clear(&run);
        free(run.ids);
        return outcome;
}

jt_task_outcome_t jt_stats_task_run(const jt_task_env_t *env, const jt_stats_task_t *task,
                                    jt_error_t *err) {
        if (task->kind == JT_STATS_TASK_FINALIZE)
                return jt_stats_finalize_run(env, task, err);
        return run_shard(env, task, err);
}
