/* The statistics job (jt_stats_job.h). Its ledger params are {month, usersPerTask, tasks,
 * bounds}: a re-send reads the bounds back before planning, so it sends the ranges the job was
 * created with even after users were added, and the claim finds the same params. */
#include "jt_stats_job.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_indexes.h"
#include "jt_job_ids.h"
#include "jt_retention.h"
#include "jt_stats_plan.h"
#include "jt_time.h"

typedef struct {
        const jt_stats_job_params_t *params;
        const char *job_id;
        const jt_stats_plan_t *plan;
        int64_t created_at_ms;
} stats_ctx_t;

static bool build_stats_task(void *ctx_, const jt_avro_registry_t *reg, const char *task_id,
                             const char *run_nonce, void **buf, size_t *len, char *line,
                             size_t line_size, jt_error_t *err) {
        const stats_ctx_t *ctx = ctx_;
        const jt_stats_job_params_t *p = ctx->params;
        const char *slash = strrchr(task_id, '/');
        const char *from = NULL, *to = NULL;
        char *end = NULL;
        long index = slash ? strtol(slash + 1, &end, 10) : -1;
        jt_stats_task_t task;

        if (!slash || !end || *end || index < 0 || (size_t)index >= ctx->plan->count)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "task id %s does not name one of the %zu ranges", task_id,
                                    ctx->plan->count);
        jt_stats_plan_range(ctx->plan, (size_t)index, &from, &to);
        task = (jt_stats_task_t){.job_id = (char *)ctx->job_id,
                                 .task_id = (char *)task_id,
                                 .kind = JT_STATS_TASK_RANGE,
                                 .shard = (int32_t)index,
                                 .shard_count = (int32_t)ctx->plan->count,
                                 .month = (char *)p->month,
                                 .test_mode = p->test_mode,
                                 .run_id = (char *)p->run_id,
                                 .run_nonce = (char *)run_nonce,
                                 .user_from = (char *)from,
                                 .user_to = (char *)to,
                                 .time_budget_s = p->task_budget_s,
                                 .created_at_ms = ctx->created_at_ms};
        snprintf(line, line_size, "%s  month %s  range %ld/%zu [%s, %s)%s", task_id, p->month,
                 index, ctx->plan->count, from ? from : "lowest", to ? to : "highest",
                 p->test_mode ? "  test mode" : "");
        return jt_stats_task_encode(reg, &task, buf, len, err);
}

/* Whether a cleanup may have deleted some of the month's playbacks (jt_retention): its entries
 * would be replaced by figures from what is left, so the job is refused (reason in result). */
static bool check_month(const jt_emit_env_t *env, const jt_stats_job_params_t *p,
                        jt_emit_result_t *result, bool *safe, jt_error_t *err) {
        mongoc_client_t *client;
        int64_t start_ms, end_ms;
        bool ok;

        *safe = false;
        if (!jt_job_ids_month_range(p->month, &start_ms, &end_ms, err)) {
                err->domain = JT_ERR_CONFIG;
                return false;
        }
        client = mongoc_client_pool_pop(env->pool);
        ok = jt_retention_month_safe(client, env->db, p->test_mode, start_ms, p->retention_days,
                                     jt_time_wall_ms(), safe, result->info, sizeof(result->info),
                                     err);
        mongoc_client_pool_push(env->pool, client);
        return ok;
}

/* The job's plan: the one in its ledger entry when there is one, else cut now. */
static bool job_plan(const jt_emit_env_t *env, const jt_stats_job_params_t *p, const char *job_id,
                     jt_stats_plan_t *plan, jt_error_t *err) {
        mongoc_client_t *client = mongoc_client_pool_pop(env->pool);
        bson_t stored = BSON_INITIALIZER;
        bool found = false, ok;

        ok = jt_jobs_get_params(client, env->db, job_id, &stored, &found, err) &&
             (!found || jt_stats_plan_from_params(&stored, plan, &found, err));
        if (ok && !found)
                ok = jt_stats_plan_make(client, env->db, p->test_mode, p->users_per_task,
                                        p->max_tasks, plan, err);
        if (!ok)
                jt_error_prefix(err, "planning job %s", job_id);
        bson_destroy(&stored);
        mongoc_client_pool_push(env->pool, client);
        return ok;
}

bool jt_stats_job_emit(const jt_emit_env_t *env, const jt_stats_job_params_t *p, bool dry_run,
                       jt_stats_job_result_t *result, jt_error_t *err) {
        jt_stats_plan_t plan = {0};
        char job_id[128];
        char **ids = NULL;
        bson_t *params = NULL;
        stats_ctx_t ctx;
        jt_emit_t emit;
        bool safe = false, ok = false;

        memset(result, 0, sizeof(*result));
        jt_job_ids_stats_fire(p->month, p->fire_s, p->test_mode, p->run_id, job_id, sizeof(job_id));
        snprintf(result->emit.job_id, sizeof(result->emit.job_id), "%s", job_id);
        result->emit.topic = env->stats_topic;
        if (!check_month(env, p, &result->emit, &safe, err)) {
                jt_error_prefix(err, "job %s", job_id);
                goto done;
        }
        if (!safe) {
                result->emit.outcome = JT_EMIT_REFUSED;
                ok = true;
                goto done;
        }
        if (!dry_run && !jt_indexes_ensure(env->pool, env->db, p->test_mode, err)) {
                jt_error_prefix(err, "job %s", job_id);
                goto done;
        }
        if (!job_plan(env, p, job_id, &plan, err))
                goto done;
        result->ranges = plan.count;
        result->users = plan.users;
        result->skipped = plan.skipped;
        result->users_per_task = plan.users_per_task;
        result->plan_reused = plan.reused;
        if (!(ids = jt_job_ids_numbered(job_id, plan.count))) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory for %zu task ids", plan.count);
                goto done;
        }
        /* Only what makes the tasks: the options asked for and the plan they gave. A re-send
         * with another --shards reuses the stored plan; another --users-per-task is another
         * job (a --run-id). */
        params =
            BCON_NEW("month", BCON_UTF8(p->month), "usersPerTask", BCON_INT64(p->users_per_task));
        jt_stats_plan_append_params(&plan, params);
        ctx = (stats_ctx_t){p, job_id, &plan, jt_time_wall_ms()};
        emit = (jt_emit_t){
            .spec = {.job_id = job_id,
                     .kind = "stats",
                     .test_mode = p->test_mode,
                     .run_id = p->run_id,
                     .params = params,
                     .task_ids = (const char *const *)ids,
                     .task_count = plan.count},
            .topic = env->stats_topic,
            .build = build_stats_task,
            .build_ctx = &ctx,
            .started = {.job_id = job_id,
                        .type = JT_STATUS_JOB_STARTED,
                        .job_kind = JT_JOB_KIND_STATS,
                        .test_mode = p->test_mode,
                        .month = (char *)p->month},
        };
        ok = jt_job_emit(env, &emit, dry_run, &result->emit, err);
        /* A re-claimed job sends its ledger's tasks: the count is theirs. */
        if (ok && result->emit.task_count != plan.count)
                result->ranges = result->emit.task_count;
done:
        if (params)
                bson_destroy(params);
        jt_job_ids_free(ids, plan.count);
        jt_stats_plan_clear(&plan);
        return ok;
}

void jt_stats_job_result_clear(jt_stats_job_result_t *result) {
        jt_job_emit_result_clear(&result->emit);
}
