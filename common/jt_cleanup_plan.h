/* The ranges of a cleanup job, planned from the oldest playback older than the cutoff: one task
 * per --range-hours window from that playback's hour to the cutoff, as long as that is at most
 * --max-ranges tasks. Older data (a playback dated year 1, or 1970-01-01 from a zero timestamp)
 * would otherwise make hundreds of thousands of tasks and a ledger entry over the 16 MB limit:
 * the windows then start at a floor, max-ranges - 1 windows before the cutoff (never before
 * year 1), and ONE task covers everything older, [INT64_MIN, floor). Pure arithmetic: no
 * database, no clock. */
#ifndef JT_CLEANUP_PLAN_H
#define JT_CLEANUP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"

/* The floor is never earlier than this (0001-01-01T00:00Z): window ids name their start with
 * a four-digit year, and servers that store dates as calendar dates (the local one) refuse a
 * query of a date before year 1. */
#define JT_CLEANUP_PLAN_MIN_FLOOR_MS INT64_C(-62135596800000)

/* The id prefix (after "job/") of the task covering everything before the floor. */
#define JT_CLEANUP_PLAN_OLDER "before-"

typedef struct {
        int64_t cutoff_ms;
        int64_t window_ms; /* --range-hours in ms */
        bool older;        /* a first task covers [INT64_MIN, first_ms) */
        int64_t first_ms;  /* start of the first window (the floor when older) */
        size_t windows;    /* windows from first_ms, the last one cut at the cutoff */
} jt_cleanup_plan_t;

/* Plans the job: oldest_ms is the createdAt of its oldest playback before cutoff_ms (any
 * int64_t), range_hours >= 1, max_ranges >= 2 bounds the task count. */
void jt_cleanup_plan_make(int64_t oldest_ms, int64_t cutoff_ms, int range_hours, int max_ranges,
                          jt_cleanup_plan_t *plan);

/* How many tasks the plan has (at most max_ranges). */
size_t jt_cleanup_plan_count(const jt_cleanup_plan_t *plan);

/* The id of task i (0 <= i < count): job_id/YYYYMMDDTHHMM for a window,
 * job_id/before-YYYYMMDDTHHMM for the older task. No '.' or '$' (the ledger uses the part
 * after the job id as a field name). */
void jt_cleanup_plan_task_id(const jt_cleanup_plan_t *plan, const char *job_id, size_t i, char *out,
                             size_t size);

/* The range [*start_ms, *end_ms) of a task from its id alone, cut at cutoff_ms; a JT_ERR_INPUT
 * error for an id of neither form. */
bool jt_cleanup_plan_range(const char *task_id, int64_t cutoff_ms, int range_hours,
                           int64_t *start_ms, int64_t *end_ms, jt_error_t *err);

#endif
