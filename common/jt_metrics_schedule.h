/* The scheduler's series: per schedule ("stats", "cleanup"), the last fire it handled and the
 * next it will fire, as Unix times (joytify_schedule_last_fire_timestamp_seconds,
 * joytify_schedule_next_fire_timestamp_seconds). The next fire stays in the past while a fire is
 * overdue (failing, or waiting on another scheduler), which is what an alert looks for. */
#ifndef JT_METRICS_SCHEDULE_H
#define JT_METRICS_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "jt_metrics.h"

/* Adds the scheduler's series to m (rendered from then on). False when memory runs out. */
bool jt_metrics_schedule_attach(jt_metrics_t *m);

/* The schedule's fire times in seconds since the epoch; a value < 0 leaves that one unknown
 * (not rendered). Schedules other than "stats" and "cleanup" are ignored. No-op before
 * jt_metrics_schedule_attach. */
void jt_metrics_schedule_set(jt_metrics_t *m, const char *schedule, int64_t last_s, int64_t next_s);

/* The exposition text of the series (malloc'ed; NULL when out of memory): the collector. */
char *jt_metrics_schedule_render(void *state);

#endif
