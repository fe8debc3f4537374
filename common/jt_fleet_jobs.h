/* The jobs section of the fleet view: ledger entries read with a bound (jt_fleet_view.h). */
#ifndef JT_FLEET_JOBS_H
#define JT_FLEET_JOBS_H

#include "jt_fleet_view.h"

/* The entries q asks for (q->job_id, or created since q->since_ms), newest first, at most
 * q->max_jobs (*truncated when there were more), into *jobs (the caller frees it). */
bool jt_fleet_jobs_read(const jt_fleet_query_t *q, int64_t now_ms, jt_fleet_job_t **jobs,
                        size_t *count, bool *truncated, jt_error_t *err);

/* One ledger entry as a job of the view (stuck left false: the caller knows the bound). */
void jt_fleet_jobs_from_bson(const bson_t *doc, int64_t now_ms, jt_fleet_job_t *job);

#endif
