/* Waits of the notifier (Discord's rate limit, retries, another notifier's claim) that keep it
 * in its consumer group: the assigned partitions are paused and the consumer polled, however
 * long the wait (notifier.h). */
#include <inttypes.h>

#include "jt_backoff.h"
#include "jt_log.h"
#include "jt_signal.h"
#include "jt_time.h"
#include "notifier.h"

void jt_wait_pause_at(jt_notifier_t *n, const char *topic, int32_t partition, int64_t offset) {
        rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
        rd_kafka_error_t *error;

        rd_kafka_topic_partition_list_add(one, topic, partition)->offset = offset;
        rd_kafka_pause_partitions(n->consumer, one);
        if ((error = rd_kafka_seek_partitions(n->consumer, one, 5000)) != NULL) {
                jt_log_warn("seek back to offset %" PRId64 " of [%" PRId32 "]: %s", offset,
                            partition, rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        rd_kafka_topic_partition_list_destroy(one);
}

void jt_wait_pause_partition(jt_notifier_t *n, int32_t partition, bool pause) {
        rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);

        rd_kafka_topic_partition_list_add(one, n->topic, partition);
        if (pause)
                rd_kafka_pause_partitions(n->consumer, one);
        else
                rd_kafka_resume_partitions(n->consumer, one);
        rd_kafka_topic_partition_list_destroy(one);
}

/* The group keeps us while we poll, and a message that arrives anyway (a partition assigned
 * during the wait) is put back. */
bool jt_wait_nap(jt_notifier_t *n, int64_t ms) {
        rd_kafka_topic_partition_list_t *paused = NULL;
        int64_t until = jt_time_mono_ms() + ms;

        if (rd_kafka_assignment(n->consumer, &paused) || !paused)
                paused = rd_kafka_topic_partition_list_new(1);
        rd_kafka_pause_partitions(n->consumer, paused);
        while (!jt_signal_stop_requested() && jt_time_mono_ms() < until) {
                int64_t left = until - jt_time_mono_ms();
                jt_metrics_beat(n->metrics); /* a nap polls: the loop is alive */
                rd_kafka_message_t *msg =
                    rd_kafka_consumer_poll(n->consumer, (int)(left < 100 ? left : 100));
                if (!msg)
                        continue;
                if (!msg->err) {
                        jt_wait_pause_at(n, rd_kafka_topic_name(msg->rkt), msg->partition,
                                         msg->offset);
                        rd_kafka_topic_partition_list_add(paused, rd_kafka_topic_name(msg->rkt),
                                                          msg->partition);
                }
                rd_kafka_message_destroy(msg);
        }
        rd_kafka_resume_partitions(n->consumer, paused);
        rd_kafka_topic_partition_list_destroy(paused);
        jt_held_pause_again(n);
        return !jt_signal_stop_requested();
}

/* +-25 % jitter: notifiers do not retry in step. */
int64_t jt_wait_backoff_ms(const jt_notifier_t *n, int attempt) {
        return jt_backoff_ms(n->backoff_base_ms, n->backoff_max_ms, attempt + 1);
}
