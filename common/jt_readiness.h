/* Readiness of a program that works between Kafka and MongoDB: a thread that asks both servers
 * in turn, every few seconds, and publishes the answer to the metrics registry's /readyz, so
 * that a probe is answered at once from the last result and never waits on a server. */
#ifndef JT_READINESS_H
#define JT_READINESS_H

#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>

#include "jt_config.h"
#include "jt_error.h"
#include "jt_metrics.h"

typedef struct jt_readiness_s jt_readiness_t;

/* How often the servers are asked. */
#define JT_READINESS_EVERY_MS 5000

/* Starts checking, the first check at once: Kafka metadata through rk (within --kafka-timeout,
 * 5 s at most) and a ping through pool (bounded by the pool's timeouts). Ready while both
 * answered at the last check; a check stuck for twice its bound turns /readyz to 503 by itself
 * (jt_metrics_set_ready's valid_ms). m, cfg, rk and pool are borrowed and must outlive the
 * checker: stop it first. */
jt_readiness_t *jt_readiness_start(jt_metrics_t *m, const jt_config_t *cfg, rd_kafka_t *rk,
                                   mongoc_client_pool_t *pool, jt_error_t *err);

/* Stops the thread (after its check in progress, if any) and frees r. NULL is a no-op. */
void jt_readiness_stop(jt_readiness_t *r);

#endif
