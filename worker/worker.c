/* The worker's start and end: options checked, the servers waited for, one consumer per task
 * topic subscribed, the task threads started; then the loop (loop.c) until a stop request, and
 * everything released. The loop's design: worker_private.h. */
#include "worker.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_push.h"
#include "artist_names.h"
#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_sd_notify.h"
#include "jt_signal.h"
#include "jt_startup.h"
#include "jt_time.h"
#include "worker_private.h"

/* A consumer in the group for `topic`, subscribed to it alone (see MAX_CONSUMERS). */
static bool add_consumer(worker_t *w, const jt_kafka_opts_t *kopts, const char *group,
                         const char *topic, jt_error_t *err) {
        rd_kafka_resp_err_t rc;
        rd_kafka_t *consumer;

        for (int i = 0; i < w->consumer_count; i++)
                if (strcmp(w->consumer_topics[i], topic) == 0)
                        return true; /* "stats,stats" */
        if (w->consumer_count == MAX_CONSUMERS)
                return jt_error_set(err, JT_ERR_CONFIG, 0, "--topics: at most %d topics",
                                    MAX_CONSUMERS);
        if (!(consumer = jt_kafka_consumer_new(kopts, group, err)))
                return false;
        w->consumers[w->consumer_count] = consumer;
        w->consumer_topics[w->consumer_count++] = topic;
        rc = jt_kafka_subscribe(consumer, topic);
        if (rc)
                return jt_error_set(err, JT_ERR_CONFIG, rc, "subscribing to %s: %s", topic,
                                    rd_kafka_err2str(rc));
        return true;
}

/* One consumer per kind in --topics ("stats", "cleanup" or both, comma-separated). */
static bool subscribe(worker_t *w, const jt_kafka_opts_t *kopts, const char *group,
                      const char *kinds, jt_error_t *err) {
        char *copy = strdup(kinds), *save = NULL;
        bool ok = true;

        for (char *k = strtok_r(copy, ",", &save); ok && k; k = strtok_r(NULL, ",", &save)) {
                if (strcmp(k, "stats") == 0)
                        ok = add_consumer(w, kopts, group, w->env.stats_topic, err);
                else if (strcmp(k, "cleanup") == 0)
                        ok = add_consumer(w, kopts, group, w->env.cleanup_topic, err);
                else
                        ok = jt_error_set(err, JT_ERR_CONFIG, 0,
                                          "--topics takes stats, cleanup or both (got \"%s\")", k);
        }
        free(copy);
        if (ok && w->consumer_count == 0)
                ok = jt_error_set(err, JT_ERR_CONFIG, 0,
                                  "--topics takes stats, cleanup or both (got \"%s\")", kinds);
        return ok;
}

/* The host part of HOST:PORT, for the start-up line; a port alone is served on 127.0.0.1. */
static const char *metrics_host(const char *addr, char *buf, size_t size) {
        const char *colon = strrchr(addr, ':');

        if (!colon || colon == addr)
                return "127.0.0.1";
        snprintf(buf, size, "%.*s", (int)(colon - addr), addr);
        return buf;
}

/* The producer (brokers answering, topics created) and the database pool (a ping answered),
 * tried again every second for up to --startup-wait seconds while a server does not answer:
 * the process stays up, /livez answers 200 and /readyz 503 naming the server meanwhile. */
static bool start_servers(worker_t *w, const jt_config_t *cfg, jt_error_t *err) {
        int64_t wait_ms = jt_config_int(cfg, "startup-wait") * 1000;
        int64_t give_up_at = jt_time_mono_ms() + wait_ms;

        for (;;) {
                jt_metrics_beat(w->env.metrics);
                if (!w->env.producer)
                        w->env.producer = jt_startup_producer(cfg, err);
                if (w->env.producer && !w->env.pool)
                        w->env.pool =
                            jt_startup_mongo_counted(cfg, "joytify-worker", w->env.metrics, err);
                if (w->env.producer && w->env.pool)
                        return true;
                if (!err->transient || jt_signal_stop_requested() ||
                    jt_time_mono_ms() >= give_up_at)
                        return false;
                jt_metrics_set_ready(w->env.metrics, false,
                                     w->env.producer ? "starting: MongoDB unreachable"
                                                     : "starting: Kafka unreachable",
                                     0);
                jt_log_warn("starting: %s; trying again for up to %" PRId64 " s (--startup-wait)",
                            err->message, (give_up_at - jt_time_mono_ms() + 999) / 1000);
                jt_metrics_beat(w->env.metrics);
                jt_task_sleep(&w->env, 1000);
        }
}

/* A round of the loop may wait on a server for --kafka-timeout or --mongo-timeout (a flush, a
 * ledger write), a few times when several tasks end at once: liveness must allow more, or a
 * slow server would restart every worker. 0 (the default) derives it from those timeouts, so
 * that raising them never stops a worker from starting; a value given must exceed both. */
static bool liveness_timeout(const jt_config_t *cfg, int *seconds, jt_error_t *err) {
        long long live = jt_config_int(cfg, "liveness-timeout");
        long long kafka = jt_config_int(cfg, "kafka-timeout");
        long long mongo = jt_config_int(cfg, "mongo-timeout");
        long long longest = kafka > mongo ? kafka : mongo;

        if (live == 0) {
                *seconds = jt_metrics_liveness_for(longest);
                return true;
        }
        *seconds = (int)live;
        if (live > longest)
                return true;
        return jt_error_set(err, JT_ERR_CONFIG, 0,
                            "--liveness-timeout must be more than --kafka-timeout (%lld) and "
                            "--mongo-timeout (%lld) seconds, or 0 to derive it from them (got "
                            "%lld)",
                            kafka, mongo, live);
}

static bool playback_reads_valid(const jt_config_t *cfg, jt_error_t *err) {
        const char *how = jt_config_str(cfg, "playback-reads");

        if (strcmp(how, "range") == 0 || strcmp(how, "per-user") == 0)
                return true;
        return jt_error_set(err, JT_ERR_CONFIG, 0,
                            "--playback-reads takes range or per-user (got \"%s\")", how);
}

/* The worker's settings from cfg; worker_id ("host/pid") stays the caller's. */
static void worker_init(worker_t *w, const jt_config_t *cfg, const jt_kafka_opts_t *kopts,
                        const char *worker_id) {
        w->env.cfg = cfg;
        w->env.db = jt_config_str(cfg, "db");
        w->env.stats_topic = jt_config_str(cfg, "stats-topic");
        w->env.cleanup_topic = jt_config_str(cfg, "cleanup-topic");
        w->env.status_topic = jt_config_str(cfg, "status-topic");
        w->env.worker_id = worker_id;
        w->env.kafka_timeout_ms = kopts->timeout_ms;
        w->env.stop = jt_signal_stop_flag();
        jt_task_announced_init(&w->announced);
        w->env.announced = &w->announced;
        w->dlq_topic = jt_config_str(cfg, "dlq-topic");
        w->max_attempts = (int)jt_config_int(cfg, "max-attempts");
        w->backoff_base_ms = (int)jt_config_int(cfg, "retry-backoff-ms");
        w->backoff_max_ms = (int)jt_config_int(cfg, "retry-backoff-max-ms");
        w->outage_budget_ms = jt_config_int(cfg, "outage-budget") * 1000;
        pthread_mutex_init(&w->lock, NULL);
        w->stall_file = getenv("JT_TEST_STALL_FILE");
        if (w->stall_file && !*w->stall_file)
                w->stall_file = NULL;
}

/* Everything the loop needs, in order: the options checked, /metrics served, the servers
 * reached, the consumers subscribed, the task threads and the readiness checks started. False
 * with err at the first that fails; worker_free releases what was made. */
static bool worker_start(worker_t *w, const jt_config_t *cfg, const jt_kafka_opts_t *kopts,
                         jt_error_t *err) {
        int live_s = JT_METRICS_LIVENESS_TIMEOUT_S;

        if (!jt_options_apply_log(cfg, "worker", err) || !playback_reads_valid(cfg, err) ||
            !liveness_timeout(cfg, &live_s, err) || !jt_app_push_new(cfg, &w->app_push, err) ||
            !(w->reg = jt_avro_registry_new(err)) ||
            !(w->env.metrics = jt_metrics_new("worker", err)))
                return false;
        jt_metrics_set_liveness_timeout(w->env.metrics, live_s);
        if (w->stall_file)
                jt_log_warn("test hook JT_TEST_STALL_FILE is set: the loop stalls while %s exists",
                            w->stall_file);
        if (!jt_metrics_serve(w->env.metrics, jt_config_str(cfg, "metrics-addr"), err) ||
            !start_servers(w, cfg, err) ||
            !subscribe(w, kopts, jt_config_str(cfg, "group"), jt_config_str(cfg, "topics"), err))
                return false;
        w->env.reg = w->reg;
        w->env.app_push = w->app_push;
        jt_clock_check_start(&w->env, &w->clock);
        if (!(w->env.names = jt_artist_names_new()))
                return jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
        if (!jt_runners_start(w, (int)jt_config_int(cfg, "concurrency"), err))
                return false;
        w->readiness = jt_readiness_start(w->env.metrics, cfg, w->env.producer, w->env.pool, err);
        return w->readiness != NULL;
}

/* Releases everything worker_start made, and w. */
static void worker_free(worker_t *w) {
        jt_error_t ignored;

        jt_readiness_stop(w->readiness); /* it uses the producer and the pool */
        jt_runners_stop(w);
        /* Closing a consumer commits its stored offsets and leaves the group. */
        for (int i = 0; i < w->consumer_count; i++)
                jt_kafka_destroy(w->consumers[i]);
        if (w->env.producer)
                jt_kafka_flush(w->env.producer, 5000, &ignored);
        jt_kafka_destroy(w->env.producer);
        jt_mongo_pool_destroy(w->env.pool);
        jt_avro_registry_destroy(w->reg);
        jt_app_push_destroy(w->app_push);
        jt_artist_names_destroy(w->env.names);
        jt_metrics_destroy(w->env.metrics);
        if (w->env.clock)
                jt_clock_check_clear(&w->clock);
        jt_task_announced_clear(&w->announced);
        pthread_mutex_destroy(&w->lock);
        free(w);
}

int jt_worker_run(const jt_config_t *cfg) {
        worker_t *w = calloc(1, sizeof(*w));
        jt_kafka_opts_t kopts = jt_kafka_opts_from_config(cfg);
        char host[128] = "localhost", worker_id[200];
        jt_error_t err;
        int rc = JT_EXIT_OK;

        jt_error_clear(&err);
        gethostname(host, sizeof(host) - 1);
        snprintf(worker_id, sizeof(worker_id), "%s/%d", host, (int)getpid());
        srand((unsigned)(getpid() ^ jt_time_wall_ms()));
        worker_init(w, cfg, &kopts, worker_id);
        kopts.rebalance_cb = jt_partitions_rebalance_cb;
        kopts.opaque = w;
        /* Before the servers are tried: a stop during a long --startup-wait ends it. */
        jt_signal_install_stop();
        if (!worker_start(w, cfg, &kopts, &err)) {
                rc = jt_startup_fail(cfg, &err);
                goto done;
        }
        jt_log_info("worker %s in group %s, consuming %s with %d task thread(s); metrics on "
                    "http://%s:%d/metrics",
                    worker_id, jt_config_str(cfg, "group"), jt_config_str(cfg, "topics"),
                    w->runner_count,
                    metrics_host(jt_config_str(cfg, "metrics-addr"), host, sizeof(host)),
                    jt_metrics_port(w->env.metrics));
        while (!jt_signal_stop_requested())
                jt_loop_round(w);
        jt_sd_notify_stopping("stopping: draining tasks");
        jt_loop_drain(w);
        jt_log_info("stopping: %ld tasks done, %ld retried, %ld dead-lettered; committing and "
                    "leaving the group",
                    w->tasks_done, w->tasks_retried, w->tasks_dead_lettered);
done:
        worker_free(w);
        return rc;
}
