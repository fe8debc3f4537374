/* `joytify-producer cleanup`: one cleanup job now (or at --at). */
#include "cleanup_cmd.h"

#include <stdio.h>

#include "jt_cleanup_job.h"
#include "jt_cron.h"
#include "jt_job_emit.h"
#include "jt_job_ids.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_startup.h"

/* The --at option: the schedule's fire time, never in the future (a later fire time would move
 * the cutoff into the retention window). */
static bool fire_time(const jt_config_t *cfg, int64_t *fire_s, jt_error_t *err) {
        const char *at = jt_config_str(cfg, "at");
        int64_t now_s = jt_emit_now_ms() / 1000;

        if (!at) {
                *fire_s = now_s - now_s % 60;
                return true;
        }
        if (!jt_cron_parse_time(at, fire_s, err))
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
        mongoc_client_pool_t *pool = NULL;
        int64_t fire_s = 0;
        jt_error_t err;
        int rc;

        jt_error_clear(&err);
        if (!jt_options_apply_log(cfg, "producer", &err) || !fire_time(cfg, &fire_s, &err) ||
            (run_id && !jt_job_ids_check_run_id(run_id, &err)) ||
            !(pool = jt_startup_mongo(cfg, "joytify-producer", &err)))
                return jt_startup_fail(cfg, &err);
        rc = jt_cleanup_job_emit(cfg, pool, fire_s, jt_config_str(cfg, "triggered-by"),
                                 jt_config_bool(cfg, "test-mode"), run_id, NULL,
                                 jt_config_bool(cfg, "dry-run"), NULL);
        jt_mongo_pool_destroy(pool);
        return rc;
}
