/* Five-field cron expressions evaluated in UTC, for the producer's scheduler: parse once, then
 * ask for the next fire time, or the latest one missed while the scheduler was down. */
#ifndef JT_CRON_H
#define JT_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"

/* Returned by jt_cron_next/jt_cron_prev when no fire time lies in the supported range. It is not
 * a whole minute, so it can never be mistaken for a fire time. */
#define JT_CRON_NONE INT64_MIN

/* The supported range, 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z: fire times outside it are
 * not searched for (jt_time_parse_iso only reads four-digit years). */
#define JT_CRON_TIME_MIN (-62167219200LL)
#define JT_CRON_TIME_MAX 253402300799LL

/* A parsed expression: one bit per allowed value. Plain data, no allocation, copy freely. */
typedef struct {
        uint64_t minutes;   /* bit n: minute n, 0-59 */
        uint32_t hours;     /* bit n: hour n, 0-23 */
        uint32_t days;      /* bit n: day of month n, 1-31 */
        uint16_t months;    /* bit n: month n, 1-12 */
        uint8_t weekdays;   /* bit n: weekday n, 0-6 with Sunday 0 (a 7 is stored as 0) */
        bool days_star;     /* the day-of-month field began with '*' */
        bool weekdays_star; /* the day-of-week field began with '*' */
} jt_cron_t;

/* Parses "minute hour day-of-month month day-of-week": `*`, numbers, lists `1,15`, ranges `1-5`,
 * steps `*\/15` and `10-40/10`, names JAN-DEC and SUN-SAT in any case, day-of-week 0-7 with both 0
 * and 7 Sunday; or one of @yearly @annually @monthly @weekly @daily @midnight @hourly.
 * Days follow Vixie cron: when neither day field begins with '*', a day fires if EITHER field
 * matches (`0 0 13 * 5` fires on every 13th and every Friday), otherwise both must match (so
 * `*\/2` counts as unrestricted there, as in Vixie cron and cronie). An expression that can never
 * fire (`0 0 30 2 *`) is an error. On failure, fills err (JT_ERR_CONFIG) naming the field, the
 * token and what was allowed, and leaves *cron all zero (which never fires). */
bool jt_cron_parse(const char *expr, jt_cron_t *cron, jt_error_t *err);

/* The first fire time strictly after `after` (always a whole minute), or JT_CRON_NONE. */
int64_t jt_cron_next(const jt_cron_t *cron, int64_t after);

/* The latest fire time at or before `at_or_before`, or JT_CRON_NONE: after downtime, the one
 * missed run worth catching up on. */
int64_t jt_cron_prev(const jt_cron_t *cron, int64_t at_or_before);

/* The catch-up after downtime, one fire per UTC calendar month: the latest fire of each month
 * that has a fire in (after, upto], newest months first up to max of them, written to out
 * oldest first (*written of them). after JT_CRON_NONE: only the latest fire at or before upto.
 * Returns how many months in (after, upto] have a fire, so that a caller can name the ones
 * left out by max. A monthly job needs one run per month, whatever the schedule: a 5-minute
 * test schedule down for a week catches up once per month, not 2,016 times. */
size_t jt_cron_month_fires(const jt_cron_t *cron, int64_t after, int64_t upto, int64_t *out,
                           size_t max, size_t *written);

#endif
