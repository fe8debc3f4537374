/* The logger: one line per call, written with a single fprintf so that lines from several
 * threads never interleave mid-line. */
#include "jt_log.h"

#include "jt_secret.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define JT_LOG_TEXT_MAX 2048
#define FIELD_MAX       256

static const char *log_program = "joytify";
static jt_log_level_t log_min_level = JT_LOG_INFO;
static jt_log_format_t log_format = JT_LOG_FORMAT_TEXT;

/* What the calling thread works on, for JSON lines (jt_log_fields_*). */
static _Thread_local struct {
        char job[FIELD_MAX], task[FIELD_MAX], topic[FIELD_MAX];
        int32_t partition;
        bool has_partition;
} log_fields;

void jt_log_init(const char *program, jt_log_level_t min_level) {
        log_program = program;
        log_min_level = min_level;
}

bool jt_log_format_parse(const char *text, jt_log_format_t *format) {
        if (strcasecmp(text, "text") == 0)
                *format = JT_LOG_FORMAT_TEXT;
        else if (strcasecmp(text, "json") == 0)
                *format = JT_LOG_FORMAT_JSON;
        else
                return false;
        return true;
}

void jt_log_set_format(jt_log_format_t format) {
        log_format = format;
}

jt_log_format_t jt_log_get_format(void) {
        return log_format;
}

void jt_log_fields_job(const char *job, const char *task) {
        snprintf(log_fields.job, sizeof(log_fields.job), "%s", job ? job : "");
        snprintf(log_fields.task, sizeof(log_fields.task), "%s", task ? task : "");
}

void jt_log_fields_topic(const char *topic, int32_t partition) {
        snprintf(log_fields.topic, sizeof(log_fields.topic), "%s", topic ? topic : "");
        log_fields.partition = partition;
        log_fields.has_partition = partition >= 0;
}

void jt_log_fields_clear(void) {
        jt_log_fields_job(NULL, NULL);
        jt_log_fields_topic(NULL, -1);
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

/* Length in bytes of the valid UTF-8 sequence at s (shortest form, no surrogates, at most
 * U+10FFFF) and its code point, or 0 when it is not one. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp) {
        size_t n = s[0] < 0x80         ? 1
                   : (s[0] >> 5) == 6  ? 2
                   : (s[0] >> 4) == 14 ? 3
                   : (s[0] >> 3) == 30 ? 4
                                       : 0;
        uint32_t v;

        if (n == 0)
                return 0;
        v = n == 1 ? s[0] : s[0] & (0x7F >> n);
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                v = (v << 6) | (s[i] & 0x3F);
        }
        if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000) ||
            v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                return 0;
        *cp = v;
        return n;
}

static bool needs_escape(uint32_t cp) {
        return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
               (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* The escape of the character at in (n bytes, code point cp; n == 0: an invalid byte). */
static size_t escape_of(const unsigned char *in, size_t n, uint32_t cp, char esc[8]) {
        if (n > 1)
                return (size_t)snprintf(esc, 8, "\\u%04x", (unsigned)cp);
        switch (*in) {
        case '\n':
                return (size_t)snprintf(esc, 8, "\\n");
        case '\r':
                return (size_t)snprintf(esc, 8, "\\r");
        case '\t':
                return (size_t)snprintf(esc, 8, "\\t");
        default:
                return (size_t)snprintf(esc, 8, "\\x%02x", *in);
        }
}

const char *jt_log_escape(const char *text, char *out, size_t size) {
        const unsigned char *in = (const unsigned char *)(text ? text : "");
        size_t o = 0;

        if (size == 0)
                return out;
        while (*in) {
                char esc[8];
                uint32_t cp = 0;
                size_t n = utf8_decode(in, &cp);
                const char *piece = (const char *)in;
                size_t w = n;
                if (n == 0 || needs_escape(cp)) {
                        w = escape_of(in, n, cp, esc);
                        piece = esc;
                        n = n ? n : 1;
                }
                if (o + w >= size)
                        break;
                memcpy(out + o, piece, w);
                o += w;
                in += n;
        }
        out[o] = '\0';
        return out;
}

/* A JSON string of text: as it is when it is UTF-8 without DEL (jansson escapes the other
 * controls, and with JSON_ENSURE_ASCII everything past ASCII, C1 and bidirectional controls
 * included), else its jt_log_escape form. */
static json_t *json_text(const char *text) {
        char escaped[JT_LOG_TEXT_MAX * 4];
        json_t *s = strchr(text, 0x7F) ? NULL : json_string(text);

        if (!s)
                s = json_string(jt_log_escape(text, escaped, sizeof(escaped)));
        return s;
}

/* The line as one JSON object, or NULL (out of memory). free() it. */
static char *json_line(const char *stamp, jt_log_level_t level, const char *text) {
        static const char *names[] = {"debug", "info", "warn", "error"};
        json_t *line = json_object();
        char *out;

        if (!line)
                return NULL;
        json_object_set_new(line, "time", json_string(stamp));
        json_object_set_new(line, "level", json_string(names[level]));
        json_object_set_new(line, "program", json_text(log_program));
        json_object_set_new(line, "message", json_text(text));
        if (log_fields.job[0])
                json_object_set_new(line, "job", json_text(log_fields.job));
        if (log_fields.task[0])
                json_object_set_new(line, "task", json_text(log_fields.task));
        if (log_fields.topic[0])
                json_object_set_new(line, "topic", json_text(log_fields.topic));
        if (log_fields.has_partition)
                json_object_set_new(line, "partition", json_integer(log_fields.partition));
        out = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
        json_decref(line);
        return out;
}

void jt_log(jt_log_level_t level, const char *fmt, ...) {
        static const char *labels[] = {"DEBUG", "INFO", "WARN", "ERROR"};
        char text[JT_LOG_TEXT_MAX], escaped[sizeof(text) * 4];
        char stamp[40], seconds[32];
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
        strftime(seconds, sizeof(seconds), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(stamp, sizeof(stamp), "%s.%03ldZ", seconds, now.tv_nsec / 1000000L);
        if (log_format == JT_LOG_FORMAT_JSON) {
                char *line = json_line(stamp, level, text);
                if (line) {
                        fprintf(stderr, "%s\n", line);
                        free(line);
                        return;
                }
        }
        jt_log_escape(text, escaped, sizeof(escaped));
        fprintf(stderr, "%s %s %s: %s\n", stamp, labels[level], log_program, escaped);
}
