/* `joytify-producer replay --dlq`: dead-lettered tasks re-sent to their original topics
 * (replay.h has the command's help and the DLQ group's name). */
#ifndef JT_PRODUCER_REPLAY_DLQ_H
#define JT_PRODUCER_REPLAY_DLQ_H

#include <librdkafka/rdkafka.h>

#include "jt_config.h"
#include "jt_fleet_dlq.h"

/* Runs the DLQ mode for a config checked by jt_replay_run; the exit code as jt_replay_run. */
int jt_replay_dlq_run(const jt_config_t *cfg);

/* Queues a copy of the DLQ message msg to topic: the same key and value bytes, the headers
 * that are not the DLQ's own, and jt-replayed-from = from ("dlq/partition/offset"). */
bool jt_replay_dlq_resend(rd_kafka_t *producer, const rd_kafka_message_t *msg, const char *topic,
                          const char *from, jt_error_t *err);

/* Adds to list the place to commit for topic's partition: offset moved past the marks it
 * reaches, the marks left as the commit's metadata (replay's place, jt_fleet_dlq.h). */
void jt_replay_dlq_place(rd_kafka_topic_partition_list_t *list, const char *topic,
                         int32_t partition, int64_t offset, jt_fleet_dlq_marks_t *marks);

#endif
