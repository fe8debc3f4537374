/* The logger: one line per call, written with a single fprintf so that lines from several
 * threads never interleave mid-line. */
#include "jt_log.h"

#include "jt_secret.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *log_program = "joytify";
static jt_log_level_t log_min_level = JT_LOG_INFO;

void jt_log_init(const char *program, jt_log_level_t min_level) {
        log_program = program;
        log_min_level = min_level;
}

bool jt_log_level_parse(const char *text, jt_log_level_t *level) {
        static const char *names[] = {"debug", "info", "warn", "error"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                if (strcasecmp(text, names[i]) == 0) {
                        *level = (jt_log_level_t)i;
                        return true;
                }
        }
        return false;
}

void jt_log(jt_log_level_t level, const char *fmt, ...) {
        static const char *labels[] = {"DEBUG", "INFO", "WARN", "ERROR"};
        char text[2048];
        char stamp[32];
        struct timespec now;
        struct tm tm;
        va_list ap;

        if (level < log_min_level)
                return;
        /* Every line is scrubbed of the process's secrets (the driver's own lines come here). */
        va_start(ap, fmt);
        jt_secret_vformat(text, sizeof(text), fmt, ap);
        va_end(ap);
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, now.tv_nsec / 1000000L, labels[level],
                log_program, text);
}
