/* Numbers, durations and times as the messages show them (format.h). */
#include "format.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char *jt_format_thousands(int64_t n, char *buf, size_t size) {
        char digits[32];
        uint64_t mag = n < 0 ? (uint64_t)(-(n + 1)) + 1 : (uint64_t)n;
        int len = snprintf(digits, sizeof(digits), "%" PRIu64, mag);
        size_t out = 0;

        if (size == 0)
                return buf;
        if (n < 0 && out + 1 < size)
                buf[out++] = '-';
        for (int i = 0; i < len && out + 1 < size; i++) {
                if (i > 0 && (len - i) % 3 == 0 && out + 2 < size)
                        buf[out++] = ',';
                buf[out++] = digits[i];
        }
        buf[out] = '\0';
        return buf;
}

const char *jt_format_duration(int64_t ms, char *buf, size_t size) {
        int64_t s = ms > 0 ? ms / 1000 : 0;
        int64_t h = s / 3600, m = (s % 3600) / 60;

        if (h > 0)
                snprintf(buf, size, "%" PRId64 "h %" PRId64 "m %" PRId64 "s (%" PRId64 "ms)", h, m,
                         s % 60, ms);
        else if (m > 0)
                snprintf(buf, size, "%" PRId64 "m %" PRId64 "s (%" PRId64 "ms)", m, s % 60, ms);
        else
                snprintf(buf, size, "%" PRId64 "s (%" PRId64 "ms)", s, ms);
        return buf;
}

const char *jt_format_percent(double pct, char *buf, size_t size) {
        char *end;

        snprintf(buf, size, "%.2f", pct);
        if (strchr(buf, '.')) {
                end = buf + strlen(buf) - 1;
                while (*end == '0')
                        *end-- = '\0';
                if (*end == '.')
                        *end = '\0';
        }
        return buf;
}

const char *jt_format_percent1(double pct, char *buf, size_t size) {
        size_t len;

        snprintf(buf, size, "%.1f", pct);
        len = strlen(buf);
        if (len >= 2 && strcmp(buf + len - 2, ".0") == 0)
                buf[len - 2] = '\0';
        if (strcmp(buf, "-0") == 0)
                snprintf(buf, size, "0");
        return buf;
}

bool jt_format_set_zone(const char *zone, jt_error_t *err) {
        const char *dir = getenv("TZDIR");
        char path[512];
        struct stat st;

        if (!zone || !*zone || zone[0] == '/' || strstr(zone, "..") ||
            strspn(zone, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") !=
                strlen(zone))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--timezone must be a zone name like Europe/Berlin or UTC "
                                    "(got \"%s\")",
                                    zone ? zone : "");
        snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", zone);
        if (strcmp(zone, "UTC") != 0 && (stat(path, &st) != 0 || !S_ISREG(st.st_mode)))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--timezone %s is not in the time zone database (%s missing; "
                                    "Debian package tzdata)",
                                    zone, path);
        setenv("TZ", zone, 1);
        tzset();
        return true;
}

const char *jt_format_time(int64_t ms, char *buf, size_t size) {
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, size, "%" PRId64 " ms", ms);
        return buf;
}

const char *jt_format_iso_utc(int64_t ms, char *buf, size_t size) {
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        char base[32];

        if (!gmtime_r(&t, &tm) || strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
                base[0] = '\0';
        snprintf(buf, size, "%s.%03dZ", base, (int)(ms % 1000 + 1000) % 1000);
        return buf;
}

const char *jt_format_time_en_us(int64_t ms, char *buf, size_t size) {
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        if (!localtime_r(&t, &tm)) {
                snprintf(buf, size, "%" PRId64 " ms", ms);
                return buf;
        }
        snprintf(buf, size, "%d/%d/%d, %d:%02d:%02d %s", tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_year + 1900, tm.tm_hour % 12 ? tm.tm_hour % 12 : 12, tm.tm_min, tm.tm_sec,
                 tm.tm_hour < 12 ? "AM" : "PM");
        return buf;
}
