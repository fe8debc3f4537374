/* The worker's consumer loop, shared by its files: the loop's state and the functions one part
 * calls in another (worker.c starts and stops, loop.c polls, runners.c runs tasks on threads,
 * settle.c acts on their outcomes, partitions.c pauses, resumes and rebalances).
 *
 * Each message is decoded and handed to its task handler; the offset is stored only when the
 * handler says its effects and events are durable, or after the message went to the DLQ. A
 * failure pauses the partition, seeks back to the message, and resumes after an exponential
 * backoff with jitter, so the loop keeps polling (and keeps the group membership) while it
 * waits. An outage (a server unreachable, no primary, a broker away) is waited out without
 * spending attempts, for up to --outage-budget; other failures spend attempts, --max-attempts at
 * most. A task that can never succeed (refused, invalid, out of attempts or of outage budget)
 * marks its job failed with a JOB_FAILED event, then goes to the DLQ; a task of no live run of
 * its job goes to the DLQ and leaves every job alone.
 *
 * Threads. No task runs on the loop's thread: a task may run longer than max.poll.interval.ms,
 * and a consumer that does not poll for that long is put out of its group (its partitions move
 * on, the task is redelivered and restarted from scratch, and may be evicted again). The loop's
 * thread only polls (the consumers, the producer's events, due retries, lag) and hands messages
 * to --concurrency task threads, at most one task per partition at a time, so a partition's
 * tasks keep their order. A message whose turn has not come (its partition's task still runs,
 * or every thread is busy) waits in its partition's queue; a full queue pauses the partition
 * (see jt_runners_enqueue), so the loop keeps polling while it takes only a few messages ahead.
 * The thread puts its outcome back (a runner's state, under the worker's lock) and the loop does
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
#ifndef JT_WORKER_WORKER_PRIVATE_H
#define JT_WORKER_WORKER_PRIVATE_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "app_push.h"
#include "clock_check.h"
#include "jt_error.h"
#include "jt_readiness.h"
#include "task.h"

#define MAX_RETRY_SLOTS  256
#define LAG_EVERY_MS     5000
#define WAIT_POLL_MS     5000 /* a finalize claim held by another worker: look again this often */
#define MAX_RUNNERS      64   /* --concurrency at most */
#define MAX_QUEUED_PARTS 256  /* partitions with messages waiting for their turn */
#define QUEUE_MAX        4    /* messages waiting per partition before it is paused */

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
 * workers, one could be given every cleanup partition and the other every stats partition, and
 * then run no task of the other kind. A member subscribed to one topic can only be given that
 * topic's partitions, so each topic is balanced on its own. */
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
        jt_avro_registry_t *reg; /* the env's, owned here */
        jt_app_push_t *app_push; /* the env's (NULL without --app-api-url), owned here */
        const char *stall_file;  /* JT_TEST_STALL_FILE: see loop.c's stall_for_test() */
} worker_t;

/* loop.c: the loop's thread. */

/* One round of the loop: each consumer polled once, ended tasks acted on, due retries resumed,
 * waiting messages handed out; a heartbeat for /livez. */
void jt_loop_round(worker_t *w);

/* After a stop request: nothing more handed out, the partitions paused, the queued messages
 * dropped, and rounds polled until every task in flight is back. */
void jt_loop_drain(worker_t *w);

/* partitions.c: pausing, rewinding and resuming partitions, the rebalance, the lag. */

/* The consumer that reads `topic`. */
rd_kafka_t *jt_partitions_consumer_of(const worker_t *w, const char *topic);

/* Pauses topic/partition and moves its fetch position to offset: the next message it gives,
 * once resumed, is the one at offset. */
void jt_partitions_pause_at(rd_kafka_t *consumer, const char *topic, int32_t partition,
                            int64_t offset);
void jt_partitions_pause(rd_kafka_t *consumer, const char *topic, int32_t partition);
void jt_partitions_resume(rd_kafka_t *consumer, const char *topic, int32_t partition);

/* The consumers' rebalance callback (opaque: the worker_t). */
void jt_partitions_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t *parts, void *opaque);

/* Every LAG_EVERY_MS, the lag of every assigned partition, for /metrics. */
void jt_partitions_update_lag(worker_t *w);

/* runners.c: the task threads and the per-partition queues that feed them. */

/* Starts count task threads (SIGTERM and SIGINT blocked in them); ends them again. */
bool jt_runners_start(worker_t *w, int count, jt_error_t *err);
void jt_runners_stop(worker_t *w);

/* A runner's state, read under the worker's lock; the runner whose task (running, or done and
 * not yet acted on) is of topic/partition (NULL: none); how many are not idle. */
runner_state_t jt_runners_state(worker_t *w, const runner_t *r);
runner_t *jt_runners_of(worker_t *w, const char *topic, int32_t partition);
int jt_runners_in_flight(worker_t *w);

/* Takes msg (ownership) into its partition's queue, pausing the partition once it is full. */
void jt_runners_enqueue(worker_t *w, rd_kafka_message_t *msg);

/* Hands waiting messages to free threads, one task per partition at a time, in offset order. */
void jt_runners_pump(worker_t *w);

/* Forgets the partition's waiting messages. */
void jt_runners_drop_queue(worker_t *w, const char *topic, int32_t partition);

/* settle.c: what follows a task, on the loop's thread. */

/* Acts on the outcome of r's ended task: the retry, the job's failure, the DLQ, the offset. */
void jt_settle_task(worker_t *w, runner_t *r);

/* Resumes the partitions whose retry is due. */
void jt_settle_resume_due(worker_t *w);

/* Forgets the pending retry of topic/partition (revoked: its next owner's now). */
void jt_settle_forget(worker_t *w, const char *topic, int32_t partition);

#endif
