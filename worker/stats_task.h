/* A statistics task: one user shard of a month (SHARD), or the job's finalization (FINALIZE). */
#ifndef JT_WORKER_STATS_TASK_H
#define JT_WORKER_STATS_TASK_H

#include "task.h"

jt_task_outcome_t jt_stats_task_run(const jt_task_env_t *env, const jt_stats_task_t *task,
                                    jt_error_t *err);

#endif
