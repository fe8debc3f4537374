/* The end of a statistics job, whose ranges gave the month's one notification to their opted-in
 * users with an entry: the cleanup job (triggeredBy monthly-stats-notification, as the
 * original), then JOB_FINISHED with the original's figures (notificationsCreated 0 when no user
 * had an entry or the Lambda's notification was reused). It runs as the job's FINALIZE task, so
 * a crash half-way is recovered by redelivery, and every step is idempotent. */
#ifndef JT_WORKER_STATS_FINALIZE_H
#define JT_WORKER_STATS_FINALIZE_H

#include "task.h"

/* Queues the FINALIZE task of shard's job (the caller flushes it with its own events). */
bool jt_stats_finalize_send(const jt_task_env_t *env, const jt_stats_task_t *shard,
                            jt_error_t *err);

jt_task_outcome_t jt_stats_finalize_run(const jt_task_env_t *env, const jt_stats_task_t *task,
                                        jt_error_t *err);

#endif
