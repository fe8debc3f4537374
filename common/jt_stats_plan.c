/* Range planning of a statistics job (jt_stats_plan.h): the cut over sorted ids, the one pass
 * over the users' _id index that feeds it, and the plan's form in the ledger's params. */
#include "jt_stats_plan.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The pass reads ids only: a large batch keeps round trips few (16 bytes or so per id). */
#define PASS_BATCH_SIZE 50000

/* Candidates kept per allowed range before they are thinned: the final users per range can
 * then be at most 1/64 above the least that fits max_tasks, with at most 64 x 4096 ids kept. */
#define CANDIDATES_PER_TASK 64

struct jt_stats_plan_cut_s {
        int64_t users_per_task;
        int32_t max_tasks;
        int64_t n; /* ids added */
        int64_t
            step; /* candidates are the ids at step, 2 step, ... (a multiple of users_per_task) */
        bson_oid_t last;
        bson_oid_t *cands; /* cands[j] is the id at index (j + 1) * step */
        size_t cand_count, cand_cap;
};

jt_stats_plan_cut_t *jt_stats_plan_cut_new(int64_t users_per_task, int32_t max_tasks) {
        jt_stats_plan_cut_t *cut = calloc(1, sizeof(*cut));

        if (!cut)
                return NULL;
        cut->users_per_task = users_per_task > 0 ? users_per_task : 1;
        cut->max_tasks = max_tasks > 0 ? max_tasks : 1;
        cut->step = cut->users_per_task;
        cut->cand_cap = (size_t)cut->max_tasks * CANDIDATES_PER_TASK;
        cut->cands = calloc(cut->cand_cap, sizeof(*cut->cands));
        if (!cut->cands) {
                free(cut);
                return NULL;
        }
        return cut;
}

void jt_stats_plan_cut_destroy(jt_stats_plan_cut_t *cut) {
        if (!cut)
                return;
        free(cut->cands);
        free(cut);
}

bool jt_stats_plan_cut_add(jt_stats_plan_cut_t *cut, const bson_oid_t *id, jt_error_t *err) {
        if (cut->n > 0 && bson_oid_compare(id, &cut->last) <= 0) {
                char a[JT_STATS_PLAN_OID_HEX], b[JT_STATS_PLAN_OID_HEX];
                bson_oid_to_string(&cut->last, a);
                bson_oid_to_string(id, b);
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "user ids out of order: expected ascending ids, got %s after "
                                    "%s",
                                    b, a);
        }
        cut->last = *id;
        if (cut->n > 0 && cut->n % cut->step == 0) {
                if (cut->cand_count == cut->cand_cap) {
                        /* So many ids that the ranges must grow anyway: keep every other
                         * candidate (those at even multiples of step) and double the step. */
                        size_t kept = 0;
                        for (size_t j = 1; j < cut->cand_count; j += 2)
                                cut->cands[kept++] = cut->cands[j];
                        cut->cand_count = kept;
                        cut->step *= 2;
                }
                if (cut->n % cut->step == 0)
                        cut->cands[cut->cand_count++] = *id;
        }
        cut->n++;
        return true;
}

bool jt_stats_plan_cut_finish(const jt_stats_plan_cut_t *cut, jt_stats_plan_t *plan,
                              jt_error_t *err) {
        int64_t least, mult, per, count;

        memset(plan, 0, sizeof(*plan));
        plan->users = cut->n;
        /* The fewest users per range that keeps to max_tasks, rounded up to the candidates'
         * step: per = mult x step, and range t starts at candidate t x mult - 1. */
        least = (cut->n + cut->max_tasks - 1) / cut->max_tasks;
        if (least < cut->users_per_task)
                least = cut->users_per_task;
        mult = (least + cut->step - 1) / cut->step;
        per = mult * cut->step;
        count = cut->n == 0 ? 1 : (cut->n + per - 1) / per;
        plan->users_per_task = per;
        plan->count = (size_t)count;
        if (count > 1) {
                plan->bounds = calloc((size_t)count - 1, sizeof(*plan->bounds));
                if (!plan->bounds)
                        return jt_error_set(err, JT_ERR_SYSTEM, 0,
                                            "out of memory for %" PRId64 " range bounds",
                                            count - 1);
        }
        for (int64_t t = 1; t < count; t++) {
                size_t j = (size_t)(t * mult - 1);
                if (j >= cut->cand_count) {
                        jt_stats_plan_clear(plan);
                        return jt_error_set(err, JT_ERR_SYSTEM, 0,
                                            "range cut: boundary %" PRId64 " needs candidate %zu "
                                            "of %zu",
                                            t, j, cut->cand_count);
                }
                bson_oid_to_string(&cut->cands[j], plan->bounds[t - 1]);
        }
        return true;
}

bool jt_stats_plan_make(mongoc_client_t *client, const char *db, bool test_mode,
                        int64_t users_per_task, int32_t max_tasks, jt_stats_plan_t *plan,
                        jt_error_t *err) {
        const char *name = test_mode ? "test-users" : "users";
        mongoc_collection_t *coll = mongoc_client_get_collection(client, db, name);
        /* Ids only, in index order, on the _id index: MongoDB answers it from the index alone
         * (a covered IXSCAN, no FETCH and no in-memory sort). The local server's explain shows
         * the IXSCAN of _id_ and no sort stage, but a FETCH of each document: it reads every
         * user once, still one pass. */
        bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "sort", "{", "_id",
                                BCON_INT32(1), "}", "hint", "{", "_id", BCON_INT32(1), "}",
                                "batchSize", BCON_INT32(PASS_BATCH_SIZE));
        bson_t filter = BSON_INITIALIZER;
        jt_stats_plan_cut_t *cut = jt_stats_plan_cut_new(users_per_task, max_tasks);
        mongoc_cursor_t *cursor = NULL;
        const bson_t *doc;
        bson_error_t error;
        int64_t skipped = 0;
        bool ok = false;

        memset(plan, 0, sizeof(*plan));
        if (!cut) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory for the range cut");
                goto done;
        }
        cursor = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
        while (mongoc_cursor_next(cursor, &doc)) {
                bson_iter_t it;
                if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it)) {
                        skipped++;
                        continue;
                }
                if (!jt_stats_plan_cut_add(cut, bson_iter_oid(&it), err)) {
                        jt_error_prefix(err, "%s.%s", db, name);
                        goto done;
                }
        }
        if (mongoc_cursor_error(cursor, &error)) {
                jt_error_set_transient(err, JT_ERR_MONGO, (int)error.code,
                                       "reading the user ids of %s.%s: %s", db, name,
                                       error.message);
                goto done;
        }
        if (!jt_stats_plan_cut_finish(cut, plan, err))
                goto done;
        plan->skipped = skipped;
        ok = true;
done:
        mongoc_cursor_destroy(cursor);
        jt_stats_plan_cut_destroy(cut);
        bson_destroy(&filter);
        bson_destroy(opts);
        mongoc_collection_destroy(coll);
        return ok;
}

void jt_stats_plan_range(const jt_stats_plan_t *plan, size_t i, const char **from,
                         const char **to) {
        *from = i > 0 && i < plan->count ? plan->bounds[i - 1] : NULL;
        *to = i + 1 < plan->count ? plan->bounds[i] : NULL;
}

void jt_stats_plan_append_params(const jt_stats_plan_t *plan, bson_t *params) {
        bson_t bounds;
        char key[16];
        const char *k;

        BSON_APPEND_INT32(params, "tasks", (int32_t)plan->count);
        BSON_APPEND_ARRAY_BEGIN(params, "bounds", &bounds);
        for (size_t i = 0; i + 1 < plan->count; i++) {
                bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
                bson_append_utf8(&bounds, k, -1, plan->bounds[i], -1);
        }
        bson_append_array_end(params, &bounds);
}

bool jt_stats_plan_from_params(const bson_t *params, jt_stats_plan_t *plan, bool *found,
                               jt_error_t *err) {
        bson_iter_t it, child;
        bson_oid_t prev, cur;
        int64_t tasks;
        size_t n = 0;

        memset(plan, 0, sizeof(*plan));
        *found = false;
        if (!bson_iter_init_find(&it, params, "bounds"))
                return true;
        if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "params.bounds: expected an array, got BSON type 0x%02x",
                                    (unsigned)bson_iter_type(&it));
        if (!bson_iter_init_find(&it, params, "tasks") ||
            !(BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it)) ||
            (tasks = bson_iter_as_int64(&it)) < 1 || tasks > 1000000)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "params.tasks: expected a task count 1..1000000 next to "
                                    "params.bounds");
        plan->count = (size_t)tasks;
        if (tasks > 1 && !(plan->bounds = calloc((size_t)tasks - 1, sizeof(*plan->bounds))))
                return jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory for %" PRId64 " bounds",
                                    tasks - 1);
        while (bson_iter_next(&child)) {
                const char *hex = BSON_ITER_HOLDS_UTF8(&child) ? bson_iter_utf8(&child, NULL) : "";
                if (n + 1 >= plan->count || !bson_oid_is_valid(hex, strlen(hex)) ||
                    strlen(hex) != 24) {
                        jt_stats_plan_clear(plan);
                        return jt_error_set(err, JT_ERR_INPUT, 0,
                                            "params.bounds[%zu]: expected one of %" PRId64
                                            " hex ObjectIds, got \"%s\"",
                                            n, tasks - 1, hex);
                }
                bson_oid_init_from_string(&cur, hex);
                if (n > 0 && bson_oid_compare(&cur, &prev) <= 0) {
                        jt_stats_plan_clear(plan);
                        return jt_error_set(err, JT_ERR_INPUT, 0,
                                            "params.bounds[%zu]: expected above the previous "
                                            "bound, got %s",
                                            n, hex);
                }
                prev = cur;
                bson_oid_to_string(&cur, plan->bounds[n++]);
        }
        if (n + 1 != plan->count) {
                jt_stats_plan_clear(plan);
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "params.bounds: expected %" PRId64 " bounds for %" PRId64
                                    " tasks, got %zu",
                                    tasks - 1, tasks, n);
        }
        plan->reused = true;
        *found = true;
        return true;
}

void jt_stats_plan_clear(jt_stats_plan_t *plan) {
        if (!plan)
                return;
        free(plan->bounds);
        memset(plan, 0, sizeof(*plan));
}
