/* What the loadtest's database commands share: the shape of `floor` and `baseline` (one
 * argument, stats or cleanup, run with a MongoDB client from the command's options), the month
 * and cutoff they read from --month, --at and --retention-days, and the collections of --db
 * under --test-mode (also used by `generate`). */
#ifndef JT_LOADTEST_DB_COMMAND_H
#define JT_LOADTEST_DB_COMMAND_H

#include <mongoc/mongoc.h>

#include "jt_config.h"
#include "jt_time.h"

typedef int (*jt_db_command_step_fn)(const jt_config_t *cfg, mongoc_client_t *client);

/* Checks the argument (exit 2 with a message naming `command` otherwise), connects (bounded
 * wait, exit 2 on an unreachable server) and runs stats or cleanup; returns the exit code. */
int jt_db_command_run(const jt_config_t *cfg, const char *command, jt_db_command_step_fn stats,
                      jt_db_command_step_fn cleanup);

/* The month of --month (default: the previous complete UTC month) and its [start, end) in UTC
 * milliseconds; false after saying why on stderr. */
bool jt_db_command_month(const jt_config_t *cfg, const char *command, char month[8],
                         int64_t *start_ms, int64_t *end_ms);

/* The cutoff: --at (default now) minus --retention-days, also as ISO text; false after saying
 * why on stderr. */
bool jt_db_command_cutoff(const jt_config_t *cfg, const char *command, int64_t *cutoff_ms,
                          char iso[JT_TIME_ISO_BUF]);

/* The collection `base` of --db, with the test- prefix under --test-mode. */
mongoc_collection_t *jt_db_command_collection(mongoc_client_t *client, const jt_config_t *cfg,
                                              const char *base);

#endif
