/* The worker's partitions: pausing, rewinding and resuming them, the rebalance callback that
 * keeps a revoked partition's task from settling, and the consumer lag for /metrics. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_time.h"
#include "worker_private.h"

/* The consumer that reads `topic`. */
rd_kafka_t *jt_partitions_consumer_of(const worker_t *w, const char *topic) {
        for (int i = 0; i < w->consumer_count; i++)
                if (strcmp(w->consumer_topics[i], topic) == 0)
                        return w->consumers[i];
        return w->consumers[0];
}

/* Pauses topic/partition and moves its fetch position to offset: the next message it gives,
 * once resumed, is the one at offset. Pausing drops what was fetched ahead of the pause, which
 * the seek fetches again. */
void jt_partitions_pause_at(rd_kafka_t *consumer, const char *topic, int32_t partition,
                            int64_t offset) {
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

void jt_partitions_pause(rd_kafka_t *consumer, const char *topic, int32_t partition) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);

        rd_kafka_topic_partition_list_add(list, topic, partition);
        rd_kafka_pause_partitions(consumer, list);
        rd_kafka_topic_partition_list_destroy(list);
}

void jt_partitions_resume(rd_kafka_t *consumer, const char *topic, int32_t partition) {
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

void jt_partitions_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t *parts, void *opaque) {
        worker_t *w = opaque;

        log_partitions(err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assigned" : "revoked", parts);
        if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
                /* A revoked partition's pending retry belongs to its next owner now, and so
                 * does the message of a task still running: the task runs on (it is
                 * idempotent), but its offset is not stored when it ends. */
                for (int i = 0; i < parts->cnt; i++) {
                        const rd_kafka_topic_partition_t *p = &parts->elems[i];
                        runner_t *r = jt_runners_of(w, p->topic, p->partition);
                        jt_settle_forget(w, p->topic, p->partition);
                        jt_runners_drop_queue(w, p->topic, p->partition);
                        /* Its lag is the next owner's to report: a series left here would
                         * stay at its last value, counted twice by the alerts' sums. */
                        jt_metrics_set_lag(w->env.metrics, p->topic, p->partition, -1);
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
                        runner_t *r = jt_runners_of(w, p->topic, p->partition);
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
void jt_partitions_update_lag(worker_t *w) {
        if (jt_time_mono_ms() - w->last_lag_ms < LAG_EVERY_MS)
                return;
        w->last_lag_ms = jt_time_mono_ms();
        for (int i = 0; i < w->consumer_count; i++)
                update_lag_of(w, w->consumers[i]);
}
