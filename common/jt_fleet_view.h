/* The operator's view of the fleet, read from the ledger and the brokers: every job with its
 * progress, claims and failures, the worker group's members and per-partition lag, the dead
 * letters decoded, and the scheduler's next fire times. One C struct and one JSON shape, shared
 * by `joytify-producer status`, `replay --dlq --list` and the notifier's web page. Every read is
 * bounded in count and time; nothing here writes. */
#ifndef JT_FLEET_VIEW_H
#define JT_FLEET_VIEW_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"
#include "jt_fleet_dlq.h"
#include "jt_job_state.h"
#include "jt_kafka.h"
#include "jt_kafka_admin.h"

#define JT_FLEET_OWNER_MAX 160
#define JT_FLEET_FIRES     3 /* next fire times shown per schedule */

/* What one query reads. NULL/0 fields take the defaults named. */
typedef struct {
        mongoc_client_t *client; /* the ledger's database; NULL: no jobs section */
        const char *db;
        rd_kafka_t *rk;               /* any client of jt_kafka; NULL: no Kafka sections */
        const jt_kafka_opts_t *kafka; /* brokers and timeout_ms (the bound of every call) */
        const char *group;            /* the workers' group ("joytify-workers") */
        const char *stats_topic;      /* the task topics: lag, and a dead letter's kind */
        const char *cleanup_topic;
        const char *dlq_topic;        /* NULL: no dead letters */
        const char *dlq_replay_group; /* replay --dlq's place (JT_REPLAY_DLQ_GROUP) */
        const char *job_id;           /* only this job (and its dead letters); NULL: all */
        int64_t since_ms;             /* jobs created at or after (0: no bound but max_jobs) */
        size_t max_jobs;              /* newest first; 0: 200 */
        size_t max_dead_letters;      /* 0: 500 */
        int dlq_timeout_ms;           /* the whole DLQ read; 0: kafka->timeout_ms */
        int reach_timeout_ms;   /* the check that a broker answers first; 0: kafka->timeout_ms */
        int64_t stuck_after_ms; /* a running job with no progress this long is stuck; 0: 30 min */
        const char *stats_cron; /* NULL: no schedule entry */
        const char *cleanup_cron;
        int64_t now_ms; /* 0: the wall clock */
} jt_fleet_query_t;

typedef struct {
        char id[JT_FLEET_ID_MAX];
        char kind[16]; /* "stats", "cleanup" */
        bool test_mode;
        jt_job_state_t state;
        bool stuck; /* running or finalizing, no progress for stuck_after_ms */
        int64_t tasks_done, tasks_total;
        int64_t records;          /* users counted (stats) or playbacks deleted (cleanup) so far */
        const char *records_unit; /* "users" or "playbacks deleted" (static) */
        int64_t created_ms;       /* 0 when absent, as every *_ms below */
        int64_t sent_ms;          /* tasksSentAt */
        int64_t ended_ms;         /* finishedAt or failedAt */
        int64_t duration_ms;      /* created to ended, or to now while it runs */
        int64_t last_progress_ms; /* the latest of updatedAt, progressAt and createdAt */
        int64_t failures;         /* failures count */
        char failure_reason[JT_FLEET_TEXT_MAX]; /* lastFailure.reason ("" when none) */
        char failure_task[JT_FLEET_ID_MAX];
        int64_t failure_ms;
        char claimed_by[JT_FLEET_OWNER_MAX]; /* the producer's send claim ("" when none) */
        int64_t claim_until_ms;
        char finalize_by[JT_FLEET_OWNER_MAX]; /* the worker finalizing it ("" when none) */
        int64_t finalize_until_ms;
        int64_t reopens;
        size_t dead_letters; /* unhandled dead letters of the job seen in the DLQ read */
} jt_fleet_job_t;

/* One member of the workers' group: client id, host, member id, "topic[0,3] topic2[1]". */
typedef jt_kafka_admin_member_t jt_fleet_member_t;

typedef struct {
        char topic[JT_FLEET_ID_MAX];
        int32_t partition;
        int64_t low, high; /* log start and end */
        int64_t committed; /* the group's commit; -1 when none */
        int64_t lag;       /* high - committed (high - low without a commit) */
} jt_fleet_lag_t;

typedef struct {
        char name[16]; /* "stats", "cleanup" */
        char cron[128];
        int64_t next_ms[JT_FLEET_FIRES]; /* JT_CRON_NONE past the last */
} jt_fleet_schedule_t;

typedef struct {
        int64_t at_ms;
        /* Each section says whether it was read; a section that failed keeps its error and the
         * others are still shown (the web page shows what it can). */
        bool jobs_ok, group_ok, lag_ok, dlq_ok;
        char jobs_error[JT_ERROR_MSG_MAX], group_error[JT_ERROR_MSG_MAX];
        char lag_error[JT_ERROR_MSG_MAX], dlq_error[JT_ERROR_MSG_MAX];

        jt_fleet_job_t *jobs;
        size_t job_count;
        bool jobs_truncated; /* max_jobs reached */

        char group[JT_FLEET_ID_MAX];
        char group_state[32]; /* "Stable", "Empty", "Unknown" ... */
        jt_fleet_member_t *members;
        size_t member_count;
        jt_fleet_lag_t *lag;
        size_t lag_count;
        int64_t total_lag;

        char dlq_topic[JT_FLEET_ID_MAX];
        jt_fleet_dead_letter_t *dead;
        size_t dead_count;
        int64_t dead_total;  /* messages in the DLQ (high - low over partitions) */
        bool dead_truncated; /* max_dead_letters or the time bound reached */

        jt_fleet_schedule_t schedules[2];
        size_t schedule_count;

        size_t failed, stuck; /* jobs failed, jobs stuck: status exits 1 when either > 0 */
} jt_fleet_view_t;

/* Reads every section q asks for into view (zeroed here; free it with jt_fleet_view_cleanup).
 * False when any section failed, err holding the first failure (the JT_ERR_KAFKA or
 * JT_ERR_MONGO of an unreachable server); the view still holds every section that was read. */
bool jt_fleet_view_collect(const jt_fleet_query_t *q, jt_fleet_view_t *view, jt_error_t *err);

/* Frees what view holds; a zeroed view is a no-op. */
void jt_fleet_view_cleanup(jt_fleet_view_t *view);

/* The view as JSON (new reference; times ISO 8601 UTC strings or null):
 * { "at", "jobs": [{id, kind, testMode, state, stuck, tasksDone, tasksTotal, records,
 *   recordsUnit, createdAt, sentAt, endedAt, durationMs, lastProgressAt, failures,
 *   lastFailure: {reason, task, at} | null, claim: {by, until} | null,
 *   finalize: {by, until} | null, reopens, deadLetters}], "jobsTruncated", "jobsError",
 *   "group": {name, state, members: [{clientId, host, memberId, partitions}], error},
 *   "lag": [{topic, partition, low, high, committed|null, lag}], "totalLag", "lagError",
 *   "deadLetters": {topic, total, truncated, error, messages: [dead letter, as
 *   jt_fleet_view_json_dead_letter]}, "schedules": [{name, cron, next: [ISO...]}],
 *   "failed", "stuck" } */
json_t *jt_fleet_view_json(const jt_fleet_view_t *view); /* jt_fleet_view_json.c */

/* One dead letter as JSON: {partition, offset, timestamp, key, job, kind, error,
 * attempts|null, original: {topic, partition, offset}, valueBytes, handled,
 * headers: {name: value}}. */
json_t *jt_fleet_view_json_dead_letter(const jt_fleet_dead_letter_t *d);

#endif
