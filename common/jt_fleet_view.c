/* Collecting the fleet view (jt_fleet_view.h): each section read on its own, so that one
 * server away still leaves the others to show. */
#include "jt_fleet_view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt_cron.h"
#include "jt_fleet_jobs.h"
#include "jt_time.h"

#define DEFAULT_STUCK_MS (30LL * 60 * 1000)

static const char *group_state_name(rd_kafka_consumer_group_state_t state) {
        return state == RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN
                   ? "Unknown"
                   : rd_kafka_consumer_group_state_name(state);
}

static void group_read(const jt_fleet_query_t *q, jt_fleet_view_t *v, jt_error_t *err) {
        jt_kafka_admin_group_t g;

        snprintf(v->group, sizeof(v->group), "%s", q->group);
        int64_t until = jt_time_mono_ms() + q->kafka->timeout_ms;

        while (
            !(v->group_ok = jt_kafka_admin_group_members(q->rk, q->group, q->kafka->timeout_ms, &g,
                                                         &v->members, &v->member_count, err)) &&
            jt_fleet_dlq_coordinator_busy(err) && jt_time_mono_ms() < until)
                usleep(300 * 1000);
        if (v->group_ok)
                snprintf(v->group_state, sizeof(v->group_state), "%s", group_state_name(g.state));
}

/* The partitions of the task topics that exist, into list (watermarks into v->lag). */
static bool lag_partitions(const jt_fleet_query_t *q, jt_fleet_view_t *v,
                           rd_kafka_topic_partition_list_t *list, jt_error_t *err) {
        const char *topics[2] = {q->stats_topic, q->cleanup_topic};
        const struct rd_kafka_metadata *md = NULL;
        bool ok = jt_kafka_admin_topics(q->rk, q->kafka, &md, err);

        for (int t = 0; ok && t < 2; t++) {
                const rd_kafka_metadata_topic_t *mt =
                    topics[t] ? jt_kafka_admin_topic_find(md, topics[t]) : NULL;
                jt_fleet_lag_t *more;
                if (!mt || mt->partition_cnt == 0)
                        continue; /* not created yet: no lag to show */
                more = realloc(v->lag, (v->lag_count + (size_t)mt->partition_cnt) * sizeof(*more));
                if (!more) {
                        ok = jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
                        break;
                }
                v->lag = more;
                for (int p = 0; p < mt->partition_cnt; p++) {
                        jt_fleet_lag_t *l = &v->lag[v->lag_count++];
                        memset(l, 0, sizeof(*l));
                        snprintf(l->topic, sizeof(l->topic), "%s", topics[t]);
                        l->partition = mt->partitions[p].id;
                        rd_kafka_topic_partition_list_add(list, topics[t], l->partition);
                }
        }
        if (md)
                rd_kafka_metadata_destroy(md);
        return ok;
}

static int lag_cmp(const void *a, const void *b) {
        const jt_fleet_lag_t *x = a, *y = b;
        int c = strcmp(x->topic, y->topic);
        return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Per partition of the task topics: log start and end, the group's commit, the lag. */
static void lag_read(const jt_fleet_query_t *q, jt_fleet_view_t *v, jt_error_t *err) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
        bool ok = lag_partitions(q, v, list, err);

        int64_t until = jt_time_mono_ms() + q->kafka->timeout_ms;

        while (ok && v->lag_count > 0 &&
               !(ok = jt_kafka_admin_group_offsets(q->rk, q->group, list, q->kafka->timeout_ms,
                                                   err)) &&
               jt_fleet_dlq_coordinator_busy(err) && jt_time_mono_ms() < until) {
                ok = true;
                usleep(300 * 1000);
        }
        for (size_t i = 0; ok && i < v->lag_count; i++) {
                jt_fleet_lag_t *l = &v->lag[i];
                rd_kafka_topic_partition_t *c =
                    rd_kafka_topic_partition_list_find(list, l->topic, l->partition);
                ok = jt_kafka_admin_watermarks(q->rk, l->topic, l->partition, q->kafka->timeout_ms,
                                               &l->low, &l->high, err);
                l->committed = c && c->offset >= 0 ? c->offset : -1;
                /* Without a commit the group starts at the log start (auto.offset.reset). */
                l->lag = l->high - (l->committed >= 0 ? l->committed : l->low);
                if (l->lag < 0)
                        l->lag = 0;
                v->total_lag += l->lag;
        }
        if (v->lag_count > 1)
                qsort(v->lag, v->lag_count, sizeof(*v->lag), lag_cmp);
        rd_kafka_topic_partition_list_destroy(list);
        v->lag_ok = ok;
}

static void dlq_read(const jt_fleet_query_t *q, jt_fleet_view_t *v, jt_error_t *err) {
        jt_fleet_dlq_query_t dq = {.kafka = q->kafka,
                                   .topic = q->dlq_topic,
                                   .replay_group = q->dlq_replay_group,
                                   .job = q->job_id,
                                   .stats_topic = q->stats_topic,
                                   .cleanup_topic = q->cleanup_topic,
                                   .max = q->max_dead_letters,
                                   .timeout_ms = q->dlq_timeout_ms ? q->dlq_timeout_ms
                                                                   : q->kafka->timeout_ms};

        snprintf(v->dlq_topic, sizeof(v->dlq_topic), "%s", q->dlq_topic);
        v->dlq_ok = jt_fleet_dlq_read(&dq, &v->dead, &v->dead_count, &v->dead_total,
                                      &v->dead_truncated, err);
}

static void schedule_add(jt_fleet_view_t *v, const char *name, const char *expr) {
        jt_fleet_schedule_t *s = &v->schedules[v->schedule_count++];
        int64_t after = v->at_ms / 1000;
        jt_cron_t cron;
        jt_error_t ignored;
        bool parsed = jt_cron_parse(expr, &cron, &ignored);

        snprintf(s->name, sizeof(s->name), "%s", name);
        snprintf(s->cron, sizeof(s->cron), "%s", expr);
        for (int i = 0; i < JT_FLEET_FIRES; i++) {
                int64_t next =
                    parsed && after != JT_CRON_NONE ? jt_cron_next(&cron, after) : JT_CRON_NONE;
                s->next_ms[i] = next == JT_CRON_NONE ? JT_CRON_NONE : next * 1000;
                after = next;
        }
}

/* The counts status exits on, and each job's dead letters. */
static void judge(const jt_fleet_query_t *q, jt_fleet_view_t *v) {
        int64_t stuck_ms = q->stuck_after_ms > 0 ? q->stuck_after_ms : DEFAULT_STUCK_MS;

        for (size_t i = 0; i < v->job_count; i++) {
                jt_fleet_job_t *j = &v->jobs[i];
                j->stuck = (j->state == JT_JOB_RUNNING || j->state == JT_JOB_FINALIZING) &&
                           v->at_ms - j->last_progress_ms > stuck_ms;
                v->failed += j->state == JT_JOB_FAILED;
                v->stuck += j->stuck;
                for (size_t d = 0; d < v->dead_count; d++)
                        j->dead_letters +=
                            !v->dead[d].handled && strcmp(v->dead[d].job, j->id) == 0;
        }
}

/* Keeps the first error of the sections in err, and each section's in its own field. */
static void keep_error(bool ok, const jt_error_t *section, char *field, size_t size,
                       jt_error_t *err) {
        if (ok)
                return;
        snprintf(field, size, "%s", section->message);
        if (err->domain == JT_ERR_NONE)
                *err = *section;
}

/* Whether a broker answers a metadata request (which needs no group coordinator); true
 * when no broker section is asked for. */
static bool broker_answers(const jt_fleet_query_t *q, jt_error_t *err) {
        bool wanted = (q->rk && q->group) || (q->kafka && q->dlq_topic);
        jt_kafka_opts_t opts;

        if (!wanted || !q->rk || !q->kafka)
                return true;
        opts = *q->kafka;
        if (q->reach_timeout_ms > 0)
                opts.timeout_ms = q->reach_timeout_ms;
        return jt_kafka_admin_check_reachable(q->rk, &opts, err);
}

/* Marks the broker sections asked for as failed with err. */
static void brokers_away(const jt_fleet_query_t *q, jt_fleet_view_t *v, const jt_error_t *e,
                         jt_error_t *err) {
        if (q->group) {
                snprintf(v->group, sizeof(v->group), "%s", q->group);
                v->group_ok = v->lag_ok = false;
                keep_error(false, e, v->group_error, sizeof(v->group_error), err);
                keep_error(false, e, v->lag_error, sizeof(v->lag_error), err);
        }
        if (q->dlq_topic) {
                snprintf(v->dlq_topic, sizeof(v->dlq_topic), "%s", q->dlq_topic);
                v->dlq_ok = false;
                keep_error(false, e, v->dlq_error, sizeof(v->dlq_error), err);
        }
}

bool jt_fleet_view_collect(const jt_fleet_query_t *q, jt_fleet_view_t *v, jt_error_t *err) {
        jt_error_t e;

        memset(v, 0, sizeof(*v));
        jt_error_clear(err);
        v->at_ms = q->now_ms ? q->now_ms : jt_time_wall_ms();
        v->jobs_ok = v->group_ok = v->lag_ok = v->dlq_ok = true;
        if (q->client) {
                jt_error_clear(&e);
                v->jobs_ok = jt_fleet_jobs_read(q, v->at_ms, &v->jobs, &v->job_count,
                                                &v->jobs_truncated, &e);
                keep_error(v->jobs_ok, &e, v->jobs_error, sizeof(v->jobs_error), err);
        }
        /* The broker sections only when a broker answers: librdkafka 2.0 aborts the process
         * (rd_kafka_enq_once_del_source_return: eonce->refcnt > 0, confluentinc/librdkafka#4605)
         * when a group's admin request meets a dropped connection, and a server away makes
         * each section wait its whole timeout. */
        jt_error_clear(&e);
        if (!broker_answers(q, &e)) {
                brokers_away(q, v, &e, err);
        } else if (q->rk && q->group) {
                jt_error_clear(&e);
                group_read(q, v, &e);
                keep_error(v->group_ok, &e, v->group_error, sizeof(v->group_error), err);
                jt_error_clear(&e);
                lag_read(q, v, &e);
                keep_error(v->lag_ok, &e, v->lag_error, sizeof(v->lag_error), err);
        }
        if (v->dlq_ok && q->kafka && q->dlq_topic) {
                jt_error_clear(&e);
                dlq_read(q, v, &e);
                keep_error(v->dlq_ok, &e, v->dlq_error, sizeof(v->dlq_error), err);
        }
        if (q->stats_cron)
                schedule_add(v, "stats", q->stats_cron);
        if (q->cleanup_cron)
                schedule_add(v, "cleanup", q->cleanup_cron);
        judge(q, v);
        return err->domain == JT_ERR_NONE;
}

void jt_fleet_view_cleanup(jt_fleet_view_t *v) {
        if (!v)
                return;
        free(v->jobs);
        free(v->members);
        free(v->lag);
        free(v->dead);
        memset(v, 0, sizeof(*v));
}
