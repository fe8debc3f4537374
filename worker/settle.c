/* What follows a task, on the loop's thread: a retry (the partition paused and rewound to the
 * message until its backoff ends), an outage waited out, the job's failure and the dead letter
 * of a task that can never succeed, and the offset stored once the message is settled. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jt_backoff.h"
#include "jt_dlq.h"
#include "jt_jobs.h"
#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_status.h"
#include "jt_time.h"
#include "worker_private.h"

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

static bool dead_letter(worker_t *w, const rd_kafka_message_t *msg, const char *reason,
                        int attempts, jt_error_t *err) {
        char key[256]; /* for the log line only: the DLQ copy keeps the whole key */
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
                          id->key[0] ? id->key : NULL, reason, jt_time_wall_ms(), &announce,
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

static int backoff_ms(const worker_t *w, int attempts) {
        return (int)jt_backoff_ms(w->backoff_base_ms, w->backoff_max_ms, attempts);
}

/* Back to msg: its partition paused and rewound to it, the messages after it that were waiting
 * forgotten (they come again). */
static void rewind_to(worker_t *w, const rd_kafka_message_t *msg) {
        const char *topic = rd_kafka_topic_name(msg->rkt);

        jt_runners_drop_queue(w, topic, msg->partition);
        jt_partitions_pause_at(jt_partitions_consumer_of(w, topic), topic, msg->partition,
                               msg->offset);
}

static void pause_and_rewind(worker_t *w, const rd_kafka_message_t *msg, retry_slot_t *slot) {
        rewind_to(w, msg);
        slot->paused = true;
}

void jt_settle_resume_due(worker_t *w) {
        int64_t now = jt_time_mono_ms();

        for (int i = 0; i < MAX_RETRY_SLOTS && !w->stopping; i++) {
                retry_slot_t *s = &w->retries[i];
                if (!s->used || !s->paused || now < s->resume_at_ms)
                        continue;
                jt_partitions_resume(jt_partitions_consumer_of(w, s->topic), s->topic,
                                     s->partition);
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

/* Pauses msg's partition until wait_ms from now; the next poll of it redelivers msg. */
static void retry_later(worker_t *w, const rd_kafka_message_t *msg, retry_slot_t *slot,
                        int wait_ms) {
        slot->resume_at_ms = jt_time_mono_ms() + wait_ms;
        pause_and_rewind(w, msg, slot);
}

/* An outage is a wait, not an attempt: backoff up to --retry-backoff-max-ms (30 s by default)
 * for up to --outage-budget. False once the budget is spent (reason says how long). */
static bool wait_out_outage(worker_t *w, const rd_kafka_message_t *msg, retry_slot_t *slot,
                            int attempts, const jt_error_t *err, char *reason, size_t size) {
        int64_t now = jt_time_mono_ms();
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
void jt_settle_task(worker_t *w, runner_t *r) {
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
        jt_kafka_store_offset(jt_partitions_consumer_of(w, rd_kafka_topic_name(msg->rkt)), msg);
}

void jt_settle_forget(worker_t *w, const char *topic, int32_t partition) {
        clear_slot(find_slot(w, topic, partition));
}
