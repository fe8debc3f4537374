/* Time for every module: the wall and monotonic clocks, the UTC calendar (Howard Hinnant's
 * exact civil-date arithmetic, no time zone), calendar months, and ISO 8601 text. */
#include "jt_time.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* --- Clocks --------------------------------------------------------------------------------- */

int64_t jt_time_mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t jt_time_wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- Calendar --------------------------------------------------------------------------------
 * Howard Hinnant's days_from_civil / civil_from_days: exact for the proleptic Gregorian
 * calendar over the whole int64_t range, which timegm does not promise. */

static bool is_leap(int64_t y) {
        return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

int jt_time_days_in_month(int64_t y, int m) {
        static const int days[] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        return m == 2 && is_leap(y) ? 29 : days[m];
}

int64_t jt_time_days_from_civil(int64_t y, int m, int d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, jt_time_civil_t *c) {
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;

        c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
        c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
        c->year = yoe + era * 400 + (c->month <= 2);
}

void jt_time_to_civil(int64_t t, jt_time_civil_t *c) {
        /* Division first: floor(t / 86400) * 86400 would overflow near INT64_MIN. */
        int64_t days = t / 86400;
        int64_t secs = t % 86400;

        if (secs < 0) {
                secs += 86400;
                days--;
        }
        civil_from_days(days, c);
        c->hour = (int)(secs / 3600);
        c->minute = (int)(secs / 60 % 60);
        c->second = (int)(secs % 60);
}

int64_t jt_time_from_civil(const jt_time_civil_t *c) {
        return jt_time_days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 +
               c->minute * 60 + c->second;
}

int jt_time_weekday(const jt_time_civil_t *c) {
        int64_t wd =
            (jt_time_days_from_civil(c->year, c->month, c->day) + 4) % 7; /* 1970-01-01: Thu */
        return (int)(wd < 0 ? wd + 7 : wd);
}

/* --- Months ------------------------------------------------------------------------------- */

int64_t jt_time_month_start(int64_t t) {
        jt_time_civil_t c;

        jt_time_to_civil(t, &c);
        return jt_time_days_from_civil(c.year, c.month, 1) * 86400;
}

void jt_time_month_bounds_ms(int year, int month, int64_t *start_ms, int64_t *end_ms) {
        int next_year = month == 12 ? year + 1 : year, next_month = month == 12 ? 1 : month + 1;

        *start_ms = jt_time_days_from_civil(year, month, 1) * 86400 * 1000;
        *end_ms = jt_time_days_from_civil(next_year, next_month, 1) * 86400 * 1000;
}

/* --- ISO 8601 ------------------------------------------------------------------------------- */

size_t jt_time_format_iso(int64_t t, char *buf, size_t size) {
        jt_time_civil_t c;
        int n;

        jt_time_to_civil(t, &c);
        n = snprintf(buf, size, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day,
                     c.hour, c.minute, c.second);
        return n < 0 ? 0 : (size_t)n;
}

/* Reads exactly `width` digits. */
static bool read_digits(const char **p, int width, int *value) {
        int n = 0;

        for (int i = 0; i < width; i++) {
                if (!isdigit((unsigned char)(*p)[i]))
                        return false;
                n = n * 10 + ((*p)[i] - '0');
        }
        *value = n;
        *p += width;
        return true;
}

static bool expect(const char **p, char ch) {
        if (**p != ch)
                return false;
        (*p)++;
        return true;
}

bool jt_time_parse_iso(const char *text, int64_t *t, jt_error_t *err) {
        const char *p = text;
        int year, second = 0;
        jt_time_civil_t c;

        *t = 0;
        if (!text)
                return jt_error_set(err, JT_ERR_CONFIG, 0, "time is missing");
        if (!read_digits(&p, 4, &year) || !expect(&p, '-') || !read_digits(&p, 2, &c.month) ||
            !expect(&p, '-') || !read_digits(&p, 2, &c.day) || !expect(&p, 'T') ||
            !read_digits(&p, 2, &c.hour) || !expect(&p, ':') || !read_digits(&p, 2, &c.minute) ||
            (expect(&p, ':') && !read_digits(&p, 2, &second)))
                goto malformed;
        if (*p == '+' || *p == '-') {
                /* Only the zero offset: a scheduler in UTC should not quietly shift a time. */
                if (strcmp(p, "+00:00") != 0)
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "time \"%s\": offset %s is not accepted (times are "
                                            "UTC: write Z or +00:00)",
                                            text, p);
        } else if (strcmp(p, "Z") != 0) {
                goto malformed;
        }
        c.year = year;
        c.second = second;
        if (c.month < 1 || c.month > 12)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "time \"%s\": month %02d is out of range 01-12", text, c.month);
        if (c.day < 1 || c.day > jt_time_days_in_month(c.year, c.month))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "time \"%s\": day %02d is out of range 01-%02d for %04d-%02d",
                                    text, c.day, jt_time_days_in_month(c.year, c.month), year,
                                    c.month);
        if (c.hour > 23)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "time \"%s\": hour %02d is out of range 00-23", text, c.hour);
        if (c.minute > 59)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "time \"%s\": minute %02d is out of range 00-59", text,
                                    c.minute);
        if (c.second > 59)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "time \"%s\": second %02d is out of range 00-59", text,
                                    c.second);
        *t = jt_time_from_civil(&c);
        return true;
malformed:
        return jt_error_set(err, JT_ERR_CONFIG, 0,
                            "time \"%s\": expected YYYY-MM-DDTHH:MM[:SS]Z in UTC, such as "
                            "2026-11-23T04:00Z",
                            text);
}
