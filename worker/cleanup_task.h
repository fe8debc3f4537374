/* A cleanup task: delete one date range's playbacks older than the cutoff, in batches. */
#ifndef JT_WORKER_CLEANUP_TASK_H
#define JT_WORKER_CLEANUP_TASK_H

#include "task.h"

/* Runs the task (or the continuation of one). Refuses, deleting nothing (JT_TASK_PERMANENT),
 * a range that reaches inside the retention window by this worker's clock. When the time
 * budget runs out it sends a continuation task for the rest and returns JT_TASK_DONE. The
 * worker that records the job's last range result finishes the job (JOB_FINISHED). */
jt_task_outcome_t jt_cleanup_task_run(const jt_task_env_t *env, const jt_cleanup_task_t *task,
                                      jt_error_t *err);

#endif
