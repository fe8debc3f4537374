/* Job progress folded from status events (progress.h). */
#include "progress.h"

#include <stdlib.h>
#include <string.h>

#include "jt_sat.h"

struct jt_progress_s {
        jt_job_progress_t **jobs;
        size_t count, cap, max_jobs;
        uint64_t next_seq;
};

jt_progress_t *jt_progress_new(size_t max_jobs) {
        jt_progress_t *p = calloc(1, sizeof(*p));
        if (p)
                p->max_jobs = max_jobs ? max_jobs : 1;
        return p;
}

static void job_destroy(jt_job_progress_t *job) {
        if (!job)
                return;
        for (size_t i = 0; i < job->task_count; i++)
                free(job->tasks[i].id);
        for (int i = 0; i < job->worker_count; i++)
                free(job->workers[i]);
        free(job->tasks);
        free(job->job_id);
        free(job->triggered_by);
        free(job->error);
        free(job);
}

void jt_progress_destroy(jt_progress_t *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->count; i++)
                job_destroy(p->jobs[i]);
        free(p->jobs);
        free(p);
}

size_t jt_progress_count(const jt_progress_t *p) {
        return p->count;
}

jt_job_progress_t *jt_progress_at(jt_progress_t *p, size_t i) {
        return i < p->count ? p->jobs[i] : NULL;
}

jt_job_progress_t *jt_progress_find(jt_progress_t *p, const char *job_id) {
        for (size_t i = 0; i < p->count; i++)
                if (strcmp(p->jobs[i]->job_id, job_id) == 0)
                        return p->jobs[i];
        return NULL;
}

bool jt_progress_job_ended(const jt_job_progress_t *job) {
        return job->state == JT_JOB_FINISHED || job->state == JT_JOB_FAILED;
}

/* Room for one more job: forget the oldest ended job, else the oldest one. */
static void make_room(jt_progress_t *p) {
        size_t victim = 0;

        if (p->count < p->max_jobs)
                return;
        for (size_t i = 0; i < p->count; i++)
                if (jt_progress_job_ended(p->jobs[i])) {
                        victim = i;
                        break;
                }
        job_destroy(p->jobs[victim]);
        memmove(&p->jobs[victim], &p->jobs[victim + 1],
                (p->count - victim - 1) * sizeof(p->jobs[0]));
        p->count--;
}

static jt_job_progress_t *job_for(jt_progress_t *p, const jt_status_event_t *ev) {
        jt_job_progress_t *job = jt_progress_find(p, ev->job_id);

        if (job)
                return job;
        make_room(p);
        if (p->count == p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 8;
                jt_job_progress_t **grown = realloc(p->jobs, cap * sizeof(*grown));
                if (!grown)
                        return NULL;
                p->jobs = grown;
                p->cap = cap;
        }
        if (!(job = calloc(1, sizeof(*job))) || !(job->job_id = strdup(ev->job_id))) {
                free(job);
                return NULL;
        }
        job->kind = ev->job_kind;
        job->started_ms = ev->timestamp_ms;
        job->seq = p->next_seq++;
        p->jobs[p->count++] = job;
        return job;
}

/* "stats-.../0003+c2" -> length of "stats-.../0003": a continuation counts as its range. The
 * worker names continuations "+cN"; ".cN" is read too, for events of older workers still on the
 * topic. */
static size_t base_len(const char *task_id) {
        const char *slash = strrchr(task_id, '/');
        const char *mark = strrchr(task_id, '+');
        size_t len = strlen(task_id);

        if (!mark || (slash && mark < slash))
                mark = strrchr(task_id, '.');
        if (mark && (!slash || mark > slash) && mark[1] == 'c' && mark[2] &&
            strspn(mark + 2, "0123456789") == strlen(mark + 2))
                len = (size_t)(mark - task_id);
        return len;
}

static jt_task_progress_t *task_for(jt_job_progress_t *job, const char *task_id) {
        size_t len = base_len(task_id);

        for (size_t i = 0; i < job->task_count; i++)
                if (strlen(job->tasks[i].id) == len && strncmp(job->tasks[i].id, task_id, len) == 0)
                        return &job->tasks[i];
        if (job->task_count >= JT_PROGRESS_MAX_TASKS)
                return NULL; /* a job's tasks are bounded; beyond, hostile: memory stays bounded */
        if (job->task_count == job->task_cap) {
                size_t cap = job->task_cap ? job->task_cap * 2 : 16;
                jt_task_progress_t *grown = realloc(job->tasks, cap * sizeof(*grown));
                if (!grown)
                        return NULL;
                job->tasks = grown;
                job->task_cap = cap;
        }
        memset(&job->tasks[job->task_count], 0, sizeof(job->tasks[0]));
        if (!(job->tasks[job->task_count].id = strndup(task_id, len)))
                return NULL;
        return &job->tasks[job->task_count++];
}

static void add_worker(jt_job_progress_t *job, const char *worker) {
        if (!worker)
                return;
        for (int i = 0; i < job->worker_count; i++)
                if (strcmp(job->workers[i], worker) == 0)
                        return;
        if (job->worker_count < JT_PROGRESS_MAX_WORKERS)
                job->workers[job->worker_count++] = strdup(worker);
}

static void set_text(char **dst, const char *src) {
        if (!src)
                return;
        free(*dst);
        *dst = strdup(src);
}

/* A job id that ended and starts again is a new run (its dataset and ledger were dropped):
 * the old run's tasks and workers are not this one's. */
static void job_restart(jt_job_progress_t *job) {
        for (size_t i = 0; i < job->task_count; i++)
                free(job->tasks[i].id);
        for (int i = 0; i < job->worker_count; i++)
                free(job->workers[i]);
        job->task_count = 0;
        job->worker_count = 0;
        job->tasks_total = 0;
        job->state = JT_JOB_RUNNING;
        job->cleanup_triggered = false;
        free(job->error);
        job->error = NULL;
}

static int64_t tasks_finished(const jt_job_progress_t *job) {
        int64_t n = 0;
        for (size_t i = 0; i < job->task_count; i++)
                n += job->tasks[i].finished;
        return n;
}

jt_job_progress_t *jt_progress_apply(jt_progress_t *p, const jt_status_event_t *ev) {
        jt_job_progress_t *job = job_for(p, ev);
        jt_task_progress_t *task = NULL;

        if (!job)
                return NULL;
        job->test_mode = job->test_mode || ev->test_mode;
        if (ev->timestamp_ms > job->last_ms)
                job->last_ms = ev->timestamp_ms;
        if (ev->timestamp_ms < job->started_ms)
                job->started_ms = ev->timestamp_ms;
        add_worker(job, ev->worker_id);
        set_text(&job->triggered_by, ev->triggered_by);
        if (ev->task_id && !(task = task_for(job, ev->task_id)))
                return NULL;
        switch (ev->type) {
        case JT_STATUS_JOB_STARTED:
                if (jt_progress_job_ended(job))
                        job_restart(job);
                job->started_ms = ev->timestamp_ms;
                if (ev->tasks_total.set)
                        job->tasks_total = ev->tasks_total.value;
                break;
        case JT_STATUS_TASK_STARTED:
        case JT_STATUS_TASK_PROGRESS:
        case JT_STATUS_TASK_FINISHED:
                if (task && ev->progress_total.set) {
                        task->total = ev->progress_total.value;
                        /* A redelivered task starts again from 0: keep the furthest point. */
                        if (ev->progress_done.set && ev->progress_done.value > task->done)
                                task->done = ev->progress_done.value;
                }
                if (task && ev->type == JT_STATUS_TASK_FINISHED)
                        task->finished = true;
                break;
        case JT_STATUS_TASK_FAILED:
                set_text(&job->error, ev->error_message);
                break;
        case JT_STATUS_JOB_FINISHED:
                job->state = JT_JOB_FINISHED;
                job->cleanup_triggered = ev->cleanup_triggered.set && ev->cleanup_triggered.value;
                break;
        case JT_STATUS_JOB_FAILED:
                if (job->state != JT_JOB_FINISHED)
                        job->state = JT_JOB_FAILED;
                set_text(&job->error, ev->error_message);
                break;
        }
        if (!jt_progress_job_ended(job))
                job->state = job->tasks_total > 0 && tasks_finished(job) >= job->tasks_total
                                 ? JT_JOB_FINALIZING
                                 : JT_JOB_RUNNING;
        return job;
}

void jt_progress_summarize(const jt_job_progress_t *job, int64_t now_ms, jt_progress_summary_t *s) {
        double sum = 0;
        int64_t denominator;

        memset(s, 0, sizeof(*s));
        s->tasks_done = tasks_finished(job);
        s->tasks_total = job->tasks_total > 0 ? job->tasks_total : (int64_t)job->task_count;
        /* Counts come from the wire: any int64 >= 0. Their sums saturate at INT64_MAX. */
        for (size_t i = 0; i < job->task_count; i++) {
                const jt_task_progress_t *t = &job->tasks[i];
                s->items_done = jt_sat_add_i64(s->items_done, t->done);
                s->items_total = jt_sat_add_i64(s->items_total, t->total);
                sum += t->finished ? 1.0 : t->total > 0 ? (double)t->done / (double)t->total : 0.0;
        }
        denominator = s->tasks_total;
        s->fraction = job->state == JT_JOB_FINISHED ? 1.0
                      : denominator > 0             ? sum / (double)denominator
                                                    : 0.0;
        s->fraction = jt_sat_clamp_double(s->fraction, 0.0, 1.0);
        s->elapsed_ms =
            jt_sat_sub_i64(jt_progress_job_ended(job) ? job->last_ms : now_ms, job->started_ms);
        if (s->elapsed_ms < 0)
                s->elapsed_ms = 0;
        if (s->elapsed_ms > 0)
                s->rate_per_s =
                    jt_sat_clamp_double((double)s->items_done * 1000.0 / (double)s->elapsed_ms, 0.0,
                                        JT_PROGRESS_RATE_MAX);
        s->eta_s = -1;
        if (!jt_progress_job_ended(job) && s->fraction > 0 && s->elapsed_ms > 0)
                s->eta_s = jt_sat_clamp_double((double)s->elapsed_ms / 1000.0 *
                                                   (1.0 - s->fraction) / s->fraction,
                                               0.0, JT_PROGRESS_ETA_MAX_S);
}

const char *jt_progress_unit(jt_job_kind_t kind) {
        return kind == JT_JOB_KIND_STATS ? "users" : "playbacks";
}

const char *jt_progress_task_kind(jt_job_kind_t kind) {
        return kind == JT_JOB_KIND_STATS ? "shards" : "ranges";
}

const char *jt_progress_bar(double fraction, int width, char *buf, size_t size) {
        int full = (int)(jt_sat_clamp_double(fraction, 0.0, 1.0) * width + 0.5);
        size_t used = 0;

        if (full > width)
                full = width;
        for (int i = 0; i < width && used + 4 <= size; i++, used += 3)
                memcpy(buf + used, i < full ? "\xE2\x96\x88" : "\xE2\x96\x91", 3);
        if (size)
                buf[used < size ? used : size - 1] = '\0';
        return buf;
}
