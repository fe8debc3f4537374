/* Progress of a long insert (gen_progress.h). */
#include "gen_progress.h"

#include <stdio.h>
#include <unistd.h>

#include "jt_time.h"

#define BAR_WIDTH 30

static void format_eta(double s, char *buf, size_t size) {
        long t = (long)(s + 0.5);
        if (t >= 3600)
                snprintf(buf, size, "%ldh%02ldm", t / 3600, t / 60 % 60);
        else
                snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
}

static void draw(jt_gen_progress_t *p, bool final) {
        double elapsed = (double)(jt_time_mono_ms() - p->start_ms) / 1000;
        double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
        double frac = p->total > 0 ? (double)p->done / (double)p->total : 1;
        char eta[32];

        format_eta(rate > 0 ? (double)(p->total - p->done) / rate : 0, eta, sizeof(eta));
        if (p->tty) {
                char bar[BAR_WIDTH + 1];
                int fill = (int)(frac * BAR_WIDTH);
                for (int i = 0; i < BAR_WIDTH; i++)
                        bar[i] = i < fill ? '#' : '.';
                bar[BAR_WIDTH] = '\0';
                fprintf(stderr, "\r[%s] %3.0f%% %lld/%lld %s  %.0f/s  ETA %s   ", bar, frac * 100,
                        (long long)p->done, (long long)p->total, p->what, rate, eta);
                if (final)
                        fputc('\n', stderr);
        } else {
                fprintf(stderr, "%3.0f%% %lld/%lld %s  %.0f/s  ETA %s\n", frac * 100,
                        (long long)p->done, (long long)p->total, p->what, rate, eta);
        }
        fflush(stderr);
}

void jt_gen_progress_start(jt_gen_progress_t *p, const char *what, int64_t total) {
        *p = (jt_gen_progress_t){.what = what, .total = total, .tty = isatty(STDERR_FILENO) == 1};
        p->start_ms = p->last_draw_ms = jt_time_mono_ms();
        p->next_line = total / 10;
}

void jt_gen_progress_add(jt_gen_progress_t *p, int64_t n) {
        p->done += n;
        if (p->tty) {
                if (jt_time_mono_ms() - p->last_draw_ms >= 200) {
                        p->last_draw_ms = jt_time_mono_ms();
                        draw(p, false);
                }
        } else if (p->total >= 100000 && p->done >= p->next_line && p->done < p->total) {
                p->next_line += p->total / 10;
                draw(p, false);
        }
}

void jt_gen_progress_end(jt_gen_progress_t *p) {
        if (p->tty || p->total >= 100000)
                draw(p, true);
}
