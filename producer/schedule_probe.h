/* The scheduler's probes and metrics: /metrics (with the fire times of each schedule),
 * /livez (the loop's heartbeat), /readyz (Kafka and MongoDB answer, jt_readiness.h), and
 * systemd's READY/WATCHDOG notifications that follow them (jt_sd_notify.h). */
#ifndef JT_PRODUCER_SCHEDULE_PROBE_H
#define JT_PRODUCER_SCHEDULE_PROBE_H

#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>
#include <stdint.h>

#include "jt_config.h"
#include "jt_cron.h"
#include "jt_error.h"

typedef struct jt_schedule_probe_s jt_schedule_probe_t;

/* Serves --metrics-addr at once (alive, not ready: "starting"), before the servers are tried.
 * A malformed address or a port in use is a JT_ERR_CONFIG error naming the option. */
jt_schedule_probe_t *jt_schedule_probe_new(const jt_config_t *cfg, jt_error_t *err);

/* Starts the readiness checks of the servers through rk and pool, borrowed until
 * jt_schedule_probe_destroy (which must come first). */
bool jt_schedule_probe_watch(jt_schedule_probe_t *p, const jt_config_t *cfg, rd_kafka_t *rk,
                             mongoc_client_pool_t *pool, jt_error_t *err);

/* A round of the scheduler's loop: the heartbeat of /livez and systemd's watchdog. */
void jt_schedule_probe_beat(jt_schedule_probe_t *p);

/* A schedule's fire times for /metrics: last_s the latest fire handled (JT_CRON_NONE: none
 * yet), pending_s the fire it works on (JT_CRON_NONE: none, the next is the cron's after
 * now_s). Recomputed at most once a second per schedule. */
void jt_schedule_probe_fires(jt_schedule_probe_t *p, const char *schedule, const jt_cron_t *cron,
                             int64_t last_s, int64_t pending_s, int64_t now_s);

/* The port /metrics is served on (for the start-up line). */
int jt_schedule_probe_port(const jt_schedule_probe_t *p);

/* Stops the checks and the server. NULL is a no-op. */
void jt_schedule_probe_destroy(jt_schedule_probe_t *p);

#endif
