/* Time for every module: the wall and monotonic clocks, the UTC calendar, calendar months and
 * ISO 8601 text. Seconds since the epoch unless a name says milliseconds. */
#ifndef JT_TIME_H
#define JT_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"

/* Enough for jt_time_format_iso of any int64_t, with its terminating NUL. */
#define JT_TIME_ISO_BUF 32

/* Milliseconds of CLOCK_MONOTONIC: only differences mean anything (deadlines, ages). */
int64_t jt_time_mono_ms(void);

/* Milliseconds since the epoch (CLOCK_REALTIME): what is stored and sent. */
int64_t jt_time_wall_ms(void);

/* A broken-down UTC time; the year is wide so that any int64_t converts. */
typedef struct {
        int64_t year;
        int month; /* 1-12 */
        int day;   /* 1-31 */
        int hour;
        int minute;
        int second;
} jt_time_civil_t;

/* Exact for the proleptic Gregorian calendar over the whole int64_t range (timegm does not
 * promise that). */
void jt_time_to_civil(int64_t t, jt_time_civil_t *c);
/* Only for years 0000-9999, where nothing can overflow. */
int64_t jt_time_from_civil(const jt_time_civil_t *c);
int64_t jt_time_days_from_civil(int64_t y, int m, int d);
int jt_time_days_in_month(int64_t y, int m);
/* 0 = Sunday. */
int jt_time_weekday(const jt_time_civil_t *c);

/* The first second of t's UTC calendar month. */
int64_t jt_time_month_start(int64_t t);

/* [start, end) of a UTC calendar month in milliseconds; year 1970-9999, month 1-12. */
void jt_time_month_bounds_ms(int year, int month, int64_t *start_ms, int64_t *end_ms);

/* Writes t as ISO 8601 UTC, "2026-11-23T04:00:00Z", truncated to fit size as snprintf does.
 * Returns the length of the full text (20 for years 0000-9999). */
size_t jt_time_format_iso(int64_t t, char *buf, size_t size);

/* Reads "YYYY-MM-DDTHH:MM[:SS]" followed by "Z" or "+00:00" into seconds since the epoch.
 * Impossible dates such as 2026-02-30 and other offsets are errors (JT_ERR_CONFIG); *t is 0
 * on failure. */
bool jt_time_parse_iso(const char *text, int64_t *t, jt_error_t *err);

#endif
