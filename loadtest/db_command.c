/* What the loadtest's database commands share (db_command.h). */
#include "db_command.h"

#include <stdio.h>
#include <string.h>

#include "jt_job_ids.h"
#include "jt_mongo.h"
#include "jt_startup.h"

int jt_db_command_run(const jt_config_t *cfg, const char *command, jt_db_command_step_fn stats,
                      jt_db_command_step_fn cleanup) {
        int argc = 0;
        char *const *argv = jt_config_args(cfg, &argc);
        mongoc_client_pool_t *pool;
        mongoc_client_t *client;
        jt_error_t err;
        int rc;

        if (argc != 1 || (strcmp(argv[0], "stats") != 0 && strcmp(argv[0], "cleanup") != 0)) {
                fprintf(stderr,
                        "joytify-loadtest %s: expected one argument, stats or cleanup\n"
                        "Run 'joytify-loadtest %s --help' for the options.\n",
                        command, command);
                return JT_EXIT_USAGE;
        }
        if (!(pool = jt_startup_mongo_long_ops(cfg, "joytify-loadtest", &err)))
                return jt_startup_fail(cfg, &err);
        client = mongoc_client_pool_pop(pool);
        rc = strcmp(argv[0], "stats") == 0 ? stats(cfg, client) : cleanup(cfg, client);
        mongoc_client_pool_push(pool, client);
        jt_mongo_pool_destroy(pool);
        return rc;
}

bool jt_db_command_month(const jt_config_t *cfg, const char *command, char month[8],
                         int64_t *start_ms, int64_t *end_ms) {
        jt_error_t err;

        if (jt_job_ids_month(jt_config_str(cfg, "month"), jt_time_wall_ms(), month, &err) &&
            jt_job_ids_month_range(month, start_ms, end_ms, &err))
                return true;
        fprintf(stderr, "joytify-loadtest %s: %s\n", command, err.message);
        return false;
}

bool jt_db_command_cutoff(const jt_config_t *cfg, const char *command, int64_t *cutoff_ms,
                          char iso[JT_TIME_ISO_BUF]) {
        int64_t at_s = jt_time_wall_ms() / 1000;
        jt_error_t err;

        if (jt_config_str(cfg, "at") && !jt_time_parse_iso(jt_config_str(cfg, "at"), &at_s, &err)) {
                fprintf(stderr, "joytify-loadtest %s: --at %s: %s\n", command,
                        jt_config_str(cfg, "at"), err.message);
                return false;
        }
        *cutoff_ms = at_s * 1000 - jt_config_int(cfg, "retention-days") * 86400 * INT64_C(1000);
        jt_time_format_iso(*cutoff_ms / 1000, iso, JT_TIME_ISO_BUF);
        return true;
}

mongoc_collection_t *jt_db_command_collection(mongoc_client_t *client, const jt_config_t *cfg,
                                              const char *base) {
        char name[64];
        snprintf(name, sizeof(name), "%s%s", jt_config_bool(cfg, "test-mode") ? "test-" : "", base);
        return mongoc_client_get_collection(client, jt_config_str(cfg, "db"), name);
}
