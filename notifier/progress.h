/* Live progress of jobs, folded from their status events: per job the state, tasks done of
 * the tasks the producer sent, users or playbacks done per task (a cleanup continuation counts
 * as its range), the workers involved, a rate and an ETA. `watch` draws it; `run
 * --progress-messages` edits a Discord message with it. */
#ifndef JT_NOTIFIER_PROGRESS_H
#define JT_NOTIFIER_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_messages.h"
#include "jt_job_state.h"

typedef struct {
        char *id; /* the task id without a continuation's "+cN" */
        int64_t done, total;
        bool finished;
} jt_task_progress_t;

#define JT_PROGRESS_MAX_WORKERS 16
/* Tasks followed per job (a job has at most 4,096 ranges, each with its continuations). */
#define JT_PROGRESS_MAX_TASKS 65536

typedef struct {
        char *job_id;
        jt_job_kind_t kind;
        bool test_mode;
        jt_job_state_t state;
        int64_t tasks_total; /* from JOB_STARTED; 0 while unknown */
        jt_task_progress_t *tasks;
        size_t task_count, task_cap;
        char *workers[JT_PROGRESS_MAX_WORKERS];
        int worker_count;
        int64_t started_ms; /* JOB_STARTED's time, else the first event's */
        int64_t last_ms;    /* the latest event's time */
        char *triggered_by;
        bool cleanup_triggered; /* a finished statistics job started its cleanup */
        char *error;
        uint64_t seq; /* order of first appearance */
        bool changed; /* for the caller: set by nothing here, cleared by nothing here */
} jt_job_progress_t;

/* Bounds of a summary's rate and ETA, so that callers may multiply either by up to 1000 and
 * convert it to int64_t (a rate of INT64_MAX users in a millisecond is no integer). */
#define JT_PROGRESS_RATE_MAX  1e15
#define JT_PROGRESS_ETA_MAX_S 1e12

typedef struct {
        int64_t tasks_done, tasks_total;
        int64_t items_done, items_total; /* sums saturated at INT64_MAX */
        double fraction;                 /* 0..1 */
        double rate_per_s;  /* items per second since the job started, 0 while unknown; at most
                             * JT_PROGRESS_RATE_MAX */
        double eta_s;       /* < 0 while unknown or when the job has ended; at most
                             * JT_PROGRESS_ETA_MAX_S */
        int64_t elapsed_ms; /* start to the last event (ended) or to now (running), >= 0 */
} jt_progress_summary_t;

typedef struct jt_progress_s jt_progress_t;

/* Keeps at most max_jobs jobs, forgetting the oldest ended ones first. */
jt_progress_t *jt_progress_new(size_t max_jobs);
void jt_progress_destroy(jt_progress_t *p);

/* Folds one event in; returns its job (valid until the next call), or NULL when out of memory
 * or when the event names a task beyond JT_PROGRESS_MAX_TASKS of its job (ignored). */
jt_job_progress_t *jt_progress_apply(jt_progress_t *p, const jt_status_event_t *ev);

/* The jobs in order of first appearance. */
size_t jt_progress_count(const jt_progress_t *p);
jt_job_progress_t *jt_progress_at(jt_progress_t *p, size_t i);
jt_job_progress_t *jt_progress_find(jt_progress_t *p, const char *job_id);

void jt_progress_summarize(const jt_job_progress_t *job, int64_t now_ms, jt_progress_summary_t *s);

/* FINISHED or FAILED: its last state, nothing more to show. */
bool jt_progress_job_ended(const jt_job_progress_t *job);
const char *jt_progress_unit(jt_job_kind_t kind);      /* "users", "playbacks" */
const char *jt_progress_task_kind(jt_job_kind_t kind); /* "shards", "ranges" */

/* fraction (clamped to 0..1, NaN as 0) as width cells of "█" then "░" (UTF-8, 3 bytes a
 * cell: size >= 3 * width + 1). */
const char *jt_progress_bar(double fraction, int width, char *buf, size_t size);
#endif
