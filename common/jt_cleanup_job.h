/* Emitting a cleanup job: its ranges, its ledger entry, its tasks. */
#ifndef JT_CLEANUP_JOB_H
#define JT_CLEANUP_JOB_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_config.h"
#include "jt_error.h"

/* Emits the cleanup job fired at fire_s (UTC seconds, not in the future), with the cleanup
 * parameters and topics of cfg. pool is needed even on a dry run (the oldest playback decides
 * the ranges). Returns the exit code and *busy as jt_emit_job
 * does. */
/* Whether coll has a playback created before before_ms: one find limited to one, on the
 * createdAt index (cheap when nothing matches, also on servers that read every match). */
bool jt_cleanup_any_before(mongoc_collection_t *coll, int64_t before_ms, bool *any,
                           jt_error_t *err);

/* owner: the identity that claims the job's send (NULL: this process as a producer); the same
 * owner takes its own unfinished claim again at once. */
int jt_cleanup_job_emit(const jt_config_t *cfg, mongoc_client_pool_t *pool, int64_t fire_s,
                        const char *triggered_by, bool test_mode, const char *run_id,
                        const char *owner, bool dry_run, bool *busy);

#endif
