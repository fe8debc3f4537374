/* How the notifier writes numbers, durations and times in messages: thousands separators,
 * the original's "1h 2m 3s (3723000ms)", and wall-clock times in the configured zone. */
#ifndef JT_NOTIFIER_FORMAT_H
#define JT_NOTIFIER_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"

#define JT_FORMAT_BUF 96

/* 1234567 -> "1,234,567"; negative numbers keep their sign. */
const char *jt_format_thousands(int64_t n, char *buf, size_t size);

/* 3723000 -> "1h 2m 3s (3723000ms)", 123000 -> "2m 3s (123000ms)", 999 -> "0s (999ms)". */
const char *jt_format_duration(int64_t ms, char *buf, size_t size);

/* 97.5 -> "97.5", 100 -> "100", 33.333 -> "33.33": at most two decimals, no trailing zeros. */
const char *jt_format_percent(double pct, char *buf, size_t size);

/* The original's completion percentage: one decimal, none when it is 0 (JavaScript's number
 * text of a toFixed(1) value): 77.02 -> "77", 97.46 -> "97.5", 100 -> "100". */
const char *jt_format_percent1(double pct, char *buf, size_t size);

/* Checks that zone (Area/City, "UTC", ...) names a zone in the system's tz database and makes
 * it the zone of jt_format_time. glibc silently falls back to UTC for an unknown name, so an
 * unchecked typo would show wrong times. */
bool jt_format_set_zone(const char *zone, jt_error_t *err);

/* ms since the epoch -> "2026-11-01 03:02:05 CET" in the zone set above. */
const char *jt_format_time(int64_t ms, char *buf, size_t size);

/* ms since the epoch -> "11/1/2026, 3:02:05 AM" in the zone set above: the original's
 * toLocaleString("en-US", {timeZone: DISCORD_TIMEZONE}). */
const char *jt_format_time_en_us(int64_t ms, char *buf, size_t size);

/* ms since the epoch -> "2026-11-01T02:02:05.000Z" (Discord embed timestamps). */
const char *jt_format_iso_utc(int64_t ms, char *buf, size_t size);

#endif
