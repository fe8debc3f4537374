/* The logger: one line per call, written with a single fprintf so that lines from several
 * threads never interleave mid-line. */
#include "jt_log.h"

#include "jt_secret.h"

#include <stdarg.h>
#include <stdint.h>
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

void jt_log(jt_log_level_t level, const char *fmt, ...) {
        static const char *labels[] = {"DEBUG", "INFO", "WARN", "ERROR"};
        char text[2048], escaped[sizeof(text) * 4];
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
        jt_log_escape(text, escaped, sizeof(escaped));
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, now.tv_nsec / 1000000L, labels[level],
                log_program, escaped);
}
