/* Deterministic job and task ids: running the same schedule twice makes the same job, not two
 * (`stats-2026-10`, `cleanup-2026-11-23T0400Z`, `test-` in front in test mode, `-run-ID` after
 * when --run-id forces a separate run). A test-mode scheduler's statistics fire carries its fire
 * time too (`test-stats-2026-11@2026-12-07T0405Z`), so that each fire of a short test schedule is
 * its own job. Task ids are `job_id/NNNN`, also the Kafka key. */
#ifndef JT_JOB_IDS_H
#define JT_JOB_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"

/* The month to process as "YYYY-MM": arg when given (checked: a real month, already complete
 * at now_ms), else the previous complete UTC month. */
bool jt_job_ids_month(const char *arg, int64_t now_ms, char out[8], jt_error_t *err);

/* [start, end) of a YYYY-MM month (as jt_job_ids_month writes it) in UTC milliseconds. */
bool jt_job_ids_month_range(const char *month, int64_t *start_ms, int64_t *end_ms, jt_error_t *err);

bool jt_job_ids_check_run_id(const char *run_id, jt_error_t *err);

void jt_job_ids_stats(const char *month, bool test_mode, const char *run_id, char *out,
                      size_t size);

/* The statistics job of one scheduled fire: jt_job_ids_stats with "@" and the fire time (UTC,
 * whole minute, as in cleanup ids) after the month, "test-stats-2026-11@2026-12-07T0405Z".
 * fire_s 0: no fire time, the same id as jt_job_ids_stats. */
void jt_job_ids_stats_fire(const char *month, int64_t fire_s, bool test_mode, const char *run_id,
                           char *out, size_t size);

/* fire_s: the schedule's fire time (or the minute a manual run started), UTC seconds. */
void jt_job_ids_cleanup(int64_t fire_s, bool test_mode, const char *run_id, char *out, size_t size);

/* The ObjectId of a statistics job's one notification, derived from the job id so that every
 * finalization of the job (redelivered, repeated) inserts the same notification once. */
void jt_job_ids_notification_oid(const char *job_id, uint8_t out[12]);

/* job_id/0000 .. job_id/(n-1), malloc'd; release with jt_job_ids_free. */
char **jt_job_ids_numbered(const char *job_id, size_t n);
void jt_job_ids_free(char **ids, size_t n);

#endif
