/* The watch command (watch.h). It reads the status topic without a consumer group (nothing is
 * committed, any number may watch), from --since minutes ago, so jobs that started before it
 * show with their full progress. */
#include "watch.h"

#include <jansson.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "jt_cleanup_job.h"
#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_options.h"
#include "jt_signal.h"
#include "jt_startup.h"
#include "jt_time.h"
#include "progress.h"

#define MAX_JOBS  64
#define BAR_WIDTH 24
/* A job or worker id from the topic, escaped (jt_log_escape) for the terminal: room for 256
 * bytes each shown as \xNN. */
#define WIRE_TEXT_MAX 1025

typedef struct {
        const jt_config_t *cfg;
        rd_kafka_t *rk;
        jt_avro_registry_t *reg;
        jt_progress_t *progress;
        const char *job_filter; /* NULL: every job */
        bool tty;
        int drawn_lines;
} watch_t;

/* The statistics job's chained cleanup: triggered by the statistics job (triggeredBy as the
 * original sends it, or as the fleet sent it before), started after it. */
static bool chained_from(const jt_job_progress_t *cleanup, const jt_job_progress_t *stats) {
        return cleanup->kind == JT_JOB_KIND_CLEANUP && stats->kind == JT_JOB_KIND_STATS &&
               jt_cleanup_job_chained_by_stats(cleanup->triggered_by) &&
               cleanup->test_mode == stats->test_mode && cleanup->started_ms >= stats->started_ms;
}

/* With --job, that job and the cleanup it chains; otherwise every job. */
static bool shown(watch_t *w, const jt_job_progress_t *job) {
        jt_job_progress_t *wanted;

        if (!w->job_filter || strcmp(job->job_id, w->job_filter) == 0)
                return true;
        wanted = jt_progress_find(w->progress, w->job_filter);
        return wanted && chained_from(job, wanted);
}

/* Every shown job has ended, and a finished statistics job's chained cleanup was seen and ended. */
static bool all_done(watch_t *w, bool *any_failed) {
        size_t n = jt_progress_count(w->progress), seen = 0;

        *any_failed = false;
        for (size_t i = 0; i < n; i++) {
                jt_job_progress_t *job = jt_progress_at(w->progress, i);
                bool chain_seen = false;
                if (!shown(w, job))
                        continue;
                seen++;
                if (!jt_progress_job_ended(job))
                        return false;
                *any_failed = *any_failed || job->state == JT_JOB_FAILED;
                if (job->kind != JT_JOB_KIND_STATS || !job->cleanup_triggered)
                        continue;
                for (size_t k = 0; k < n && !chain_seen; k++)
                        chain_seen = chained_from(jt_progress_at(w->progress, k), job);
                if (!chain_seen)
                        return false;
        }
        return seen > 0;
}

static void format_eta(const jt_progress_summary_t *s, const jt_job_progress_t *job, char *buf,
                       size_t size) {
        if (jt_progress_job_ended(job))
                snprintf(buf, size, "in %.1fs", (double)s->elapsed_ms / 1000.0);
        else if (s->eta_s >= 0)
                snprintf(buf, size, "ETA %.0fs", s->eta_s);
        else
                snprintf(buf, size, "ETA ?");
}

static void draw_tty(watch_t *w) {
        size_t n = jt_progress_count(w->progress);
        int lines = 0;
        char id[WIRE_TEXT_MAX], bar[BAR_WIDTH * 3 + 1], a[JT_FORMAT_BUF], b[JT_FORMAT_BUF],
            rate[JT_FORMAT_BUF];
        char pct[JT_FORMAT_BUF], eta[64];

        if (w->drawn_lines)
                printf("\033[%dA", w->drawn_lines);
        for (size_t i = 0; i < n; i++) {
                jt_job_progress_t *job = jt_progress_at(w->progress, i);
                jt_progress_summary_t s;
                if (!shown(w, job))
                        continue;
                jt_progress_summarize(job, jt_time_wall_ms(), &s);
                format_eta(&s, job, eta, sizeof(eta));
                snprintf(pct, sizeof(pct), "%3.0f%%", s.fraction * 100.0);
                printf("\033[2K%-30s %-6s %s %s %4" PRId64 "/%-4" PRId64 " %s/%s %s  %s/s  %s  "
                       "%d worker%s  %s\n",
                       jt_log_escape(job->job_id, id, sizeof(id)), jt_progress_task_kind(job->kind),
                       jt_progress_bar(s.fraction, BAR_WIDTH, bar, sizeof(bar)), pct, s.tasks_done,
                       s.tasks_total, jt_format_thousands(s.items_done, a, sizeof(a)),
                       jt_format_thousands(s.items_total, b, sizeof(b)),
                       jt_progress_unit(job->kind),
                       jt_format_thousands((int64_t)(s.rate_per_s + 0.5), rate, sizeof(rate)), eta,
                       job->worker_count, job->worker_count == 1 ? "" : "s",
                       jt_job_state_name(job->state));
                lines++;
        }
        if (lines == 0) {
                printf("\033[2Kwaiting for job events on %s%s%s\n",
                       jt_config_str(w->cfg, "status-topic"), w->job_filter ? " for " : "",
                       w->job_filter ? w->job_filter : "");
                lines = 1;
        }
        /* Lines left from a longer earlier frame are cleared. */
        for (int i = lines; i < w->drawn_lines; i++)
                printf("\033[2K\n");
        if (w->drawn_lines > lines)
                printf("\033[%dA", w->drawn_lines - lines);
        w->drawn_lines = lines;
        fflush(stdout);
}

static void emit_json(watch_t *w, jt_job_progress_t *job) {
        jt_progress_summary_t s;
        json_t *line, *workers = json_array();
        char ts[JT_FORMAT_BUF], id[WIRE_TEXT_MAX], worker[WIRE_TEXT_MAX];
        char *text;

        jt_progress_summarize(job, jt_time_wall_ms(), &s);
        /* Escaped here too: `watch | jq -r .job` would print a raw ESC that JSON's \u001b
         * carried, and an id that is not UTF-8 would make no line at all. */
        for (int i = 0; i < job->worker_count; i++)
                json_array_append_new(
                    workers, json_string(jt_log_escape(job->workers[i], worker, sizeof(worker))));
        line = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:b, s:f, s:I, s:I, s:I, s:I, s:s, s:f, s:o, "
            "s:o}",
            "ts", jt_format_iso_utc(jt_time_wall_ms(), ts, sizeof(ts)), "job",
            jt_log_escape(job->job_id, id, sizeof(id)), "kind",
            job->kind == JT_JOB_KIND_STATS ? "stats" : "cleanup", "task_kind",
            jt_progress_task_kind(job->kind), "state", jt_job_state_name(job->state), "test_mode",
            job->test_mode, "percent", (double)(int64_t)(s.fraction * 10000.0 + 0.5) / 100.0,
            "tasks_done", (json_int_t)s.tasks_done, "tasks_total", (json_int_t)s.tasks_total,
            "done", (json_int_t)s.items_done, "total", (json_int_t)s.items_total, "unit",
            jt_progress_unit(job->kind), "rate_per_s",
            (double)(int64_t)(s.rate_per_s * 10.0 + 0.5) / 10.0, "eta_s",
            s.eta_s >= 0 ? json_real((double)(int64_t)(s.eta_s * 10.0) / 10.0) : json_null(),
            "workers", workers);
        if (line && (text = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(10))) != NULL) {
                printf("%s\n", text);
                free(text);
        }
        json_decref(line);
        fflush(stdout);
}

/* The status topic's partitions, positioned at --since minutes ago (0: the beginning). */
static bool assign_from_since(watch_t *w, const char *topic, int64_t since_min, jt_error_t *err) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(w->rk, topic, NULL);
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_resp_err_t rc;
        int timeout = (int)jt_config_int(w->cfg, "kafka-timeout") * 1000;
        bool ok = false;

        rc = rd_kafka_metadata(w->rk, 0, rkt, &md, timeout);
        if (rc || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
                jt_error_set(err, JT_ERR_KAFKA, rc,
                             "status topic %s: %s (no program has used it yet? the producer and "
                             "workers create it)",
                             topic,
                             rd_kafka_err2str(rc                    ? rc
                                              : md && md->topic_cnt ? md->topics[0].err
                                                                    : RD_KAFKA_RESP_ERR_UNKNOWN));
                goto done;
        }
        parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
                rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)
                    ->offset = since_min > 0 ? jt_time_wall_ms() - since_min * 60000
                                             : RD_KAFKA_OFFSET_BEGINNING;
        if (since_min > 0 && (rc = rd_kafka_offsets_for_times(w->rk, parts, timeout)) != 0) {
                jt_error_set(err, JT_ERR_KAFKA, rc, "looking up offsets of %s by time: %s", topic,
                             rd_kafka_err2str(rc));
                goto done;
        }
        for (int i = 0; i < parts->cnt; i++)
                if (parts->elems[i].offset < 0 && since_min > 0)
                        parts->elems[i].offset = RD_KAFKA_OFFSET_END; /* nothing that recent */
        if ((rc = rd_kafka_assign(w->rk, parts)) != 0) {
                jt_error_set(err, JT_ERR_KAFKA, rc, "assigning %s: %s", topic,
                             rd_kafka_err2str(rc));
                goto done;
        }
        ok = true;
done:
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return ok;
}

static rd_kafka_t *watch_consumer(const jt_config_t *cfg, jt_error_t *err) {
        jt_kafka_opts_t opts = jt_kafka_opts_from_config(cfg);
        rd_kafka_conf_t *conf = jt_kafka_conf_new(&opts, err);
        char errstr[512];
        rd_kafka_t *rk;

        if (!conf)
                return NULL;
        /* assign() needs a group id but joins no group; nothing is ever committed. */
        if (rd_kafka_conf_set(conf, "group.id", "joytify-watch", errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) ||
            !(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr)))) {
                rd_kafka_conf_destroy(conf);
                jt_error_set(err, JT_ERR_KAFKA, 0, "creating the consumer: %s", errstr);
                return NULL;
        }
        rd_kafka_poll_set_consumer(rk);
        /* Reads only: a missing status topic is reported, never created. */
        if (!jt_startup_reach_and_require_topic(cfg, rk, jt_config_str(cfg, "status-topic"), err)) {
                rd_kafka_destroy(rk);
                return NULL;
        }
        return rk;
}

int jt_notifier_watch(const jt_config_t *cfg) {
        watch_t w = {.cfg = cfg, .job_filter = jt_config_str(cfg, "job")};
        const char *topic = jt_config_str(cfg, "status-topic");
        int64_t interval = jt_config_int(cfg, "interval"),
                timeout_s = jt_config_int(cfg, "timeout");
        int64_t started = jt_time_mono_ms(), last_draw = started - interval; /* draw at once */
        bool until_done = jt_config_bool(cfg, "until-done"), failed = false, done = false;
        jt_error_t err;
        int rc = JT_EXIT_FAILURE;

        jt_error_clear(&err);
        w.tty = isatty(STDOUT_FILENO) && !jt_config_bool(cfg, "json");
        if (!jt_options_apply_log(cfg, "notifier", &err) ||
            !jt_format_set_zone(jt_config_str(cfg, "timezone"), &err) ||
            !(w.reg = jt_avro_registry_new(&err)) || !(w.progress = jt_progress_new(MAX_JOBS)) ||
            !(w.rk = watch_consumer(cfg, &err)) ||
            !assign_from_since(&w, topic, jt_config_int(cfg, "since"), &err)) {
                fprintf(stderr, "%s: %s\n", jt_config_command_line_name(cfg), err.message);
                rc = jt_startup_exit_code(&err);
                goto out;
        }
        jt_signal_install_stop();

        while (!jt_signal_stop_requested()) {
                rd_kafka_message_t *msg = jt_kafka_poll_message(w.rk, 50);
                if (msg) {
                        jt_status_event_t ev = {0};
                        jt_job_progress_t *job;
                        jt_error_clear(&err);
                        if (jt_status_event_decode(w.reg, msg->payload, msg->len, &ev, &err) &&
                            (job = jt_progress_apply(w.progress, &ev)) != NULL)
                                job->changed = true;
                        jt_status_event_clear(&ev);
                }
                if (msg)
                        rd_kafka_message_destroy(msg);
                done = until_done && all_done(&w, &failed);
                if (!done && jt_time_mono_ms() - last_draw < interval)
                        continue;
                last_draw = jt_time_mono_ms();
                if (w.tty) {
                        draw_tty(&w);
                } else {
                        for (size_t i = 0; i < jt_progress_count(w.progress); i++) {
                                jt_job_progress_t *job = jt_progress_at(w.progress, i);
                                if (job->changed && shown(&w, job)) {
                                        job->changed = false;
                                        emit_json(&w, job);
                                }
                        }
                }
                if (done)
                        break;
                if (timeout_s > 0 && jt_time_mono_ms() - started > timeout_s * 1000) {
                        fprintf(stderr,
                                "%s: --timeout %" PRId64 " s passed before the jobs ended\n",
                                jt_config_command_line_name(cfg), timeout_s);
                        goto out;
                }
        }
        rc = done && failed ? JT_EXIT_FAILURE : JT_EXIT_OK;
out:
        if (w.rk)
                rd_kafka_destroy(w.rk);
        jt_progress_destroy(w.progress);
        jt_avro_registry_destroy(w.reg);
        return rc;
}
