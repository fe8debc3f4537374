/* The fleet view as JSON (jt_fleet_view.h documents the shape): times as ISO 8601 UTC, absent
 * ones as null, every text already escaped to printable ASCII or valid UTF-8 by the readers. */
#include <stdio.h>

#include "jt_cron.h"
#include "jt_fleet_view.h"
#include "jt_time.h"

static json_t *time_json(int64_t ms) {
        char buf[JT_TIME_ISO_BUF];

        if (ms <= 0 || ms == JT_CRON_NONE)
                return json_null();
        jt_time_format_iso(ms / 1000, buf, sizeof(buf));
        return json_string(buf);
}

static json_t *text_or_null(const char *s) {
        return s[0] ? json_string(s) : json_null();
}

static json_t *holder_json(const char *by, int64_t until_ms) {
        return by[0] ? json_pack("{s:s, s:o}", "by", by, "until", time_json(until_ms))
                     : json_null();
}

static json_t *job_json(const jt_fleet_job_t *j) {
        json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:b, s:I, s:I, s:I, s:s}", "id", j->id, "kind",
                              j->kind, "testMode", j->test_mode, "state",
                              jt_job_state_name(j->state), "stuck", j->stuck, "tasksDone",
                              (json_int_t)j->tasks_done, "tasksTotal", (json_int_t)j->tasks_total,
                              "records", (json_int_t)j->records, "recordsUnit", j->records_unit);

        json_object_set_new(o, "createdAt", time_json(j->created_ms));
        json_object_set_new(o, "sentAt", time_json(j->sent_ms));
        json_object_set_new(o, "endedAt", time_json(j->ended_ms));
        json_object_set_new(o, "durationMs", json_integer(j->duration_ms));
        json_object_set_new(o, "lastProgressAt", time_json(j->last_progress_ms));
        json_object_set_new(o, "failures", json_integer(j->failures));
        json_object_set_new(o, "lastFailure",
                            j->failure_reason[0]
                                ? json_pack("{s:s, s:s, s:o}", "reason", j->failure_reason, "task",
                                            j->failure_task, "at", time_json(j->failure_ms))
                                : json_null());
        json_object_set_new(o, "claim", holder_json(j->claimed_by, j->claim_until_ms));
        json_object_set_new(o, "finalize", holder_json(j->finalize_by, j->finalize_until_ms));
        json_object_set_new(o, "reopens", json_integer(j->reopens));
        json_object_set_new(o, "deadLetters", json_integer((json_int_t)j->dead_letters));
        return o;
}

json_t *jt_fleet_view_json_dead_letter(const jt_fleet_dead_letter_t *d) {
        json_t *headers = json_object();
        json_t *o;

        for (size_t i = 0; i < d->header_count; i++)
                json_object_set_new(headers, d->headers[i].name, json_string(d->headers[i].value));
        o = json_pack("{s:i, s:I, s:o, s:s, s:s, s:s, s:s}", "partition", (int)d->partition,
                      "offset", (json_int_t)d->offset, "timestamp", time_json(d->timestamp_ms),
                      "key", d->key, "job", d->job, "kind", d->kind, "error", d->error);
        json_object_set_new(o, "attempts",
                            d->attempts >= 0 ? json_integer(d->attempts) : json_null());
        json_object_set_new(
            o, "original",
            json_pack("{s:o, s:o, s:o}", "topic", text_or_null(d->orig_topic), "partition",
                      d->orig_partition >= 0 ? json_integer(d->orig_partition) : json_null(),
                      "offset", d->orig_offset >= 0 ? json_integer(d->orig_offset) : json_null()));
        json_object_set_new(o, "valueBytes", json_integer((json_int_t)d->value_len));
        json_object_set_new(o, "handled", json_boolean(d->handled));
        json_object_set_new(o, "headers", headers);
        return o;
}

static json_t *group_json(const jt_fleet_view_t *v) {
        json_t *members = json_array();

        for (size_t i = 0; i < v->member_count; i++)
                json_array_append_new(members,
                                      json_pack("{s:s, s:s, s:s, s:s}", "clientId",
                                                v->members[i].client_id, "host", v->members[i].host,
                                                "memberId", v->members[i].member_id, "partitions",
                                                v->members[i].partitions));
        return json_pack("{s:s, s:s, s:o, s:o}", "name", v->group, "state", v->group_state,
                         "members", members, "error", text_or_null(v->group_error));
}

static json_t *lag_json(const jt_fleet_view_t *v) {
        json_t *a = json_array();

        for (size_t i = 0; i < v->lag_count; i++) {
                const jt_fleet_lag_t *l = &v->lag[i];
                json_array_append_new(
                    a, json_pack("{s:s, s:i, s:I, s:I, s:o, s:I}", "topic", l->topic, "partition",
                                 (int)l->partition, "low", (json_int_t)l->low, "high",
                                 (json_int_t)l->high, "committed",
                                 l->committed >= 0 ? json_integer(l->committed) : json_null(),
                                 "lag", (json_int_t)l->lag));
        }
        return a;
}

static json_t *dead_json(const jt_fleet_view_t *v) {
        json_t *messages = json_array();

        for (size_t i = 0; i < v->dead_count; i++)
                json_array_append_new(messages, jt_fleet_view_json_dead_letter(&v->dead[i]));
        return json_pack("{s:s, s:I, s:b, s:o, s:o}", "topic", v->dlq_topic, "total",
                         (json_int_t)v->dead_total, "truncated", v->dead_truncated, "error",
                         text_or_null(v->dlq_error), "messages", messages);
}

static json_t *schedules_json(const jt_fleet_view_t *v) {
        json_t *a = json_array();

        for (size_t i = 0; i < v->schedule_count; i++) {
                const jt_fleet_schedule_t *s = &v->schedules[i];
                json_t *next = json_array();
                for (int k = 0; k < JT_FLEET_FIRES && s->next_ms[k] != JT_CRON_NONE; k++)
                        json_array_append_new(next, time_json(s->next_ms[k]));
                json_array_append_new(a, json_pack("{s:s, s:s, s:o}", "name", s->name, "cron",
                                                   s->cron, "next", next));
        }
        return a;
}

json_t *jt_fleet_view_json(const jt_fleet_view_t *v) {
        json_t *jobs = json_array();
        json_t *o;

        for (size_t i = 0; i < v->job_count; i++)
                json_array_append_new(jobs, job_json(&v->jobs[i]));
        o = json_pack("{s:o, s:o, s:b, s:o}", "at", time_json(v->at_ms), "jobs", jobs,
                      "jobsTruncated", v->jobs_truncated, "jobsError", text_or_null(v->jobs_error));
        json_object_set_new(o, "group", group_json(v));
        json_object_set_new(o, "lag", lag_json(v));
        json_object_set_new(o, "totalLag", json_integer(v->total_lag));
        json_object_set_new(o, "lagError", text_or_null(v->lag_error));
        json_object_set_new(o, "deadLetters", dead_json(v));
        json_object_set_new(o, "schedules", schedules_json(v));
        json_object_set_new(o, "failed", json_integer((json_int_t)v->failed));
        json_object_set_new(o, "stuck", json_integer((json_int_t)v->stuck));
        return o;
}
