/* The cleanup job: cutoff = fire time - retention; its ranges are planned by jt_cleanup_plan.h
 * (one task per --range-hours window from the oldest playback's hour to the cutoff, at most
 * --max-ranges tasks). A task id names its range (job/YYYYMMDDTHHMM,
 * job/before-YYYYMMDDTHHMM), so the tasks of a job can be rebuilt from the ledger alone. Started by
 * `joytify-producer cleanup`, the scheduler, and the worker finishing a statistics job. */
#include "jt_cleanup_job.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_cleanup_plan.h"
#include "jt_cleanup_result.h"
#include "jt_job_emit.h"
#include "jt_time.h"
#include "jt_indexes.h"
#include "jt_job_ids.h"

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS  (24 * HOUR_MS)

typedef struct {
        const char *job_id;
        int64_t cutoff_ms;
        int range_hours;
        jt_cleanup_task_t base; /* everything but ids and range */
} cleanup_ctx_t;

static bool build_cleanup_task(void *ctx_, const jt_avro_registry_t *reg, const char *task_id,
                               const char *run_nonce, void **buf, size_t *len, char *line,
                               size_t line_size, jt_error_t *err) {
        const cleanup_ctx_t *ctx = ctx_;
        jt_cleanup_task_t task = ctx->base;
        char from[JT_TIME_ISO_BUF], to[JT_TIME_ISO_BUF];

        if (!jt_cleanup_plan_range(task_id, ctx->cutoff_ms, ctx->range_hours, &task.range_start_ms,
                                   &task.range_end_ms, err))
                return false;
        task.task_id = (char *)task_id;
        task.run_nonce = (char *)run_nonce;
        if (task.range_start_ms == INT64_MIN)
                snprintf(from, sizeof(from), "the oldest");
        else
                jt_time_format_iso(task.range_start_ms / 1000, from, sizeof(from));
        jt_time_format_iso(task.range_end_ms / 1000, to, sizeof(to));
        snprintf(line, line_size, "%s  [%s, %s)%s", task_id, from, to,
                 task.test_mode ? "  test mode" : "");
        return jt_cleanup_task_encode(reg, &task, buf, len, err);
}

/* One playback created before before_ms (*found false if none) and its createdAt: one find,
 * limited to one, on the createdAt index; the oldest one when sorted. */
static bool one_before(mongoc_collection_t *coll, int64_t before_ms, bool sorted,
                       int64_t *created_ms, bool *found, jt_error_t *err) {
        bson_t *filter = BCON_NEW("createdAt", "{", "$lt", BCON_DATE_TIME(before_ms), "}");
        bson_t *opts =
            BCON_NEW("limit", BCON_INT64(1), "projection", "{", "createdAt", BCON_INT32(1), "}");
        mongoc_cursor_t *cursor;
        const bson_t *doc;
        bson_error_t error;
        bson_iter_t it;
        bool ok = true;

        if (sorted)
                BCON_APPEND(opts, "sort", "{", "createdAt", BCON_INT32(1), "}");
        cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
        *found = false;
        if (mongoc_cursor_next(cursor, &doc)) {
                if (bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
                        *created_ms = bson_iter_date_time(&it);
                        *found = true;
                } else {
                        /* An array holding a date matches $lt too: plan as if it were the
                         * oldest possible date (the older task covers it) rather than fail. */
                        *created_ms = INT64_MIN;
                        *found = true;
                }
        } else if (mongoc_cursor_error(cursor, &error)) {
                ok = jt_error_set(err, JT_ERR_MONGO, (int)error.code,
                                  "finding the oldest playback: %s", error.message);
        }
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(filter);
        return ok;
}

bool jt_cleanup_job_any_before(mongoc_collection_t *coll, int64_t before_ms, bool *any,
                               jt_error_t *err) {
        int64_t ignored;
        return one_before(coll, before_ms, false, &ignored, any, err);
}

/* The createdAt of the oldest playback older than the cutoff (to the hour at least: the
 * planner rounds it down), or *found false.
 *
 * A bisection over hours on "is there a playback before T?" rather than a sort + limit 1: the
 * local server (SecantusDB) reads every document a query matches, limited or sorted or not,
 * so a sort + limit 1 reads every playback older than the cutoff. So each probe costs what it
 * matches: the split leans to the old side (1/32 of the interval), which keeps a matching probe
 * small, and the about 420 probes that match nothing are a round trip each. On MongoDB each
 * probe is one index seek. */
static bool oldest_hour(mongoc_client_pool_t *pool, const char *db, bool test_mode,
                        int64_t cutoff_ms, int64_t *hour_ms, bool *found, jt_error_t *err) {
        mongoc_client_t *client = mongoc_client_pool_pop(pool);
        mongoc_collection_t *coll =
            mongoc_client_get_collection(client, db, test_mode ? "test-playbacks" : "playbacks");
        int64_t lo = 0;                                   /* hours: nothing before lo */
        int64_t hi = (cutoff_ms + HOUR_MS - 1) / HOUR_MS; /* something before hi, if ... */
        bool hi_known = false, any = false, ok;           /* ... hi_known */

        *found = false;
        ok = cutoff_ms <= 0 || jt_cleanup_job_any_before(coll, 0, &any, err);
        if (ok && (cutoff_ms <= 0 || any)) { /* dates before 1970: rare enough for the sort */
                ok = one_before(coll, cutoff_ms, true, hour_ms, found, err);
        } else if (ok) {
                while (ok && hi - lo > 1) {
                        int64_t mid = lo + ((hi - lo) / 32 > 0 ? (hi - lo) / 32 : 1);
                        if ((ok = jt_cleanup_job_any_before(coll, mid * HOUR_MS, &any, err)) &&
                            any) {
                                hi = mid;
                                hi_known = true;
                        } else {
                                lo = mid;
                        }
                }
                /* Never matched: is anything in [lo, cutoff) at all (an hour's worth at most)? */
                if (ok && !hi_known)
                        ok = jt_cleanup_job_any_before(coll, cutoff_ms, &hi_known, err);
                *found = ok && hi_known;
                *hour_ms = lo * HOUR_MS;
        }
        mongoc_collection_destroy(coll);
        mongoc_client_pool_push(pool, client);
        return ok;
}

jt_cleanup_job_params_t jt_cleanup_job_params_from_config(const jt_config_t *cfg) {
        return (jt_cleanup_job_params_t){
            .retention_days = (int32_t)jt_config_int(cfg, "retention-days"),
            .range_hours = (int32_t)jt_config_int(cfg, "range-hours"),
            .max_ranges = (int32_t)jt_config_int(cfg, "max-ranges"),
            .batch_size = (int32_t)jt_config_int(cfg, "batch-size"),
            .batch_delay_ms = (int32_t)jt_config_int(cfg, "batch-delay-ms"),
            .time_budget_s = (int32_t)jt_config_int(cfg, "time-budget")};
}

bool jt_cleanup_job_emit(const jt_emit_env_t *env, const jt_cleanup_job_params_t *p, bool dry_run,
                         jt_cleanup_job_result_t *result, jt_error_t *err) {
        char job_id[128];
        char **ids = NULL;
        size_t count = 0;
        bson_t *params = NULL;
        int64_t cutoff_ms, start = 0;
        bool found = false, ok = false;
        jt_cleanup_plan_t plan;
        cleanup_ctx_t ctx;
        jt_emit_t emit;
        jt_status_event_t finished;

        memset(result, 0, sizeof(*result));
        cutoff_ms = p->fire_s * 1000 - p->retention_days * DAY_MS;
        jt_job_ids_cleanup(p->fire_s, p->test_mode, p->run_id, job_id, sizeof(job_id));
        snprintf(result->emit.job_id, sizeof(result->emit.job_id), "%s", job_id);
        result->emit.topic = env->cleanup_topic;
        if ((!dry_run && !jt_indexes_ensure(env->pool, env->db, p->test_mode, err)) ||
            !oldest_hour(env->pool, env->db, p->test_mode, cutoff_ms, &start, &found, err)) {
                jt_error_prefix(err, "job %s", job_id);
                goto done;
        }
        result->planned = true;
        result->cutoff_ms = cutoff_ms;
        result->found = found;
        if (found) {
                jt_cleanup_plan_make(start, cutoff_ms, p->range_hours, p->max_ranges, &plan);
                count = jt_cleanup_plan_count(&plan);
                if (!(ids = calloc(count ? count : 1, sizeof(*ids)))) {
                        jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory for %zu task ids",
                                     count);
                        goto done;
                }
                for (size_t i = 0; i < count; i++) {
                        char id[160];
                        jt_cleanup_plan_task_id(&plan, job_id, i, id, sizeof(id));
                        ids[i] = strdup(id);
                }
                result->older = plan.older;
        }
        params = BCON_NEW("cutoff", BCON_DATE_TIME(cutoff_ms), "retentionDays",
                          BCON_INT32(p->retention_days), "rangeHours", BCON_INT32(p->range_hours),
                          "batchSize", BCON_INT32(p->batch_size), "batchDelayMs",
                          BCON_INT32(p->batch_delay_ms), "timeBudget", BCON_INT32(p->time_budget_s),
                          "triggeredBy", BCON_UTF8(p->triggered_by));
        ctx = (cleanup_ctx_t){
            .job_id = job_id,
            .cutoff_ms = cutoff_ms,
            .range_hours = p->range_hours,
            .base = {.job_id = job_id,
                     .cutoff_ms = cutoff_ms,
                     .retention_days = p->retention_days,
                     .batch_size = p->batch_size,
                     .batch_delay_ms = p->batch_delay_ms,
                     .time_budget_s = p->time_budget_s,
                     .test_mode = p->test_mode,
                     .triggered_by = (char *)p->triggered_by,
                     .created_at_ms = jt_time_wall_ms(),
                     .found = -1},
        };
        emit = (jt_emit_t){
            .spec = {.job_id = job_id,
                     .owner = p->owner,
                     .kind = "cleanup",
                     .test_mode = p->test_mode,
                     .run_id = p->run_id,
                     .params = params,
                     .task_ids = (const char *const *)ids,
                     .task_count = count},
            .topic = env->cleanup_topic,
            .build = build_cleanup_task,
            .build_ctx = &ctx,
            .started = {.job_id = job_id,
                        .type = JT_STATUS_JOB_STARTED,
                        .job_kind = JT_JOB_KIND_CLEANUP,
                        .test_mode = p->test_mode,
                        .cutoff_date_ms = {true, cutoff_ms},
                        .triggered_by = (char *)p->triggered_by},
        };
        finished = emit.started;
        finished.type = JT_STATUS_JOB_FINISHED;
        jt_cleanup_result_fill(&finished, 0, 0, 0, p->batch_size);
        finished.execution_ms = (jt_opt_long_t){true, 0};
        emit.finished_when_empty = &finished;
        ok = jt_job_emit(env, &emit, dry_run, &result->emit, err);
done:
        if (params)
                bson_destroy(params);
        jt_job_ids_free(ids, count);
        return ok;
}

void jt_cleanup_job_result_clear(jt_cleanup_job_result_t *result) {
        jt_job_emit_result_clear(&result->emit);
}

bool jt_cleanup_job_chained_by_stats(const char *triggered_by) {
        return triggered_by && (strcmp(triggered_by, JT_TRIGGERED_BY_STATS) == 0 ||
                                strcmp(triggered_by, JT_TRIGGERED_BY_STATS_OLD) == 0);
}
