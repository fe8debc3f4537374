/* Questions to the Kafka cluster and changes of its state: reachability, topics and their
 * partitions, log offsets, consumer groups with their members and committed offsets. Asked
 * through metadata and the Admin API of a client made by jt_kafka (any type). */
#ifndef JT_KAFKA_ADMIN_H
#define JT_KAFKA_ADMIN_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"
#include "jt_kafka.h"

/* Asks the cluster for metadata within opts->timeout_ms; the error names the address. */
bool jt_kafka_admin_check_reachable(rd_kafka_t *rk, const jt_kafka_opts_t *opts, jt_error_t *err);

/* The metadata of every topic within opts->timeout_ms (the caller destroys it with
 * rd_kafka_metadata_destroy; NULL on failure, the error as jt_kafka_admin_check_reachable).
 * Asking for one topic by name could make a broker with auto.create.topics.enable create it,
 * and a typo must not create a topic. */
bool jt_kafka_admin_topics(rd_kafka_t *rk, const jt_kafka_opts_t *opts,
                           const struct rd_kafka_metadata **md, jt_error_t *err);

/* topic's entry in md when the brokers list it without an error, else NULL. */
const rd_kafka_metadata_topic_t *jt_kafka_admin_topic_find(const struct rd_kafka_metadata *md,
                                                           const char *topic);

/* The partition ids of topic in md, sorted (*ids the caller's to free). A missing topic is a
 * JT_ERR_CONFIG error naming it and brokers. */
bool jt_kafka_admin_topic_partition_ids(const struct rd_kafka_metadata *md, const char *topic,
                                        const char *brokers, int32_t **ids, int *count,
                                        jt_error_t *err);

/* What a topic should be when a program creates it. min_insync_replicas 0 and retention_ms 0:
 * the broker's default. */
typedef struct {
        const char *name;
        int partitions;
        int replication_factor;
        int min_insync_replicas;
        int64_t retention_ms; /* -1: forever */
} jt_kafka_admin_topic_spec_t;

/* Lists the topics (metadata: no right to create needed) and creates only the missing ones,
 * with their spec's partitions, replication and configs, then waits until the brokers list
 * them. An existing topic is never altered: a setting that differs from its spec is logged as
 * a warning naming it. A refused creation is an error naming the topic and the kafka-topics.sh
 * command that creates it. */
bool jt_kafka_admin_ensure_topic_specs(rd_kafka_t *rk, const jt_kafka_admin_topic_spec_t *specs,
                                       size_t count, int timeout_ms, jt_error_t *err);

/* jt_kafka_admin_ensure_topic_specs with the brokers' default configs. */
bool jt_kafka_admin_ensure_topics(rd_kafka_t *rk, const char *const *topics, size_t count,
                                  int partitions, int replication_factor, int timeout_ms,
                                  jt_error_t *err);

/* For programs that only read: checks every topic of specs exists and creates none. A missing
 * one is a transient JT_ERR_KAFKA error (it appears once a producing program made it) naming
 * it and the command that creates it. */
bool jt_kafka_admin_require_topics(rd_kafka_t *rk, const jt_kafka_admin_topic_spec_t *specs,
                                   size_t count, int timeout_ms, jt_error_t *err);

/* The value of topic's setting name (e.g. "retention.ms") as the brokers describe it
 * (DescribeConfigs: the topic's own or the default it inherits). */
bool jt_kafka_admin_topic_config(rd_kafka_t *rk, const char *topic, const char *name, char *value,
                                 size_t size, int timeout_ms, jt_error_t *err);

/* The kafka-topics.sh command line that creates spec's topic (brokers as
 * "$JT_KAFKA_BROKERS"), for messages that tell an operator what to run. */
void jt_kafka_admin_create_command(const jt_kafka_admin_topic_spec_t *spec, char *buf, size_t size);

/* The topic's partition count from the brokers' metadata (bounded by timeout_ms): what an even
 * placement of tasks spreads them over. An unknown topic is a JT_ERR_KAFKA error naming it. */
bool jt_kafka_admin_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
                                    int32_t *partitions, jt_error_t *err);

/* The log start (*low) and log end (*high) offsets of one partition. */
bool jt_kafka_admin_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                               int64_t *low, int64_t *high, jt_error_t *err);

/* Replaces each offset of parts (all of topic), a time in ms, by the first offset at or after
 * it (negative: no message that recent); a partition's error fails the call, naming the time
 * as `when`. */
bool jt_kafka_admin_offsets_for_time(rd_kafka_t *rk, const char *topic,
                                     rd_kafka_topic_partition_list_t *parts, const char *when,
                                     int timeout_ms, jt_error_t *err);

/* A consumer group as the coordinator describes it. */
typedef struct {
        rd_kafka_consumer_group_state_t state; /* UNKNOWN for a group that does not exist */
        size_t members;
        char who[256]; /* "client-id@host, ..." of the first members, for messages */
} jt_kafka_admin_group_t;

/* Describes group (a group that does not exist has no member and state UNKNOWN). */
bool jt_kafka_admin_group_describe(rd_kafka_t *rk, const char *group, int timeout_ms,
                                   jt_kafka_admin_group_t *g, jt_error_t *err);

/* One member of a group: who it is and what it was assigned. */
typedef struct {
        char client_id[160];
        char host[160];
        char member_id[256];
        char partitions[512]; /* "topic[0,3,5] topic2[1]" ("" when none) */
} jt_kafka_admin_member_t;

/* Describes group as jt_kafka_admin_group_describe, and its members into *members (the caller
 * frees it; NULL with *count 0 when none). */
bool jt_kafka_admin_group_members(rd_kafka_t *rk, const char *group, int timeout_ms,
                                  jt_kafka_admin_group_t *g, jt_kafka_admin_member_t **members,
                                  size_t *count, jt_error_t *err);

/* Whether the group has members or is rebalancing: Kafka then refuses to move its offsets. */
bool jt_kafka_admin_group_active(const jt_kafka_admin_group_t *g);

/* The group's committed offsets on parts, written into parts' offsets
 * (RD_KAFKA_OFFSET_INVALID: no commit) with each commit's metadata (freed with parts). */
bool jt_kafka_admin_group_offsets(rd_kafka_t *rk, const char *group,
                                  rd_kafka_topic_partition_list_t *parts, int timeout_ms,
                                  jt_error_t *err);

/* Commits parts' offsets for the group. False only when the call itself failed; a refusal by
 * the broker is per partition in parts' err (the whole request refused: every partition's). */
bool jt_kafka_admin_group_alter_offsets(rd_kafka_t *rk, const char *group,
                                        rd_kafka_topic_partition_list_t *parts, int timeout_ms,
                                        jt_error_t *err);

#endif
