/* The end of a statistics job: one notification, added once to every user with an entry for
 * the month whose preference is on, JOB_FINISHED with the original's figures, then the cleanup
 * job (triggeredBy monthly-stats). It runs as the job's FINALIZE task, so a crash half-way is
 * recovered by redelivery, and every step is idempotent. */
#ifndef JT_WORKER_STATS_FINALIZE_H
#define JT_WORKER_STATS_FINALIZE_H

#include "task_env.h"

/* Queues the FINALIZE task of shard's job (the caller flushes it with its own events). */
bool jt_stats_finalize_send(const jt_task_env_t *env, const jt_stats_task_t *shard,
                            jt_error_t *err);

jt_task_outcome_t jt_stats_finalize_run(const jt_task_env_t *env, const jt_stats_task_t *task,
                                        jt_error_t *err);

#endif
