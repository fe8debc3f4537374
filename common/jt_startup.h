/* The checks every program makes before it starts work: both servers answer within the
 * configured bound, and the topics it uses exist. Errors name the address, never a secret. */
#ifndef JT_STARTUP_H
#define JT_STARTUP_H

#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>

#include "jt_config.h"
#include "jt_error.h"
#include "jt_kafka_admin.h"
#include "jt_metrics.h"

/* The four topic names from a config built with jt_opts_kafka, in a fixed order:
 * stats, cleanup, status, dlq. */
void jt_startup_topics(const jt_config_t *cfg, const char *topics[4]);

/* The four topics as the programs create them (order of jt_startup_topics): --task-partitions,
 * --replication-factor, --min-insync-replicas and the retention of each kind. A
 * --min-insync-replicas above --replication-factor is a JT_ERR_CONFIG error. */
bool jt_startup_topic_specs(const jt_config_t *cfg, jt_kafka_admin_topic_spec_t specs[4],
                            jt_error_t *err);

/* With any client handle: checks the brokers answer (bounded wait), then creates any of the four
 * topics that is missing (jt_kafka_admin_ensure_topic_specs: never alters an existing one).
 * Programs that write call it; a consumer subscribing to a topic that does not exist yet would
 * only see it at its next metadata refresh (minutes), so the worker calls it before it
 * subscribes. */
bool jt_startup_reach_and_ensure_topics(const jt_config_t *cfg, rd_kafka_t *rk, jt_error_t *err);

/* For programs that only read topic (one of the four): checks the brokers answer and that topic
 * exists, creating nothing; a missing topic is a transient error naming it and how to create
 * it. */
bool jt_startup_reach_and_require_topic(const jt_config_t *cfg, rd_kafka_t *rk, const char *topic,
                                        jt_error_t *err);

/* Creates a producer, checks the brokers answer and creates any missing topic. */
rd_kafka_t *jt_startup_producer(const jt_config_t *cfg, jt_error_t *err);

/* Creates the client pool and checks the database answers a ping. */
mongoc_client_pool_t *jt_startup_mongo(const jt_config_t *cfg, const char *app_name,
                                       jt_error_t *err);

/* Same, counting every command sent through the pool into metrics (jt_mongo_apm.h). */
mongoc_client_pool_t *jt_startup_mongo_counted(const jt_config_t *cfg, const char *app_name,
                                               jt_metrics_t *metrics, jt_error_t *err);

/* Same with a socket timeout of hours (JT_MONGO_LONG_OPS_TIMEOUT_MS, unless the URI sets one):
 * for commands whose single operations can run for more than the driver's 5 minutes (the
 * loadtest's floor and baseline). */
mongoc_client_pool_t *jt_startup_mongo_long_ops(const jt_config_t *cfg, const char *app_name,
                                                jt_error_t *err);

/* Prints "program: message" for a failed start and returns the exit code to use
 * (jt_startup_exit_code). */
int jt_startup_fail(const jt_config_t *cfg, const jt_error_t *err);

/* The exit code of a start stopped by err: JT_EXIT_USAGE (2) for bad configuration,
 * JT_EXIT_TEMPFAIL (75) for a server that did not answer (a transient error),
 * JT_EXIT_FAILURE otherwise. */
int jt_startup_exit_code(const jt_error_t *err);

#endif
