#include "stats_or_cleanup.h"

#include <stdio.h>
#include <string.h>

#include "jt_mongo.h"
#include "jt_startup.h"

int jt_run_stats_or_cleanup(const jt_config_t *cfg, const char *command, jt_db_step_fn stats,
                            jt_db_step_fn cleanup) {
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
        if (!(pool = jt_startup_mongo(cfg, "joytify-loadtest", &err)))
                return jt_startup_fail(cfg, &err);
        client = mongoc_client_pool_pop(pool);
        rc = strcmp(argv[0], "stats") == 0 ? stats(cfg, client) : cleanup(cfg, client);
        mongoc_client_pool_push(pool, client);
        jt_mongo_pool_destroy(pool);
        return rc;
}
