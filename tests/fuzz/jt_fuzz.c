/* Helpers linked into every fuzz target, with libFuzzer and with the standalone driver. */
#include "jt_fuzz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long known_count;

char *jt_fuzz_cstr(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                abort();
        if (size)
                memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

static bool is_known(const char *id) {
        const char *list = getenv("JT_FUZZ_KNOWN");
        size_t len = strlen(id);

        for (const char *p = list; p && *p;) {
                const char *end = strchr(p, ',');
                size_t n = end ? (size_t)(end - p) : strlen(p);
                if (n == len && strncmp(p, id, len) == 0)
                        return true;
                p = end ? end + 1 : p + n;
        }
        return false;
}

void jt_fuzz_finding(const char *id, const char *fmt, ...) {
        va_list ap;

        if (is_known(id)) {
                known_count++;
                return;
        }
        fprintf(stderr, "FINDING %s: ", id);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        abort();
}

unsigned long jt_fuzz_known_count(void) {
        return known_count;
}
