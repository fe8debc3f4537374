/* `joytify-producer status` (status_cmd.h): reads the fleet view with every bound the options
 * give, prints it, and exits 1 when a job failed or is stuck. Reads only: it creates no topic
 * and writes nothing. */
#include "status_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_cron.h"
#include "jt_fleet_view.h"
#include "jt_kafka_admin.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_startup.h"
#include "jt_time.h"
#include "replay.h"
#include "schedule.h"
#include "status_text.h"

/* The group.id of the client that asks the brokers: it never subscribes nor commits. */
#define STATUS_GROUP "joytify-status"

bool jt_status_cmd_parse_duration(const char *text, int64_t *ms) {
        static const struct {
                char unit;
                int64_t ms;
        } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}, {'w', 604800000}};
        char *end;
        long long n;

        *ms = 0;
        if (!text || !*text || *text == '-' || *text == '+')
                return false;
        errno = 0;
        n = strtoll(text, &end, 10);
        if (errno || end == text || n > 100LL * 365 * 86400)
                return false;
        if (*end == '\0') {
                *ms = n * 1000;
                return true;
        }
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (end[0] == units[i].unit && end[1] == '\0') {
                        *ms = n * units[i].ms;
                        return true;
                }
        return false;
}

/* The options that can be wrong without asking a server: durations and cron expressions. */
static bool status_check(const jt_config_t *cfg, int64_t *since_ms, int64_t *stuck_ms,
                         jt_error_t *err) {
        static const char *const crons[] = {"stats-cron", "cleanup-cron"};
        jt_cron_t cron;

        if (!jt_status_cmd_parse_duration(jt_config_str(cfg, "since"), since_ms))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--since must be a duration like 90m, 24h or 7d (got \"%s\")",
                                    jt_config_str(cfg, "since"));
        if (!jt_status_cmd_parse_duration(jt_config_str(cfg, "stuck-after"), stuck_ms) ||
            *stuck_ms <= 0)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--stuck-after must be a duration like 30m or 2h (got \"%s\")",
                                    jt_config_str(cfg, "stuck-after"));
        for (size_t i = 0; i < 2; i++)
                if (strcmp(jt_config_str(cfg, crons[i]), JT_SCHEDULE_OFF) != 0 &&
                    !jt_cron_parse(jt_config_str(cfg, crons[i]), &cron, err))
                        return jt_error_prefix(err, "--%s", crons[i]);
        return true;
}

/* A schedule's expression, NULL when it is off. */
static const char *cron_or_null(const jt_config_t *cfg, const char *name) {
        const char *expr = jt_config_str(cfg, name);
        return strcmp(expr, JT_SCHEDULE_OFF) == 0 ? NULL : expr;
}

/* Prints why the view is incomplete. Status is a check: anything but bad input means "cannot
 * tell now, ask again" (75), never 1, which says a job failed. */
static int status_fail(const jt_config_t *cfg, const jt_error_t *err) {
        jt_startup_fail(cfg, err);
        return err->domain == JT_ERR_CONFIG ? JT_EXIT_USAGE : JT_EXIT_TEMPFAIL;
}

static jt_fleet_query_t status_query(const jt_config_t *cfg, const jt_kafka_opts_t *kopts,
                                     mongoc_client_t *client, rd_kafka_t *rk, int64_t since_ms,
                                     int64_t stuck_ms) {
        int64_t now = jt_time_wall_ms();
        const char *job = jt_config_str(cfg, "job");

        return (jt_fleet_query_t){
            .client = client,
            .db = jt_config_str(cfg, "db"),
            .rk = rk,
            .kafka = kopts,
            .group = jt_config_str(cfg, "group"),
            .stats_topic = jt_config_str(cfg, "stats-topic"),
            .cleanup_topic = jt_config_str(cfg, "cleanup-topic"),
            .dlq_topic = jt_config_str(cfg, "dlq-topic"),
            .dlq_replay_group = JT_REPLAY_DLQ_GROUP,
            .job_id = job,
            .since_ms = job || since_ms == 0 ? 0 : now - since_ms,
            .max_jobs = (size_t)jt_config_int(cfg, "max-jobs"),
            .max_dead_letters = (size_t)jt_config_int(cfg, "max-dead-letters"),
            .stuck_after_ms = stuck_ms,
            .stats_cron = cron_or_null(cfg, "stats-cron"),
            .cleanup_cron = cron_or_null(cfg, "cleanup-cron"),
            .now_ms = now,
        };
}

/* Prints the view and returns the exit code it earns. */
static int status_report(const jt_config_t *cfg, const jt_fleet_view_t *v, bool ok,
                         const jt_error_t *err) {
        const char *job = jt_config_str(cfg, "job");

        if (jt_config_bool(cfg, "json")) {
                json_t *doc = jt_fleet_view_json(v);
                json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
                fputc('\n', stdout);
                json_decref(doc);
        } else {
                jt_status_text_print(stdout, v);
        }
        fflush(stdout);
        if (!ok) /* part of the view is missing: it cannot say all is well */
                return status_fail(cfg, err);
        if (job && v->job_count == 0) {
                fprintf(stderr, "%s: job %s has no ledger entry in %s.jobs\n",
                        jt_config_command_line_name(cfg), job, jt_config_str(cfg, "db"));
                return JT_EXIT_USAGE;
        }
        return v->failed > 0 || v->stuck > 0 ? JT_EXIT_FAILURE : JT_EXIT_OK;
}

int jt_status_cmd_run(const jt_config_t *cfg) {
        jt_kafka_opts_t kopts = jt_kafka_opts_from_config(cfg);
        mongoc_client_pool_t *pool = NULL;
        mongoc_client_t *client = NULL;
        rd_kafka_t *rk = NULL;
        jt_fleet_view_t view = {0};
        jt_fleet_query_t q;
        int64_t since_ms = 0, stuck_ms = 0;
        jt_error_t err;
        int rc;

        jt_error_clear(&err);
        if (!jt_options_apply_log(cfg, "producer", &err) ||
            !status_check(cfg, &since_ms, &stuck_ms, &err) ||
            !(pool = jt_startup_mongo(cfg, "joytify-producer", &err)) ||
            !(rk = jt_kafka_consumer_new(&kopts, STATUS_GROUP, &err)) ||
            !jt_kafka_admin_check_reachable(rk, &kopts, &err)) {
                rc = status_fail(cfg, &err);
                goto done;
        }
        client = mongoc_client_pool_pop(pool);
        q = status_query(cfg, &kopts, client, rk, since_ms, stuck_ms);
        rc = status_report(cfg, &view, jt_fleet_view_collect(&q, &view, &err), &err);
done:
        jt_fleet_view_cleanup(&view);
        if (client)
                mongoc_client_pool_push(pool, client);
        jt_kafka_destroy(rk);
        jt_mongo_pool_destroy(pool);
        return rc;
}
