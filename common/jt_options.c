/* The option tables several programs share, so that a flag means the same thing everywhere. */
#include "jt_options.h"

#include "jt_log.h"

const jt_opt_t jt_opts_log[] = {
    {"log-level", 0, JT_OPT_STRING, "info", 0, 0, "JT_LOG_LEVEL", false, "LEVEL",
     "lowest level logged: debug, info, warn, error"},
    {"log-format", 0, JT_OPT_STRING, "text", 0, 0, "JT_LOG_FORMAT", false, "text|json",
     "text: one line per event for people; json: one JSON object per line (time, level, "
     "program, message, and job, task, topic, partition where the line has them) for a log "
     "collector"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

const jt_opt_t jt_opts_kafka[] = {
    {"brokers", 'b', JT_OPT_STRING, "127.0.0.1:9092", 0, 0, "JT_KAFKA_BROKERS", false,
     "HOST:PORT,...", "Kafka bootstrap servers"},
    {"X", 'X', JT_OPT_KV, NULL, 0, 0, NULL, false, "KEY=VALUE",
     "librdkafka setting passed through as is (repeatable; see librdkafka CONFIGURATION.md)"},
    {"stats-topic", 0, JT_OPT_STRING, "joytify.tasks.stats", 0, 0, NULL, false, "TOPIC",
     "topic of statistics tasks"},
    {"cleanup-topic", 0, JT_OPT_STRING, "joytify.tasks.cleanup", 0, 0, NULL, false, "TOPIC",
     "topic of cleanup tasks"},
    {"status-topic", 0, JT_OPT_STRING, "joytify.status", 0, 0, NULL, false, "TOPIC",
     "topic of job and task status events"},
    {"dlq-topic", 0, JT_OPT_STRING, "joytify.tasks.dlq", 0, 0, NULL, false, "TOPIC",
     "dead-letter topic of tasks that can never succeed"},
    {"task-partitions", 0, JT_OPT_INT, "12", 1, 1024, "JT_TASK_PARTITIONS", false, "N",
     "partitions of each topic this program creates; tasks are spread evenly over them, so at "
     "most N workers get work from a task topic (see docs/scaling.md)"},
    {"replication-factor", 0, JT_OPT_INT, "1", 1, 16, "JT_REPLICATION_FACTOR", false, "N",
     "replication factor of the topics this program creates"},
    {"min-insync-replicas", 0, JT_OPT_INT, "1", 1, 16, "JT_MIN_INSYNC_REPLICAS", false, "N",
     "min.insync.replicas of the topics this program creates: replicas that must hold a "
     "message before it counts as sent (at most --replication-factor)"},
    {"task-retention", 0, JT_OPT_INT, "7", 1, 3650, "JT_TASK_RETENTION", false, "DAYS",
     "retention.ms of the two task topics this program creates: how far back a replay can go"},
    {"status-retention", 0, JT_OPT_INT, "7", 1, 3650, "JT_STATUS_RETENTION", false, "DAYS",
     "retention.ms of the status topic this program creates"},
    {"dlq-retention", 0, JT_OPT_INT, "28", 1, 3650, "JT_DLQ_RETENTION", false, "DAYS",
     "retention.ms of the dead-letter topic this program creates: time to look at a dead "
     "letter and replay it"},
    {"kafka-timeout", 0, JT_OPT_INT, "15", 1, 600, NULL, false, "SECONDS",
     "how long to wait for the brokers before giving up"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

const jt_opt_t jt_opts_mongo[] = {
    {"mongo-uri", 0, JT_OPT_STRING, "mongodb://127.0.0.1:27017", 0, 0, "JT_MONGO_URI", true, "URI",
     "MongoDB connection string (credentials belong in the environment variable)"},
    {"db", 0, JT_OPT_STRING, "mern-joytify", 0, 0, "JT_MONGO_DB", false, "NAME",
     "database holding users, playbacks, stats, notifications and jobs"},
    {"mongo-timeout", 0, JT_OPT_INT, "15", 1, 600, NULL, false, "SECONDS",
     "how long to wait for the database before giving up"},
    {"write-concern", 0, JT_OPT_STRING, "majority", 0, 0, NULL, false, "majority|N",
     "nodes that must hold a write before it counts (and before a task's offset moves); "
     "replaces a w= in the URI"},
    {"write-timeout", 0, JT_OPT_INT, "10000", 1, 600000, NULL, false, "MS",
     "how long the server may wait for those nodes before the write counts as failed "
     "(and is retried); replaces a wtimeoutMS= in the URI"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

const jt_opt_t jt_opts_cleanup[] = {
    JT_OPT_RETENTION_DAYS,
    {"range-hours", 0, JT_OPT_INT, "24", 1, 8784, NULL, false, "HOURS", "hours per task"},
    {"max-ranges", 0, JT_OPT_INT, "400", 2, 10000, NULL, false, "N",
     "most tasks of a cleanup job: older playbacks go to one task covering everything before "
     "the last N-1 ranges"},
    {"batch-size", 0, JT_OPT_INT, "10000", 1, 100000, NULL, false, "N",
     "playbacks per batch (a slice of time sized to hold about N)"},
    {"batch-delay-ms", 0, JT_OPT_INT, "100", 0, 60000, NULL, false, "MS", "pause between batches"},
    {"time-budget", 0, JT_OPT_INT, "60", 1, 86400, NULL, false, "SECONDS",
     "work per task before a continuation task takes over"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

bool jt_options_apply_log(const jt_config_t *cfg, const char *program, jt_error_t *err) {
        jt_log_level_t level;
        jt_log_format_t format;
        const char *text = jt_config_str(cfg, "log-level");
        const char *format_text = jt_config_str(cfg, "log-format");

        if (!jt_log_level_parse(text, &level))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--log-level must be debug, info, warn or error (got \"%s\")",
                                    text);
        if (!jt_log_format_parse(format_text, &format))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--log-format must be text or json (got \"%s\")", format_text);
        jt_log_init(program, level);
        jt_log_set_format(format);
        return true;
}
