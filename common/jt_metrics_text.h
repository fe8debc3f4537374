/* A growing text buffer for the modules that write their own Prometheus series
 * (jt_metrics_collectors.h): printf-style appends, # HELP/# TYPE headers, and an out-of-memory
 * state that makes the result NULL instead of a truncated exposition. */
#ifndef JT_METRICS_TEXT_H
#define JT_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
        char *data;
        size_t len, cap;
        bool failed;
} jt_metrics_text_t;

void jt_metrics_text_printf(jt_metrics_text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "# HELP name help" and "# TYPE name type" lines. */
void jt_metrics_text_header(jt_metrics_text_t *t, const char *name, const char *type,
                            const char *help);

/* The text (the caller frees it), or NULL when an append ran out of memory; t is emptied. */
char *jt_metrics_text_take(jt_metrics_text_t *t);

#endif
