/* The shape shared by `floor` and `baseline`: one argument, stats or cleanup, run with a
 * MongoDB client from the command's options. */
#ifndef JT_LOADTEST_STATS_OR_CLEANUP_H
#define JT_LOADTEST_STATS_OR_CLEANUP_H

#include <mongoc/mongoc.h>

#include "jt_config.h"

typedef int (*jt_db_step_fn)(const jt_config_t *cfg, mongoc_client_t *client);

/* Checks the argument (exit 2 with a message naming `command` otherwise), connects (bounded
 * wait, exit 2 on an unreachable server) and runs stats or cleanup; returns the exit code. */
int jt_run_stats_or_cleanup(const jt_config_t *cfg, const char *command, jt_db_step_fn stats,
                            jt_db_step_fn cleanup);

#endif
