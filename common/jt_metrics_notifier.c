/* The notifier's posting series: fixed label sets, counters as atomics, the wait histogram
 * behind one lock (so that a scrape never sees its count and buckets disagree). */
#include "jt_metrics_notifier.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_metrics_text.h"

#define NAME "notifier"

static const char *const outcomes[] = {"posted", "duplicate", "rejected",
                                       "failed", "skipped",   "other"};
static const char *const classes[] = {"network",  "timeout", "rate_limited", "server",
                                      "redirect", "gone",    "rejected",     "other"};
/* An outcome is posted within seconds, or after Discord's or the database's outage: up to a
 * day, past which --max-age usually stops the post anyway. */
static const double bounds[] = {1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400};

#define N_OUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))
#define N_CLASSES  (sizeof(classes) / sizeof(classes[0]))
#define N_BOUNDS   (sizeof(bounds) / sizeof(bounds[0]))

typedef struct {
        _Atomic uint64_t posts[N_OUTCOMES];
        _Atomic uint64_t errors[N_CLASSES];
        pthread_mutex_t lock; /* guards the histogram */
        uint64_t buckets[N_BOUNDS + 1];
        uint64_t count;
        double sum;
} state_t;

static void state_destroy(void *opaque) {
        state_t *s = opaque;

        if (!s)
                return;
        pthread_mutex_destroy(&s->lock);
        free(s);
}

bool jt_metrics_notifier_attach(jt_metrics_t *m) {
        state_t *s = calloc(1, sizeof(*s));

        if (!s)
                return false;
        for (size_t i = 0; i < N_OUTCOMES; i++)
                atomic_init(&s->posts[i], 0);
        for (size_t i = 0; i < N_CLASSES; i++)
                atomic_init(&s->errors[i], 0);
        pthread_mutex_init(&s->lock, NULL);
        return jt_metrics_collectors_add(jt_metrics_collectors(m), NAME, jt_metrics_notifier_render,
                                         state_destroy, s);
}

static size_t index_of(const char *const *values, size_t count, const char *value) {
        for (size_t i = 0; value && i + 1 < count; i++)
                if (strcmp(values[i], value) == 0)
                        return i;
        return count - 1;
}

void jt_metrics_notifier_post(jt_metrics_t *m, const char *outcome) {
        state_t *s = jt_metrics_collectors_find(jt_metrics_collectors(m), NAME);

        if (s)
                atomic_fetch_add_explicit(&s->posts[index_of(outcomes, N_OUTCOMES, outcome)], 1,
                                          memory_order_relaxed);
}

const char *jt_metrics_notifier_error_class(long http) {
        if (http == 0)
                return "network";
        if (http == 408 || http == 425)
                return "timeout";
        if (http == 429)
                return "rate_limited";
        if (http >= 500 && http <= 599)
                return "server";
        if (http >= 300 && http <= 399)
                return "redirect";
        if (http == 401 || http == 403 || http == 404)
                return "gone";
        if (http >= 400 && http <= 499)
                return "rejected";
        return "other";
}

void jt_metrics_notifier_webhook_error(jt_metrics_t *m, long http_status) {
        state_t *s = jt_metrics_collectors_find(jt_metrics_collectors(m), NAME);
        size_t i = index_of(classes, N_CLASSES, jt_metrics_notifier_error_class(http_status));

        if (s)
                atomic_fetch_add_explicit(&s->errors[i], 1, memory_order_relaxed);
}

void jt_metrics_notifier_waited(jt_metrics_t *m, int64_t waited_ms) {
        state_t *s = jt_metrics_collectors_find(jt_metrics_collectors(m), NAME);
        double seconds = waited_ms > 0 ? (double)waited_ms / 1000.0 : 0;
        size_t i = 0;

        if (!s)
                return;
        while (i < N_BOUNDS && seconds > bounds[i])
                i++;
        pthread_mutex_lock(&s->lock);
        s->buckets[i]++;
        s->count++;
        s->sum += seconds;
        pthread_mutex_unlock(&s->lock);
}

static void render_wait(state_t *s, jt_metrics_text_t *t) {
        uint64_t cumulative = 0;

        jt_metrics_text_header(t, "joytify_notifier_post_wait_seconds", "histogram",
                               "Time from a status event to its post to Discord.");
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i <= N_BOUNDS; i++) {
                cumulative += s->buckets[i];
                if (i < N_BOUNDS)
                        jt_metrics_text_printf(
                            t, "joytify_notifier_post_wait_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                            bounds[i], cumulative);
                else
                        jt_metrics_text_printf(
                            t,
                            "joytify_notifier_post_wait_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
                            cumulative);
        }
        jt_metrics_text_printf(t, "joytify_notifier_post_wait_seconds_sum %.17g\n", s->sum);
        jt_metrics_text_printf(t, "joytify_notifier_post_wait_seconds_count %" PRIu64 "\n",
                               s->count);
        pthread_mutex_unlock(&s->lock);
}

char *jt_metrics_notifier_render(void *opaque) {
        state_t *s = opaque;
        jt_metrics_text_t t = {0};

        jt_metrics_text_header(&t, "joytify_notifier_posts_total", "counter",
                               "Messages the notifier handled, by outcome (posted, duplicate: "
                               "posted before, rejected, failed, skipped).");
        for (size_t i = 0; i < N_OUTCOMES; i++)
                jt_metrics_text_printf(
                    &t, "joytify_notifier_posts_total{outcome=\"%s\"} %" PRIu64 "\n", outcomes[i],
                    atomic_load_explicit(&s->posts[i], memory_order_relaxed));
        jt_metrics_text_header(&t, "joytify_notifier_webhook_errors_total", "counter",
                               "Webhook requests that did not succeed, by class (network, "
                               "timeout, rate_limited, server, redirect, gone, rejected).");
        for (size_t i = 0; i < N_CLASSES; i++)
                jt_metrics_text_printf(
                    &t, "joytify_notifier_webhook_errors_total{class=\"%s\"} %" PRIu64 "\n",
                    classes[i], atomic_load_explicit(&s->errors[i], memory_order_relaxed));
        render_wait(s, &t);
        return jt_metrics_text_take(&t);
}
