/* Structured log lines on stderr: `2026-11-25T10:00:00.123Z INFO worker: job=... task=... text`.
 * The logger is the one piece of global state besides the signal flag (STYLE.md). */
#ifndef JT_LOG_H
#define JT_LOG_H

#include <stdbool.h>
#include <stddef.h>

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

/* Copies text into out (size bytes, always NUL-terminated; cut before an escape that would not
 * fit) with everything a terminal or a log reader would act on made visible: \n, \r, \t, other
 * C0 controls (ESC included) and DEL as \xNN, invalid UTF-8 bytes as \xNN, C1 controls
 * (U+0080..U+009F) and bidirectional overrides (U+202A..U+202E, U+2066..U+2069) as \uXXXX.
 * Other text, printable UTF-8 included, is unchanged; so are backslashes, so that driver and
 * JSON texts stay readable (an escape's look-alike typed into a job id reads the same). For
 * every string from the wire (job ids, task keys) printed anywhere but a log line, which
 * jt_log escapes as a whole. Returns out. */
const char *jt_log_escape(const char *text, char *out, size_t size);

/* One line on stderr; the formatted text goes through jt_log_escape, so that no argument (a job
 * id from a topic, a driver's message) can end the line, forge another or drive the terminal. */
void jt_log(jt_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define jt_log_debug(...) jt_log(JT_LOG_DEBUG, __VA_ARGS__)
#define jt_log_info(...)  jt_log(JT_LOG_INFO, __VA_ARGS__)
#define jt_log_warn(...)  jt_log(JT_LOG_WARN, __VA_ARGS__)
#define jt_log_error(...) jt_log(JT_LOG_ERROR, __VA_ARGS__)

#endif
