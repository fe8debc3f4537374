/* Message texts built in memory, and the lines both message styles share (text.h). */
#include "text.h"

#include <stdlib.h>
#include <string.h>

#include "format.h"

bool jt_text_open(jt_text_t *t) {
        t->text = NULL;
        t->len = 0;
        t->f = open_memstream(&t->text, &t->len);
        return t->f != NULL;
}

char *jt_text_close(jt_text_t *t) {
        if (t->f)
                fclose(t->f);
        t->f = NULL;
        return t->text;
}

char *jt_text_close_trimmed(jt_text_t *t) {
        jt_text_close(t);
        while (t->text && t->len && t->text[t->len - 1] == '\n')
                t->text[--t->len] = '\0';
        return t->text ? t->text : strdup("");
}

void jt_text_line(jt_text_t *t, const char *label, const char *value) {
        fprintf(t->f, "%s: %s\n", label, value);
}

void jt_text_count(jt_text_t *t, const char *label, const jt_opt_long_t *v) {
        char n[JT_FORMAT_BUF];
        jt_text_line(t, label, jt_format_thousands(v->set ? v->value : 0, n, sizeof(n)));
}

void jt_text_duration(jt_text_t *t, const jt_opt_long_t *ms) {
        char d[JT_FORMAT_BUF];
        if (ms->set)
                fprintf(t->f, "⏱️ **Execution Time**: %s\n",
                        jt_format_duration(ms->value, d, sizeof(d)));
}

void jt_text_cleanup_status(jt_text_t *t, const jt_opt_bool_t *triggered) {
        jt_text_line(t, "🧹 **Cleanup Status**",
                     triggered->set && triggered->value ? "✅ Triggered" : "❌ Failed");
}
