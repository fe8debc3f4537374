/* Start-up and shut-down of `joytify-notifier run` (notifier.h): the options read into the
 * notifier's state, then the outputs, schemas, /metrics, database and consumer opened in the
 * order their failures are best reported. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "jt_avro.h" /* pins the readers: this build's view of newer writers */
#include "jt_log.h"
#include "jt_metrics_notifier.h"
#include "jt_options.h"
#include "jt_signal.h"
#include "jt_startup.h"
#include "jt_time.h"
#include "notifier.h"

/* The consumer's prefetch. librdkafka queues up to 64 MiB of fetched messages by default (and
 * fetches up to 50 MiB at once): a backlog of large foreign messages would fill the pod's whole
 * 64 MiB limit before one was handled. 4 MiB holds thousands of events; -X overrides. */
#define PREFETCH_KBYTES "4096"
#define FETCH_MAX_BYTES "4194304"
#define MAX_X_SETTINGS  64

jt_notifier_t *jt_notifier_new(const jt_config_t *cfg) {
        jt_notifier_t *n = calloc(1, sizeof(*n));
        char host[128] = "localhost";

        if (!n)
                return NULL;
        gethostname(host, sizeof(host) - 1);
        snprintf(n->owner, sizeof(n->owner), "%s/%d/%" PRId64, host, (int)getpid(),
                 jt_time_wall_ms());
        srand((unsigned)(getpid() ^ jt_time_wall_ms()));
        n->cfg = cfg;
        n->mopts.logs_url = jt_config_str(cfg, "logs-url");
        n->progress_messages = jt_config_bool(cfg, "progress-messages");
        n->progress_every_ms = jt_config_int(cfg, "progress-interval") * 1000;
        n->max_age_ms = jt_config_int(cfg, "max-age") * 3600 * 1000;
        n->backoff_base_ms = 500;
        n->backoff_max_ms = (int)jt_config_int(cfg, "retry-backoff-max-ms");
        n->posts = (jt_posts_t){.db = jt_config_str(cfg, "db"),
                                .group = jt_config_str(cfg, "group"),
                                .owner = n->owner,
                                .lease_ms = jt_config_int(cfg, "claim-lease") * 1000};
        n->topic = jt_config_str(cfg, "status-topic");
        n->schema_dir = jt_config_str(cfg, "schema-dir");
        return n;
}

static bool open_outputs(jt_notifier_t *n, jt_error_t *err) {
        const char *url = jt_config_str(n->cfg, "webhook-url");
        const char *sink = jt_config_str(n->cfg, "sink");

        if (url && *url) {
                if (sink)
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "--sink is for running without a webhook; "
                                            "--webhook-url (or DISCORD_WEBHOOK_URL) is set too");
                n->hook =
                    jt_webhook_new(url, (int)jt_config_int(n->cfg, "http-timeout") * 1000, err);
                return n->hook != NULL;
        }
        if (!sink || strcmp(sink, "-") == 0) {
                n->sink = stdout;
                return true;
        }
        if (!(n->sink = fopen(sink, "a")))
                return jt_error_set(err, JT_ERR_CONFIG, 0, "--sink %s: cannot open for appending",
                                    sink);
        return true;
}

static bool pin_readers(jt_notifier_t *n, jt_error_t *err) {
        for (int t = JT_AVRO_STATS_TASK; t <= JT_AVRO_STATUS_EVENT; t++) {
                jt_avro_schema_info_t info;
                if (!jt_avro_registry_reader(n->reg, (jt_avro_type_t)t, &info, err) ||
                    !jt_avro_registry_set_reader(n->reg, (jt_avro_type_t)t, info.version, err))
                        return false;
        }
        return true;
}

/* The consumer in the notifier's group, with our prefetch bounds first and the operator's -X
 * after them (the later setting wins). */
static bool open_consumer(jt_notifier_t *n, jt_error_t *err) {
        jt_kafka_opts_t kopts = jt_kafka_opts_from_config(n->cfg);
        jt_kv_t settings[MAX_X_SETTINGS + 2] = {{"queued.max.messages.kbytes", PREFETCH_KBYTES},
                                                {"fetch.max.bytes", FETCH_MAX_BYTES}};

        if (kopts.setting_count <= MAX_X_SETTINGS) {
                if (kopts.setting_count) /* none: settings is NULL, which memcpy may not get */
                        memcpy(settings + 2, kopts.settings,
                               kopts.setting_count * sizeof(*settings));
                kopts.settings = settings;
                kopts.setting_count += 2;
        }
        n->consumer = jt_kafka_consumer_new(&kopts, n->posts.group, err);
        return n->consumer != NULL;
}

static int notifier_liveness_s(const jt_config_t *cfg) {
        int64_t longest = jt_config_int(cfg, "http-timeout");

        if (jt_config_int(cfg, "kafka-timeout") > longest)
                longest = jt_config_int(cfg, "kafka-timeout");
        if (jt_config_int(cfg, "mongo-timeout") > longest)
                longest = jt_config_int(cfg, "mongo-timeout");
        return jt_metrics_liveness_for(longest);
}

/* Alive while the loop goes round (a round may wait on Discord, the database or the brokers:
 * four times the longest of their timeouts, at least a minute); ready once subscribed (the
 * servers answered at start). */
static void announce(jt_notifier_t *n) {
        const jt_config_t *cfg = n->cfg;

        jt_log_info("notifier in group %s on %s: messages to %s%s, %s style, times in %s, "
                    "/metrics on port %d",
                    n->posts.group, n->topic, n->hook ? jt_webhook_redacted(n->hook) : "the sink",
                    n->progress_messages ? ", with progress messages" : "",
                    jt_config_str(cfg, "message-style"), jt_config_str(cfg, "timezone"),
                    jt_metrics_port(n->metrics));
        jt_metrics_set_liveness_timeout(n->metrics, notifier_liveness_s(cfg));
        jt_metrics_set_ready(n->metrics, true, NULL, 0);
}

bool jt_notifier_open(jt_notifier_t *n, int *exit_code) {
        const jt_config_t *cfg = n->cfg;
        jt_error_t err;
        rd_kafka_resp_err_t rc;

        jt_error_clear(&err);
        *exit_code = JT_EXIT_FAILURE;
        if (!jt_options_apply_log(cfg, "notifier", &err) ||
            !jt_format_set_zone(jt_config_str(cfg, "timezone"), &err) ||
            !jt_message_style_parse(jt_config_str(cfg, "message-style"), &n->style, &err) ||
            !open_outputs(n, &err) || !(n->reg = jt_avro_registry_new(&err)) ||
            !pin_readers(n, &err) || !(n->metrics = jt_metrics_new("notifier", &err)) ||
            !jt_metrics_notifier_attach(n->metrics) ||
            !jt_metrics_serve(n->metrics, jt_config_str(cfg, "metrics-addr"), &err) ||
            !(n->progress = jt_progress_new(JT_NOTIFIER_MAX_PROGRESS_MESSAGES * 4)) ||
            !(n->pool = jt_startup_mongo(cfg, "joytify-notifier", &err)) ||
            !open_consumer(n, &err) ||
            !jt_startup_reach_and_require_topic(cfg, n->consumer, n->topic, &err)) {
                *exit_code = jt_startup_fail(cfg, &err);
                return false;
        }
        n->posts.pool = n->pool;
        jt_held_learn_schemas(n);
        if ((rc = jt_kafka_subscribe(n->consumer, n->topic)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                jt_error_set(&err, JT_ERR_KAFKA, rc, "subscribing to %s: %s", n->topic,
                             rd_kafka_err2str(rc));
                *exit_code = jt_startup_fail(cfg, &err); /* a JSON line under --log-format json */
                return false;
        }
        jt_signal_install_stop();
        announce(n);
        n->readiness = jt_readiness_start(n->metrics, cfg, n->consumer, n->pool, &err);
        if (!n->readiness)
                *exit_code = jt_startup_fail(cfg, &err);
        return n->readiness != NULL;
}

void jt_notifier_destroy(jt_notifier_t *n) {
        if (!n)
                return;
        jt_readiness_stop(n->readiness); /* it uses the consumer and the pool */
        jt_kafka_destroy(n->consumer);   /* commits the stored offsets and leaves the group */
        for (int i = 0; i < JT_NOTIFIER_MAX_PROGRESS_MESSAGES; i++)
                free(n->pms[i].job_id);
        jt_progress_destroy(n->progress);
        jt_mongo_pool_destroy(n->pool);
        jt_avro_registry_destroy(n->reg);
        jt_metrics_destroy(n->metrics);
        jt_webhook_destroy(n->hook);
        if (n->sink && n->sink != stdout)
                fclose(n->sink);
        free(n);
}
