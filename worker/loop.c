/* The worker's poll loop, on its own thread: one round polls each consumer, acts on the tasks
 * that have ended (settle.c), resumes due retries, and hands waiting messages to the task
 * threads (runners.c); on a stop it drains. The loop's design: worker_private.h. */
#include <inttypes.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_signal.h"
#include "worker_private.h"

/* Acts on every task that has ended, and frees its thread. */
static void collect(worker_t *w) {
        bool freed = false;

        for (int i = 0; i < w->runner_count; i++) {
                runner_t *r = &w->runners[i];
                rd_kafka_message_t *msg = r->msg;
                const char *topic;

                if (jt_runners_state(w, r) != RUNNER_DONE)
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
                                jt_partitions_resume(jt_partitions_consumer_of(w, topic), topic,
                                                     msg->partition);
                } else {
                        /* A retry pauses the partition; jt_settle_resume_due resumes it. */
                        jt_settle_task(w, r);
                }
                rd_kafka_message_destroy(msg);
                r->msg = NULL;
                pthread_mutex_lock(&w->lock);
                r->state = RUNNER_IDLE;
                pthread_mutex_unlock(&w->lock);
                freed = true;
        }
        if (freed)
                jt_runners_pump(w);
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

        while (w->stall_file && !jt_signal_stop_requested() && access(w->stall_file, F_OK) == 0)
                nanosleep(&ts, NULL);
}

/* One round of the loop: each consumer in turn, one message at most each, so that a backlog of
 * one kind does not starve the other; an idle round still waits 100 ms in all. Each round is a
 * heartbeat for /livez. */
void jt_loop_round(worker_t *w) {
        stall_for_test(w);
        jt_metrics_beat(w->env.metrics);
        for (int i = 0; i < w->consumer_count; i++) {
                rd_kafka_message_t *msg =
                    jt_kafka_poll_message(w->consumers[i], 100 / w->consumer_count);
                collect(w);
                jt_settle_resume_due(w);
                jt_partitions_update_lag(w);
                rd_kafka_poll(w->env.producer, 0);
                if (!msg)
                        continue;
                if (jt_signal_stop_requested() || w->stopping) {
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                jt_runners_enqueue(w, msg);
                jt_runners_pump(w);
        }
}

void jt_loop_drain(worker_t *w) {
        /* The tasks see the flag at their next checkpoint; polling goes on meanwhile, so that
         * the group keeps this member until its tasks are back. */
        w->stopping = true;
        pause_all(w);
        while (w->queue_count > 0) /* not started: redelivered to whoever has them next */
                jt_runners_drop_queue(w, w->queues[0].topic, w->queues[0].partition);
        if (jt_runners_in_flight(w) > 0)
                jt_log_info("stopping: waiting for %d task(s) to reach a checkpoint",
                            jt_runners_in_flight(w));
        while (jt_runners_in_flight(w) > 0)
                jt_loop_round(w);
}
