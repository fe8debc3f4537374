/* Ledger entries (`jobs` collection, jt_jobs.h) as the jobs of the fleet view: read newest first
 * with a limit, big fields (taskIds, params) left on the server. */
#include "jt_fleet_jobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_bson.h"
#include "jt_jobs.h"
#include "jt_log.h"
#include "jt_mongo.h"

#define DEFAULT_MAX_JOBS 200

static int64_t field_int(const bson_t *doc, const char *dotted) {
        return jt_bson_get_int64(doc, dotted, 0);
}

/* A text field, escaped for a terminal ("" when absent). */
static void field_str(const bson_t *doc, const char *dotted, char *out, size_t size) {
        char raw[1024];

        jt_bson_get_utf8(doc, dotted, raw, sizeof(raw));
        jt_log_escape(raw, out, size);
}

/* The count of one range so far, field of results.<key> when it is done, else of its
 * checkpoint progress.<key>. */
static int64_t records_of(const bson_t *doc, const char *field) {
        bson_iter_t it, results, progress;
        int64_t sum = 0;
        char path[320];

        if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, "results", &results) &&
            BSON_ITER_HOLDS_DOCUMENT(&results) && bson_iter_recurse(&results, &it))
                while (bson_iter_next(&it)) {
                        snprintf(path, sizeof(path), "results.%s.%s", bson_iter_key(&it), field);
                        sum += field_int(doc, path);
                }
        if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, "progress", &progress) &&
            BSON_ITER_HOLDS_DOCUMENT(&progress) && bson_iter_recurse(&progress, &it))
                while (bson_iter_next(&it)) {
                        bson_iter_t done;
                        snprintf(path, sizeof(path), "results.%s", bson_iter_key(&it));
                        if (bson_iter_init(&done, doc) &&
                            bson_iter_find_descendant(&done, path, &done))
                                continue; /* counted in its result */
                        snprintf(path, sizeof(path), "progress.%s.%s", bson_iter_key(&it), field);
                        sum += field_int(doc, path);
                }
        return sum;
}

static int64_t max3(int64_t a, int64_t b, int64_t c) {
        int64_t m = a > b ? a : b;
        return m > c ? m : c;
}

void jt_fleet_jobs_from_bson(const bson_t *doc, int64_t now_ms, jt_fleet_job_t *job) {
        char state[32];
        bson_iter_t it;

        memset(job, 0, sizeof(*job));
        field_str(doc, "_id", job->id, sizeof(job->id));
        field_str(doc, "kind", job->kind, sizeof(job->kind));
        field_str(doc, "state", state, sizeof(state));
        if (!jt_job_state_from_name(state, &job->state))
                job->state = JT_JOB_RUNNING;
        job->test_mode = bson_iter_init_find(&it, doc, "testMode") && BSON_ITER_HOLDS_BOOL(&it) &&
                         bson_iter_bool(&it);
        job->tasks_done = field_int(doc, "tasksDone");
        job->tasks_total = field_int(doc, "tasksTotal");
        job->records_unit = strcmp(job->kind, "cleanup") == 0 ? "playbacks deleted" : "users";
        job->records = records_of(doc, strcmp(job->kind, "cleanup") == 0 ? "deleted" : "users");
        job->created_ms = field_int(doc, "createdAt");
        job->sent_ms = field_int(doc, "tasksSentAt");
        job->ended_ms = job->state == JT_JOB_FINISHED ? field_int(doc, "finishedAt")
                        : job->state == JT_JOB_FAILED ? field_int(doc, "failedAt")
                                                      : 0;
        job->duration_ms =
            job->created_ms ? (job->ended_ms ? job->ended_ms : now_ms) - job->created_ms : 0;
        job->last_progress_ms =
            max3(field_int(doc, "updatedAt"), field_int(doc, "progressAt"), job->created_ms);
        job->failures = field_int(doc, "failures");
        field_str(doc, "lastFailure.reason", job->failure_reason, sizeof(job->failure_reason));
        field_str(doc, "lastFailure.task", job->failure_task, sizeof(job->failure_task));
        job->failure_ms = field_int(doc, "lastFailure.at");
        field_str(doc, "claimedBy", job->claimed_by, sizeof(job->claimed_by));
        job->claim_until_ms = field_int(doc, "claimUntil");
        field_str(doc, "finalizeBy", job->finalize_by, sizeof(job->finalize_by));
        job->finalize_until_ms = field_int(doc, "finalizeUntil");
        job->reopens = field_int(doc, "reopens");
}

static bson_t *jobs_filter(const jt_fleet_query_t *q) {
        if (q->job_id)
                return BCON_NEW("_id", BCON_UTF8(q->job_id));
        if (q->since_ms > 0)
                return BCON_NEW("createdAt", "{", "$gte", BCON_DATE_TIME(q->since_ms), "}");
        return bson_new();
}

bool jt_fleet_jobs_read(const jt_fleet_query_t *q, int64_t now_ms, jt_fleet_job_t **jobs,
                        size_t *count, bool *truncated, jt_error_t *err) {
        size_t max = q->max_jobs ? q->max_jobs : DEFAULT_MAX_JOBS;
        mongoc_collection_t *coll =
            mongoc_client_get_collection(q->client, q->db, JT_JOBS_COLLECTION);
        bson_t *filter = jobs_filter(q);
        /* One more than shown, to know whether there were more. */
        bson_t *opts = BCON_NEW("sort", "{", "createdAt", BCON_INT32(-1), "_id", BCON_INT32(-1),
                                "}", "limit", BCON_INT64((int64_t)max + 1), "projection", "{",
                                "taskIds", BCON_INT32(0), "params", BCON_INT32(0), "}");
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
        const bson_t *doc;
        bson_error_t error;
        bool ok = true;

        *count = 0;
        *truncated = false;
        if (!(*jobs = calloc(max, sizeof(**jobs)))) {
                ok = jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
                goto done;
        }
        while (mongoc_cursor_next(cursor, &doc)) {
                if (*count == max) {
                        *truncated = true;
                        break;
                }
                jt_fleet_jobs_from_bson(doc, now_ms, &(*jobs)[(*count)++]);
        }
        if (mongoc_cursor_error(cursor, &error)) {
                ok = jt_error_set(err, JT_ERR_MONGO, (int)error.code,
                                  "reading the job ledger (%s.%s): %s", q->db, JT_JOBS_COLLECTION,
                                  error.message);
                err->transient = jt_mongo_error_is_transient(&error);
                free(*jobs);
                *jobs = NULL;
                *count = 0;
        }
done:
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(filter);
        mongoc_collection_destroy(coll);
        return ok;
}
