/* Structured log lines on stderr: `2026-11-25T10:00:00.123Z INFO worker: job=... task=... text`,
 * or one JSON object per line (--log-format json) with the job, task, topic and partition the
 * thread works on as fields. The logger is the one piece of global state besides the signal
 * flag (STYLE.md). */
#ifndef JT_LOG_H
#define JT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
        JT_LOG_DEBUG = 0,
        JT_LOG_INFO,
        JT_LOG_WARN,
        JT_LOG_ERROR,
} jt_log_level_t;

typedef enum {
        JT_LOG_FORMAT_TEXT = 0, /* the line above */
        JT_LOG_FORMAT_JSON,     /* {"time":..,"level":"info","program":..,"message":..,..} */
} jt_log_format_t;

/* Sets the program name shown on every line and the lowest level printed. */
void jt_log_init(const char *program, jt_log_level_t min_level);

/* Parses "text" or "json". Returns false for anything else. */
bool jt_log_format_parse(const char *text, jt_log_format_t *format);
void jt_log_set_format(jt_log_format_t format);
jt_log_format_t jt_log_get_format(void);

/* Fields attached to every JSON line the calling thread logs until jt_log_fields_clear (text
 * lines say them in their message already): the job and task a task thread runs, the topic
 * and partition of the message it handles. NULL (or partition -1) leaves a field out; values
 * are copied, cut at 255 bytes. */
void jt_log_fields_job(const char *job, const char *task);
void jt_log_fields_topic(const char *topic, int32_t partition);
void jt_log_fields_clear(void);

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
