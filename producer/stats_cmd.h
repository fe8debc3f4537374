/* `joytify-producer stats`: emits the monthly statistics job. */
#ifndef JT_PRODUCER_STATS_CMD_H
#define JT_PRODUCER_STATS_CMD_H

#include <mongoc/mongoc.h>

#include "jt_config.h"

int jt_stats_cmd_run(const jt_config_t *cfg);

/* Emits the statistics job of month ("YYYY-MM"), with --shards and the topics of cfg. A month
 * some of whose playbacks a cleanup may have deleted (before the newest cleanup cutoff in the
 * ledger, or before now - --retention-days) is refused, also on a dry run: the reason on stderr,
 * nothing sent, no ledger entry, exit code 2 and *refused (may be NULL) true. pool is needed
 * even on a dry run (the ledger decides). Returns the exit code and *busy as jt_emit_job does. */
int jt_stats_job_emit(const jt_config_t *cfg, mongoc_client_pool_t *pool, const char *month,
                      bool test_mode, const char *run_id, bool dry_run, bool *busy, bool *refused);

#endif
