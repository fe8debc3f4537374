/* Job ledger: what a worker knows of a task's job before it acts on the task (jt_job_view_t). */
#include "jt_jobs.h"
#include "jt_jobs_private.h"

#include <stdio.h>
#include <string.h>

/* progress.<key> of a statistics range into view (after_user "" when none or malformed). */
static void view_users_checkpoint(const bson_t *doc, const char *key, jt_job_view_t *view) {
        char path[160];
        bson_iter_t it, found;
        const char *after;

        view->after_user[0] = view->holder[0] = '\0';
        view->held_until_ms = 0;
        memset(&view->after_figures, 0, sizeof(view->after_figures));
        snprintf(path, sizeof(path), "progress.%s.afterUser", key);
        if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &found) ||
            !BSON_ITER_HOLDS_UTF8(&found))
                return;
        after = bson_iter_utf8(&found, NULL);
        if (!bson_oid_is_valid(after, strlen(after)) || strlen(after) != 24)
                return;
        snprintf(view->after_user, sizeof(view->after_user), "%s", after);
        snprintf(path, sizeof(path), "progress.%s.users", key);
        view->after_figures.users = jt_jobs_doc_int64(doc, path, 0);
        snprintf(path, sizeof(path), "progress.%s.withEntry", key);
        view->after_figures.with_entry = jt_jobs_doc_int64(doc, path, 0);
        snprintf(path, sizeof(path), "progress.%s.badRows", key);
        view->after_figures.bad_rows = jt_jobs_doc_int64(doc, path, 0);
        snprintf(path, sizeof(path), "progress.%s.notified", key);
        view->after_figures.notified = jt_jobs_doc_int64(doc, path, 0);
        snprintf(path, sizeof(path), "progress.%s.holder", key);
        if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found) &&
            BSON_ITER_HOLDS_UTF8(&found))
                snprintf(view->holder, sizeof(view->holder), "%s", bson_iter_utf8(&found, NULL));
        snprintf(path, sizeof(path), "progress.%s.heldUntil", key);
        if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found) &&
            BSON_ITER_HOLDS_DATE_TIME(&found))
                view->held_until_ms = bson_iter_date_time(&found);
}

/* Whether the array at doc.taskIds holds task_id; with results (may be NULL), the number of
 * listed tasks with a result into *with_result. */
static bool listed_tasks(const bson_t *doc, const char *job_id, const char *task_id,
                         int64_t *with_result) {
        bson_iter_t it, ids, res;
        size_t job_len = strlen(job_id);
        bool listed = false;
        bool have_results =
            bson_iter_init_find(&res, doc, "results") && BSON_ITER_HOLDS_DOCUMENT(&res);
        bson_t results;
        const uint8_t *data = NULL;
        uint32_t len = 0;

        *with_result = 0;
        if (have_results) {
                bson_iter_document(&res, &len, &data);
                have_results = bson_init_static(&results, data, len);
        }
        if (!bson_iter_init_find(&it, doc, "taskIds") || !BSON_ITER_HOLDS_ARRAY(&it) ||
            !bson_iter_recurse(&it, &ids))
                return false;
        while (bson_iter_next(&ids)) {
                const char *id;
                if (!BSON_ITER_HOLDS_UTF8(&ids))
                        continue;
                id = bson_iter_utf8(&ids, NULL);
                if (task_id && strcmp(id, task_id) == 0)
                        listed = true;
                if (have_results && strncmp(id, job_id, job_len) == 0 && id[job_len] == '/' &&
                    bson_has_field(&results, id + job_len + 1))
                        (*with_result)++;
        }
        return listed;
}

/* params.bounds of a statistics job into view: the bounds of range task_id (job/NNNN). */
static void view_plan(const bson_t *doc, const char *task_id, jt_job_view_t *view) {
        const char *slash = task_id ? strrchr(task_id, '/') : NULL;
        char *end = NULL;
        long index = slash && slash[1] ? strtol(slash + 1, &end, 10) : -1;
        bson_iter_t it, bounds;
        long i = 0;

        if (!bson_iter_init(&it, doc) ||
            !bson_iter_find_descendant(&it, "params.bounds", &bounds) ||
            !BSON_ITER_HOLDS_ARRAY(&bounds) || !bson_iter_recurse(&bounds, &it))
                return;
        view->have_plan = true;
        while (bson_iter_next(&it)) {
                const char *b = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "?";
                if (end && !*end && i == index - 1)
                        snprintf(view->plan_from, sizeof(view->plan_from), "%s", b);
                if (end && !*end && i == index)
                        snprintf(view->plan_to, sizeof(view->plan_to), "%s", b);
                i++;
        }
        view->plan_ranges = i + 1;
}

bool jt_jobs_view(mongoc_client_t *client, const char *db, const char *job_id,
                  const char *run_nonce, const char *task_id, const char *key, jt_job_view_t *view,
                  jt_error_t *err) {
        bson_t doc = BSON_INITIALIZER;
        bson_iter_t it;
        int64_t with_result = 0;
        bool ok;

        memset(view, 0, sizeof(*view));
        /* Every result (not only this task's): complete counts the listed ones. Results are a
         * few numbers per task. */
        ok = jt_jobs_find_fields(client, db, job_id, NULL, &doc, err);
        if (ok && !bson_empty(&doc)) {
                view->exists = true;
                view->same_run = jt_jobs_same_nonce(&doc, run_nonce);
                view->listed = listed_tasks(&doc, job_id, task_id, &with_result);
                view->tasks_total = jt_jobs_doc_int64(&doc, "tasksTotal", 0);
                view->tasks_done = jt_jobs_doc_int64(&doc, "tasksDone", 0);
                view->complete = view->tasks_total > 0 && with_result >= view->tasks_total;
                view->state = JT_JOB_RUNNING;
                if (bson_iter_init_find(&it, &doc, "state") && BSON_ITER_HOLDS_UTF8(&it))
                        jt_job_state_from_name(bson_iter_utf8(&it, NULL), &view->state);
                {
                        bson_iter_t found;
                        if (bson_iter_init(&it, &doc) &&
                            bson_iter_find_descendant(&it, "lastFailure.task", &found) &&
                            BSON_ITER_HOLDS_UTF8(&found))
                                snprintf(view->failed_task, sizeof(view->failed_task), "%s",
                                         bson_iter_utf8(&found, NULL));
                        if (bson_iter_init(&it, &doc) &&
                            bson_iter_find_descendant(&it, "params.month", &found) &&
                            BSON_ITER_HOLDS_UTF8(&found))
                                snprintf(view->month, sizeof(view->month), "%s",
                                         bson_iter_utf8(&found, NULL));
                        if (bson_iter_init(&it, &doc) &&
                            bson_iter_find_descendant(&it, "params.cutoff", &found) &&
                            BSON_ITER_HOLDS_DATE_TIME(&found))
                                view->cutoff_ms = bson_iter_date_time(&found);
                }
                view->test_mode = bson_iter_init_find(&it, &doc, "testMode") &&
                                  BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
                view->found = -1;
                view->resume_from_ms = INT64_MIN;
                if (key) {
                        char path[160];
                        bson_iter_t found;
                        snprintf(path, sizeof(path), "results.%s", key);
                        view->recorded = bson_iter_init(&it, &doc) &&
                                         bson_iter_find_descendant(&it, path, &found);
                        snprintf(path, sizeof(path), "found.%s", key);
                        view->found = jt_jobs_doc_int64(&doc, path, -1);
                        snprintf(path, sizeof(path), "progress.%s.resumeFrom", key);
                        if (bson_iter_init(&it, &doc) &&
                            bson_iter_find_descendant(&it, path, &found) &&
                            BSON_ITER_HOLDS_DATE_TIME(&found)) {
                                view->resume_from_ms = bson_iter_date_time(&found);
                                snprintf(path, sizeof(path), "progress.%s.deleted", key);
                                view->resume_deleted = jt_jobs_doc_int64(&doc, path, 0);
                        }
                        view_users_checkpoint(&doc, key, view);
                }
                view_plan(&doc, task_id, view);
        }
        bson_destroy(&doc);
        return ok;
}
