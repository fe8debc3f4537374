/* The notifier's posting series: posts by outcome (joytify_notifier_posts_total), webhook
 * answers that were errors by class (joytify_notifier_webhook_errors_total), and how long an
 * event waited between its time and its post (joytify_notifier_post_wait_seconds). */
#ifndef JT_METRICS_NOTIFIER_H
#define JT_METRICS_NOTIFIER_H

#include <stdbool.h>
#include <stdint.h>

#include "jt_metrics.h"

/* Adds the series to m (rendered from then on, at 0). False when memory runs out. */
bool jt_metrics_notifier_attach(jt_metrics_t *m);

/* One message handled: outcome "posted", "duplicate" (posted before), "rejected" (Discord
 * refused it for good), "failed" (not posted: the webhook is gone, the sink failed) or
 * "skipped" (nothing to post); anything else counts as "other". */
void jt_metrics_notifier_post(jt_metrics_t *m, const char *outcome);

/* One webhook request that did not succeed: http_status 0 (no answer: network, timeout) or the
 * status Discord answered, counted by class (jt_metrics_notifier_error_class). */
void jt_metrics_notifier_webhook_error(jt_metrics_t *m, long http_status);

/* The class of a failed request: "network", "timeout" (408, 425), "rate_limited" (429),
 * "server" (5xx), "redirect" (3xx), "gone" (401, 403, 404), "rejected" (other 4xx), "other". */
const char *jt_metrics_notifier_error_class(long http_status);

/* A post made waited_ms after its event's time. Negative (clock skew) counts as 0. */
void jt_metrics_notifier_waited(jt_metrics_t *m, int64_t waited_ms);

/* The exposition text of the series (malloc'ed; NULL when out of memory): the collector. */
char *jt_metrics_notifier_render(void *state);

#endif
