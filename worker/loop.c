/* The consumer loop. Each message is decoded and handed to its task handler; the offset is
 * stored only when the handler says its effects and events are durable, or after the message
 * went to the DLQ. A failure pauses the partition, seeks back to the message, and resumes after
 * an exponential backoff with jitter, so the loop keeps polling (and keeps the group
 * membership) while it waits. An outage (a server unreachable, no primary, a broker away) is
 * waited out without spending attempts, for up to --outage-budget; other failures spend
 * attempts, --max-attempts at most. A task that can never succeed (refused, invalid, out of
 * attempts or of outage budget) marks its job failed with a JOB_FAILED event, then goes to the
 * DLQ; a task of no live run of its job goes to the DLQ and leaves every job alone.
 *
 * Threads. No task runs on the loop's thread: a task may run longer than max.poll.interval.ms,
 * and a consumer that does not poll for that long is put out of its group (its partitions move
 * on, the task is redelivered and restarted from scratch, and may be evicted again). The loop's
 * thread only polls (the consumers, the producer's events, due retries, lag) and hands messages
 * to --concurrency task threads, at most one task per partition at a time, so a partition's
 * tasks keep their order. A message whose turn has not come (its partition's task still runs,
 * or every thread is busy) waits in its partition's queue; a full queue pauses the partition
 * (see enqueue()), so the loop keeps polling while it takes only a few messages ahead. The
 * thread puts its outcome back (a runner's state, under the worker's lock) and the loop does
 * what follows a task on its own thread: the retry (pausing and rewinding the partition), the
 * job's failure, the DLQ, the offset, the metrics.
 *
 * Revoke: a task whose partition is revoked runs on to its end (tasks are idempotent, and its
 * next checkpoint may be far); its offset is not stored (the partition is another member's now,
 * which redelivers the message) and nothing follows it (no retry, no DLQ). A partition assigned
 * back while its old task still runs stays paused until that task ends.
 * A revoked partition's queued messages are dropped.
 * Stop (SIGTERM/SIGINT): the loop stops handing out messages (the queued ones are dropped,
 * their offsets unstored) and pauses its partitions; the tasks see the stop flag at their next
 * checkpoint and return STOPPED (offset left unstored); the loop keeps polling meanwhile, then
 * the consumers commit and leave the group. */
#include "loop.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app_push.h"
#include "artist_names.h"
#include "cleanup_task.h"
#include "clock_check.h"
#include "jt_backoff.h"
#include "jt_dlq.h"
#include "jt_jobs.h"
#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_readiness.h"
#include "jt_startup.h"
#include "jt_status.h"
#include "stats_task.h"
#include "task_env.h"

#define MAX_RETRY_SLOTS  256
#define LAG_EVERY_MS     5000
#define WAIT_POLL_MS     5000 /* a finalize claim held by another worker: look again this often */
#define MAX_RUNNERS      64   /* --concurrency at most */
#define MAX_QUEUED_PARTS 256  /* partitions with messages waiting for their turn */
#define QUEUE_MAX        4    /* messages waiting per partition before it is paused */

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
        (void)sig;
        stop_requested = 1;
}

/* A message waiting for its next attempt. */
typedef struct {
        bool used;
        char topic[128];
        int32_t partition;
        int64_t offset;
        int attempts;           /* failures that spent an attempt */
        int outages;            /* failures waited out as an outage */
        int64_t outage_from_ms; /* monotonic: the first of those; 0 when none */
        int64_t resume_at_ms;   /* monotonic */
        bool paused;
} retry_slot_t;

/* One consumer per task topic, all in the worker group. One consumer subscribed to both topics
 * let cooperative-sticky balance the group by its members' partition counts alone: with two
 * workers, one was given all 12 cleanup partitions and the other all 12 stats partitions (the
 * 5,000-user bench of 2026-12-01: the second worker ran no cleanup task). A member subscribed
 * to one topic can only be given that topic's partitions, so each topic is balanced on its own.
 */
#define MAX_CONSUMERS 2

/* What the loop knows of a message's task, for the failure of its job. */
typedef struct {
        char job_id[200];
        char task_id[256];
        char run_nonce[64]; /* "" when none */
        char key[160];      /* where its result goes; "" for a FINALIZE */
} task_ident_t;

typedef enum {
        RUNNER_IDLE, /* free: the loop may hand it a message */
        RUNNER_BUSY, /* its thread runs the task */
        RUNNER_DONE, /* the outcome is in, for the loop to act on */
} runner_state_t;

struct worker_s;

/* A task thread and the message it runs. state is guarded by the worker's lock; the other
 * fields belong to the thread while BUSY and to the loop otherwise. */
typedef struct {
        struct worker_s *w;
        pthread_t thread;
        pthread_cond_t wake; /* state became BUSY, or the worker quits */
        runner_state_t state;
        rd_kafka_message_t *msg; /* kept alive until the loop has acted on the outcome */
        jt_task_outcome_t outcome;
        jt_error_t err;
        task_ident_t id;
        bool cleanup;
        bool revoked;    /* the loop's: the partition was revoked while the task ran */
        bool reassigned; /* the loop's: and assigned back to this worker since */
} runner_t;

/* Messages of one partition waiting for their turn (a free thread, the end of the partition's
 * task in flight), in offset order. Paused once full: librdkafka resumes a paused partition
 * after the last message consumed, the queue's last. */
typedef struct {
        char topic[128];
        int32_t partition;
        rd_kafka_message_t *msgs[QUEUE_MAX];
        int count;
        bool paused;
} queue_t;

typedef struct worker_s {
        rd_kafka_t *consumers[MAX_CONSUMERS];
        const char *consumer_topics[MAX_CONSUMERS];
        int consumer_count;
        jt_task_env_t env;
        const char *dlq_topic;
        int max_attempts;
        int backoff_base_ms;
        int backoff_max_ms;
        int64_t outage_budget_ms;
        retry_slot_t retries[MAX_RETRY_SLOTS];
        jt_task_announced_t announced;
        jt_clock_check_t clock;
        long tasks_done, tasks_dead_lettered, tasks_retried;
        int64_t last_lag_ms;
        pthread_mutex_t lock; /* the runners' states, quit */
        runner_t runners[MAX_RUNNERS];
        int runner_count; /* threads started */
        bool quit;        /* the threads end (set once every runner is idle) */
        bool stopping;    /* the loop's: a stop was requested, nothing more is handed out */
        queue_t queues[MAX_QUEUED_PARTS];
        int queue_count;
        jt_readiness_t *readiness;
        const char *stall_file; /* JT_TEST_STALL_FILE: see stall_for_test() */
} worker_t;

/* The consumer that reads `topic`. */
static rd_kafka_t *consumer_of(const worker_t *w, const char *topic) {
        for (int i = 0; i < w->consumer_count; i++)
                if (strcmp(w->consumer_topics[i], topic) == 0)
                        return w->consumers[i];
        return w->consumers[0];
}

static retry_slot_t *find_slot(worker_t *w, const char *topic, int32_t partition) {
        for (int i = 0; i < MAX_RETRY_SLOTS; i++)
                if (w->retries[i].used && w->retries[i].partition == partition &&
                    strcmp(w->retries[i].topic, topic) == 0)
                        return &w->retries[i];
        return NULL;
}

static void clear_slot(retry_slot_t *slot) {
        if (slot)
                memset(slot, 0, sizeof(*slot));
}

static runner_state_t runner_state(worker_t *w, const runner_t *r) {
        runner_state_t state;

        pthread_mutex_lock(&w->lock);
        state = r->state;
        pthread_mutex_unlock(&w->lock);
        return state;
}

/* The runner whose task (running, or done and not yet acted on) is of topic/partition. */
static runner_t *runner_of(worker_t *w, const char *topic, int32_t partition) {
        for (int i = 0; i < w->runner_count; i++) {
                runner_t *r = &w->runners[i];
                if (runner_state(w, r) != RUNNER_IDLE && r->msg->partition == partition &&
                    strcmp(rd_kafka_topic_name(r->msg->rkt), topic) == 0)
                        return r;
        }
        return NULL;
}

static int runners_in_flight(worker_t *w) {
        int n = 0;
        for (int i = 0; i < w->runner_count; i++)
                n += runner_state(w, &w->runners[i]) != RUNNER_IDLE;
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
static void drop_queue(worker_t *w, const char *topic, int32_t partition) {
        queue_t *q = find_queue(w, topic, partition);

        if (!q)
                return;
        for (int i = 0; i < q->count; i++)
                rd_kafka_message_destroy(q->msgs[i]);
        *q = w->queues[--w->queue_count];
}

/* Pauses topic/partition and moves its fetch position to offset: the next message it gives,
 * once resumed, is the one at offset. Pausing drops what was fetched ahead of the pause, which
 * the seek fetches again. */
static void pause_at(rd_kafka_t *consumer, const char *topic, int32_t partition, int64_t offset) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_error_t *error;

        rd_kafka_topic_partition_list_add(list, topic, partition)->offset = offset;
        rd_kafka_pause_partitions(consumer, list);
        error = rd_kafka_seek_partitions(consumer, list, 5000);
        if (error) {
                jt_log_warn("seek of %s [%" PRId32 "] to offset %" PRId64 ": %s", topic, partition,
                            offset, rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        rd_kafka_topic_partition_list_destroy(list);
}

static void pause_only(rd_kafka_t *consumer, const char *topic, int32_t partition) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);

        rd_kafka_topic_partition_list_add(list, topic, partition);
        rd_kafka_pause_partitions(consumer, list);
        rd_kafka_topic_partition_list_destroy(list);
}

static void resume(rd_kafka_t *consumer, const char *topic, int32_t partition) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);

        rd_kafka_topic_partition_list_add(list, topic, partition);
        rd_kafka_resume_partitions(consumer, list);
        rd_kafka_topic_partition_list_destroy(list);
}

/* One line per rebalance: "assigned: topic [0,1,5] other [2]". */
static void log_partitions(const char *what, const rd_kafka_topic_partition_list_t *parts) {
        char line[1024];
        size_t used = 0;
        const char *topic = NULL;

        line[0] = '\0';
        for (int i = 0; i < parts->cnt && used < sizeof(line) - 32; i++) {
                const rd_kafka_topic_partition_t *p = &parts->elems[i];
                bool same = topic && strcmp(topic, p->topic) == 0;
                int n = snprintf(line + used, sizeof(line) - used, "%s%s%s%" PRId32,
                                 same ? "," : (topic ? "] " : ""), same ? "" : p->topic,
                                 same ? "" : " [", p->partition);
                if (n > 0)
                        used += (size_t)n;
                topic = p->topic;
        }
        if (topic && used < sizeof(line) - 2)
                snprintf(line + used, sizeof(line) - used, "]");
        jt_log_info("rebalance %s: %s", what, parts->cnt ? line : "nothing");
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
        worker_t *w = opaque;

        log_partitions(err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assigned" : "revoked", parts);
        if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
                /* A revoked partition's pending retry belongs to its next owner now, and so
                 * does the message of a task still running: the task runs on (it is
                 * idempotent), but its offset is not stored when it ends. */
                for (int i = 0; i < parts->cnt; i++) {
                        const rd_kafka_topic_partition_t *p = &parts->elems[i];
                        runner_t *r = runner_of(w, p->topic, p->partition);
                        clear_slot(find_slot(w, p->topic, p->partition));
                        drop_queue(w, p->topic, p->partition);
                        if (r && !r->revoked)
                                jt_log_info("%s [%" PRId32 "] offset %" PRId64
                                            " revoked while its task runs: the task runs to its "
                                            "end, its offset is left to the partition's next owner",
                                            p->topic, p->partition, r->msg->offset);
                        if (r) {
                                r->revoked = true;
                                r->reassigned = false;
                        }
                }
                jt_kafka_rebalance_apply(rk, err, parts);
        } else if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                jt_kafka_rebalance_apply(rk, err, parts);
                /* A partition paused for a retry keeps its pause through a revoke (a session
                 * lost while a broker restarted) and came back paused with no retry left to
                 * resume it: its tasks then waited for ever (worker_faults_it scenario 4). No
                 * retry of an assigned partition is pending here, so none is paused; only a
                 * partition whose old task still runs stays paused (one task per partition at
                 * a time), resumed when that task ends. */
                for (int i = 0; i < parts->cnt; i++) {
                        const rd_kafka_topic_partition_t *p = &parts->elems[i];
                        runner_t *r = runner_of(w, p->topic, p->partition);
                        rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
                        rd_kafka_topic_partition_list_add(one, p->topic, p->partition);
                        if (r) {
                                r->reassigned = true;
                                rd_kafka_pause_partitions(rk, one);
                        } else if (!w->stopping) {
                                rd_kafka_resume_partitions(rk, one);
                        }
                        rd_kafka_topic_partition_list_destroy(one);
                }
        } else {
                jt_log_error("rebalance failed: %s", rd_kafka_err2str(err));
                jt_kafka_rebalance_apply(rk, err, parts);
        }
}

static void store_offset(worker_t *w, const rd_kafka_message_t *msg) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_resp_err_t rc;

        rd_kafka_topic_partition_list_add(list, rd_kafka_topic_name(msg->rkt), msg->partition)
            ->offset = msg->offset + 1;
        rc = rd_kafka_offsets_store(consumer_of(w, rd_kafka_topic_name(msg->rkt)), list);
        if (rc)
                jt_log_warn("storing offset %" PRId64 " of %s [%" PRId32 "]: %s (the task may be "
                            "redelivered; its effects are idempotent)",
                            msg->offset + 1, rd_kafka_topic_name(msg->rkt), msg->partition,
                            rd_kafka_err2str(rc));
        rd_kafka_topic_partition_list_destroy(list);
}

static bool dead_letter(worker_t *w, const rd_kafka_message_t *msg, const char *reason,
                        int attempts, jt_error_t *err) {
        char key[256];
        rd_kafka_headers_t *hdrs = jt_dlq_headers_new(rd_kafka_topic_name(msg->rkt), msg->partition,
                                                      msg->offset, reason, attempts);
        size_t klen = msg->key_len < sizeof(key) - 1 ? msg->key_len : sizeof(key) - 1;

        memcpy(key, msg->key ? msg->key : "", klen);
        key[klen] = '\0';
        if (!jt_kafka_send(w->env.producer, w->dlq_topic, msg->key, msg->key_len, msg->payload,
                           msg->len, hdrs, err)) {
                rd_kafka_headers_destroy(hdrs);
                return false;
        }
        if (!jt_kafka_flush(w->env.producer, w->env.kafka_timeout_ms, err))
                return false;
        w->tasks_dead_lettered++;
        jt_log_warn("task key=%s from %s [%" PRId32 "] offset %" PRId64 " dead-lettered: %s", key,
                    rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset, reason);
        return true;
}

/* Marks the job of a task that failed for good: the ledger's state failed with the reason, then
 * JOB_FAILED (once per failure, its timestamp the failure's, so that the notifier recognises a
 * repeat). A finished job, a job of another run, a job without a ledger entry and a job whose
 * result of this task is recorded stay as they are; so does any job when the message names no
 * run (it did not decode, or a v1 task): a stray or forged message fails nothing. False when the
 * ledger or the event could not be written: the caller keeps the message. */
static bool fail_job(worker_t *w, const task_ident_t *id, bool cleanup, const char *reason,
                     jt_error_t *err) {
        jt_status_event_t ev = {0};
        mongoc_client_t *client;
        int64_t failed_at = 0, created_at = 0;
        bool announce = false, ok;

        if (!id->job_id[0] || !id->run_nonce[0])
                return true;
        client = mongoc_client_pool_pop(w->env.pool);
        ok = jt_jobs_fail(client, w->env.db, id->job_id, id->run_nonce, id->task_id,
                          id->key[0] ? id->key : NULL, reason, jt_task_now_ms(), &announce,
                          &failed_at, err);
        /* Its execution time, as the original's failure message shows it: from the job's
         * creation to the failure, the same for every repeat of the event. */
        if (ok && announce)
                ok = jt_jobs_created_at(client, w->env.db, id->job_id, &created_at, err);
        if (ok && announce) {
                if (created_at > 0)
                        ev.execution_ms = (jt_opt_long_t){
                            true, failed_at > created_at ? failed_at - created_at : 0};
                ev.job_id = (char *)id->job_id;
                ev.type = JT_STATUS_JOB_FAILED;
                ev.job_kind = cleanup ? JT_JOB_KIND_CLEANUP : JT_JOB_KIND_STATS;
                ev.timestamp_ms = failed_at;
                ev.worker_id = (char *)w->env.worker_id;
                ev.error_message = (char *)reason;
                ok = jt_status_send(w->env.producer, w->env.reg, w->env.status_topic, &ev, err) &&
                     jt_kafka_flush(w->env.producer, w->env.kafka_timeout_ms, err) &&
                     jt_jobs_failure_announced(client, w->env.db, id->job_id, failed_at, err);
                if (ok)
                        jt_log_error("job=%s failed: %s", id->job_id, reason);
        }
        mongoc_client_pool_push(w->env.pool, client);
        return ok;
}

/* root_id: the listed task whose result the task records (NULL for a FINALIZE). Identities
 * that do not fit are left empty, so that a cut id never charges another job with the failure
 * (fail_job charges none without a job id and a run). */
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
        *cleanup = strcmp(topic, w->env.cleanup_topic) == 0;
        if (*cleanup) {
                jt_cleanup_task_t task = {0};
                if (!jt_cleanup_task_decode(w->env.reg, msg->payload, msg->len, &task, err))
                        return JT_TASK_PERMANENT;
                ident_of(id, task.job_id, task.task_id,
                         task.parent_task_id ? task.parent_task_id : task.task_id, task.run_nonce);
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
                jt_log_debug("job=%s task=%s started", task.job_id, task.task_id);
                outcome = jt_stats_task_run(&w->env, &task, err);
                jt_stats_task_clear(&task);
                return outcome;
        }
        jt_error_set(err, JT_ERR_INPUT, 0, "message from unexpected topic %s", topic);
        return JT_TASK_REJECTED;
}

static int backoff_ms(const worker_t *w, int attempts) {
        return (int)jt_backoff_ms(w->backoff_base_ms, w->backoff_max_ms, attempts);
}

/* Back to msg: its partition paused and rewound to it, the messages after it that were waiting
 * forgotten (they come again). */
static void rewind_to(worker_t *w, const rd_kafka_message_t *msg) {
        const char *topic = rd_kafka_topic_name(msg->rkt);

        drop_queue(w, topic, msg->partition);
        pause_at(consumer_of(w, topic), topic, msg->partition, msg->offset);
}

static void pause_and_rewind(worker_t *w, const rd_kafka_message_t *msg, retry_slot_t *slot) {
        rewind_to(w, msg);
        slot->paused = true;
}

static void resume_due(worker_t *w) {
        int64_t now = jt_task_mono_ms();

        for (int i = 0; i < MAX_RETRY_SLOTS && !w->stopping; i++) {
                retry_slot_t *s = &w->retries[i];
                if (!s->used || !s->paused || now < s->resume_at_ms)
                        continue;
                resume(consumer_of(w, s->topic), s->topic, s->partition);
                s->paused = false;
        }
}

static retry_slot_t *slot_for(worker_t *w, const rd_kafka_message_t *msg) {
        const char *topic = rd_kafka_topic_name(msg->rkt);
        retry_slot_t *slot = find_slot(w, topic, msg->partition);

        if (slot && slot->offset != msg->offset)
                clear_slot(slot); /* an older retry of this partition is settled */
        else if (slot)
                return slot;
        for (int i = 0; i < MAX_RETRY_SLOTS; i++)
                if (!w->retries[i].used) {
                        slot = &w->retries[i];
                        slot->used = true;
                        snprintf(slot->topic, sizeof(slot->topic), "%s", topic);
                        slot->partition = msg->partition;
                        slot->offset = msg->offset;
                        return slot;
                }
        return NULL;
}

static const char *kind_of(const worker_t *w, const rd_kafka_message_t *msg) {
        return strcmp(rd_kafka_topic_name(msg->rkt), w->env.cleanup_topic) == 0 ? "cleanup"
                                                                                : "stats";
}

/* Consumer lag of each partition assigned to `consumer` (high watermark minus position). */
static void update_lag_of(worker_t *w, rd_kafka_t *consumer) {
        rd_kafka_topic_partition_list_t *parts = NULL;

        if (rd_kafka_assignment(consumer, &parts) || !parts)
                return;
        if (rd_kafka_position(consumer, parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                for (int i = 0; i < parts->cnt; i++) {
                        int64_t low = 0, high = 0;
                        rd_kafka_topic_partition_t *p = &parts->elems[i];
                        if (rd_kafka_get_watermark_offsets(consumer, p->topic, p->partition, &low,
                                                           &high) ||
                            high < 0)
                                continue;
                        jt_metrics_set_lag(w->env.metrics, p->topic, p->partition,
                                           p->offset >= 0 ? high - p->offset : high - low);
                }
        }
        rd_kafka_topic_partition_list_destroy(parts);
}

/* Every LAG_EVERY_MS, the lag of every assigned partition, for /metrics. */
static void update_lag(worker_t *w) {
        if (jt_task_mono_ms() - w->last_lag_ms < LAG_EVERY_MS)
                return;
        w->last_lag_ms = jt_task_mono_ms();
        for (int i = 0; i < w->consumer_count; i++)
                update_lag_of(w, w->consumers[i]);
}

/* Pauses msg's partition until wait_ms from now; the next poll of it redelivers msg. */
static void retry_later(worker_t *w, const rd_kafka_message_t *msg, retry_slot_t *slot,
                        int wait_ms) {
        slot->resume_at_ms = jt_task_mono_ms() + wait_ms;
        pause_and_rewind(w, msg, slot);
}

/* An outage is a wait, not an attempt: backoff up to --retry-backoff-max-ms (30 s by default)
 * for up to --outage-budget. False once the budget is spent (reason says how long). */
static bool wait_out_outage(worker_t *w, const rd_kafka_message_t *msg, retry_slot_t *slot,
                            int attempts, const jt_error_t *err, char *reason, size_t size) {
        int64_t now = jt_task_mono_ms();
        int wait;

        if (!slot->outage_from_ms)
                slot->outage_from_ms = now;
        if (now - slot->outage_from_ms >= w->outage_budget_ms) {
                snprintf(reason, size,
                         "gave up after waiting out an outage for %" PRId64
                         " s (--outage-budget %" PRId64 " s): %s",
                         (now - slot->outage_from_ms) / 1000, w->outage_budget_ms / 1000,
                         err->message);
                return false;
        }
        slot->attempts = attempts - 1;
        wait = backoff_ms(w, ++slot->outages);
        retry_later(w, msg, slot, wait);
        w->tasks_retried++;
        jt_metrics_task(w->env.metrics, kind_of(w, msg), "retried");
        jt_log_warn("%s [%" PRId32 "] offset %" PRId64 ": waiting out an outage (%" PRId64
                    " s so far, no attempt spent), next try in %d ms: %s",
                    rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset,
                    (now - slot->outage_from_ms) / 1000, wait, err->message);
        return true;
}

/* What follows a task, on the loop's thread: the retry (its backoff uses rand(), which is not
 * for threads), the job's failure, the DLQ, the offset, the metrics. */
static void settle(worker_t *w, runner_t *r) {
        const rd_kafka_message_t *msg = r->msg;
        retry_slot_t *slot = find_slot(w, rd_kafka_topic_name(msg->rkt), msg->partition);
        int attempts = (slot && slot->offset == msg->offset ? slot->attempts : 0) + 1;
        jt_error_t end_err, *err = &r->err;
        const task_ident_t *id = &r->id;
        char reason[JT_ERROR_MSG_MAX + 128];
        jt_task_outcome_t outcome = r->outcome;

        jt_error_clear(&end_err);
        reason[0] = '\0';
        if (outcome == JT_TASK_STOPPED) {
                /* Back to the message, whose offset stays unstored: its redelivery. */
                jt_metrics_task(w->env.metrics, kind_of(w, msg), "stopped");
                rewind_to(w, msg);
                return;
        }
        /* Another worker is finalizing the job: poll until it is done or its claim lapses (a
         * lease of minutes), without spending attempts: a wait is not a failure. */
        if (outcome == JT_TASK_WAIT && (slot = slot_for(w, msg)) != NULL) {
                int wait = w->backoff_max_ms < WAIT_POLL_MS ? w->backoff_max_ms : WAIT_POLL_MS;
                slot->attempts = attempts - 1;
                retry_later(w, msg, slot, wait);
                jt_log_info("%s [%" PRId32 "] offset %" PRId64 ": %s; next look in %d ms",
                            rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset,
                            err->message, wait);
                return;
        }
        if (outcome == JT_TASK_WAIT)
                outcome = JT_TASK_RETRY; /* no retry slot free: the ordinary retry path */
        if (outcome == JT_TASK_RETRY && err->transient && (slot = slot_for(w, msg)) != NULL &&
            wait_out_outage(w, msg, slot, attempts, err, reason, sizeof(reason)))
                return;
        if (outcome == JT_TASK_RETRY && !reason[0] && attempts < w->max_attempts &&
            (slot = slot_for(w, msg)) != NULL) {
                int wait = backoff_ms(w, attempts);
                slot->attempts = attempts;
                retry_later(w, msg, slot, wait);
                w->tasks_retried++;
                jt_metrics_task(w->env.metrics, kind_of(w, msg), "retried");
                jt_log_warn("%s [%" PRId32 "] offset %" PRId64 " attempt %d failed, "
                            "retrying in %d ms: %s",
                            rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset, attempts,
                            wait, err->message);
                return;
        }
        if (outcome != JT_TASK_DONE) {
                if (!reason[0])
                        snprintf(reason, sizeof(reason), "%s%s",
                                 outcome == JT_TASK_RETRY ? "gave up after repeated failures: "
                                                          : "",
                                 err->message);
                /* The job first, then the dead letter: a crash between them redelivers the task,
                 * which fails again and finds its job failed already. Without both, the offset
                 * must not move: try again later. */
                if ((outcome != JT_TASK_REJECTED &&
                     !fail_job(w, id, r->cleanup, reason, &end_err)) ||
                    !dead_letter(w, msg, reason, attempts, &end_err)) {
                        jt_log_error("the job's failure or the DLQ copy was not written, the task "
                                     "stays: %s",
                                     end_err.message);
                        if ((slot = slot_for(w, msg)) != NULL) {
                                retry_later(w, msg, slot, w->backoff_max_ms);
                                return;
                        }
                        /* No slot free: back to the message, redelivered at once. */
                        rewind_to(w, msg);
                        return;
                }
                jt_metrics_task(w->env.metrics, kind_of(w, msg), "dead_lettered");
                if (outcome != JT_TASK_REJECTED)
                        jt_metrics_task(w->env.metrics, kind_of(w, msg), "failed");
        } else {
                w->tasks_done++;
                jt_metrics_task(w->env.metrics, kind_of(w, msg), "done");
        }
        clear_slot(find_slot(w, rd_kafka_topic_name(msg->rkt), msg->partition));
        store_offset(w, msg);
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
                pthread_mutex_lock(&w->lock);
                r->state = RUNNER_DONE;
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

/* Starts --concurrency task threads. SIGTERM and SIGINT stay with the loop's thread: they set
 * the stop flag there, and a task's database call is not cut short by EINTR. */
static bool runners_start(worker_t *w, int count, jt_error_t *err) {
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
static void runners_stop(worker_t *w) {
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
static void enqueue(worker_t *w, rd_kafka_message_t *msg) {
        const char *topic = rd_kafka_topic_name(msg->rkt);
        queue_t *q = find_queue(w, topic, msg->partition);

        if ((!q && w->queue_count == MAX_QUEUED_PARTS) || (q && q->count == QUEUE_MAX)) {
                /* No room (or a message fetched before its full queue's pause): back to it,
                 * fetched again when its partition resumes. */
                pause_at(consumer_of(w, topic), topic, msg->partition, msg->offset);
                if (!q)
                        resume(consumer_of(w, topic), topic, msg->partition);
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
                pause_only(consumer_of(w, topic), topic, msg->partition);
                q->paused = true;
        }
}

static runner_t *free_runner(worker_t *w) {
        for (int i = 0; i < w->runner_count; i++)
                if (runner_state(w, &w->runners[i]) == RUNNER_IDLE)
                        return &w->runners[i];
        return NULL;
}

/* Hands waiting messages to free threads, the oldest of each partition whose previous task has
 * ended: one task per partition at a time, in offset order. */
static void pump(worker_t *w) {
        runner_t *r;

        for (int i = 0; i < w->queue_count && !w->stopping && (r = free_runner(w)) != NULL;) {
                queue_t *q = &w->queues[i];
                if (runner_of(w, q->topic, q->partition)) {
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
                        resume(consumer_of(w, q->topic), q->topic, q->partition);
                        q->paused = false;
                }
                if (q->count == 0)
                        *q = w->queues[--w->queue_count]; /* the same i is the next queue */
                else
                        i++;
        }
}

/* Acts on every task that has ended, and frees its thread. */
static void collect(worker_t *w) {
        bool freed = false;

        for (int i = 0; i < w->runner_count; i++) {
                runner_t *r = &w->runners[i];
                rd_kafka_message_t *msg = r->msg;
                const char *topic;

                if (runner_state(w, r) != RUNNER_DONE)
                        continue;
                topic = rd_kafka_topic_name(msg->rkt);
                if (r->revoked) {
                        /* Not ours any more: no offset, no retry, no DLQ; the partition's owner
                         * redelivers the message. Assigned back meanwhile (and paused then), it
                         * resumes from the committed offset, which is this message or before. */
                        jt_log_info("%s [%" PRId32 "] offset %" PRId64 ": task ended (%s) after "
                                    "its partition was revoked; offset not stored",
                                    topic, msg->partition, msg->offset,
                                    r->outcome == JT_TASK_DONE ? "done" : r->err.message);
                        if (r->reassigned && !w->stopping)
                                resume(consumer_of(w, topic), topic, msg->partition);
                } else {
                        settle(w, r); /* a retry pauses the partition; resume_due resumes it */
                }
                rd_kafka_message_destroy(msg);
                r->msg = NULL;
                pthread_mutex_lock(&w->lock);
                r->state = RUNNER_IDLE;
                pthread_mutex_unlock(&w->lock);
                freed = true;
        }
        if (freed)
                pump(w);
}

/* On a stop request: nothing more is handed out; every assigned partition is paused so that no
 * message comes meanwhile (one that does is dropped: its offset is not stored). */
static void pause_all(worker_t *w) {
        for (int i = 0; i < w->consumer_count; i++) {
                rd_kafka_topic_partition_list_t *parts = NULL;
                if (rd_kafka_assignment(w->consumers[i], &parts) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                    parts)
                        rd_kafka_pause_partitions(w->consumers[i], parts);
                if (parts)
                        rd_kafka_topic_partition_list_destroy(parts);
        }
}

/* A test hook, harmless when unset: while the file JT_TEST_STALL_FILE names exists, the loop's
 * thread sleeps without a round, as a loop stuck in a call would, so that a test can watch
 * /livez turn to 503 (tests/integration/health_it.py). Read once at start, logged when set. */
static void stall_for_test(const worker_t *w) {
        struct timespec ts = {0, 100 * 1000000L};

        while (w->stall_file && !stop_requested && access(w->stall_file, F_OK) == 0)
                nanosleep(&ts, NULL);
}

/* One round of the loop: each consumer in turn, one message at most each, so that a backlog of
 * one kind does not starve the other; an idle round still waits 100 ms in all. Each round is a
 * heartbeat for /livez. */
static void poll_round(worker_t *w) {
        stall_for_test(w);
        jt_metrics_beat(w->env.metrics);
        for (int i = 0; i < w->consumer_count; i++) {
                rd_kafka_message_t *msg =
                    jt_kafka_poll_message(w->consumers[i], 100 / w->consumer_count);
                collect(w);
                resume_due(w);
                update_lag(w);
                rd_kafka_poll(w->env.producer, 0);
                if (!msg)
                        continue;
                if (stop_requested || w->stopping) {
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                enqueue(w, msg);
                pump(w);
        }
}

/* A consumer in the group for `topic`, subscribed to it alone (see MAX_CONSUMERS). */
static bool add_consumer(worker_t *w, const jt_kafka_opts_t *kopts, const char *group,
                         const char *topic, jt_error_t *err) {
        rd_kafka_resp_err_t rc;
        rd_kafka_t *consumer;

        for (int i = 0; i < w->consumer_count; i++)
                if (strcmp(w->consumer_topics[i], topic) == 0)
                        return true; /* "stats,stats" */
        if (w->consumer_count == MAX_CONSUMERS)
                return jt_error_set(err, JT_ERR_CONFIG, 0, "--topics: at most %d topics",
                                    MAX_CONSUMERS);
        if (!(consumer = jt_kafka_consumer_new(kopts, group, err)))
                return false;
        w->consumers[w->consumer_count] = consumer;
        w->consumer_topics[w->consumer_count++] = topic;
        rc = jt_kafka_subscribe(consumer, topic);
        if (rc)
                return jt_error_set(err, JT_ERR_CONFIG, rc, "subscribing to %s: %s", topic,
                                    rd_kafka_err2str(rc));
        return true;
}

/* One consumer per kind in --topics ("stats", "cleanup" or both, comma-separated). */
static bool subscribe(worker_t *w, const jt_kafka_opts_t *kopts, const char *group,
                      const char *kinds, jt_error_t *err) {
        char *copy = strdup(kinds), *save = NULL;
        bool ok = true;

        for (char *k = strtok_r(copy, ",", &save); ok && k; k = strtok_r(NULL, ",", &save)) {
                if (strcmp(k, "stats") == 0)
                        ok = add_consumer(w, kopts, group, w->env.stats_topic, err);
                else if (strcmp(k, "cleanup") == 0)
                        ok = add_consumer(w, kopts, group, w->env.cleanup_topic, err);
                else
                        ok = jt_error_set(err, JT_ERR_CONFIG, 0,
                                          "--topics takes stats, cleanup or both (got \"%s\")", k);
        }
        free(copy);
        if (ok && w->consumer_count == 0)
                ok = jt_error_set(err, JT_ERR_CONFIG, 0,
                                  "--topics takes stats, cleanup or both (got \"%s\")", kinds);
        return ok;
}

/* The host part of HOST:PORT, for the start-up line; a port alone is served on 127.0.0.1. */
static const char *metrics_host(const char *addr, char *buf, size_t size) {
        const char *colon = strrchr(addr, ':');

        if (!colon || colon == addr)
                return "127.0.0.1";
        snprintf(buf, size, "%.*s", (int)(colon - addr), addr);
        return buf;
}

/* The producer (brokers answering, topics created) and the database pool (a ping answered),
 * tried again every second for up to --startup-wait seconds while a server does not answer:
 * the process stays up, /livez answers 200 and /readyz 503 naming the server meanwhile. */
static bool start_servers(worker_t *w, const jt_config_t *cfg, jt_error_t *err) {
        int64_t wait_ms = jt_config_int(cfg, "startup-wait") * 1000;
        int64_t give_up_at = jt_task_mono_ms() + wait_ms;

        for (;;) {
                jt_metrics_beat(w->env.metrics);
                if (!w->env.producer)
                        w->env.producer = jt_startup_producer(cfg, err);
                if (w->env.producer && !w->env.pool)
                        w->env.pool =
                            jt_startup_mongo_counted(cfg, "joytify-worker", w->env.metrics, err);
                if (w->env.producer && w->env.pool)
                        return true;
                if (!err->transient || stop_requested || jt_task_mono_ms() >= give_up_at)
                        return false;
                jt_metrics_set_ready(w->env.metrics, false,
                                     w->env.producer ? "starting: MongoDB unreachable"
                                                     : "starting: Kafka unreachable",
                                     0);
                jt_log_warn("starting: %s; trying again for up to %" PRId64 " s (--startup-wait)",
                            err->message, (give_up_at - jt_task_mono_ms() + 999) / 1000);
                jt_metrics_beat(w->env.metrics);
                jt_task_sleep(&w->env, 1000);
        }
}

/* A round of the loop may wait on a server for --kafka-timeout or --mongo-timeout (a flush, a
 * ledger write), a few times when several tasks end at once: liveness must allow more, or a
 * slow server would restart every worker. 0 (the default) derives it from those timeouts, so
 * that raising them never stops a worker from starting; a value given must exceed both. */
static bool liveness_timeout(const jt_config_t *cfg, int *seconds, jt_error_t *err) {
        long long live = jt_config_int(cfg, "liveness-timeout");
        long long kafka = jt_config_int(cfg, "kafka-timeout");
        long long mongo = jt_config_int(cfg, "mongo-timeout");
        long long longest = kafka > mongo ? kafka : mongo;

        if (live == 0) {
                *seconds = jt_metrics_liveness_for(longest);
                return true;
        }
        *seconds = (int)live;
        if (live > longest)
                return true;
        return jt_error_set(err, JT_ERR_CONFIG, 0,
                            "--liveness-timeout must be more than --kafka-timeout (%lld) and "
                            "--mongo-timeout (%lld) seconds, or 0 to derive it from them (got "
                            "%lld)",
                            kafka, mongo, live);
}

static bool playback_reads_valid(const jt_config_t *cfg, jt_error_t *err) {
        const char *how = jt_config_str(cfg, "playback-reads");

        if (strcmp(how, "range") == 0 || strcmp(how, "per-user") == 0)
                return true;
        return jt_error_set(err, JT_ERR_CONFIG, 0,
                            "--playback-reads takes range or per-user (got \"%s\")", how);
}

int jt_worker_run(const jt_config_t *cfg) {
        worker_t *w = calloc(1, sizeof(*w));
        jt_kafka_opts_t kopts = jt_kafka_opts_from_config(cfg);
        jt_avro_registry_t *reg = NULL;
        jt_app_push_t *app_push = NULL;
        char host[128] = "localhost", worker_id[200];
        struct sigaction sa;
        jt_error_t err;
        int rc = JT_EXIT_FAILURE, live_s = JT_METRICS_LIVENESS_TIMEOUT_S;

        jt_error_clear(&err);
        gethostname(host, sizeof(host) - 1);
        snprintf(worker_id, sizeof(worker_id), "%s/%d", host, (int)getpid());
        srand((unsigned)(getpid() ^ jt_task_now_ms()));
        w->env.cfg = cfg;
        w->env.db = jt_config_str(cfg, "db");
        w->env.stats_topic = jt_config_str(cfg, "stats-topic");
        w->env.cleanup_topic = jt_config_str(cfg, "cleanup-topic");
        w->env.status_topic = jt_config_str(cfg, "status-topic");
        w->env.worker_id = worker_id;
        w->env.kafka_timeout_ms = kopts.timeout_ms;
        w->env.stop = &stop_requested;
        jt_task_announced_init(&w->announced);
        w->env.announced = &w->announced;
        w->dlq_topic = jt_config_str(cfg, "dlq-topic");
        w->max_attempts = (int)jt_config_int(cfg, "max-attempts");
        w->backoff_base_ms = (int)jt_config_int(cfg, "retry-backoff-ms");
        w->backoff_max_ms = (int)jt_config_int(cfg, "retry-backoff-max-ms");
        w->outage_budget_ms = jt_config_int(cfg, "outage-budget") * 1000;
        pthread_mutex_init(&w->lock, NULL);
        kopts.rebalance_cb = rebalance_cb;
        kopts.opaque = w;

        w->stall_file = getenv("JT_TEST_STALL_FILE");
        if (w->stall_file && !*w->stall_file)
                w->stall_file = NULL;
        /* Before the servers are tried: a stop during a long --startup-wait ends it. */
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        if (!jt_options_apply_log(cfg, "worker", &err) || !playback_reads_valid(cfg, &err) ||
            !liveness_timeout(cfg, &live_s, &err) || !jt_app_push_new(cfg, &app_push, &err) ||
            !(reg = jt_avro_registry_new(&err)) ||
            !(w->env.metrics = jt_metrics_new("worker", &err))) {
                rc = jt_startup_fail(cfg, &err);
                goto done;
        }
        jt_metrics_set_liveness_timeout(w->env.metrics, live_s);
        if (w->stall_file)
                jt_log_warn("test hook JT_TEST_STALL_FILE is set: the loop stalls while %s exists",
                            w->stall_file);
        if (!jt_metrics_serve(w->env.metrics, jt_config_str(cfg, "metrics-addr"), &err) ||
            !start_servers(w, cfg, &err) ||
            !subscribe(w, &kopts, jt_config_str(cfg, "group"), jt_config_str(cfg, "topics"),
                       &err)) {
                rc = jt_startup_fail(cfg, &err);
                goto done;
        }
        w->env.reg = reg;
        w->env.app_push = app_push;
        jt_clock_check_start(&w->env, &w->clock);
        if (!(w->env.names = jt_artist_names_new())) {
                jt_error_set(&err, JT_ERR_SYSTEM, 0, "out of memory");
                rc = jt_startup_fail(cfg, &err);
                goto done;
        }
        if (!runners_start(w, (int)jt_config_int(cfg, "concurrency"), &err) ||
            !(w->readiness =
                  jt_readiness_start(w->env.metrics, cfg, w->env.producer, w->env.pool, &err))) {
                rc = jt_startup_fail(cfg, &err);
                goto done;
        }
        jt_log_info("worker %s in group %s, consuming %s with %d task thread(s); metrics on "
                    "http://%s:%d/metrics",
                    worker_id, jt_config_str(cfg, "group"), jt_config_str(cfg, "topics"),
                    w->runner_count,
                    metrics_host(jt_config_str(cfg, "metrics-addr"), host, sizeof(host)),
                    jt_metrics_port(w->env.metrics));

        while (!stop_requested)
                poll_round(w);
        /* The tasks see the flag at their next checkpoint; polling goes on meanwhile, so that
         * the group keeps this member until its tasks are back. */
        w->stopping = true;
        pause_all(w);
        while (w->queue_count > 0) /* not started: redelivered to whoever has them next */
                drop_queue(w, w->queues[0].topic, w->queues[0].partition);
        if (runners_in_flight(w) > 0)
                jt_log_info("stopping: waiting for %d task(s) to reach a checkpoint",
                            runners_in_flight(w));
        while (runners_in_flight(w) > 0)
                poll_round(w);
        jt_log_info("stopping: %ld tasks done, %ld retried, %ld dead-lettered; committing and "
                    "leaving the group",
                    w->tasks_done, w->tasks_retried, w->tasks_dead_lettered);
        rc = JT_EXIT_OK;
done:
        jt_readiness_stop(w->readiness); /* it uses the producer and the pool */
        runners_stop(w);
        /* Closing a consumer commits its stored offsets and leaves the group. */
        for (int i = 0; i < w->consumer_count; i++)
                jt_kafka_destroy(w->consumers[i]);
        if (w->env.producer)
                jt_kafka_flush(w->env.producer, 5000, &err);
        jt_kafka_destroy(w->env.producer);
        jt_mongo_pool_destroy(w->env.pool);
        jt_avro_registry_destroy(reg);
        jt_app_push_destroy(app_push);
        jt_artist_names_destroy(w->env.names);
        jt_metrics_destroy(w->env.metrics);
        if (w->env.clock)
                jt_clock_check_clear(&w->clock);
        jt_task_announced_clear(&w->announced);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return rc;
}
