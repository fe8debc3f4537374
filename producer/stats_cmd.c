/* `joytify-producer stats`: the monthly statistics job. The month defaults to the previous
 * complete UTC month; users are split into contiguous id ranges of --users-per-task users (at
 * most --shards ranges), one RANGE task each, keyed job_id/NNNN (jt_stats_job.h). A month a
 * cleanup may have cut into is refused, also on a dry run: the reason on stderr, nothing sent,
 * exit code 2. */
#include "stats_cmd.h"

#include "job_report.h"
#include "jt_job_ids.h"
#include "jt_kafka.h"
#include "jt_time.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_startup.h"

int jt_stats_cmd_run(const jt_config_t *cfg) {
        const char *run_id = jt_config_str(cfg, "run-id");
        bool dry_run = jt_config_bool(cfg, "dry-run");
        mongoc_client_pool_t *pool = NULL;
        jt_avro_registry_t *reg = NULL;
        rd_kafka_t *rk = NULL;
        jt_stats_job_result_t result = {0};
        jt_stats_job_params_t params;
        jt_emit_env_t env;
        char month[8];
        jt_error_t err;
        bool ok;
        int rc;

        jt_error_clear(&err);
        if (!jt_options_apply_log(cfg, "producer", &err) ||
            !jt_job_ids_month(jt_config_str(cfg, "month"), jt_time_wall_ms(), month, &err) ||
            (run_id && !jt_job_ids_check_run_id(run_id, &err)) ||
            !(pool = jt_startup_mongo(cfg, "joytify-producer", &err)) ||
            !(reg = jt_avro_registry_new(&err)) ||
            (!dry_run && !(rk = jt_startup_producer(cfg, &err)))) {
                rc = jt_startup_fail(cfg, &err);
                goto done;
        }
        env = jt_job_emit_env_from_config(cfg, pool, rk, reg);
        params = jt_job_report_stats_params(cfg, month, jt_config_bool(cfg, "test-mode"), run_id);
        ok = jt_stats_job_emit(&env, &params, dry_run, &result, &err);
        rc = jt_job_report_stats(cfg, ok, &result, &err);
        jt_stats_job_result_clear(&result);
done:
        jt_kafka_destroy(rk);
        jt_avro_registry_destroy(reg);
        jt_mongo_pool_destroy(pool);
        return rc;
}
