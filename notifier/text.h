/* A message text built in memory with stdio (open_memstream), and the labelled lines that the
 * embed (message.h) and original (original.h) styles write alike. */
#ifndef JT_NOTIFIER_TEXT_H
#define JT_NOTIFIER_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "jt_messages.h"

typedef struct {
        FILE *f; /* NULL when out of memory */
        char *text;
        size_t len;
} jt_text_t;

/* Starts an empty text; false (t->f NULL) when out of memory. */
bool jt_text_open(jt_text_t *t);

/* Ends the text and returns it as written (malloc'd), NULL when out of memory. */
char *jt_text_close(jt_text_t *t);

/* Ends the text and returns it without its trailing line breaks (malloc'd; "" when nothing
 * could be written): the renderers add their own. */
char *jt_text_close_trimmed(jt_text_t *t);

/* "label: value\n". */
void jt_text_line(jt_text_t *t, const char *label, const char *value);

/* "label: 1,234\n"; an unset count shows as 0. */
void jt_text_count(jt_text_t *t, const char *label, const jt_opt_long_t *v);

/* "⏱️ **Execution Time**: 1m 2s (62000ms)\n". An event without the time (an older worker's
 * failure) leaves the line out rather than show a made-up 0s. */
void jt_text_duration(jt_text_t *t, const jt_opt_long_t *ms);

/* "🧹 **Cleanup Status**: ✅ Triggered" (or "❌ Failed") under a statistics job's outcome. */
void jt_text_cleanup_status(jt_text_t *t, const jt_opt_bool_t *triggered);

#endif
