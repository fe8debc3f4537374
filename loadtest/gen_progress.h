/* Progress of a long insert: on a terminal a bar redrawn at most 5 times a second with count,
 * rate and ETA; otherwise (logs, CI) one line per 10%. Both on stderr. */
#ifndef JT_LOADTEST_GEN_PROGRESS_H
#define JT_LOADTEST_GEN_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
        const char *what;
        int64_t total, done, next_line;
        double start_s, last_draw_s;
        bool tty;
} gen_progress_t;

void gen_progress_start(gen_progress_t *p, const char *what, int64_t total);
void gen_progress_add(gen_progress_t *p, int64_t n);
void gen_progress_end(gen_progress_t *p);

#endif
