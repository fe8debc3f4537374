/* librdkafka client setup: defaults that give at-least-once, -X passthrough, send, flush. */
#include "jt_kafka.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "jt_log.h"
#include "jt_log_limit.h"
#include "jt_time.h"

/* The same librdkafka warning or error at most once per this interval in the log. */
#define JT_KAFKA_LOG_REPEAT_MS 30000

/* Delivery outcome of a producer, kept as its opaque so jt_kafka_flush can report it. The
 * delivery callback runs in whichever thread polls or flushes the producer, so the fields are
 * under the lock. */
typedef struct {
        pthread_mutex_t lock;
        uint64_t failed; /* deliveries failed so far; never reset */
        char last_error[256];
} delivery_state_t;

/* The failure count when this thread queued its first message since its last flush. Threads
 * share a producer (the worker's task threads), and a delivery failure is served by whichever
 * of them polls first: a flush reports every failure counted since its thread's first send, so
 * it never misses one of its own messages (and may report another thread's, which costs that
 * thread's task a retry, never a lost failure). */
static _Thread_local struct {
        const rd_kafka_t *rk;
        uint64_t mark;
} since;

/* A consumer's opaque: the caller's rebalance callback and opaque, and whether an assignment
 * (even an empty one) ever reached it. librdkafka 2.0.2, Debian 12's, aborts in
 * rd_kafka_destroy when a cooperative-sticky consumer is destroyed after its JoinGroup answer
 * and before its first assignment (librdkafka #4312, fixed in 2.3.0): a worker stopped while
 * it joined crashed at exit. Such a consumer is closed (it leaves the group) but not
 * destroyed; only processes that are ending destroy consumers. */
typedef struct {
        void (*rebalance_cb)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *partitions, void *opaque);
        void *opaque;
        atomic_bool subscribed, assigned_once;
} consumer_state_t;

jt_kafka_opts_t jt_kafka_opts_from_config(const jt_config_t *cfg) {
        jt_kafka_opts_t opts = {0};
        opts.brokers = jt_config_str(cfg, "brokers");
        opts.settings = jt_config_kv(cfg, "X", &opts.setting_count);
        opts.timeout_ms = (int)jt_config_int(cfg, "kafka-timeout") * 1000;
        return opts;
}

static bool looks_secret(const char *key) {
        return strstr(key, "password") || strstr(key, "secret") || strstr(key, "key") ||
               strstr(key, "token");
}

/* Logs a warning or error from librdkafka unless the same text (up to librdkafka's own
 * "(after Nms in state ...)" tail, which varies) was shown less than JT_KAFKA_LOG_REPEAT_MS
 * ago: a broker that stays down is named every interval, with the count of repeats held
 * back, instead of at every reconnect. */
static void log_limited(jt_log_level_t lvl, const char *prefix, const char *text) {
        char key[256];
        const char *tail = strstr(text, " (after ");
        long held_back = 0;

        if (lvl < JT_LOG_WARN) {
                jt_log(lvl, "%s: %s", prefix, text);
                return;
        }
        snprintf(key, sizeof(key), "%s: %.*s", prefix,
                 tail ? (int)(tail - text) : (int)strlen(text), text);
        if (!jt_log_limit_pass(key, jt_time_mono_ms(), JT_KAFKA_LOG_REPEAT_MS, &held_back))
                return;
        if (held_back > 0)
                jt_log(lvl, "%s: %s (%ld more like it in the last %d s not shown)", prefix, text,
                       held_back, JT_KAFKA_LOG_REPEAT_MS / 1000);
        else
                jt_log(lvl, "%s: %s", prefix, text);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
        jt_log_level_t lvl = level <= 3   ? JT_LOG_ERROR
                             : level <= 4 ? JT_LOG_WARN
                             : level <= 6 ? JT_LOG_INFO
                                          : JT_LOG_DEBUG;
        char prefix[64];

        snprintf(prefix, sizeof(prefix), "kafka %s", fac);
        log_limited(lvl, prefix, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
        /* Broker-down errors are retried by librdkafka itself; say it at warn level, once per
         * interval. */
        char prefix[96];

        snprintf(prefix, sizeof(prefix), "kafka: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err));
        log_limited(err == RD_KAFKA_RESP_ERR__FATAL ? JT_LOG_ERROR : JT_LOG_WARN, prefix, reason);
}

static bool conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, bool from_user,
                     jt_error_t *err) {
        char errstr[512];
        rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr));

        if (res == RD_KAFKA_CONF_OK)
                return true;
        if (res == RD_KAFKA_CONF_UNKNOWN)
                return jt_error_set(err, JT_ERR_CONFIG, res, "-X %s: unknown librdkafka setting",
                                    key);
        if (from_user && looks_secret(key))
                return jt_error_set(err, JT_ERR_CONFIG, res, "-X %s: invalid value", key);
        return jt_error_set(err, JT_ERR_CONFIG, res, "%s%s: %s", from_user ? "-X " : "", key,
                            errstr);
}

rd_kafka_conf_t *jt_kafka_conf_new(const jt_kafka_opts_t *opts, jt_error_t *err) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();

        rd_kafka_conf_set_log_cb(conf, log_cb);
        rd_kafka_conf_set_error_cb(conf, error_cb);
        if (!conf_set(conf, "bootstrap.servers", opts->brokers, false, err))
                goto fail;
        if (!conf_set(conf, "client.id", "joytify", false, err))
                goto fail;
        for (size_t i = 0; i < opts->setting_count; i++)
                if (!conf_set(conf, opts->settings[i].key, opts->settings[i].value, true, err))
                        goto fail;
        return conf;
fail:
        rd_kafka_conf_destroy(conf);
        return NULL;
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
        delivery_state_t *state = opaque;

        if (!msg->err || !state)
                return;
        pthread_mutex_lock(&state->lock);
        state->failed++;
        snprintf(state->last_error, sizeof(state->last_error), "delivery to %s [%d] failed: %s",
                 rd_kafka_topic_name(msg->rkt), msg->partition, rd_kafka_err2str(msg->err));
        pthread_mutex_unlock(&state->lock);
}

/* Applies our defaults only where the operator's -X did not say otherwise. */
static bool conf_default(rd_kafka_conf_t *conf, const jt_kafka_opts_t *opts, const char *key,
                         const char *value, jt_error_t *err) {
        for (size_t i = 0; i < opts->setting_count; i++)
                if (strcmp(opts->settings[i].key, key) == 0)
                        return true;
        return conf_set(conf, key, value, false, err);
}

static rd_kafka_t *client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, jt_error_t *err) {
        char errstr[512];
        rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));

        if (!rk) {
                jt_error_set(err, JT_ERR_CONFIG, 0, "cannot create Kafka %s: %s",
                             type == RD_KAFKA_PRODUCER ? "producer" : "consumer", errstr);
                return NULL;
        }
        return rk;
}

rd_kafka_t *jt_kafka_producer_new(const jt_kafka_opts_t *opts, jt_error_t *err) {
        rd_kafka_conf_t *conf = jt_kafka_conf_new(opts, err);
        delivery_state_t *state;
        rd_kafka_t *rk;

        if (!conf)
                return NULL;
        if (!conf_default(conf, opts, "enable.idempotence", "true", err) ||
            !conf_default(conf, opts, "linger.ms", "5", err)) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        state = calloc(1, sizeof(*state));
        pthread_mutex_init(&state->lock, NULL);
        rd_kafka_conf_set_opaque(conf, state);
        rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
        rk = client_new(RD_KAFKA_PRODUCER, conf, err);
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                pthread_mutex_destroy(&state->lock);
                free(state);
        }
        return rk;
}

void jt_kafka_rebalance_apply(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t *parts) {
        bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
        bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
        rd_kafka_error_t *error = NULL;
        rd_kafka_resp_err_t rc = RD_KAFKA_RESP_ERR_NO_ERROR;

        if (assign && cooperative)
                error = rd_kafka_incremental_assign(rk, parts);
        else if (assign)
                rc = rd_kafka_assign(rk, parts);
        else if (cooperative)
                error = rd_kafka_incremental_unassign(rk, parts);
        else
                rc = rd_kafka_assign(rk, NULL);
        if (error) {
                jt_log_error("rebalance: %s", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        } else if (rc) {
                jt_log_error("rebalance: %s", rd_kafka_err2str(rc));
        }
}

/* Records the first assignment, then hands the event to the caller's callback, or does what
 * librdkafka does without one. */
static void consumer_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t *parts, void *opaque) {
        consumer_state_t *state = opaque;

        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
                atomic_store(&state->assigned_once, true);
        if (state->rebalance_cb)
                state->rebalance_cb(rk, err, parts, state->opaque);
        else
                jt_kafka_rebalance_apply(rk, err, parts);
}

rd_kafka_t *jt_kafka_consumer_new(const jt_kafka_opts_t *opts, const char *group, jt_error_t *err) {
        rd_kafka_conf_t *conf = jt_kafka_conf_new(opts, err);
        consumer_state_t *state = NULL;
        rd_kafka_t *rk;

        if (!conf)
                return NULL;
        for (size_t i = 0; i < opts->setting_count; i++)
                if (strcmp(opts->settings[i].key, "enable.auto.offset.store") == 0 &&
                    strcmp(opts->settings[i].value, "false") != 0) {
                        jt_error_set(err, JT_ERR_CONFIG, 0,
                                     "-X enable.auto.offset.store=%s would commit tasks before "
                                     "they are done; it must stay false",
                                     opts->settings[i].value);
                        goto fail;
                }
        if (!conf_set(conf, "group.id", group, false, err) ||
            !conf_set(conf, "enable.auto.offset.store", "false", false, err) ||
            !conf_default(conf, opts, "partition.assignment.strategy", "cooperative-sticky", err) ||
            !conf_default(conf, opts, "auto.offset.reset", "earliest", err))
                goto fail;
        if (!(state = calloc(1, sizeof(*state)))) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                goto fail;
        }
        state->rebalance_cb = opts->rebalance_cb;
        state->opaque = opts->opaque;
        rd_kafka_conf_set_rebalance_cb(conf, consumer_rebalance_cb);
        rd_kafka_conf_set_opaque(conf, state);
        rk = client_new(RD_KAFKA_CONSUMER, conf, err);
        if (!rk)
                goto fail;
        rd_kafka_poll_set_consumer(rk);
        return rk;
fail:
        rd_kafka_conf_destroy(conf);
        free(state);
        return NULL;
}

rd_kafka_resp_err_t jt_kafka_subscribe(rd_kafka_t *rk, const char *topic) {
        consumer_state_t *state = rd_kafka_opaque(rk);
        rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
        rd_kafka_resp_err_t rc;

        if (state)
                atomic_store(&state->subscribed, true); /* before any JoinGroup can go out */
        rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
        rc = rd_kafka_subscribe(rk, subs);
        rd_kafka_topic_partition_list_destroy(subs);
        return rc;
}

bool jt_kafka_send(rd_kafka_t *rk, const char *topic, const void *key, size_t key_len,
                   const void *payload, size_t len, rd_kafka_headers_t *headers, jt_error_t *err) {
        return jt_kafka_send_to(rk, topic, RD_KAFKA_PARTITION_UA, key, key_len, payload, len,
                                headers, err);
}

bool jt_kafka_send_to(rd_kafka_t *rk, const char *topic, int32_t partition, const void *key,
                      size_t key_len, const void *payload, size_t len, rd_kafka_headers_t *headers,
                      jt_error_t *err) {
        delivery_state_t *state = rd_kafka_opaque(rk);
        rd_kafka_resp_err_t rc;

        if (state && since.rk != rk) {
                pthread_mutex_lock(&state->lock);
                since.mark = state->failed;
                pthread_mutex_unlock(&state->lock);
                since.rk = rk;
        }
        for (;;) {
                rc = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                       RD_KAFKA_V_KEY((void *)key, key ? key_len : 0),
                                       RD_KAFKA_V_VALUE((void *)payload, len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
                if (rc != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                /* Local queue full: let deliveries drain instead of failing the send. */
                rd_kafka_poll(rk, 100);
        }
        if (rc != RD_KAFKA_RESP_ERR_NO_ERROR && partition == RD_KAFKA_PARTITION_UA)
                return jt_error_set(err, JT_ERR_KAFKA, rc, "producing to %s: %s", topic,
                                    rd_kafka_err2str(rc));
        if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
                return jt_error_set(err, JT_ERR_KAFKA, rc, "producing to %s [%" PRId32 "]: %s",
                                    topic, partition, rd_kafka_err2str(rc));
        return true;
}

bool jt_kafka_store_offset(rd_kafka_t *consumer, const rd_kafka_message_t *msg) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_resp_err_t rc;

        rd_kafka_topic_partition_list_add(list, rd_kafka_topic_name(msg->rkt), msg->partition)
            ->offset = msg->offset + 1;
        rc = rd_kafka_offsets_store(consumer, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (rc)
                jt_log_warn("storing offset %" PRId64 " of %s [%" PRId32 "]: %s (the message may "
                            "come again; its effects are idempotent)",
                            msg->offset + 1, rd_kafka_topic_name(msg->rkt), msg->partition,
                            rd_kafka_err2str(rc));
        return rc == RD_KAFKA_RESP_ERR_NO_ERROR;
}

bool jt_kafka_flush(rd_kafka_t *rk, int timeout_ms, jt_error_t *err) {
        delivery_state_t *state = rd_kafka_opaque(rk);
        rd_kafka_resp_err_t rc = rd_kafka_flush(rk, timeout_ms);
        uint64_t failed = 0;

        if (rc == RD_KAFKA_RESP_ERR__TIMED_OUT)
                return jt_error_set_transient(err, JT_ERR_KAFKA, rc,
                                              "%d message(s) still undelivered after %d ms",
                                              rd_kafka_outq_len(rk), timeout_ms);
        if (!state || since.rk != rk)
                return true; /* nothing sent by this thread since its last flush */
        since.rk = NULL;
        pthread_mutex_lock(&state->lock);
        failed = state->failed - since.mark;
        if (failed)
                jt_error_set(err, JT_ERR_KAFKA, 0, "%s (%" PRIu64 " failed)", state->last_error,
                             failed);
        pthread_mutex_unlock(&state->lock);
        return failed == 0;
}

void jt_kafka_destroy(rd_kafka_t *rk) {
        if (!rk)
                return;
        if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER) {
                consumer_state_t *state = rd_kafka_opaque(rk);
                rd_kafka_topic_partition_list_t *parts = NULL;
                bool joined = false;

                if (rd_kafka_subscription(rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                        joined = parts->cnt > 0;
                        rd_kafka_topic_partition_list_destroy(parts);
                }
                /* joined: it may have sent a JoinGroup (an unsubscribed consumer too) */
                if (state && atomic_load(&state->subscribed))
                        joined = true;
                /* librdkafka 2.0.2 closes a cooperative-sticky member without LeaveGroup, which
                 * keeps it in the group for session.timeout.ms (45 s): replays are refused and
                 * the next rebalance waits that long. Unsubscribing and polling until the
                 * revocation is served (at most 1 s) lets the leave go out first. */
                if (joined && rd_kafka_unsubscribe(rk) == RD_KAFKA_RESP_ERR_NO_ERROR)
                        for (int i = 0; i < 10; i++) {
                                rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
                                bool empty = false;
                                if (msg)
                                        rd_kafka_message_destroy(msg);
                                if (rd_kafka_assignment(rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                                        empty = parts->cnt == 0;
                                        rd_kafka_topic_partition_list_destroy(parts);
                                }
                                if (empty && i > 0)
                                        break;
                        }
                rd_kafka_consumer_close(rk);
                if (joined && state && !atomic_load(&state->assigned_once)) {
                        /* Kept reachable, so a leak checker at exit does not count it. */
                        static rd_kafka_t *_Atomic parked[16];
                        for (size_t i = 0; i < sizeof(parked) / sizeof(parked[0]); i++) {
                                rd_kafka_t *none = NULL;
                                if (atomic_compare_exchange_strong(&parked[i], &none, rk))
                                        break;
                        }
                        jt_log_debug("Kafka consumer closed before its first assignment: not "
                                     "destroyed (librdkafka #4312)");
                        return;
                }
                rd_kafka_destroy(rk);
                free(state);
                return;
        }
        delivery_state_t *state = rd_kafka_opaque(rk);
        rd_kafka_destroy(rk);
        if (state)
                pthread_mutex_destroy(&state->lock);
        free(state);
}

rd_kafka_message_t *jt_kafka_poll_message(rd_kafka_t *consumer, int timeout_ms) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(consumer, timeout_ms);

        if (!msg || !msg->err)
                return msg;
        if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                jt_log_warn("consumer: %s", rd_kafka_message_errstr(msg));
        rd_kafka_message_destroy(msg);
        return NULL;
}
