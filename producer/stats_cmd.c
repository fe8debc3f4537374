/* `joytify-producer stats`: the monthly statistics job. The month defaults to the previous
 * complete UTC month; users are split into --shards shards by user id hash (the worker selects
 * its shard's users), one task per shard, keyed job_id/shard. */
#include "stats_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jt_job_emit.h"
#include "jt_indexes.h"
#include "jt_job_ids.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_retention.h"
#include "jt_startup.h"

typedef struct {
        const char *job_id;
        const char *month;
        int shards;
        bool test_mode;
        const char *run_id;
        int64_t created_at_ms;
} stats_ctx_t;

static bool build_stats_task(void *ctx_, const jt_avro_registry_t *reg, const char *task_id,
                             const char *run_nonce, void **buf, size_t *len, char *line,
                             size_t line_size, jt_error_t *err) {
        const stats_ctx_t *ctx = ctx_;
        const char *slash = strrchr(task_id, '/');
        char *end = NULL;
        long shard = slash ? strtol(slash + 1, &end, 10) : -1;
        jt_stats_task_t task;

        if (!slash || !end || *end || shard < 0 || shard >= ctx->shards)
                return jt_error_set(err, JT_ERR_INPUT, 0, "task id %s does not name a shard of %d",
                                    task_id, ctx->shards);
        task = (jt_stats_task_t){.job_id = (char *)ctx->job_id,
                                 .task_id = (char *)task_id,
                                 .kind = JT_STATS_TASK_SHARD,
                                 .shard = (int32_t)shard,
                                 .shard_count = ctx->shards,
                                 .month = (char *)ctx->month,
                                 .test_mode = ctx->test_mode,
                                 .run_id = (char *)ctx->run_id,
                                 .run_nonce = (char *)run_nonce,
                                 .created_at_ms = ctx->created_at_ms};
        snprintf(line, line_size, "%s  month %s  shard %ld/%d%s", task_id, ctx->month, shard,
                 ctx->shards, ctx->test_mode ? "  test mode" : "");
        return jt_stats_task_encode(reg, &task, buf, len, err);
}

/* Refuses a month whose playbacks a cleanup may have deleted (jt_retention): its entries would
 * be replaced by figures from what is left. Returns JT_EXIT_OK when the month may be sent. */
static int check_month(const jt_config_t *cfg, mongoc_client_pool_t *pool, const char *job_id,
                       const char *month, bool test_mode, bool *refused) {
        char reason[512];
        int64_t start_ms, end_ms;
        mongoc_client_t *client;
        jt_error_t err;
        bool safe = false, ok;

        jt_error_clear(&err);
        if (!jt_job_ids_month_range(month, &start_ms, &end_ms, &err)) {
                fprintf(stderr, "%s: job %s: %s\n", jt_config_command_line_name(cfg), job_id,
                        err.message);
                return JT_EXIT_USAGE;
        }
        client = mongoc_client_pool_pop(pool);
        ok = jt_retention_month_safe(client, jt_config_str(cfg, "db"), test_mode, start_ms,
                                     (int)jt_config_int(cfg, "retention-days"), jt_emit_now_ms(),
                                     &safe, reason, sizeof(reason), &err);
        mongoc_client_pool_push(pool, client);
        if (!ok) {
                fprintf(stderr, "%s: job %s: %s\n", jt_config_command_line_name(cfg), job_id,
                        err.message);
                return JT_EXIT_FAILURE;
        }
        if (!safe) {
                if (refused)
                        *refused = true;
                fprintf(stderr, "%s: job %s refused, nothing sent: %s\n",
                        jt_config_command_line_name(cfg), job_id, reason);
                return JT_EXIT_USAGE;
        }
        return JT_EXIT_OK;
}

int jt_stats_job_emit(const jt_config_t *cfg, mongoc_client_pool_t *pool, const char *month,
                      bool test_mode, const char *run_id, bool dry_run, bool *busy, bool *refused) {
        int shards = (int)jt_config_int(cfg, "shards");
        char job_id[128];
        char **ids;
        bson_t *params;
        stats_ctx_t ctx;
        jt_emit_t emit;
        jt_error_t err;
        int rc;

        jt_error_clear(&err);
        if (refused)
                *refused = false;
        jt_job_ids_stats(month, test_mode, run_id, job_id, sizeof(job_id));
        if ((rc = check_month(cfg, pool, job_id, month, test_mode, refused)) != JT_EXIT_OK)
                return rc;
        if (!dry_run && !jt_indexes_ensure(pool, jt_config_str(cfg, "db"), test_mode, &err)) {
                fprintf(stderr, "%s: job %s: %s\n", jt_config_command_line_name(cfg), job_id,
                        err.message);
                return JT_EXIT_FAILURE;
        }
        ids = jt_job_ids_numbered(job_id, (size_t)shards);
        params = BCON_NEW("month", BCON_UTF8(month), "shards", BCON_INT32(shards));
        ctx = (stats_ctx_t){job_id, month, shards, test_mode, run_id, jt_emit_now_ms()};
        emit = (jt_emit_t){
            .spec = {.job_id = job_id,
                     .kind = "stats",
                     .test_mode = test_mode,
                     .run_id = run_id,
                     .params = params,
                     .task_ids = (const char *const *)ids,
                     .task_count = (size_t)shards},
            .topic = jt_config_str(cfg, "stats-topic"),
            .build = build_stats_task,
            .build_ctx = &ctx,
            .started = {.job_id = job_id,
                        .type = JT_STATUS_JOB_STARTED,
                        .job_kind = JT_JOB_KIND_STATS,
                        .test_mode = test_mode,
                        .month = (char *)month},
        };
        rc = jt_emit_job(cfg, pool, &emit, dry_run, busy);
        bson_destroy(params);
        jt_job_ids_free(ids, (size_t)shards);
        return rc;
}

int jt_stats_cmd_run(const jt_config_t *cfg) {
        const char *run_id = jt_config_str(cfg, "run-id");
        bool dry_run = jt_config_bool(cfg, "dry-run");
        mongoc_client_pool_t *pool = NULL;
        char month[8];
        jt_error_t err;
        int rc;

        jt_error_clear(&err);
        if (!jt_options_apply_log(cfg, "producer", &err) ||
            !jt_job_ids_month(jt_config_str(cfg, "month"), jt_emit_now_ms(), month, &err) ||
            (run_id && !jt_job_ids_check_run_id(run_id, &err)) ||
            !(pool = jt_startup_mongo(cfg, "joytify-producer", &err)))
                return jt_startup_fail(cfg, &err);
        rc = jt_stats_job_emit(cfg, pool, month, jt_config_bool(cfg, "test-mode"), run_id, dry_run,
                               NULL, NULL);
        jt_mongo_pool_destroy(pool);
        return rc;
}
