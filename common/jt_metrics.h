/* Prometheus metrics of a joytify program, its liveness and readiness, and the HTTP endpoint
 * that serves them (/metrics, /livez, /readyz, /healthz: see docs/health-and-metrics.md).
 * Updates come from the program's threads while the HTTP thread reads: every function here is
 * thread-safe, and the update functions are cheap (atomic adds, or one short lock). */
#ifndef JT_METRICS_H
#define JT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"
#include "jt_metrics_collectors.h"

typedef struct jt_metrics_s jt_metrics_t;

/* Most consumer-lag series kept at once; updates for further partitions are dropped (and
 * logged once) so that memory stays bounded. */
#define JT_METRICS_LAG_MAX 1024

/* Liveness a program gets unless it sets its own (jt_metrics_set_liveness_timeout). */
#define JT_METRICS_LIVENESS_TIMEOUT_S 60

/* An empty registry for `program` (a label of joytify_build_info, e.g. "worker"). Alive (its
 * heartbeat is its creation) and not ready ("starting") until told otherwise. Serves nothing
 * until jt_metrics_serve. */
jt_metrics_t *jt_metrics_new(const char *program, jt_error_t *err);

/* Starts the HTTP server on addr, "HOST:PORT" ("127.0.0.1:9464", "0.0.0.0:9464", "[::1]:9464";
 * port 0 picks a free port, see jt_metrics_port), bound to that host only; "PORT" or ":PORT"
 * bind 127.0.0.1. Slow and numerous clients are cut as jt_http.h says (JT_HTTP_LIMITS_DEFAULT),
 * so that the probes are answered whatever else connects. A malformed address, an unknown host
 * or a port in use is a JT_ERR_CONFIG error naming --metrics-addr and the value. Once per
 * registry. */
bool jt_metrics_serve(jt_metrics_t *m, const char *addr, jt_error_t *err);

/* The port the server listens on, or -1 when not serving. */
int jt_metrics_port(const jt_metrics_t *m);

/* Stops the server (if any) and frees the registry. NULL is a no-op. */
void jt_metrics_destroy(jt_metrics_t *m);

/* Liveness: the program's main loop calls this at every round. /livez (and /healthz, its old
 * name) answer 200 while the last beat is at most the liveness timeout old, else 503 naming the
 * age: a loop stuck that long is what a restart cures. */
void jt_metrics_beat(jt_metrics_t *m);

/* The liveness timeout, 1..86400 seconds (others are ignored); JT_METRICS_LIVENESS_TIMEOUT_S
 * until set. */
void jt_metrics_set_liveness_timeout(jt_metrics_t *m, int seconds);

/* The liveness timeout for a loop whose round may wait up to longest_wait_s seconds on a server
 * (a flush, a ledger write, a webhook post), a few times in one round: four times that, at
 * least JT_METRICS_LIVENESS_TIMEOUT_S, at most 86400. */
int jt_metrics_liveness_for(int64_t longest_wait_s);

/* Readiness: /readyz answers 200 "ok" while ready, else 503 with reason (one line; control
 * characters become spaces; NULL means "not ready"). valid_ms > 0 bounds how long the answer
 * holds: once that old without a new one, /readyz answers 503 (the check that sets it is stuck);
 * 0 holds it until the next call. */
void jt_metrics_set_ready(jt_metrics_t *m, bool ready, const char *reason, int64_t valid_ms);

/* One task finished: kind "stats" or "cleanup", outcome "done", "retried", "dead_lettered",
 * "stopped" or "failed". Any other value is counted as "other", so that labels stay a fixed
 * set whatever a caller passes. */
void jt_metrics_task(jt_metrics_t *m, const char *kind, const char *outcome);

/* n documents read, written or deleted (op; anything else counts as "other"). n <= 0 is
 * ignored: counters never go down. */
void jt_metrics_documents(jt_metrics_t *m, const char *op, int64_t n);

/* One cleanup delete batch took `seconds`. Negative or non-finite values are ignored. */
void jt_metrics_batch(jt_metrics_t *m, double seconds);

/* One database command sent (libmongoc's command-started event: see jt_mongo_count_requests),
 * by its name: "find", "getMore", "delete", "aggregate" (count_documents sends one),
 * "findAndModify", ... Names outside that fixed set count as "other". */
void jt_metrics_db_request(jt_metrics_t *m, const char *command);

/* n documents read from the users collection (statistics tasks). n <= 0 is ignored. */
void jt_metrics_users_read(jt_metrics_t *m, int64_t n);

/* Sets the consumer lag of topic/partition; lag < 0 removes the series (partition revoked). */
void jt_metrics_set_lag(jt_metrics_t *m, const char *topic, int32_t partition, int64_t lag);

/* This host's clock minus the database server's, in seconds (the worker measures it before it
 * deletes); rendered as joytify_clock_skew_seconds once set. Non-finite values are ignored. */
void jt_metrics_set_clock_skew(jt_metrics_t *m, double seconds);

/* The notifier met a status event of a schema it does not know (a newer version's): it holds
 * the event's partition instead of skipping it. Counted once per event, however often retried.
 * The notifier's series (this and the next) are rendered for program "notifier" only. */
void jt_metrics_unknown_schema(jt_metrics_t *m);

/* The notifier: partitions held at such an event now (0 when none). */
void jt_metrics_set_held_partitions(jt_metrics_t *m, int64_t n);

/* Where modules add series of their own (jt_metrics_schedule.h, jt_metrics_notifier.h); the
 * process metrics are always there. NULL for NULL. */
jt_metrics_collectors_t *jt_metrics_collectors(jt_metrics_t *m);

/* The exposition /metrics serves (Prometheus text format 0.0.4), NUL-terminated, length in
 * *len (if not NULL). The caller frees it. NULL only when memory runs out. */
char *jt_metrics_render(jt_metrics_t *m, size_t *len);

#endif
