/* Planning and sending a monthly statistics job: the month's retention guard, the range plan
 * (jt_stats_plan.h, kept in the ledger so a re-send sends the same ranges), one RANGE task per
 * range. Used by `joytify-producer stats` and the scheduler; prints nothing. */
#ifndef JT_STATS_JOB_H
#define JT_STATS_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "jt_error.h"
#include "jt_job_emit.h"

typedef struct {
        const char *month; /* YYYY-MM, already checked by jt_job_ids_month */
        bool test_mode;
        const char *run_id;     /* NULL: none */
        int64_t users_per_task; /* --users-per-task */
        int32_t max_tasks;      /* --shards: the most ranges; users per range grow past it */
        int32_t task_budget_s;  /* --task-budget: a task's time before its continuation */
        int32_t retention_days; /* months a cleanup may have cut into are refused */
        /* 0: one job per month; else this scheduled fire's own job, its time in the id (the
         * test-mode scheduler: jt_job_ids_stats_fire) */
        int64_t fire_s;
} jt_stats_job_params_t;

typedef struct {
        jt_emit_result_t emit; /* REFUSED when the month's playbacks may be partly deleted */
        size_t ranges;         /* ranges of the plan sent (or found sent) */
        int64_t users;         /* users the plan was cut from (0 when reused) */
        int64_t skipped;       /* user ids that are not ObjectIds, in no range's count */
        int64_t users_per_task;
        bool plan_reused; /* the plan came from the job's ledger entry (a re-send) */
} jt_stats_job_result_t;

/* Plans and sends (or on a dry run describes) the statistics job of params. result is filled
 * on every path (release with jt_stats_job_result_clear). */
bool jt_stats_job_emit(const jt_emit_env_t *env, const jt_stats_job_params_t *params, bool dry_run,
                       jt_stats_job_result_t *result, jt_error_t *err);

void jt_stats_job_result_clear(jt_stats_job_result_t *result);

#endif
