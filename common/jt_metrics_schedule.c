/* The scheduler's fire-time gauges, a fixed pair of schedules as atomics. */
#include "jt_metrics_schedule.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_metrics_text.h"

#define NAME "schedule"

static const char *const schedules[] = {"stats", "cleanup"};
#define N_SCHEDULES (sizeof(schedules) / sizeof(schedules[0]))

/* Atomics: a scrape between the two stores of one update may pair a new last fire with the old
 * next one, which the next scrape corrects; no lock is worth that. */
typedef struct {
        _Atomic int64_t last_s[N_SCHEDULES], next_s[N_SCHEDULES]; /* < 0: unknown */
} state_t;

bool jt_metrics_schedule_attach(jt_metrics_t *m) {
        state_t *s = malloc(sizeof(*s));

        if (!s)
                return false;
        for (size_t i = 0; i < N_SCHEDULES; i++) {
                atomic_init(&s->last_s[i], -1);
                atomic_init(&s->next_s[i], -1);
        }
        return jt_metrics_collectors_add(jt_metrics_collectors(m), NAME, jt_metrics_schedule_render,
                                         free, s);
}

void jt_metrics_schedule_set(jt_metrics_t *m, const char *schedule, int64_t last_s,
                             int64_t next_s) {
        state_t *s = jt_metrics_collectors_find(jt_metrics_collectors(m), NAME);

        for (size_t i = 0; s && schedule && i < N_SCHEDULES; i++) {
                if (strcmp(schedules[i], schedule) != 0)
                        continue;
                atomic_store(&s->last_s[i], last_s < 0 ? -1 : last_s);
                atomic_store(&s->next_s[i], next_s < 0 ? -1 : next_s);
        }
}

/* One gauge's block: its header, then a sample per schedule whose value is known. */
static void gauge(jt_metrics_text_t *t, const char *name, const char *type, const char *help,
                  const int64_t *values) {
        jt_metrics_text_header(t, name, type, help);
        for (size_t i = 0; i < N_SCHEDULES; i++)
                if (values[i] >= 0)
                        jt_metrics_text_printf(t, "%s{schedule=\"%s\"} %" PRId64 "\n", name,
                                               schedules[i], values[i]);
}

char *jt_metrics_schedule_render(void *opaque) {
        state_t *s = opaque;
        int64_t last[N_SCHEDULES], next[N_SCHEDULES];
        jt_metrics_text_t t = {0};

        for (size_t i = 0; i < N_SCHEDULES; i++) {
                last[i] = atomic_load(&s->last_s[i]);
                next[i] = atomic_load(&s->next_s[i]);
        }
        gauge(&t, "joytify_schedule_last_fire_timestamp_seconds", "gauge",
              "The latest fire this scheduler handled (sent, or found sent), by schedule, as a "
              "Unix time.",
              last);
        gauge(&t, "joytify_schedule_next_fire_timestamp_seconds", "gauge",
              "The next fire this scheduler will send, by schedule, as a Unix time: in the past "
              "while a fire is overdue (failing or retried).",
              next);
        return jt_metrics_text_take(&t);
}
