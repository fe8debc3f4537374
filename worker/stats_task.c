/* Statistics tasks: replaced by the real shard and finalize handlers in this change. */
#include "stats_task.h"

jt_task_outcome_t jt_stats_task_run(const jt_task_env_t *env, const jt_stats_task_t *task,
                                    jt_error_t *err) {
        jt_error_set(err, JT_ERR_INPUT, 0, "task %s: statistics tasks are not handled yet",
                     task->task_id);
        return JT_TASK_PERMANENT;
}
