/* Start-up checks shared by the programs, so that a missing server is reported the same way
 * everywhere: named, with its address, after a bounded wait. */
#include "jt_startup.h"

#include <string.h>

#include "jt_kafka.h"
#include "jt_kafka_admin.h"
#include "jt_log.h"
#include "jt_mongo.h"
#include "jt_mongo_apm.h"
#include "jt_options.h"

void jt_startup_topics(const jt_config_t *cfg, const char *topics[4]) {
        topics[0] = jt_config_str(cfg, "stats-topic");
        topics[1] = jt_config_str(cfg, "cleanup-topic");
        topics[2] = jt_config_str(cfg, "status-topic");
        topics[3] = jt_config_str(cfg, "dlq-topic");
}

#define DAY_MS (24LL * 3600 * 1000)

bool jt_startup_topic_specs(const jt_config_t *cfg, jt_kafka_admin_topic_spec_t specs[4],
                            jt_error_t *err) {
        static const char *const retention[4] = {"task-retention", "task-retention",
                                                 "status-retention", "dlq-retention"};
        const char *topics[4];
        int replication = (int)jt_config_int(cfg, "replication-factor"),
            min_insync = (int)jt_config_int(cfg, "min-insync-replicas");

        jt_startup_topics(cfg, topics);
        for (int i = 0; i < 4; i++)
                specs[i] = (jt_kafka_admin_topic_spec_t){
                    topics[i], (int)jt_config_int(cfg, "task-partitions"), replication, min_insync,
                    jt_config_int(cfg, retention[i]) * DAY_MS};
        /* Kafka accepts such a topic, and then refuses every write made with acks=all. */
        if (min_insync > replication)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--min-insync-replicas must be at most --replication-factor "
                                    "(got %d > %d)",
                                    min_insync, replication);
        return true;
}

bool jt_startup_reach_and_ensure_topics(const jt_config_t *cfg, rd_kafka_t *rk, jt_error_t *err) {
        jt_kafka_opts_t opts = jt_kafka_opts_from_config(cfg);
        jt_kafka_admin_topic_spec_t specs[4];

        return jt_startup_topic_specs(cfg, specs, err) &&
               jt_kafka_admin_check_reachable(rk, &opts, err) &&
               jt_kafka_admin_ensure_topic_specs(rk, specs, 4, opts.timeout_ms, err);
}

bool jt_startup_reach_and_require_topic(const jt_config_t *cfg, rd_kafka_t *rk, const char *topic,
                                        jt_error_t *err) {
        jt_kafka_opts_t opts = jt_kafka_opts_from_config(cfg);
        jt_kafka_admin_topic_spec_t specs[4];

        if (!jt_startup_topic_specs(cfg, specs, err) ||
            !jt_kafka_admin_check_reachable(rk, &opts, err))
                return false;
        for (int i = 0; i < 4; i++)
                if (strcmp(specs[i].name, topic) == 0 &&
                    !jt_kafka_admin_require_topics(rk, &specs[i], 1, opts.timeout_ms, err)) {
                        char message[JT_ERROR_MSG_MAX];
                        snprintf(message, sizeof(message),
                                 "%s (or run joytify-producer topics, which creates the four)",
                                 err->message);
                        return jt_error_set_transient(err, err->domain, err->code, "%s", message);
                }
        return true;
}

rd_kafka_t *jt_startup_producer(const jt_config_t *cfg, jt_error_t *err) {
        jt_kafka_opts_t opts = jt_kafka_opts_from_config(cfg);
        rd_kafka_t *rk = jt_kafka_producer_new(&opts, err);

        if (!rk)
                return NULL;
        if (!jt_startup_reach_and_ensure_topics(cfg, rk, err)) {
                jt_kafka_destroy(rk);
                return NULL;
        }
        return rk;
}

static mongoc_client_pool_t *startup_mongo(const jt_config_t *cfg, const char *app_name,
                                           bool long_ops, jt_metrics_t *metrics, jt_error_t *err) {
        mongoc_client_pool_t *pool = jt_mongo_pool_from_config(cfg, app_name, long_ops, err);

        if (!pool)
                return NULL;
        /* Before the ping: libmongoc takes monitoring callbacks only on an unused pool. */
        if ((metrics && !jt_mongo_apm_count(pool, metrics, err)) ||
            !jt_mongo_ping(pool, jt_config_str(cfg, "mongo-uri"), err)) {
                jt_mongo_pool_destroy(pool);
                return NULL;
        }
        return pool;
}

mongoc_client_pool_t *jt_startup_mongo(const jt_config_t *cfg, const char *app_name,
                                       jt_error_t *err) {
        return startup_mongo(cfg, app_name, false, NULL, err);
}

mongoc_client_pool_t *jt_startup_mongo_counted(const jt_config_t *cfg, const char *app_name,
                                               jt_metrics_t *metrics, jt_error_t *err) {
        return startup_mongo(cfg, app_name, false, metrics, err);
}

mongoc_client_pool_t *jt_startup_mongo_long_ops(const jt_config_t *cfg, const char *app_name,
                                                jt_error_t *err) {
        return startup_mongo(cfg, app_name, true, NULL, err);
}

int jt_startup_fail(const jt_config_t *cfg, const jt_error_t *err) {
        /* A log collector reading JSON lines gets the reason as one of them. */
        if (jt_log_get_format() == JT_LOG_FORMAT_JSON)
                jt_log_error("%s: %s", jt_config_command_line_name(cfg), err->message);
        else
                fprintf(stderr, "%s: %s\n", jt_config_command_line_name(cfg), err->message);
        return jt_startup_exit_code(err);
}

int jt_startup_exit_code(const jt_error_t *err) {
        /* A server that does not answer may answer later: 75 tells a supervisor to try again,
         * where 2 (bad input) tells it not to (RestartPreventExitStatus=2). */
        if (err->domain == JT_ERR_CONFIG)
                return JT_EXIT_USAGE;
        return err->transient ? JT_EXIT_TEMPFAIL : JT_EXIT_FAILURE;
}
