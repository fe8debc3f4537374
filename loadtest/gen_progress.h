/* Progress of a long insert: on a terminal a bar redrawn at most 5 times a second with count,
 * rate and ETA; otherwise (logs, CI) one line per 10%. Both on stderr. */
#ifndef JT_LOADTEST_GEN_PROGRESS_H
#define JT_LOADTEST_GEN_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
        const char *what;
        int64_t total, done, next_line;
        int64_t start_ms, last_draw_ms; /* monotonic */
        bool tty;
} jt_gen_progress_t;

void jt_gen_progress_start(jt_gen_progress_t *p, const char *what, int64_t total);
void jt_gen_progress_add(jt_gen_progress_t *p, int64_t n);
void jt_gen_progress_end(jt_gen_progress_t *p);

#endif
