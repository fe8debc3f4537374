/* `joytify-producer cleanup`: one cleanup job now (or at --at). */
#include "cleanup_cmd.h"

#include <stdio.h>

#include "job_report.h"
#include "jt_cleanup_job.h"
#include "jt_time.h"
#include "jt_job_emit.h"
#include "jt_job_ids.h"
#include "jt_kafka.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_startup.h"

/* The --at option: the schedule's fire time, never in the future (a later fire time would move
 * the cutoff into the retention window). */
static bool fire_time(const jt_config_t *cfg, int64_t *fire_s, jt_error_t *err) {
        const char *at = jt_config_str(cfg, "at");
        int64_t now_s = jt_time_wall_ms() / 1000;

        if (!at) {
                *fire_s = now_s - now_s % 60;
                return true;
        }
        if (!jt_time_parse_iso(at, fire_s, err))
                return jt_error_prefix(err, "--at");
        /* Job ids name the minute, so the cutoff counts from the minute too. */
        *fire_s -= *fire_s % 60;
        if (*fire_s > now_s)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--at %s is in the future: the cutoff would reach into the "
                                    "retention window",
                                    at);
        return true;
}

int jt_cleanup_cmd_run(const jt_config_t *cfg) {
        const char *run_id = jt_config_str(cfg, "run-id");
        bool dry_run = jt_config_bool(cfg, "dry-run");
        mongoc_client_pool_t *pool = NULL;
        jt_avro_registry_t *reg = NULL;
        rd_kafka_t *rk = NULL;
        jt_cleanup_job_result_t result = {0};
        jt_cleanup_job_params_t params = jt_cleanup_job_params_from_config(cfg);
        jt_emit_env_t env;
        jt_error_t err;
        bool ok;
        int rc;

        jt_error_clear(&err);
        if (!jt_options_apply_log(cfg, "producer", &err) || !fire_time(cfg, &params.fire_s, &err) ||
            (run_id && !jt_job_ids_check_run_id(run_id, &err)) ||
            !(pool = jt_startup_mongo(cfg, "joytify-producer", &err)) ||
            !(reg = jt_avro_registry_new(&err)) ||
            (!dry_run && !(rk = jt_startup_producer(cfg, &err)))) {
                rc = jt_startup_fail(cfg, &err);
                goto done;
        }
        env = jt_job_emit_env_from_config(cfg, pool, rk, reg);
        params.triggered_by = jt_config_str(cfg, "triggered-by");
        params.test_mode = jt_config_bool(cfg, "test-mode");
        params.run_id = run_id;
        ok = jt_cleanup_job_emit(&env, &params, dry_run, &result, &err);
        rc = jt_job_report_cleanup(cfg, ok, &result, &err);
        jt_cleanup_job_result_clear(&result);
done:
        jt_kafka_destroy(rk);
        jt_avro_registry_destroy(reg);
        jt_mongo_pool_destroy(pool);
        return rc;
}
