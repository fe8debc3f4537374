/* `joytify-producer stats`: emits the monthly statistics job. */
#ifndef JT_PRODUCER_STATS_CMD_H
#define JT_PRODUCER_STATS_CMD_H

#include <mongoc/mongoc.h>

#include "jt_config.h"

int jt_stats_cmd_run(const jt_config_t *cfg);

/* Emits the statistics job of month ("YYYY-MM"), with --shards and the topics of cfg. pool is
 * unused on a dry run (may be NULL). Returns the exit code and *busy as jt_emit_job does. */
int jt_stats_job_emit(const jt_config_t *cfg, mongoc_client_pool_t *pool, const char *month,
                      bool test_mode, const char *run_id, bool dry_run, bool *busy);

#endif
