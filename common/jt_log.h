/* Structured log lines on stderr: `2026-11-25T10:00:00.123Z INFO worker: job=... task=... text`.
 * The logger is the one piece of global state besides the signal flag (STYLE.md). */
#ifndef JT_LOG_H
#define JT_LOG_H

#include <stdbool.h>

typedef enum {
        JT_LOG_DEBUG = 0,
        JT_LOG_INFO,
        JT_LOG_WARN,
        JT_LOG_ERROR,
} jt_log_level_t;

/* Sets the program name shown on every line and the lowest level printed. */
void jt_log_init(const char *program, jt_log_level_t min_level);

/* Parses "debug", "info", "warn" or "error". Returns false for anything else. */
bool jt_log_level_parse(const char *text, jt_log_level_t *level);

void jt_log(jt_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define jt_log_debug(...) jt_log(JT_LOG_DEBUG, __VA_ARGS__)
#define jt_log_info(...)  jt_log(JT_LOG_INFO, __VA_ARGS__)
#define jt_log_warn(...)  jt_log(JT_LOG_WARN, __VA_ARGS__)
#define jt_log_error(...) jt_log(JT_LOG_ERROR, __VA_ARGS__)

#endif
