/* Emitting a cleanup job: its ranges, its ledger entry, its tasks. */
#ifndef JT_CLEANUP_JOB_H
#define JT_CLEANUP_JOB_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_config.h"
#include "jt_error.h"
#include "jt_job_emit.h"

/* triggeredBy of the cleanup job a statistics job chains: the original's value, which consumers
 * of the status events match on ... */
#define JT_TRIGGERED_BY_STATS "monthly-stats-notification"
/* ... and the one the fleet sent before: still accepted wherever triggeredBy is read (events and
 * ledger entries written then). */
#define JT_TRIGGERED_BY_STATS_OLD "monthly-stats"

/* Whether triggered_by (NULL: none) names a statistics job's chained cleanup, by either value. */
bool jt_cleanup_job_chained_by_stats(const char *triggered_by);

/* Whether coll has a playback created before before_ms: one find limited to one, on the
 * createdAt index (cheap when nothing matches, also on servers that read every match). */
bool jt_cleanup_job_any_before(mongoc_collection_t *coll, int64_t before_ms, bool *any,
                               jt_error_t *err);

/* What a cleanup job is made of: when it fired, who started it, and the cleanup options. */
typedef struct {
        int64_t fire_s;           /* UTC seconds, a whole minute, not in the future */
        const char *triggered_by; /* schedule, manual, JT_TRIGGERED_BY_STATS, ... */
        bool test_mode;
        const char *run_id; /* NULL: none */
        /* The identity that claims the job's send (NULL: this process as a producer); the same
         * owner takes its own unfinished claim again at once. */
        const char *owner;
        int32_t retention_days, range_hours, max_ranges, batch_size, batch_delay_ms;
        int32_t time_budget_s;
} jt_cleanup_job_params_t;

/* The cleanup options of a config built with jt_opts_cleanup; the caller fills the rest. */
jt_cleanup_job_params_t jt_cleanup_job_params_from_config(const jt_config_t *cfg);

typedef struct {
        jt_emit_result_t emit;
        bool planned;      /* the fields below are set */
        int64_t cutoff_ms; /* fire time - retention */
        bool found;        /* playbacks older than the cutoff exist */
        bool older;        /* one task covers everything before the last max_ranges-1 ranges */
} jt_cleanup_job_result_t;

/* Plans and sends (or on a dry run describes) the cleanup job of params: one task per
 * range_hours window from the oldest playback's hour to the cutoff, each task i on partition
 * i % P of the cleanup topic. The pool is read even on a dry run (the oldest playback decides
 * the ranges). result is filled on every path (release with jt_cleanup_job_result_clear). */
bool jt_cleanup_job_emit(const jt_emit_env_t *env, const jt_cleanup_job_params_t *params,
                         bool dry_run, jt_cleanup_job_result_t *result, jt_error_t *err);

void jt_cleanup_job_result_clear(jt_cleanup_job_result_t *result);

#endif
