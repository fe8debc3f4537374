/* Text tables of the fleet view (status_text.h). Every text in the view is escaped already
 * by its reader, so nothing from the wire or the database reaches the terminal raw. */
#include "status_text.h"

#include <inttypes.h>
#include <string.h>

#include "jt_cron.h"
#include "jt_time.h"

static const char *when(int64_t ms, char *buf, size_t size) {
        if (ms <= 0 || ms == JT_CRON_NONE)
                return "-";
        jt_time_format_iso(ms / 1000, buf, size);
        return buf;
}

/* 3d04h, 2h05m, 4m10s, 12s */
static const char *span(int64_t ms, char *buf, size_t size) {
        int64_t s = ms / 1000;

        if (ms <= 0)
                snprintf(buf, size, "-");
        else if (s >= 86400)
                snprintf(buf, size, "%" PRId64 "d%02" PRId64 "h", s / 86400, s % 86400 / 3600);
        else if (s >= 3600)
                snprintf(buf, size, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
        else if (s >= 60)
                snprintf(buf, size, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
        else
                snprintf(buf, size, "%" PRId64 "s", s);
        return buf;
}

static void job_details(FILE *out, const jt_fleet_view_t *v, const jt_fleet_job_t *j) {
        char a[JT_TIME_ISO_BUF], b[32];

        if (j->stuck)
                fprintf(out, "    STUCK: no progress since %s (%s ago)\n",
                        when(j->last_progress_ms, a, sizeof(a)),
                        span(v->at_ms - j->last_progress_ms, b, sizeof(b)));
        if (j->failure_reason[0])
                fprintf(out, "    last failure at %s, task %s: %s (failures %" PRId64 ")\n",
                        when(j->failure_ms, a, sizeof(a)), j->failure_task, j->failure_reason,
                        j->failures);
        /* The send claim matters only until every task is sent (tasksSentAt). */
        if (j->claimed_by[0] && !j->sent_ms && j->claim_until_ms > v->at_ms)
                fprintf(out, "    send claim: %s until %s\n", j->claimed_by,
                        when(j->claim_until_ms, a, sizeof(a)));
        if (j->finalize_by[0] && j->state == JT_JOB_FINALIZING)
                fprintf(out, "    finalizing: %s until %s\n", j->finalize_by,
                        when(j->finalize_until_ms, a, sizeof(a)));
}

static void print_jobs(FILE *out, const jt_fleet_view_t *v) {
        char a[JT_TIME_ISO_BUF], b[32], tasks[48], records[64];

        fprintf(out, "JOBS (%zu%s)\n", v->job_count, v->jobs_truncated ? ", more not shown" : "");
        if (!v->jobs_ok) {
                fprintf(out, "  unavailable: %s\n\n", v->jobs_error);
                return;
        }
        if (v->job_count == 0) {
                fprintf(out, "  none\n\n");
                return;
        }
        fprintf(out, "  %-28s %-8s %-11s %-11s %-26s %-21s %-9s %s\n", "JOB", "KIND", "STATE",
                "TASKS", "RECORDS", "STARTED", "DURATION", "DLQ");
        for (size_t i = 0; i < v->job_count; i++) {
                const jt_fleet_job_t *j = &v->jobs[i];
                snprintf(tasks, sizeof(tasks), "%" PRId64 "/%" PRId64, j->tasks_done,
                         j->tasks_total);
                snprintf(records, sizeof(records), "%" PRId64 " %s", j->records, j->records_unit);
                fprintf(out, "  %-28s %-8s %-11s %-11s %-26s %-21s %-9s %zu\n", j->id, j->kind,
                        j->stuck ? "STUCK" : jt_job_state_name(j->state), tasks, records,
                        when(j->created_ms, a, sizeof(a)), span(j->duration_ms, b, sizeof(b)),
                        j->dead_letters);
                job_details(out, v, j);
        }
        fprintf(out, "\n");
}

static void print_workers(FILE *out, const jt_fleet_view_t *v) {
        fprintf(out, "WORKERS (group %s", v->group);
        if (!v->group_ok) {
                fprintf(out, ")\n  unavailable: %s\n\n", v->group_error);
                return;
        }
        fprintf(out, ": %s, %zu member(s))\n", v->group_state, v->member_count);
        if (v->member_count > 0)
                fprintf(out, "  %-46s %-18s %s\n", "MEMBER", "HOST", "PARTITIONS");
        for (size_t i = 0; i < v->member_count; i++)
                fprintf(out, "  %-46s %-18s %s\n", v->members[i].member_id, v->members[i].host,
                        v->members[i].partitions[0] ? v->members[i].partitions : "-");
        fprintf(out, "\n");
}

static void print_lag(FILE *out, const jt_fleet_view_t *v) {
        fprintf(out, "LAG (total %" PRId64 ")\n", v->total_lag);
        if (!v->lag_ok) {
                fprintf(out, "  unavailable: %s\n\n", v->lag_error);
                return;
        }
        if (v->lag_count > 0)
                fprintf(out, "  %-28s %9s %10s %10s %8s\n", "TOPIC", "PARTITION", "COMMITTED",
                        "END", "LAG");
        for (size_t i = 0; i < v->lag_count; i++) {
                const jt_fleet_lag_t *l = &v->lag[i];
                char committed[24];
                if (l->committed >= 0)
                        snprintf(committed, sizeof(committed), "%" PRId64, l->committed);
                else
                        snprintf(committed, sizeof(committed), "-");
                fprintf(out, "  %-28s %9" PRId32 " %10s %10" PRId64 " %8" PRId64 "\n", l->topic,
                        l->partition, committed, l->high, l->lag);
        }
        fprintf(out, "\n");
}

static void print_dead(FILE *out, const jt_fleet_view_t *v) {
        size_t pending = 0;

        for (size_t i = 0; i < v->dead_count; i++)
                pending += !v->dead[i].handled;
        fprintf(out, "DEAD LETTERS (%s: %" PRId64 " message(s), %zu not replayed%s)\n",
                v->dlq_topic, v->dead_total, pending, v->dead_truncated ? ", read cut short" : "");
        if (!v->dlq_ok) {
                fprintf(out, "  unavailable: %s\n\n", v->dlq_error);
                return;
        }
        if (pending > 0)
                fprintf(out, "  %-14s %-28s %-8s %-8s %s\n", "PARTITION/OFF", "JOB", "KIND",
                        "ATTEMPTS", "ERROR");
        for (size_t i = 0; i < v->dead_count; i++) {
                const jt_fleet_dead_letter_t *d = &v->dead[i];
                char where[48];
                if (d->handled)
                        continue;
                snprintf(where, sizeof(where), "%" PRId32 "/%" PRId64, d->partition, d->offset);
                fprintf(out, "  %-14s %-28s %-8s %-8" PRId64 " %s\n", where,
                        d->job[0] ? d->job : "-", d->kind[0] ? d->kind : "-", d->attempts,
                        d->error);
        }
        fprintf(out, "\n");
}

static void print_schedules(FILE *out, const jt_fleet_view_t *v) {
        char a[JT_TIME_ISO_BUF];

        fprintf(out, "SCHEDULE (UTC)\n");
        for (size_t i = 0; i < v->schedule_count; i++) {
                const jt_fleet_schedule_t *s = &v->schedules[i];
                fprintf(out, "  %-8s %-16s next", s->name, s->cron);
                for (int k = 0; k < JT_FLEET_FIRES && s->next_ms[k] != JT_CRON_NONE; k++)
                        fprintf(out, "%s %s", k ? "," : "", when(s->next_ms[k], a, sizeof(a)));
                fprintf(out, "\n");
        }
        fprintf(out, "\n");
}

void jt_status_text_print(FILE *out, const jt_fleet_view_t *v) {
        size_t by_state[JT_JOB_STATE_COUNT] = {0};
        char a[JT_TIME_ISO_BUF];

        fprintf(out, "joytify fleet at %s\n\n", when(v->at_ms, a, sizeof(a)));
        print_jobs(out, v);
        print_workers(out, v);
        print_lag(out, v);
        print_dead(out, v);
        print_schedules(out, v);
        for (size_t i = 0; i < v->job_count; i++)
                by_state[v->jobs[i].state]++;
        fprintf(out,
                "%zu job(s): %zu running, %zu finalizing, %zu finished, %zu failed, %zu stuck; "
                "lag %" PRId64 "\n",
                v->job_count, by_state[JT_JOB_RUNNING], by_state[JT_JOB_FINALIZING],
                by_state[JT_JOB_FINISHED], by_state[JT_JOB_FAILED], v->stuck, v->total_lag);
}

void jt_status_text_dead_letter(FILE *out, const jt_fleet_dead_letter_t *d) {
        char a[JT_TIME_ISO_BUF];

        fprintf(out, "partition %" PRId32 " offset %" PRId64 "  %s  at %s\n", d->partition,
                d->offset, d->handled ? "handled (replayed or discarded)" : "pending",
                when(d->timestamp_ms, a, sizeof(a)));
        fprintf(out, "  job %s  task %s  kind %s\n", d->job[0] ? d->job : "-", d->key,
                d->kind[0] ? d->kind : "-");
        fprintf(out, "  error: %s\n", d->error[0] ? d->error : "-");
        if (d->attempts >= 0)
                fprintf(out, "  attempts: %" PRId64 "\n", d->attempts);
        fprintf(out, "  original: %s [%" PRId32 "] offset %" PRId64 "\n",
                d->orig_topic[0] ? d->orig_topic : "-", d->orig_partition, d->orig_offset);
        fprintf(out, "  value: %zu byte(s)\n", d->value_len);
        for (size_t i = 0; i < d->header_count; i++)
                fprintf(out, "  header %s: %s\n", d->headers[i].name, d->headers[i].value);
}
