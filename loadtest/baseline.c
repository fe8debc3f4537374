/* `joytify-loadtest baseline stats|cleanup`: the original Lambda functions' algorithms (the
 * system this repository replaces, README.md), single process, on the same data, so the fleet
 * is compared with what it replaces. stats: the users with a stats entry for the month (the app
 * kept the entries up to date itself; nothing was recomputed), ONE notification, $addToSet to
 * the opted-in ones. cleanup: count before the cutoff; one deleteMany when it fits one batch,
 * otherwise a cursor over the _ids deleted by unordered bulks of --batch-size deleteOne with
 * --batch-delay-ms between them, stopping after --time-budget. */
#include "baseline.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jt_bson.h"
#include "jt_cleanup_result.h"
#include "jt_time.h"
#include "jt_job_ids.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_startup.h"
#include "db_command.h"

#define USERS_PER_PUSH 1000 /* user ids per updateMany (the original passed them all at once) */

static const jt_opt_t baseline_opts[] = {
    {"month", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "YYYY-MM",
     "stats: the month (default: the previous complete UTC month)"},
    {"retention-days", 0, JT_OPT_INT, "60", 7, 36500, NULL, false, "DAYS",
     "cleanup: CLEANUP_DAYS, delete what is older than now minus this"},
    {"at", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "TS",
     "cleanup: count the cutoff from this UTC time instead of now"},
    {"batch-size", 0, JT_OPT_INT, "10000", 1, 1000000, NULL, false, "N",
     "cleanup: CLEANUP_BATCH_SIZE, deleteOne operations per bulk"},
    {"batch-delay-ms", 0, JT_OPT_INT, "100", 0, 60000, NULL, false, "MS",
     "cleanup: CLEANUP_BATCH_DELAY_MS, sleep between bulks"},
    {"time-budget", 0, JT_OPT_INT, "840", 1, 86400, NULL, false, "SECONDS",
     "cleanup: stop after this long (the original: 14 minutes of a 15-minute Lambda)"},
    {"test-mode", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL, "work on the test-* collections"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

const jt_opt_t *const jt_baseline_tables[] = {baseline_opts, jt_opts_mongo, jt_opts_log, NULL};

static bool fail_db(const char *what, const bson_error_t *error) {
        char text[sizeof(error->message)];

        fprintf(stderr, "joytify-loadtest baseline: %s: %s\n", what,
                jt_mongo_error_text(error, text, sizeof(text)));
        return false;
}

/* $addToSet of the notification to the opted-in users among ids[0..n). */
static bool push_notification(mongoc_collection_t *users, const bson_oid_t *nid,
                              const bson_oid_t *ids, size_t n, int64_t *updated) {
        bson_t filter = BSON_INITIALIZER, reply;
        bson_t *update = BCON_NEW("$addToSet", "{", "notifications", "{", "id", BCON_OID(nid),
                                  "viewed", BCON_BOOL(false), "read", BCON_BOOL(false), "}", "}");
        bson_error_t error;
        bson_iter_t it;
        bool ok;

        jt_bson_append_oid_in(&filter, "_id", ids, n);
        BSON_APPEND_BOOL(&filter, "userPreferences.notifications.monthlyStatistic", true);
        ok = mongoc_collection_update_many(users, &filter, update, NULL, &reply, &error);
        if (ok && bson_iter_init_find(&it, &reply, "modifiedCount") && BSON_ITER_HOLDS_NUMBER(&it))
                *updated += bson_iter_as_int64(&it);
        bson_destroy(&reply);
        bson_destroy(update);
        bson_destroy(&filter);
        return ok || fail_db("adding the notification", &error);
}

static int baseline_stats(const jt_config_t *cfg, mongoc_client_t *client) {
        char month[8];
        int64_t start_ms, end_ms, processed = 0, updated = 0;
        mongoc_collection_t *stats = jt_db_command_collection(client, cfg, "stats"),
                            *users = jt_db_command_collection(client, cfg, "users"),
                            *notifications = jt_db_command_collection(client, cfg, "notifications");
        bson_oid_t nid, *ids = malloc(USERS_PER_PUSH * sizeof(*ids));
        size_t n = 0;
        bson_error_t error;
        const bson_t *doc;
        mongoc_cursor_t *cursor = NULL;
        bson_t *filter = NULL, *opts = NULL, *note = NULL;
        int64_t t0 = jt_time_mono_ms();
        int rc = JT_EXIT_FAILURE;

        if (!ids) {
                fprintf(stderr, "joytify-loadtest baseline: out of memory\n");
                goto done;
        }
        if (!jt_db_command_month(cfg, "baseline", month, &start_ms, &end_ms)) {
                rc = JT_EXIT_USAGE;
                goto done;
        }
        /* The original: the users that have an entry for the month, then ONE notification. */
        filter = BCON_NEW("stats.createdAt", "{", "$gte", BCON_DATE_TIME(start_ms), "$lt",
                          BCON_DATE_TIME(end_ms), "}");
        opts = BCON_NEW("projection", "{", "user", BCON_INT32(1), "}");
        bson_oid_init(&nid, NULL);
        note = BCON_NEW("_id", BCON_OID(&nid), "type", "monthlyStatistic", "createdAt",
                        BCON_DATE_TIME((int64_t)time(NULL) * 1000), "updatedAt",
                        BCON_DATE_TIME((int64_t)time(NULL) * 1000));
        if (!mongoc_collection_insert_one(notifications, note, NULL, NULL, &error)) {
                fail_db("inserting the notification", &error);
                goto done;
        }
        cursor = mongoc_collection_find_with_opts(stats, filter, opts, NULL);
        while (mongoc_cursor_next(cursor, &doc)) {
                bson_iter_t it;
                if (!bson_iter_init_find(&it, doc, "user") || !BSON_ITER_HOLDS_OID(&it))
                        continue;
                bson_oid_copy(bson_iter_oid(&it), &ids[n++]);
                processed++;
                if (n == USERS_PER_PUSH) {
                        if (!push_notification(users, &nid, ids, n, &updated))
                                goto done;
                        n = 0;
                }
        }
        if (mongoc_cursor_error(cursor, &error)) {
                fail_db("reading the month's stats documents", &error);
                goto done;
        }
        if (n && !push_notification(users, &nid, ids, n, &updated))
                goto done;
        printf("baseline stats %s: usersProcessed %" PRId64 ", usersUpdated %" PRId64
               ", notificationsCreated 1 in %.2f s\n",
               month, processed, updated, (double)(jt_time_mono_ms() - t0) / 1000);
        rc = JT_EXIT_OK;
done:
        if (cursor)
                mongoc_cursor_destroy(cursor);
        if (note)
                bson_destroy(note);
        if (opts)
                bson_destroy(opts);
        if (filter)
                bson_destroy(filter);
        free(ids);
        mongoc_collection_destroy(notifications);
        mongoc_collection_destroy(users);
        mongoc_collection_destroy(stats);
        return rc;
}

static bool run_bulk(mongoc_bulk_operation_t *bulk, int64_t *deleted) {
        bson_t reply;
        bson_error_t error;
        bson_iter_t it;
        bool ok = mongoc_bulk_operation_execute(bulk, &reply, &error) != 0;

        if (ok && bson_iter_init_find(&it, &reply, "nRemoved") && BSON_ITER_HOLDS_NUMBER(&it))
                *deleted += bson_iter_as_int64(&it);
        bson_destroy(&reply);
        mongoc_bulk_operation_destroy(bulk);
        return ok || fail_db("deleting a batch", &error);
}

/* Everything found fits one batch: one deleteMany. */
static bool delete_direct(mongoc_collection_t *playbacks, const bson_t *filter, int64_t *deleted) {
        bson_t reply;
        bson_error_t error;
        bson_iter_t it;
        bool ok = mongoc_collection_delete_many(playbacks, filter, NULL, &reply, &error);

        if (ok && bson_iter_init_find(&it, &reply, "deletedCount") && BSON_ITER_HOLDS_NUMBER(&it))
                *deleted = bson_iter_as_int64(&it);
        bson_destroy(&reply);
        return ok || fail_db("deleteMany", &error);
}

/* The original's batch mode: a cursor over the _ids, unordered bulks of --batch-size deleteOne
 * with --batch-delay-ms between them, stopping once --time-budget (counted from t0_ms) is
 * spent. */
static bool delete_in_batches(const jt_config_t *cfg, mongoc_collection_t *playbacks,
                              const bson_t *filter, int64_t t0_ms, int64_t *deleted,
                              bool *timed_out) {
        int64_t batch = jt_config_int(cfg, "batch-size");
        int64_t delay_ms = jt_config_int(cfg, "batch-delay-ms");
        int64_t budget_ms = jt_config_int(cfg, "time-budget") * 1000;
        bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}");
        bson_t *bulk_opts = BCON_NEW("ordered", BCON_BOOL(false));
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(playbacks, filter, opts, NULL);
        mongoc_bulk_operation_t *bulk = NULL;
        const bson_t *doc;
        bson_error_t error;
        int64_t queued = 0;
        bool ok = true;

        while (ok && mongoc_cursor_next(cursor, &doc)) {
                bson_iter_t it;
                bson_t sel = BSON_INITIALIZER;
                if (!bson_iter_init_find(&it, doc, "_id"))
                        continue;
                if (!bulk)
                        bulk =
                            mongoc_collection_create_bulk_operation_with_opts(playbacks, bulk_opts);
                bson_append_iter(&sel, "_id", -1, &it);
                mongoc_bulk_operation_remove_one_with_opts(bulk, &sel, NULL, NULL);
                bson_destroy(&sel);
                if (++queued < batch)
                        continue;
                ok = run_bulk(bulk, deleted);
                bulk = NULL;
                queued = 0;
                if (jt_time_mono_ms() - t0_ms >= budget_ms) {
                        *timed_out = true;
                        break;
                }
                if (delay_ms > 0)
                        usleep((useconds_t)delay_ms * 1000);
        }
        if (ok && bulk && queued > 0) {
                ok = run_bulk(bulk, deleted);
                bulk = NULL;
        }
        if (bulk)
                mongoc_bulk_operation_destroy(bulk);
        if (ok && mongoc_cursor_error(cursor, &error))
                ok = fail_db("reading the _ids", &error);
        mongoc_cursor_destroy(cursor);
        bson_destroy(bulk_opts);
        bson_destroy(opts);
        return ok;
}

static int baseline_cleanup(const jt_config_t *cfg, mongoc_client_t *client) {
        int64_t cutoff_ms, found, deleted = 0, t0 = jt_time_mono_ms();
        char cutoff_iso[JT_TIME_ISO_BUF];
        const char *mode = "none";
        bool timed_out = false, ok;
        mongoc_collection_t *playbacks;
        bson_t *filter;
        bson_error_t error;

        if (!jt_db_command_cutoff(cfg, "baseline", &cutoff_ms, cutoff_iso))
                return JT_EXIT_USAGE;
        playbacks = jt_db_command_collection(client, cfg, "playbacks");
        filter = BCON_NEW("createdAt", "{", "$lt", BCON_DATE_TIME(cutoff_ms), "}");
        found = mongoc_collection_count_documents(playbacks, filter, NULL, NULL, NULL, &error);
        if (found < 0) {
                ok = fail_db("counting", &error);
        } else if (found == 0) {
                ok = true;
        } else if (found <= jt_config_int(cfg, "batch-size")) {
                mode = "direct";
                ok = delete_direct(playbacks, filter, &deleted);
        } else {
                mode = "batch";
                ok = delete_in_batches(cfg, playbacks, filter, t0, &deleted, &timed_out);
        }
        if (ok)
                printf("baseline cleanup (cutoff %s): recordsDeleted %" PRId64
                       ", totalRecordsFound %" PRId64 ", remainingRecords %" PRId64
                       ", completionPercentage %.1f, wasTimeoutStopped %s, processingMode %s in "
                       "%.2f s\n",
                       cutoff_iso, deleted, found, found - deleted,
                       jt_cleanup_result_completion_percentage(deleted, found),
                       timed_out ? "true" : "false", mode, (double)(jt_time_mono_ms() - t0) / 1000);
        bson_destroy(filter);
        mongoc_collection_destroy(playbacks);
        return ok ? JT_EXIT_OK : JT_EXIT_FAILURE;
}

int jt_baseline_run(const jt_config_t *cfg) {
        return jt_db_command_run(cfg, "baseline", baseline_stats, baseline_cleanup);
}
