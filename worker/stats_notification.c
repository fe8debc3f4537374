/* The month's notification of a statistics job: which one (the Lambda's, reused, or the job's
 * own), recorded once in the ledger, and what the FINALIZE reports of it (stats_notification.h). */
#include "stats_notification.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jt_time.h"
#include "jt_job_ids.h"
#include "jt_jobs.h"
#include "jt_log.h"

#define DUPLICATE_KEY 11000
#define TYPE          "monthlyStatistic"

bool jt_stats_notification_window(const char *month, int64_t *from_ms, int64_t *to_ms,
                                  jt_error_t *err) {
        int year = 0, mon = 0;
        int64_t ignored;
        jt_time_civil_t next;

        *from_ms = *to_ms = 0;
        if (sscanf(month, "%4d-%2d", &year, &mon) != 2 || mon < 1 || mon > 12)
                return jt_error_set(err, JT_ERR_INPUT, 0, "month must be YYYY-MM (got \"%s\")",
                                    month);
        /* From the start of the next month to the end of the one after it. */
        jt_time_month_bounds_ms(year, mon, &ignored, from_ms);
        jt_time_to_civil(*from_ms / 1000, &next);
        jt_time_month_bounds_ms((int)next.year, next.month, &ignored, to_ms);
        return true;
}

bool jt_stats_notification_driver_made(const bson_oid_t *id, int64_t created_ms) {
        int64_t embedded_s = (int64_t)bson_oid_get_time_t(id);
        int64_t created_s = created_ms >= 0 ? created_ms / 1000 : (created_ms - 999) / 1000;
        int64_t drift = embedded_s - created_s;

        return drift >= -JT_STATS_NOTIFICATION_DRIFT_S && drift <= JT_STATS_NOTIFICATION_DRIFT_S;
}

static void append_run(bson_t *query, const jt_stats_task_t *task) {
        if (task->run_nonce)
                BSON_APPEND_UTF8(query, "runNonce", task->run_nonce);
        else
                BSON_APPEND_NULL(query, "runNonce"); /* a v1 task: an entry without one */
}

/* The choice recorded in entry (notification: {id, reused}); false when there is none. */
static bool recorded(const bson_t *entry, jt_stats_notification_t *out) {
        bson_iter_t it, sub;
        bool have_id = false;

        memset(out, 0, sizeof(*out));
        if (!bson_iter_init_find(&it, entry, "notification") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
            !bson_iter_recurse(&it, &sub))
                return false;
        while (bson_iter_next(&sub)) {
                if (strcmp(bson_iter_key(&sub), "id") == 0 && BSON_ITER_HOLDS_OID(&sub)) {
                        bson_oid_copy(bson_iter_oid(&sub), &out->id);
                        have_id = true;
                } else if (strcmp(bson_iter_key(&sub), "reused") == 0 &&
                           BSON_ITER_HOLDS_BOOL(&sub)) {
                        out->reused = bson_iter_bool(&sub);
                }
        }
        return have_id;
}

/* The job run's creation time: createdAt of the ledger entry (the task's for an entry without
 * one). The job's own notification is created then, which tells it from one another run made. */
static int64_t run_created_ms(const bson_t *entry, const jt_stats_task_t *task) {
        bson_iter_t it;

        if (bson_iter_init_find(&it, entry, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
                return bson_iter_date_time(&it);
        return task->created_at_ms;
}

/* The ledger entry of task's run (its notification and createdAt) into entry; *found false
 * when there is none (the run is gone). */
static bool read_entry(mongoc_client_t *client, const char *db, const jt_stats_task_t *task,
                       bson_t *entry, bool *found, jt_error_t *err) {
        mongoc_collection_t *jobs = mongoc_client_get_collection(client, db, JT_JOBS_COLLECTION);
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(task->job_id));
        bson_t *opts = BCON_NEW("projection", "{", "notification", BCON_INT32(1), "createdAt",
                                BCON_INT32(1), "}", "limit", BCON_INT64(1));
        mongoc_cursor_t *cursor;
        const bson_t *doc;
        bson_error_t error;
        bool ok = true;

        append_run(filter, task);
        cursor = mongoc_collection_find_with_opts(jobs, filter, opts, NULL);
        *found = mongoc_cursor_next(cursor, &doc);
        bson_reinit(entry);
        if (*found)
                bson_copy_to_excluding_noinit(doc, entry, "_id", NULL);
        else if (mongoc_cursor_error(cursor, &error)) {
                jt_task_mongo_failed(&error, err, "reading the job's ledger entry");
                ok = false;
        }
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(filter);
        mongoc_collection_destroy(jobs);
        return ok;
}

/* The Lambda's notification of the month, if there is one (stats_notification.h): the earliest
 * `monthlyStatistic` document created in the next month whose id a driver made then. */
static bool find_lambdas(mongoc_collection_t *notifications, const jt_stats_task_t *task,
                         bson_oid_t *id, bool *found, int64_t *created_ms, jt_error_t *err) {
        bson_t *filter, *opts;
        mongoc_cursor_t *cursor;
        const bson_t *doc;
        bson_error_t error;
        bson_iter_t it;
        int64_t from_ms, to_ms;
        bool ok = true;

        *found = false;
        *created_ms = 0;
        if (!jt_stats_notification_window(task->month, &from_ms, &to_ms, err))
                return false;
        filter = BCON_NEW("type", BCON_UTF8(TYPE), "createdAt", "{", "$gte",
                          BCON_DATE_TIME(from_ms), "$lt", BCON_DATE_TIME(to_ms), "}");
        opts = BCON_NEW("projection", "{", "createdAt", BCON_INT32(1), "}", "sort", "{",
                        "createdAt", BCON_INT32(1), "_id", BCON_INT32(1), "}");
        cursor = mongoc_collection_find_with_opts(notifications, filter, opts, NULL);
        while (!*found && mongoc_cursor_next(cursor, &doc)) {
                const bson_oid_t *oid;
                int64_t at;
                if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it))
                        continue;
                oid = bson_iter_oid(&it);
                if (!bson_iter_init_find(&it, doc, "createdAt") || !BSON_ITER_HOLDS_DATE_TIME(&it))
                        continue;
                at = bson_iter_date_time(&it);
                if (!jt_stats_notification_driver_made(oid, at))
                        continue; /* the fleet's (a hashed id): maybe another month's */
                bson_oid_copy(oid, id);
                *created_ms = at;
                *found = true;
        }
        if (mongoc_cursor_error(cursor, &error)) {
                jt_task_mongo_failed(&error, err, "looking for the original's notification");
                ok = false;
        }
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(filter);
        return ok;
}

/* Records choice as the job's notification unless a choice is there already (another range's
 * first); *stored whether this call recorded it. */
static bool record_choice(mongoc_client_t *client, const char *db, const jt_stats_task_t *task,
                          const jt_stats_notification_t *choice, bool *stored, jt_error_t *err) {
        mongoc_collection_t *jobs = mongoc_client_get_collection(client, db, JT_JOBS_COLLECTION);
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(task->job_id), "notification", "{", "$exists",
                                  BCON_BOOL(false), "}");
        bson_t *update =
            BCON_NEW("$set", "{", "notification", "{", "id", BCON_OID(&choice->id), "reused",
                     BCON_BOOL(choice->reused), "at", BCON_DATE_TIME(jt_time_wall_ms()), "}", "}");
        bson_t reply;
        bson_error_t error;
        bson_iter_t it;
        bool ok;

        append_run(filter, task);
        ok = mongoc_collection_update_one(jobs, filter, update, NULL, &reply, &error);
        *stored = ok && bson_iter_init_find(&it, &reply, "modifiedCount") &&
                  BSON_ITER_HOLDS_NUMBER(&it) && bson_iter_as_int64(&it) == 1;
        if (!ok)
                jt_task_mongo_failed(&error, err, "recording the job's notification in the ledger");
        bson_destroy(&reply);
        bson_destroy(update);
        bson_destroy(filter);
        mongoc_collection_destroy(jobs);
        return ok;
}

/* The job's recorded choice, making it first if no range did: the Lambda's notification of the
 * month, or the job's own. */
static jt_task_outcome_t choose(mongoc_client_t *client, const char *db,
                                mongoc_collection_t *notifications, const jt_stats_task_t *task,
                                bson_t *entry, jt_stats_notification_t *out, jt_error_t *err) {
        jt_stats_notification_t choice = {.reused = false};
        uint8_t raw[12];
        int64_t lambda_at = 0;
        bool found = false, stored = false, lambdas = false;
        char hex[25], when[JT_TIME_ISO_BUF];

        if (!read_entry(client, db, task, entry, &found, err))
                return JT_TASK_RETRY;
        if (found && recorded(entry, out))
                return JT_TASK_DONE;
        if (!found)
                goto gone;
        if (!find_lambdas(notifications, task, &choice.id, &lambdas, &lambda_at, err))
                return JT_TASK_RETRY;
        choice.reused = lambdas;
        if (!lambdas) {
                jt_job_ids_notification_oid(task->job_id, raw);
                bson_oid_init_from_data(&choice.id, raw);
        }
        if (!record_choice(client, db, task, &choice, &stored, err) ||
            !read_entry(client, db, task, entry, &found, err))
                return JT_TASK_RETRY;
        if (!found || !recorded(entry, out))
                goto gone;
        if (stored) {
                bson_oid_to_string(&out->id, hex);
                if (out->reused) {
                        jt_time_format_iso(lambda_at / 1000, when, sizeof(when));
                        jt_log_info("job=%s: %s's notification is the original's %s (created %s):"
                                    " reused, not made again",
                                    task->job_id, task->month, hex, when);
                } else {
                        jt_log_info("job=%s: %s's notification is the job's own, %s", task->job_id,
                                    task->month, hex);
                }
        }
        return JT_TASK_DONE;
gone:
        /* Admitted a moment ago: the entry was dropped or replaced by another run since. */
        jt_error_set(err, JT_ERR_INPUT, 0,
                     "job %s of run %s has no ledger entry any more: no notification chosen",
                     task->job_id, task->run_nonce ? task->run_nonce : "(v1)");
        return JT_TASK_REJECTED;
}

/* Whether the notification id in notifications was made by the run created at run_ms: the job's
 * own notification is created at its run's creation, so one another run of the job id made (the
 * ledger dropped and the job run again) is told apart. */
static bool made_by_run(mongoc_collection_t *notifications, const bson_oid_t *id, int64_t run_ms,
                        bool *made, jt_error_t *err) {
        bson_t *filter = BCON_NEW("_id", BCON_OID(id));
        bson_t *opts =
            BCON_NEW("projection", "{", "createdAt", BCON_INT32(1), "}", "limit", BCON_INT64(1));
        mongoc_cursor_t *cursor;
        const bson_t *doc;
        bson_error_t error;
        bson_iter_t it;
        bool ok = true;

        *made = false;
        cursor = mongoc_collection_find_with_opts(notifications, filter, opts, NULL);
        if (mongoc_cursor_next(cursor, &doc))
                *made = bson_iter_init_find(&it, doc, "createdAt") &&
                        BSON_ITER_HOLDS_DATE_TIME(&it) && bson_iter_date_time(&it) == run_ms;
        else if (mongoc_cursor_error(cursor, &error)) {
                jt_task_mongo_failed(&error, err, "reading the notification");
                ok = false;
        }
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(filter);
        return ok;
}

jt_task_outcome_t jt_stats_notification_ensure(mongoc_client_t *client, const char *db,
                                               mongoc_collection_t *notifications,
                                               const jt_stats_task_t *task,
                                               jt_stats_notification_t *out, jt_error_t *err) {
        bson_t entry = BSON_INITIALIZER;
        bson_t *doc;
        bson_error_t error;
        int64_t at;
        jt_task_outcome_t outcome;

        memset(out, 0, sizeof(*out));
        outcome = choose(client, db, notifications, task, &entry, out, err);
        if (outcome == JT_TASK_DONE && !out->reused) {
                /* Created at the run's creation: a later reader tells it from another run's. */
                at = run_created_ms(&entry, task);
                doc = BCON_NEW("_id", BCON_OID(&out->id), "type", BCON_UTF8(TYPE), "createdAt",
                               BCON_DATE_TIME(at), "updatedAt", BCON_DATE_TIME(at));
                if (mongoc_collection_insert_one(notifications, doc, NULL, NULL, &error))
                        out->fresh = true;
                else if (error.code != DUPLICATE_KEY)
                        outcome = jt_task_mongo_failed(&error, err, "inserting the notification");
                else if (!made_by_run(notifications, &out->id, at, &out->fresh, err))
                        outcome = JT_TASK_RETRY;
                bson_destroy(doc);
        }
        bson_destroy(&entry);
        return outcome;
}

bool jt_stats_notification_outcome(mongoc_client_t *client, const char *db,
                                   const jt_stats_task_t *task, const bson_t *entry,
                                   int64_t users_updated, jt_stats_notification_t *out, bool *have,
                                   bool *created, jt_error_t *err) {
        mongoc_collection_t *notifications;
        uint8_t raw[12];
        bool ok;

        *have = recorded(entry, out);
        *created = false;
        if (!*have) {
                /* Ranges run by a worker from before the ledger kept the choice: they made the
                 * job's own notification when they notified someone. */
                *have = *created = users_updated > 0;
                jt_job_ids_notification_oid(task->job_id, raw);
                bson_oid_init_from_data(&out->id, raw);
                return true;
        }
        if (out->reused)
                return true;
        notifications = mongoc_client_get_collection(
            client, db, task->test_mode ? "test-notifications" : "notifications");
        ok = made_by_run(notifications, &out->id, run_created_ms(entry, task), created, err);
        if (!ok)
                jt_error_prefix(err, "job %s", task->job_id);
        mongoc_collection_destroy(notifications);
        return ok;
}
