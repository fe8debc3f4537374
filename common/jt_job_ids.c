/* Job ids, task ids and the month rules of the statistics job. */
#include "jt_job_ids.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jt_time.h"

static void utc_year_month(int64_t now_ms, int *year, int *month) {
        time_t secs = (time_t)(now_ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        *year = tm.tm_year + 1900;
        *month = tm.tm_mon + 1;
}

bool jt_job_ids_month(const char *arg, int64_t now_ms, char out[8], jt_error_t *err) {
        int now_year, now_month, year, month;

        utc_year_month(now_ms, &now_year, &now_month);
        if (!arg) {
                year = now_month == 1 ? now_year - 1 : now_year;
                month = now_month == 1 ? 12 : now_month - 1;
                snprintf(out, 8, "%04d-%02d", year, month);
                return true;
        }
        out[0] = '\0';
        if (strlen(arg) != 7 || !isdigit((unsigned char)arg[0]) ||
            !isdigit((unsigned char)arg[1]) || !isdigit((unsigned char)arg[2]) ||
            !isdigit((unsigned char)arg[3]) || arg[4] != '-' || !isdigit((unsigned char)arg[5]) ||
            !isdigit((unsigned char)arg[6]))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--month must be YYYY-MM, e.g. 2026-10 (got \"%s\")", arg);
        year = atoi(arg);
        month = atoi(arg + 5);
        if (month < 1 || month > 12 || year < 1970)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--month %s is not a month (months are 01-12, years from "
                                    "1970)",
                                    arg);
        if (year > now_year || (year == now_year && month >= now_month))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--month %s is not complete yet (it ends at "
                                    "%04d-%02d-01T00:00:00Z)",
                                    arg, month == 12 ? year + 1 : year,
                                    month == 12 ? 1 : month + 1);
        memcpy(out, arg, 8);
        return true;
}

bool jt_job_ids_check_run_id(const char *run_id, jt_error_t *err) {
        size_t len = strlen(run_id);

        if (len < 1 || len > 40)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--run-id must be 1-40 characters (got %zu)", len);
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char)run_id[i]) && run_id[i] != '-' && run_id[i] != '_')
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "--run-id may use only A-Z a-z 0-9 _ - (got \"%s\")",
                                            run_id);
        return true;
}

static void with_mode_and_run(char *out, size_t size, bool test_mode, const char *base,
                              const char *run_id) {
        snprintf(out, size, "%s%s%s%s", test_mode ? "test-" : "", base, run_id ? "-run-" : "",
                 run_id ? run_id : "");
}

void jt_job_ids_stats(const char *month, bool test_mode, const char *run_id, char *out,
                      size_t size) {
        char base[32];
        snprintf(base, sizeof(base), "stats-%s", month);
        with_mode_and_run(out, size, test_mode, base, run_id);
}

/* 2026-11-23T04:00:00Z -> 2026-11-23T0400Z: the minute, without ':' (ids become Kafka keys
 * and file names in operators' hands). */
static void fire_minute(int64_t fire_s, char out[32]) {
        char iso[JT_TIME_ISO_BUF];
        int64_t rem = fire_s % 60;

        jt_time_format_iso(fire_s - (rem < 0 ? rem + 60 : rem), iso, sizeof(iso));
        snprintf(out, 32, "%.11s%.2s%.2sZ", iso, iso + 11, iso + 14);
}

void jt_job_ids_stats_fire(const char *month, int64_t fire_s, bool test_mode, const char *run_id,
                           char *out, size_t size) {
        char base[64], minute[32];

        if (fire_s == 0) {
                jt_job_ids_stats(month, test_mode, run_id, out, size);
                return;
        }
        fire_minute(fire_s, minute);
        snprintf(base, sizeof(base), "stats-%s@%s", month, minute);
        with_mode_and_run(out, size, test_mode, base, run_id);
}

void jt_job_ids_cleanup(int64_t fire_s, bool test_mode, const char *run_id, char *out,
                        size_t size) {
        char base[48], minute[32];

        fire_minute(fire_s, minute);
        snprintf(base, sizeof(base), "cleanup-%s", minute);
        with_mode_and_run(out, size, test_mode, base, run_id);
}

char **jt_job_ids_numbered(const char *job_id, size_t n) {
        char **ids = calloc(n ? n : 1, sizeof(*ids));
        size_t len = strlen(job_id) + 16;

        for (size_t i = 0; ids && i < n; i++) {
                ids[i] = malloc(len);
                if (ids[i])
                        snprintf(ids[i], len, "%s/%04zu", job_id, i);
        }
        return ids;
}

void jt_job_ids_free(char **ids, size_t n) {
        if (!ids)
                return;
        for (size_t i = 0; i < n; i++)
                free(ids[i]);
        free(ids);
}

void jt_job_ids_notification_oid(const char *job_id, uint8_t out[12]) {
        /* FNV-1a 64 and a second FNV-1a 32 with another basis: 96 bits, stable everywhere. */
        uint64_t h64 = 14695981039346656037ull;
        uint32_t h32 = 2166136261u ^ 0x5bd1e995u;

        for (const unsigned char *p = (const unsigned char *)job_id; *p; p++) {
                h64 = (h64 ^ *p) * 1099511628211ull;
                h32 = (h32 ^ *p) * 16777619u;
        }
        for (int i = 0; i < 8; i++)
                out[i] = (uint8_t)(h64 >> (56 - 8 * i));
        for (int i = 0; i < 4; i++)
                out[8 + i] = (uint8_t)(h32 >> (24 - 8 * i));
}

bool jt_job_ids_month_range(const char *month, int64_t *start_ms, int64_t *end_ms,
                            jt_error_t *err) {
        int year, mon;
        char extra;

        if (!month || sscanf(month, "%4d-%2d%c", &year, &mon, &extra) != 2 || year < 1970 ||
            mon < 1 || mon > 12)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "month must be YYYY-MM from 1970 (got %s)",
                                    month ? month : "(none)");
        jt_time_month_bounds_ms(year, mon, start_ms, end_ms);
        return true;
}
