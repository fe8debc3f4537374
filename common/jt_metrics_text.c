/* The modules' exposition text buffer (jt_metrics_text.h). */
#include "jt_metrics_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jt_metrics_text_printf(jt_metrics_text_t *t, const char *fmt, ...) {
        va_list ap;
        size_t cap;
        char *data;
        int n;

        if (t->failed)
                return;
        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
                t->failed = true;
                return;
        }
        if (t->len + (size_t)n + 1 > t->cap) {
                cap = t->cap ? t->cap : 1024;
                while (cap < t->len + (size_t)n + 1)
                        cap *= 2;
                if (!(data = realloc(t->data, cap))) {
                        t->failed = true;
                        return;
                }
                t->data = data;
                t->cap = cap;
        }
        va_start(ap, fmt);
        vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        t->len += (size_t)n;
}

void jt_metrics_text_header(jt_metrics_text_t *t, const char *name, const char *type,
                            const char *help) {
        jt_metrics_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *jt_metrics_text_take(jt_metrics_text_t *t) {
        char *data = t->failed ? NULL : t->data;

        if (t->failed)
                free(t->data);
        else if (!data)
                data = calloc(1, 1);
        memset(t, 0, sizeof(*t));
        return data;
}
