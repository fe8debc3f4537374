/* The ranges of a cleanup job (jt_cleanup_plan.h). */
#include "jt_cleanup_plan.h"

#include <stdio.h>
#include <string.h>

#include "jt_time.h"

#define HOUR_MS (3600 * 1000LL)

/* The start of the hour of ms >= JT_CLEANUP_PLAN_MIN_FLOOR_MS (no overflow there). */
static int64_t hour_of(int64_t ms) {
        int64_t r = ms % HOUR_MS;
        return ms - (r < 0 ? r + HOUR_MS : r);
}

/* Windows of width w from first to cutoff, the last one cut (none when cutoff <= first). */
static size_t windows_to(int64_t first, int64_t cutoff, int64_t w) {
        return cutoff > first ? (size_t)((cutoff - first) / w + ((cutoff - first) % w != 0)) : 0;
}

void jt_cleanup_plan_make(int64_t oldest_ms, int64_t cutoff_ms, int range_hours, int max_ranges,
                          jt_cleanup_plan_t *plan) {
        int64_t w = (range_hours >= 1 ? range_hours : 1) * HOUR_MS, back, floor_ms;

        if (max_ranges < 2)
                max_ranges = 2;
        /* max_ranges - 2 windows back, rounded down to the hour: at most max_ranges - 1
         * windows from the floor to the cutoff, plus the older task. */
        if (__builtin_mul_overflow((int64_t)(max_ranges - 2), w, &back) ||
            __builtin_sub_overflow(cutoff_ms, back, &floor_ms) ||
            floor_ms < JT_CLEANUP_PLAN_MIN_FLOOR_MS)
                floor_ms = JT_CLEANUP_PLAN_MIN_FLOOR_MS;
        floor_ms = hour_of(floor_ms);
        plan->cutoff_ms = cutoff_ms;
        plan->window_ms = w;
        plan->older = oldest_ms < floor_ms;
        plan->first_ms = plan->older ? floor_ms : hour_of(oldest_ms);
        plan->windows = windows_to(plan->first_ms, cutoff_ms, w);
}

size_t jt_cleanup_plan_count(const jt_cleanup_plan_t *plan) {
        return plan->windows + (plan->older ? 1 : 0);
}

/* 2026-09-01T05:00:00Z -> 20260901T0500 */
static void compact_time(int64_t ms, char *out, size_t size) {
        char iso[JT_TIME_ISO_BUF];
        jt_time_format_iso(ms / 1000, iso, sizeof(iso));
        snprintf(out, size, "%.4s%.2s%.2sT%.2s%.2s", iso, iso + 5, iso + 8, iso + 11, iso + 14);
}

void jt_cleanup_plan_task_id(const jt_cleanup_plan_t *plan, const char *job_id, size_t i, char *out,
                             size_t size) {
        char when[JT_TIME_ISO_BUF];

        if (plan->older && i == 0) {
                compact_time(plan->first_ms, when, sizeof(when));
                snprintf(out, size, "%s/%s%s", job_id, JT_CLEANUP_PLAN_OLDER, when);
                return;
        }
        i -= plan->older ? 1 : 0;
        compact_time(plan->first_ms + (int64_t)i * plan->window_ms, when, sizeof(when));
        snprintf(out, size, "%s/%s", job_id, when);
}

/* "YYYYMMDDTHHMM" -> ms. */
static bool parse_compact(const char *text, int64_t *ms, jt_error_t *err) {
        char iso[32];
        int64_t secs = 0;

        if (strlen(text) != 13)
                return jt_error_set(err, JT_ERR_INPUT, 0, "\"%s\" is not YYYYMMDDTHHMM", text);
        snprintf(iso, sizeof(iso), "%.4s-%.2s-%.2sT%.2s:%.2sZ", text, text + 4, text + 6, text + 9,
                 text + 11);
        if (!jt_time_parse_iso(iso, &secs, err))
                return false;
        *ms = secs * 1000;
        return true;
}

bool jt_cleanup_plan_range(const char *task_id, int64_t cutoff_ms, int range_hours,
                           int64_t *start_ms, int64_t *end_ms, jt_error_t *err) {
        const char *slash = strrchr(task_id, '/');
        const char *when = slash ? slash + 1 : NULL;
        size_t older_len = strlen(JT_CLEANUP_PLAN_OLDER);
        int64_t at = 0;

        *start_ms = *end_ms = 0;
        if (!when)
                return jt_error_set(err, JT_ERR_INPUT, 0, "task id %s names no window", task_id);
        if (strncmp(when, JT_CLEANUP_PLAN_OLDER, older_len) == 0) {
                if (!parse_compact(when + older_len, &at, err))
                        return jt_error_prefix(err, "task id %s", task_id);
                *start_ms = INT64_MIN;
                *end_ms = at;
        } else {
                if (!parse_compact(when, &at, err))
                        return jt_error_prefix(err, "task id %s names no window", task_id);
                *start_ms = at;
                *end_ms = at + (range_hours >= 1 ? range_hours : 1) * HOUR_MS;
        }
        if (*end_ms > cutoff_ms)
                *end_ms = cutoff_ms;
        return true;
}
