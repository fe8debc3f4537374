/* The worker's task threads and the per-partition queues that feed them: a message waits in its
 * partition's queue until a thread is free and the partition's previous task has ended, and a
 * thread decodes it, runs its task and puts the outcome back for the loop (settle.c). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cleanup_task.h"
#include "jt_jobs.h"
#include "jt_log.h"
#include "stats_task.h"
#include "worker_private.h"

runner_state_t jt_runners_state(worker_t *w, const runner_t *r) {
        runner_state_t state;

        pthread_mutex_lock(&w->lock);
        state = r->state;
        pthread_mutex_unlock(&w->lock);
        return state;
}

/* The runner whose task (running, or done and not yet acted on) is of topic/partition. */
runner_t *jt_runners_of(worker_t *w, const char *topic, int32_t partition) {
        for (int i = 0; i < w->runner_count; i++) {
                runner_t *r = &w->runners[i];
                if (jt_runners_state(w, r) != RUNNER_IDLE && r->msg->partition == partition &&
                    strcmp(rd_kafka_topic_name(r->msg->rkt), topic) == 0)
                        return r;
        }
        return NULL;
}

int jt_runners_in_flight(worker_t *w) {
        int n = 0;
        for (int i = 0; i < w->runner_count; i++)
                n += jt_runners_state(w, &w->runners[i]) != RUNNER_IDLE;
        return n;
}

static queue_t *find_queue(worker_t *w, const char *topic, int32_t partition) {
        for (int i = 0; i < w->queue_count; i++)
                if (w->queues[i].partition == partition && strcmp(w->queues[i].topic, topic) == 0)
                        return &w->queues[i];
        return NULL;
}

/* Forgets the partition's waiting messages: they are fetched again after a rewind, or belong
 * to another member after a revoke. */
void jt_runners_drop_queue(worker_t *w, const char *topic, int32_t partition) {
        queue_t *q = find_queue(w, topic, partition);

        if (!q)
                return;
        for (int i = 0; i < q->count; i++)
                rd_kafka_message_destroy(q->msgs[i]);
        *q = w->queues[--w->queue_count];
}

/* root_id: the listed task whose result the task records (NULL for a FINALIZE). Identities
 * that do not fit are left empty, so that a cut id never charges another job with the failure
 * (settle.c fails no job without a job id and a run). */
static void ident_of(task_ident_t *id, const char *job_id, const char *task_id, const char *root_id,
                     const char *run_nonce) {
        jt_error_t ignored;

        run_nonce = run_nonce ? run_nonce : "";
        if (strlen(job_id) >= sizeof(id->job_id) || strlen(task_id) >= sizeof(id->task_id) ||
            strlen(run_nonce) >= sizeof(id->run_nonce)) {
                memset(id, 0, sizeof(*id));
                return;
        }
        snprintf(id->job_id, sizeof(id->job_id), "%s", job_id);
        snprintf(id->task_id, sizeof(id->task_id), "%s", task_id);
        snprintf(id->run_nonce, sizeof(id->run_nonce), "%s", run_nonce);
        if (!root_id || !jt_jobs_task_key(job_id, root_id, id->key, sizeof(id->key), &ignored))
                id->key[0] = '\0';
}

static jt_task_outcome_t run_task(worker_t *w, const rd_kafka_message_t *msg, bool *cleanup,
                                  task_ident_t *id, jt_error_t *err) {
        const char *topic = rd_kafka_topic_name(msg->rkt);
        jt_task_outcome_t outcome;

        /* The job a failure is charged to is the decoded task's, never the Kafka key's: a key
         * is any producer's bytes, and a task that does not decode fails no job. */
        memset(id, 0, sizeof(*id));
        jt_log_fields_topic(topic, msg->partition);
        *cleanup = strcmp(topic, w->env.cleanup_topic) == 0;
        if (*cleanup) {
                jt_cleanup_task_t task = {0};
                if (!jt_cleanup_task_decode(w->env.reg, msg->payload, msg->len, &task, err))
                        return JT_TASK_PERMANENT;
                ident_of(id, task.job_id, task.task_id,
                         task.parent_task_id ? task.parent_task_id : task.task_id, task.run_nonce);
                jt_log_fields_job(task.job_id, task.task_id);
                jt_log_debug("job=%s task=%s started", task.job_id, task.task_id);
                outcome = jt_cleanup_task_run(&w->env, &task, err);
                jt_cleanup_task_clear(&task);
                return outcome;
        }
        if (strcmp(topic, w->env.stats_topic) == 0) {
                jt_stats_task_t task = {0};
                if (!jt_stats_task_decode(w->env.reg, msg->payload, msg->len, &task, err))
                        return JT_TASK_PERMANENT;
                ident_of(id, task.job_id, task.task_id,
                         task.kind == JT_STATS_TASK_FINALIZE
                             ? NULL
                             : (task.parent_task_id ? task.parent_task_id : task.task_id),
                         task.run_nonce);
                jt_log_fields_job(task.job_id, task.task_id);
                jt_log_debug("job=%s task=%s started", task.job_id, task.task_id);
                outcome = jt_stats_task_run(&w->env, &task, err);
                jt_stats_task_clear(&task);
                return outcome;
        }
        jt_error_set(err, JT_ERR_INPUT, 0, "message from unexpected topic %s", topic);
        return JT_TASK_REJECTED;
}

/* A task thread: runs the task it is handed, puts the outcome back, waits for the next. */
static void *runner_main(void *arg) {
        runner_t *r = arg;
        worker_t *w = r->w;

        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (r->state != RUNNER_BUSY && !w->quit)
                        pthread_cond_wait(&r->wake, &w->lock);
                if (r->state != RUNNER_BUSY)
                        break;
                pthread_mutex_unlock(&w->lock);
                jt_error_clear(&r->err);
                r->cleanup = false;
                r->outcome = run_task(w, r->msg, &r->cleanup, &r->id, &r->err);
                jt_log_fields_clear(); /* the fields are the task's (--log-format json) */
                pthread_mutex_lock(&w->lock);
                r->state = RUNNER_DONE;
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

/* Starts --concurrency task threads. SIGTERM and SIGINT stay with the loop's thread: they set
 * the stop flag there, and a task's database call is not cut short by EINTR. */
bool jt_runners_start(worker_t *w, int count, jt_error_t *err) {
        sigset_t block, old;
        int rc = 0;

        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGINT);
        pthread_sigmask(SIG_BLOCK, &block, &old);
        for (int i = 0; i < count && !rc; i++) {
                runner_t *r = &w->runners[i];
                r->w = w;
                pthread_cond_init(&r->wake, NULL);
                if ((rc = pthread_create(&r->thread, NULL, runner_main, r)) != 0)
                        pthread_cond_destroy(&r->wake);
                else
                        w->runner_count++;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc)
                return jt_error_set(err, JT_ERR_SYSTEM, rc, "starting task thread %d of %d: %s",
                                    w->runner_count + 1, count, strerror(rc));
        return true;
}

/* Ends the task threads; each is idle (the loop waited for its task) or about to be. */
void jt_runners_stop(worker_t *w) {
        pthread_mutex_lock(&w->lock);
        w->quit = true;
        for (int i = 0; i < w->runner_count; i++)
                pthread_cond_signal(&w->runners[i].wake);
        pthread_mutex_unlock(&w->lock);
        for (int i = 0; i < w->runner_count; i++) {
                pthread_join(w->runners[i].thread, NULL);
                pthread_cond_destroy(&w->runners[i].wake);
                if (w->runners[i].msg)
                        rd_kafka_message_destroy(w->runners[i].msg);
                w->runners[i].msg = NULL;
        }
        w->runner_count = 0;
}

/* A message waits in its partition's queue until its turn. A full queue pauses the partition:
 * the queue bounds what a worker takes ahead of its threads, and nothing is lost or skipped
 * (librdkafka resumes the partition after the queue's last message). Queues rather than a pause
 * per task: a paused partition, once resumed, waits for the broker thread's next fetch round
 * (up to a second with librdkafka 2.0), which a job of many short tasks paid at every task. */
void jt_runners_enqueue(worker_t *w, rd_kafka_message_t *msg) {
        const char *topic = rd_kafka_topic_name(msg->rkt);
        queue_t *q = find_queue(w, topic, msg->partition);

        if ((!q && w->queue_count == MAX_QUEUED_PARTS) || (q && q->count == QUEUE_MAX)) {
                /* No room (or a message fetched before its full queue's pause): back to it,
                 * fetched again when its partition resumes. */
                jt_partitions_pause_at(jt_partitions_consumer_of(w, topic), topic, msg->partition,
                                       msg->offset);
                if (!q)
                        jt_partitions_resume(jt_partitions_consumer_of(w, topic), topic,
                                             msg->partition);
                rd_kafka_message_destroy(msg);
                return;
        }
        if (!q) {
                q = &w->queues[w->queue_count++];
                memset(q, 0, sizeof(*q));
                snprintf(q->topic, sizeof(q->topic), "%s", topic);
                q->partition = msg->partition;
        }
        q->msgs[q->count++] = msg;
        if (q->count == QUEUE_MAX) {
                jt_partitions_pause(jt_partitions_consumer_of(w, topic), topic, msg->partition);
                q->paused = true;
        }
}

static runner_t *free_runner(worker_t *w) {
        for (int i = 0; i < w->runner_count; i++)
                if (jt_runners_state(w, &w->runners[i]) == RUNNER_IDLE)
                        return &w->runners[i];
        return NULL;
}

/* Hands waiting messages to free threads, the oldest of each partition whose previous task has
 * ended: one task per partition at a time, in offset order. */
void jt_runners_pump(worker_t *w) {
        runner_t *r;

        for (int i = 0; i < w->queue_count && !w->stopping && (r = free_runner(w)) != NULL;) {
                queue_t *q = &w->queues[i];
                if (jt_runners_of(w, q->topic, q->partition)) {
                        i++;
                        continue;
                }
                r->msg = q->msgs[0];
                r->revoked = r->reassigned = false;
                memmove(q->msgs, q->msgs + 1, sizeof(q->msgs[0]) * (size_t)--q->count);
                pthread_mutex_lock(&w->lock);
                r->state = RUNNER_BUSY;
                pthread_cond_signal(&r->wake);
                pthread_mutex_unlock(&w->lock);
                if (q->paused && q->count <= QUEUE_MAX / 2) {
                        jt_partitions_resume(jt_partitions_consumer_of(w, q->topic), q->topic,
                                             q->partition);
                        q->paused = false;
                }
                if (q->count == 0)
                        *q = w->queues[--w->queue_count]; /* the same i is the next queue */
                else
                        i++;
        }
}
