/* Job ledger: idempotent creation and the send claim. Every write is keyed by the job id, so
 * repeating any step (after a crash, or from a second producer) changes nothing. */
#include "jt_jobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "jt_jobs_private.h"
#include "jt_mongo.h"

#define DUPLICATE_KEY 11000

/* Sets err from a driver error about job_id; returns false. */
bool jt_jobs_mongo_fail(jt_error_t *err, const bson_error_t *error, const char *what,
                        const char *job_id) {
        if (jt_mongo_error_is_transient(error))
                return jt_error_set_transient(err, JT_ERR_MONGO, (int)error->code,
                                              "%s of job %s: %s", what, job_id, error->message);
        return jt_error_set(err, JT_ERR_MONGO, (int)error->code, "%s of job %s: %s", what, job_id,
                            error->message);
}

void jt_jobs_describe(const bson_t *doc, char *info, size_t size) {
        bson_iter_t it;
        int64_t total = 0, sent_ms = 0, created_ms = 0;
        const char *state = "?";

        if (!info || !size)
                return;
        if (bson_iter_init_find(&it, doc, "tasksTotal") && BSON_ITER_HOLDS_NUMBER(&it))
                total = bson_iter_as_int64(&it);
        if (bson_iter_init_find(&it, doc, "state") && BSON_ITER_HOLDS_UTF8(&it))
                state = bson_iter_utf8(&it, NULL);
        if (bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
                created_ms = bson_iter_date_time(&it);
        if (bson_iter_init_find(&it, doc, "tasksSentAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
                sent_ms = bson_iter_date_time(&it);
        {
                char created[32] = "?";
                time_t secs = (time_t)(created_ms / 1000);
                struct tm tm;
                if (gmtime_r(&secs, &tm))
                        strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
                snprintf(info, size, "%lld tasks, state %s, created %s, %s", (long long)total,
                         state, created, sent_ms ? "all tasks sent" : "tasks not all sent yet");
        }
}

/* Whether the stored params equal the spec's: the same job id must mean the same tasks. */
static bool same_params(const bson_t *doc, const bson_t *params) {
        bson_iter_t it;
        const uint8_t *data = NULL;
        uint32_t len = 0;

        if (!bson_iter_init_find(&it, doc, "params") || !BSON_ITER_HOLDS_DOCUMENT(&it))
                return false;
        bson_iter_document(&it, &len, &data);
        return len == params->len && memcmp(data, bson_get_data(params), len) == 0;
}

static bool find_job(mongoc_collection_t *coll, const char *job_id, bson_t *out, jt_error_t *err) {
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(job_id));
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
        const bson_t *doc;
        bson_error_t error;
        bool found = mongoc_cursor_next(cursor, &doc);
        bool ok = true;

        if (found)
                bson_copy_to(doc, out);
        else if (mongoc_cursor_error(cursor, &error))
                ok = jt_jobs_mongo_fail(err, &error, "reading the ledger entry", job_id);
        else
                ok = jt_error_set_transient(err, JT_ERR_MONGO, 0, "ledger entry of job %s vanished",
                                            job_id);
        mongoc_cursor_destroy(cursor);
        bson_destroy(filter);
        return ok;
}

/* The job's entry projected to fields (NULL: all). */
bool jt_jobs_find_fields(mongoc_client_t *client, const char *db, const char *job_id,
                         const bson_t *fields, bson_t *out, jt_error_t *err) {
        mongoc_collection_t *coll = mongoc_client_get_collection(client, db, JT_JOBS_COLLECTION);
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(job_id));
        bson_t opts = BSON_INITIALIZER;
        mongoc_cursor_t *cursor;
        const bson_t *doc;
        bson_error_t error;
        bool ok = true;

        if (fields)
                BSON_APPEND_DOCUMENT(&opts, "projection", fields);
        cursor = mongoc_collection_find_with_opts(coll, filter, &opts, NULL);
        bson_reinit(out);
        if (mongoc_cursor_next(cursor, &doc))
                bson_concat(out, doc);
        else if (mongoc_cursor_error(cursor, &error))
                ok = jt_jobs_mongo_fail(err, &error, "reading the ledger entry", job_id);
        mongoc_cursor_destroy(cursor);
        bson_destroy(&opts);
        bson_destroy(filter);
        mongoc_collection_destroy(coll);
        return ok;
}

bool jt_jobs_get_params(mongoc_client_t *client, const char *db, const char *job_id, bson_t *params,
                        bool *found, jt_error_t *err) {
        bson_t *fields = BCON_NEW("params", BCON_INT32(1));
        bson_t doc = BSON_INITIALIZER;
        bson_iter_t it;
        bool ok = jt_jobs_find_fields(client, db, job_id, fields, &doc, err);

        *found = false;
        bson_reinit(params);
        if (ok && bson_iter_init_find(&it, &doc, "params") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
                const uint8_t *data;
                uint32_t len;
                bson_t stored;
                bson_iter_document(&it, &len, &data);
                if (bson_init_static(&stored, data, len)) {
                        bson_concat(params, &stored);
                        *found = true;
                }
        }
        bson_destroy(&doc);
        bson_destroy(fields);
        return ok;
}

bool jt_jobs_new_nonce(char *out, jt_error_t *err) {
        unsigned char raw[16];

        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
                return jt_error_set(err, JT_ERR_SYSTEM, errno, "getrandom for a run nonce: %s",
                                    strerror(errno));
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(out + 2 * i, 3, "%02x", raw[i]);
        return true;
}

static bson_t *new_entry(const jt_job_spec_t *spec, const char *nonce) {
        bson_t *doc = bson_new();
        bson_t ids;

        BSON_APPEND_UTF8(doc, "_id", spec->job_id);
        BSON_APPEND_UTF8(doc, "runNonce", nonce);
        BSON_APPEND_UTF8(doc, "kind", spec->kind);
        BSON_APPEND_BOOL(doc, "testMode", spec->test_mode);
        if (spec->run_id)
                BSON_APPEND_UTF8(doc, "runId", spec->run_id);
        else
                BSON_APPEND_NULL(doc, "runId");
        BSON_APPEND_DOCUMENT(doc, "params", spec->params);
        BSON_APPEND_ARRAY_BEGIN(doc, "taskIds", &ids);
        for (size_t i = 0; i < spec->task_count; i++) {
                char key[16];
                const char *k;
                bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
                BSON_APPEND_UTF8(&ids, k, spec->task_ids[i]);
        }
        bson_append_array_end(doc, &ids);
        BSON_APPEND_INT64(doc, "tasksTotal", (int64_t)spec->task_count);
        BSON_APPEND_UTF8(doc, "state", jt_job_state_name(JT_JOB_RUNNING));
        BSON_APPEND_UTF8(doc, "claimedBy", spec->owner);
        BSON_APPEND_DATE_TIME(doc, "claimUntil", spec->now_ms + spec->lease_ms);
        BSON_APPEND_DOCUMENT_BEGIN(doc, "results", &ids);
        bson_append_document_end(doc, &ids);
        BSON_APPEND_DATE_TIME(doc, "createdAt", spec->now_ms);
        BSON_APPEND_DATE_TIME(doc, "updatedAt", spec->now_ms);
        return doc;
}

/* Takes over an unsent job whose claim has lapsed. *taken says whether it did. */
static bool take_lapsed_claim(mongoc_collection_t *coll, const jt_job_spec_t *spec, bool *taken,
                              jt_error_t *err) {
        /* Or the owner's own claim: an identity that outlives a process (a finalizer's) resumes
         * its interrupted send without waiting out its own lease. */
        bson_t *query = BCON_NEW("_id", BCON_UTF8(spec->job_id), "tasksSentAt", "{", "$exists",
                                 BCON_BOOL(false), "}", "$or", "[", "{", "claimUntil", "{", "$lt",
                                 BCON_DATE_TIME(spec->now_ms), "}", "}", "{", "claimedBy",
                                 BCON_UTF8(spec->owner), "}", "]");
        bson_t *update = BCON_NEW("$set", "{", "claimedBy", BCON_UTF8(spec->owner), "claimUntil",
                                  BCON_DATE_TIME(spec->now_ms + spec->lease_ms), "updatedAt",
                                  BCON_DATE_TIME(spec->now_ms), "}");
        bson_t reply;
        bson_error_t error;
        bson_iter_t it;
        bool ok = mongoc_collection_find_and_modify(coll, query, NULL, update, NULL, false, false,
                                                    true, &reply, &error);

        *taken = false;
        if (!ok)
                jt_jobs_mongo_fail(err, &error, "claiming", spec->job_id);
        else
                *taken = bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it);
        bson_destroy(&reply);
        bson_destroy(update);
        bson_destroy(query);
        return ok;
}

bool jt_jobs_claim(mongoc_client_t *client, const char *db, const jt_job_spec_t *spec,
                   jt_job_claim_t *outcome, bson_t *entry, jt_error_t *err) {
        mongoc_collection_t *coll;
        bson_t *fresh;
        bson_t existing = BSON_INITIALIZER;
        bson_error_t error;
        bson_iter_t it;
        char nonce[JT_JOBS_NONCE_SIZE];
        bool taken = false;
        bool ok = false;

        *outcome = JT_JOB_BUSY;
        if (!jt_jobs_new_nonce(nonce, err))
                return false;
        coll = mongoc_client_get_collection(client, db, JT_JOBS_COLLECTION);
        fresh = new_entry(spec, nonce);
        if (mongoc_collection_insert_one(coll, fresh, NULL, NULL, &error)) {
                bson_reinit(entry);
                bson_concat(entry, fresh);
                *outcome = JT_JOB_CLAIMED;
                ok = true;
                goto done;
        }
        if (error.code != DUPLICATE_KEY) {
                jt_jobs_mongo_fail(err, &error, "writing the ledger entry", spec->job_id);
                goto done;
        }
        if (!find_job(coll, spec->job_id, &existing, err))
                goto done;
        bson_reinit(entry);
        bson_concat(entry, &existing);
        if (!same_params(&existing, spec->params)) {
                char *mine = bson_as_relaxed_extended_json(spec->params, NULL);
                char *theirs = NULL;
                if (bson_iter_init_find(&it, &existing, "params") &&
                    BSON_ITER_HOLDS_DOCUMENT(&it)) {
                        bson_t stored;
                        const uint8_t *data;
                        uint32_t len;
                        bson_iter_document(&it, &len, &data);
                        if (bson_init_static(&stored, data, len))
                                theirs = bson_as_relaxed_extended_json(&stored, NULL);
                }
                jt_error_set(err, JT_ERR_CONFIG, 0,
                             "job %s already exists with other parameters (%s, asked %s); "
                             "use --run-id to start a separate run",
                             spec->job_id, theirs ? theirs : "?", mine);
                bson_free(mine);
                bson_free(theirs);
                goto done;
        }
        if (bson_iter_init_find(&it, &existing, "tasksSentAt")) {
                *outcome = JT_JOB_ALREADY_SENT;
                ok = true;
                goto done;
        }
        if (!take_lapsed_claim(coll, spec, &taken, err))
                goto done;
        *outcome = taken ? JT_JOB_CLAIMED : JT_JOB_BUSY;
        ok = true;
done:
        bson_destroy(&existing);
        bson_destroy(fresh);
        mongoc_collection_destroy(coll);
        return ok;
}

bool jt_jobs_mark_sent(mongoc_client_t *client, const char *db, const char *job_id,
                       const char *owner, int64_t now_ms, bool finished, jt_error_t *err) {
        mongoc_collection_t *coll = mongoc_client_get_collection(client, db, JT_JOBS_COLLECTION);
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(job_id), "claimedBy", BCON_UTF8(owner));
        bson_t *update =
            finished ? BCON_NEW("$set", "{", "tasksSentAt", BCON_DATE_TIME(now_ms), "updatedAt",
                                BCON_DATE_TIME(now_ms), "state", JT_JOBS_STATE(JT_JOB_FINISHED),
                                "finishedAt", BCON_DATE_TIME(now_ms), "}")
                     : BCON_NEW("$set", "{", "tasksSentAt", BCON_DATE_TIME(now_ms), "updatedAt",
                                BCON_DATE_TIME(now_ms), "}");
        bson_t reply;
        bson_error_t error;
        bson_iter_t it;
        bool ok = mongoc_collection_update_one(coll, filter, update, NULL, &reply, &error);

        if (!ok)
                jt_jobs_mongo_fail(err, &error, "recording the sent tasks", job_id);
        else if (!bson_iter_init_find(&it, &reply, "matchedCount") || bson_iter_as_int64(&it) != 1)
                ok = jt_error_set(err, JT_ERR_MONGO, 0,
                                  "job %s: the claim passed to another producer before every "
                                  "task was sent (it sends them again; workers ignore repeats)",
                                  job_id);
        bson_destroy(&reply);
        bson_destroy(update);
        bson_destroy(filter);
        mongoc_collection_destroy(coll);
        return ok;
}

bool jt_jobs_task_key(const char *job_id, const char *task_id, char *key, size_t size,
                      jt_error_t *err) {
        size_t len = strlen(job_id);
        const char *k = task_id + len + 1;

        if (strncmp(task_id, job_id, len) != 0 || task_id[len] != '/' || !*k)
                return jt_error_set(err, JT_ERR_INPUT, 0, "task id %s is not a task of job %s",
                                    task_id, job_id);
        if (strpbrk(k, ".$") || strlen(k) >= size)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "task id %s: the part after the job id must be at most %zu "
                                    "characters without '.' or '$'",
                                    task_id, size - 1);
        memcpy(key, k, strlen(k) + 1);
        return true;
}

/* findAndModify returning the new document, or none when the query matched none. (No "fields"
 * projection: the local FerretDB does not implement it for findAndModify.) */
bool jt_jobs_find_and_modify(mongoc_client_t *client, const char *db, const bson_t *query,
                             const bson_t *update, bool *matched, bson_t *doc, const char *what,
                             const char *job_id, jt_error_t *err) {
        mongoc_collection_t *coll = mongoc_client_get_collection(client, db, JT_JOBS_COLLECTION);
        mongoc_find_and_modify_opts_t *opts = mongoc_find_and_modify_opts_new();
        bson_t reply;
        bson_error_t error;
        bson_iter_t it;
        bool ok;

        mongoc_find_and_modify_opts_set_update(opts, update);
        mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
        ok = mongoc_collection_find_and_modify_with_opts(coll, query, opts, &reply, &error);
        *matched = false;
        if (!ok) {
                jt_jobs_mongo_fail(err, &error, what, job_id);
        } else if (bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
                const uint8_t *data;
                uint32_t len;
                bson_t value;
                bson_iter_document(&it, &len, &data);
                if (bson_init_static(&value, data, len)) {
                        bson_reinit(doc);
                        bson_concat(doc, &value);
                        *matched = true;
                }
        }
        bson_destroy(&reply);
        mongoc_find_and_modify_opts_destroy(opts);
        mongoc_collection_destroy(coll);
        return ok;
}

int64_t jt_jobs_doc_int64(const bson_t *doc, const char *dotted, int64_t fallback) {
        bson_iter_t it, found;
        if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, dotted, &found) &&
            BSON_ITER_HOLDS_NUMBER(&found))
                return bson_iter_as_int64(&found);
        return fallback;
}

bool jt_jobs_set_found_once(mongoc_client_t *client, const char *db, const char *job_id,
                            const char *key, int64_t value, int64_t *stored, jt_error_t *err) {
        char path[160];
        bson_t *query, *update, *fields;
        bson_t doc = BSON_INITIALIZER;
        bool matched = false, ok;

        snprintf(path, sizeof(path), "found.%s", key);
        query = BCON_NEW("_id", BCON_UTF8(job_id), path, "{", "$exists", BCON_BOOL(false), "}");
        update = BCON_NEW("$set", "{", path, BCON_INT64(value), "}");
        fields = BCON_NEW(path, BCON_INT32(1));
        ok = jt_jobs_find_and_modify(client, db, query, update, &matched, &doc,
                                     "recording a range count", job_id, err);
        if (ok && !matched)
                ok = jt_jobs_find_fields(client, db, job_id, fields, &doc, err);
        if (ok) {
                *stored = jt_jobs_doc_int64(&doc, path, -1);
                if (*stored < 0) /* the entry went away: no retry brings it back */
                        ok = jt_error_set(err, JT_ERR_INPUT, 0,
                                          "job %s has no ledger entry with %s", job_id, path);
        }
        bson_destroy(&doc);
        bson_destroy(fields);
        bson_destroy(update);
        bson_destroy(query);
        return ok;
}

/* Appends {runNonce: nonce} to a query, null matching an entry without one (a v1 task). */
void jt_jobs_append_run(bson_t *query, const char *run_nonce) {
        if (run_nonce)
                BSON_APPEND_UTF8(query, "runNonce", run_nonce);
        else
                BSON_APPEND_NULL(query, "runNonce");
}

bool jt_jobs_release_range(mongoc_client_t *client, const char *db, const char *job_id,
                           const char *key, const char *holder, jt_error_t *err) {
        mongoc_collection_t *coll = mongoc_client_get_collection(client, db, JT_JOBS_COLLECTION);
        char path[160], until[176];
        bson_t *query, *update;
        bson_error_t error;
        bool ok;

        snprintf(path, sizeof(path), "progress.%s.holder", key);
        snprintf(until, sizeof(until), "progress.%s.heldUntil", key);
        query = BCON_NEW("_id", BCON_UTF8(job_id), path, BCON_UTF8(holder));
        update = BCON_NEW("$set", "{", until, BCON_DATE_TIME(0), "}");
        ok = mongoc_collection_update_one(coll, query, update, NULL, NULL, &error);
        if (!ok)
                jt_jobs_mongo_fail(err, &error, "releasing a range", job_id);
        mongoc_collection_destroy(coll);
        bson_destroy(update);
        bson_destroy(query);
        return ok;
}

bool jt_jobs_same_nonce(const bson_t *doc, const char *run_nonce) {
        bson_iter_t it;
        const char *stored = NULL;

        if (bson_iter_init_find(&it, doc, "runNonce") && BSON_ITER_HOLDS_UTF8(&it))
                stored = bson_iter_utf8(&it, NULL);
        return stored && run_nonce ? strcmp(stored, run_nonce) == 0 : !stored && !run_nonce;
}

bool jt_jobs_record_result(mongoc_client_t *client, const char *db, const char *job_id,
                           const char *run_nonce, const char *task_id, const char *key,
                           const bson_t *result, int64_t now_ms, bool *recorded_now, bool *complete,
                           jt_error_t *err) {
        char path[160];
        bson_t *query, *update;
        bson_t doc = BSON_INITIALIZER;
        jt_job_view_t view;
        bool ok;

        *complete = false;
        snprintf(path, sizeof(path), "results.%s", key);
        /* Only a listed task of this run counts: a forged or stale task id can never make a
         * job look complete. */
        query = BCON_NEW("_id", BCON_UTF8(job_id), "taskIds", BCON_UTF8(task_id), path, "{",
                         "$exists", BCON_BOOL(false), "}");
        jt_jobs_append_run(query, run_nonce);
        update =
            BCON_NEW("$set", "{", path, BCON_DOCUMENT(result), "updatedAt", BCON_DATE_TIME(now_ms),
                     "}", "$inc", "{", "tasksDone", BCON_INT64(1), "}");
        ok = jt_jobs_find_and_modify(client, db, query, update, recorded_now, &doc,
                                     "recording a task result", job_id, err) &&
             jt_jobs_view(client, db, job_id, run_nonce, task_id, key, &view, err);
        if (ok && (!view.exists || !view.same_run || !view.listed || !view.recorded))
                ok = jt_error_set(err, JT_ERR_INPUT, 0,
                                  "job %s: %s; result of task %s not recorded", job_id,
                                  !view.exists     ? "no ledger entry"
                                  : !view.same_run ? "its ledger entry is of another run"
                                  : !view.listed   ? "the task is not one of its tasks"
                                                   : "the result vanished",
                                  task_id);
        if (ok)
                *complete = view.complete;
        bson_destroy(&doc);
        bson_destroy(update);
        bson_destroy(query);
        return ok;
}

bool jt_jobs_claim_finalize(mongoc_client_t *client, const char *db, const char *job_id,
                            const char *run_nonce, int64_t tasks_total, const char *owner,
                            int64_t now_ms, int64_t lease_ms, bool *claimed, bson_t *entry,
                            jt_error_t *err) {
        /* The owner's own claim is taken again: a finalize step that failed on a database
         * error after claiming resumes at once instead of waiting out its own lease. Only a
         * complete job of this run: a stale or forged FINALIZE never finalizes a running one. */
        bson_t *query = BCON_NEW(
            "_id", BCON_UTF8(job_id), "tasksTotal", BCON_INT64(tasks_total), "tasksDone", "{",
            "$gte", BCON_INT64(tasks_total), "}", "$or", "[", "{", "state",
            JT_JOBS_STATE(JT_JOB_RUNNING), "}", "{", "state", JT_JOBS_STATE(JT_JOB_FINALIZING),
            "finalizeUntil", "{", "$lt", BCON_DATE_TIME(now_ms), "}", "}", "{", "state",
            JT_JOBS_STATE(JT_JOB_FINALIZING), "finalizeBy", BCON_UTF8(owner), "}", "]");
        bson_t *update =
            BCON_NEW("$set", "{", "state", JT_JOBS_STATE(JT_JOB_FINALIZING), "finalizeBy",
                     BCON_UTF8(owner), "finalizeUntil", BCON_DATE_TIME(now_ms + lease_ms),
                     "updatedAt", BCON_DATE_TIME(now_ms), "}");
        bson_t *first = NULL, *stamp = NULL;
        bool ok, stamped = false;
        bson_t ignored = BSON_INITIALIZER;

        jt_jobs_append_run(query, run_nonce);
        ok = jt_jobs_find_and_modify(client, db, query, update, claimed, entry,
                                     "claiming the finalization", job_id, err);
        if (ok && *claimed && !bson_has_field(entry, "finalizedAt")) {
                /* Recorded once, by the first claim: every later finalizer (a takeover, a
                 * re-finalization) derives the same chained cleanup job from it. */
                first = BCON_NEW("_id", BCON_UTF8(job_id), "finalizedAt", "{", "$exists",
                                 BCON_BOOL(false), "}");
                stamp = BCON_NEW("$set", "{", "finalizedAt", BCON_DATE_TIME(now_ms), "}");
                ok = jt_jobs_find_and_modify(client, db, first, stamp, &stamped, &ignored,
                                             "recording the finalization time", job_id, err) &&
                     jt_jobs_find_fields(client, db, job_id, NULL, entry, err);
        }
        bson_destroy(&ignored);
        if (first)
                bson_destroy(first);
        if (stamp)
                bson_destroy(stamp);
        bson_destroy(update);
        bson_destroy(query);
        return ok;
}

bool jt_jobs_finalized_at(mongoc_client_t *client, const char *db, const char *job_id,
                          int64_t *at_ms, jt_error_t *err) {
        bson_t *fields = BCON_NEW("finalizedAt", BCON_INT32(1));
        bson_t doc = BSON_INITIALIZER;
        bson_iter_t it;
        bool ok = jt_jobs_find_fields(client, db, job_id, fields, &doc, err);

        *at_ms = 0;
        if (ok && bson_iter_init_find(&it, &doc, "finalizedAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
                *at_ms = bson_iter_date_time(&it);
        bson_destroy(&doc);
        bson_destroy(fields);
        return ok;
}

bool jt_jobs_created_at(mongoc_client_t *client, const char *db, const char *job_id, int64_t *at_ms,
                        jt_error_t *err) {
        bson_t *fields = BCON_NEW("createdAt", BCON_INT32(1));
        bson_t doc = BSON_INITIALIZER;
        bson_iter_t it;
        bool ok = jt_jobs_find_fields(client, db, job_id, fields, &doc, err);

        *at_ms = 0;
        if (ok && bson_iter_init_find(&it, &doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
                *at_ms = bson_iter_date_time(&it);
        bson_destroy(&doc);
        bson_destroy(fields);
        return ok;
}

bool jt_jobs_fail(mongoc_client_t *client, const char *db, const char *job_id,
                  const char *run_nonce, const char *task_id, const char *key, const char *reason,
                  int64_t now_ms, bool *announce, int64_t *failed_at_ms, jt_error_t *err) {
        bson_t *query =
            BCON_NEW("_id", BCON_UTF8(job_id), "state", "{", "$in", "[",
                     JT_JOBS_STATE(JT_JOB_RUNNING), JT_JOBS_STATE(JT_JOB_FINALIZING), "]", "}");
        bson_t *update =
            BCON_NEW("$set", "{", "state", JT_JOBS_STATE(JT_JOB_FAILED), "failedAt",
                     BCON_DATE_TIME(now_ms), "failureAnnounced", BCON_BOOL(false), "updatedAt",
                     BCON_DATE_TIME(now_ms), "lastFailure", "{", "reason", BCON_UTF8(reason),
                     "task", BCON_UTF8(task_id ? task_id : ""), "at", BCON_DATE_TIME(now_ms), "}",
                     "}", "$inc", "{", "failures", BCON_INT32(1), "}");
        bson_t doc = BSON_INITIALIZER;
        bson_iter_t it;
        jt_job_state_t state;
        bool matched = false, ok;

        *announce = false;
        *failed_at_ms = 0;
        jt_jobs_append_run(query, run_nonce);
        if (key) {
                char path[160];
                snprintf(path, sizeof(path), "results.%s", key);
                BCON_APPEND(query, path, "{", "$exists", BCON_BOOL(false), "}");
        }
        ok = jt_jobs_find_and_modify(client, db, query, update, &matched, &doc,
                                     "marking the job failed", job_id, err);
        if (ok && !matched)
                ok = jt_jobs_find_fields(client, db, job_id, NULL, &doc, err);
        /* Failed before, by this call or an earlier one whose event was never confirmed. */
        if (ok && bson_iter_init_find(&it, &doc, "state") && BSON_ITER_HOLDS_UTF8(&it) &&
            jt_job_state_from_name(bson_iter_utf8(&it, NULL), &state) && state == JT_JOB_FAILED &&
            jt_jobs_same_nonce(&doc, run_nonce) &&
            bson_iter_init_find(&it, &doc, "failureAnnounced") && BSON_ITER_HOLDS_BOOL(&it) &&
            !bson_iter_bool(&it) && bson_iter_init_find(&it, &doc, "failedAt") &&
            BSON_ITER_HOLDS_DATE_TIME(&it)) {
                *announce = true;
                *failed_at_ms = bson_iter_date_time(&it);
        }
        bson_destroy(&doc);
        bson_destroy(update);
        bson_destroy(query);
        return ok;
}

bool jt_jobs_failure_announced(mongoc_client_t *client, const char *db, const char *job_id,
                               int64_t failed_at_ms, jt_error_t *err) {
        bson_t *query =
            BCON_NEW("_id", BCON_UTF8(job_id), "failedAt", BCON_DATE_TIME(failed_at_ms));
        bson_t *update = BCON_NEW("$set", "{", "failureAnnounced", BCON_BOOL(true), "}");
        bson_t doc = BSON_INITIALIZER;
        bool matched = false;
        bool ok = jt_jobs_find_and_modify(client, db, query, update, &matched, &doc,
                                          "recording the JOB_FAILED event", job_id, err);

        bson_destroy(&doc);
        bson_destroy(update);
        bson_destroy(query);
        return ok;
}

bool jt_jobs_reopen(mongoc_client_t *client, const char *db, const char *job_id,
                    const char *run_nonce, int64_t now_ms, bool *reopened, jt_error_t *err) {
        bson_t *query = BCON_NEW("_id", BCON_UTF8(job_id), "state", JT_JOBS_STATE(JT_JOB_FAILED));
        bson_t *update = BCON_NEW("$set", "{", "state", JT_JOBS_STATE(JT_JOB_RUNNING), "reopenedAt",
                                  BCON_DATE_TIME(now_ms), "updatedAt", BCON_DATE_TIME(now_ms), "}",
                                  "$inc", "{", "reopens", BCON_INT32(1), "}");
        bson_t doc = BSON_INITIALIZER;
        bool ok;

        jt_jobs_append_run(query, run_nonce);
        ok = jt_jobs_find_and_modify(client, db, query, update, reopened, &doc,
                                     "re-opening the job", job_id, err);
        bson_destroy(&doc);
        bson_destroy(update);
        bson_destroy(query);
        return ok;
}

bool jt_jobs_state(mongoc_client_t *client, const char *db, const char *job_id, bool *found,
                   jt_job_state_t *state, jt_error_t *err) {
        mongoc_collection_t *jobs = mongoc_client_get_collection(client, db, JT_JOBS_COLLECTION);
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(job_id));
        bson_t *opts = BCON_NEW("projection", "{", "state", BCON_INT32(1), "}");
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(jobs, filter, opts, NULL);
        const bson_t *doc;
        bson_error_t error;
        bson_iter_t it;
        bool ok = true;

        *found = false;
        *state = JT_JOB_RUNNING;
        if (mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&it, doc, "state")) {
                *found = true;
                if (!BSON_ITER_HOLDS_UTF8(&it) ||
                    !jt_job_state_from_name(bson_iter_utf8(&it, NULL), state))
                        ok = jt_error_set(err, JT_ERR_INPUT, 0,
                                          "job %s: its stored state is none of running, "
                                          "finalizing, finished or failed",
                                          job_id);
        } else if (mongoc_cursor_error(cursor, &error))
                ok = jt_jobs_mongo_fail(err, &error, "reading the state", job_id);
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(filter);
        mongoc_collection_destroy(jobs);
        return ok;
}

bool jt_jobs_set_state(mongoc_client_t *client, const char *db, const char *job_id,
                       jt_job_state_t state, int64_t now_ms, jt_error_t *err) {
        mongoc_collection_t *coll = mongoc_client_get_collection(client, db, JT_JOBS_COLLECTION);
        /* Never over a failed job (a failure after the claim wins) nor back from finished. */
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(job_id), "state", "{", "$in", "[",
                                  JT_JOBS_STATE(JT_JOB_FINALIZING), JT_JOBS_STATE(state), "]", "}");
        bson_t *update = BCON_NEW("$set", "{", "state", JT_JOBS_STATE(state), "finishedAt",
                                  BCON_DATE_TIME(now_ms), "updatedAt", BCON_DATE_TIME(now_ms), "}");
        bson_error_t error;
        bool ok = mongoc_collection_update_one(coll, filter, update, NULL, NULL, &error);

        if (!ok)
                jt_jobs_mongo_fail(err, &error, "setting the state", job_id);
        bson_destroy(update);
        bson_destroy(filter);
        mongoc_collection_destroy(coll);
        return ok;
}
