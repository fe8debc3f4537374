/* `joytify-loadtest roundtrip`: proves the path every task takes (Avro single-object encoding,
 * the real broker, a consumer, decoding, schema resolution) and times it. The consumer is
 * assigned the partitions at their end offsets read before sending, so it reads exactly the
 * messages of this run, however many runs came before. */
#include "roundtrip.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt_messages.h"
#include "jt_kafka.h"
#include "jt_kafka_admin.h"
#include "jt_log.h"
#include "jt_options.h"
#include "jt_startup.h"
#include "jt_time.h"

static const jt_opt_t roundtrip_opts[] = {
    {"count", 'c', JT_OPT_INT, "10", 1, 1000000, NULL, false, "N", "tasks to send and read back"},
    {"topic", 0, JT_OPT_STRING, "joytify.roundtrip", 0, 0, NULL, false, "TOPIC",
     "scratch topic (never a task topic: workers would take the tasks)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

const jt_opt_t *const jt_roundtrip_tables[] = {roundtrip_opts, jt_opts_kafka, jt_opts_log, NULL};

#define ROUNDTRIP_PARTITIONS 3

static bool tasks_equal(const jt_stats_task_t *a, const jt_stats_task_t *b) {
        return strcmp(a->job_id, b->job_id) == 0 && strcmp(a->task_id, b->task_id) == 0 &&
               a->kind == b->kind && a->shard == b->shard && a->shard_count == b->shard_count &&
               strcmp(a->month, b->month) == 0 && a->test_mode == b->test_mode &&
               !a->run_id == !b->run_id && (!a->run_id || strcmp(a->run_id, b->run_id) == 0) &&
               a->created_at_ms == b->created_at_ms;
}

/* Assigns every partition of topic to the consumer at its current end offset. */
static bool assign_at_end(rd_kafka_t *consumer, const char *topic, int timeout_ms,
                          jt_error_t *err) {
        rd_kafka_topic_partition_list_t *parts =
            rd_kafka_topic_partition_list_new(ROUNDTRIP_PARTITIONS);
        rd_kafka_resp_err_t rc = RD_KAFKA_RESP_ERR_NO_ERROR;

        int64_t deadline = jt_time_mono_ms() + timeout_ms;

        for (int32_t p = 0; p < ROUNDTRIP_PARTITIONS && !rc; p++) {
                int64_t low = 0, high = 0;
                /* A topic just created (or a broker just started) has partitions without a
                 * leader for a moment: those answers are retried until the deadline. */
                do {
                        rc = rd_kafka_query_watermark_offsets(consumer, topic, p, &low, &high,
                                                              timeout_ms);
                        if (rc == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                            rc == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                            rc == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                                usleep(100 * 1000);
                        else
                                break;
                } while (jt_time_mono_ms() < deadline);
                rd_kafka_topic_partition_list_add(parts, topic, p)->offset = high;
        }
        if (!rc)
                rc = rd_kafka_assign(consumer, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        if (rc)
                return jt_error_set(err, JT_ERR_KAFKA, rc, "reading the end offsets of %s: %s",
                                    topic, rd_kafka_err2str(rc));
        return true;
}

/* One run: the tasks sent and which of them came back. */
typedef struct {
        jt_avro_registry_t *reg;
        rd_kafka_t *producer, *consumer;
        const char *topic;
        char job_id[64];
        int count, matched, mismatched;
        jt_stats_task_t *sent;
        bool *seen;
        size_t bytes;
} roundtrip_t;

/* Encodes and sends the run's tasks, created at created_ms, and flushes; false after logging
 * why. */
static bool send_tasks(roundtrip_t *r, int64_t created_ms, int timeout_ms) {
        jt_error_t err;

        jt_error_clear(&err);
        for (int i = 0; i < r->count; i++) {
                char task_id[96];
                void *buf = NULL;
                size_t len = 0;

                snprintf(task_id, sizeof(task_id), "%s/%04d", r->job_id, i);
                r->sent[i] = (jt_stats_task_t){.job_id = strdup(r->job_id),
                                               .task_id = strdup(task_id),
                                               .kind = JT_STATS_TASK_SHARD,
                                               .shard = i,
                                               .shard_count = r->count,
                                               .month = strdup("2026-10"),
                                               .created_at_ms = created_ms};
                if (!jt_stats_task_encode(r->reg, &r->sent[i], &buf, &len, &err) ||
                    !jt_kafka_send(r->producer, r->topic, task_id, strlen(task_id), buf, len, NULL,
                                   &err)) {
                        free(buf);
                        jt_log_error("task %s: %s", task_id, err.message);
                        return false;
                }
                r->bytes += len;
                free(buf);
        }
        if (!jt_kafka_flush(r->producer, timeout_ms, &err)) {
                jt_log_error("%s", err.message);
                return false;
        }
        return true;
}

/* One message read back: a task of this run seen for the first time is matched or not. */
static void check_message(roundtrip_t *r, const rd_kafka_message_t *msg) {
        jt_stats_task_t got = {0};
        jt_error_t err;

        if (!jt_stats_task_decode(r->reg, msg->payload, msg->len, &got, &err)) {
                jt_log_error("partition %d offset %" PRId64 ": %s", msg->partition, msg->offset,
                             err.message);
                r->mismatched++;
        } else if (strcmp(got.job_id, r->job_id) == 0 && got.shard >= 0 && got.shard < r->count &&
                   !r->seen[got.shard]) {
                r->seen[got.shard] = true;
                if (tasks_equal(&got, &r->sent[got.shard])) {
                        r->matched++;
                } else {
                        jt_log_error("task %s came back different", got.task_id);
                        r->mismatched++;
                }
        }
        jt_stats_task_clear(&got);
}

/* Reads until every task came back or timeout_ms passed. */
static void read_back(roundtrip_t *r, int timeout_ms) {
        int64_t start = jt_time_mono_ms();

        while (r->matched + r->mismatched < r->count && jt_time_mono_ms() - start < timeout_ms) {
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(r->consumer, 100);

                if (!msg)
                        continue;
                if (!msg->err)
                        check_message(r, msg);
                rd_kafka_message_destroy(msg);
        }
}

/* Creates the scratch topic if needed and assigns a fresh consumer at its end. */
static bool connect_run(const jt_config_t *cfg, const jt_kafka_opts_t *opts, roundtrip_t *r,
                        jt_error_t *err) {
        char group[96];

        snprintf(group, sizeof(group), "joytify-%s", r->job_id);
        return (r->reg = jt_avro_registry_new(err)) &&
               (r->producer = jt_kafka_producer_new(opts, err)) &&
               jt_kafka_admin_check_reachable(r->producer, opts, err) &&
               jt_kafka_admin_ensure_topics(r->producer, &r->topic, 1, ROUNDTRIP_PARTITIONS,
                                            (int)jt_config_int(cfg, "replication-factor"),
                                            opts->timeout_ms, err) &&
               (r->consumer = jt_kafka_consumer_new(opts, group, err)) &&
               assign_at_end(r->consumer, r->topic, opts->timeout_ms, err);
}

int jt_roundtrip_run(const jt_config_t *cfg) {
        jt_kafka_opts_t opts = jt_kafka_opts_from_config(cfg);
        roundtrip_t r = {.topic = jt_config_str(cfg, "topic"),
                         .count = (int)jt_config_int(cfg, "count")};
        jt_error_t err;
        int rc = JT_EXIT_FAILURE;
        int64_t t0, t_sent, t_read;

        jt_error_clear(&err);
        if (!jt_options_apply_log(cfg, "loadtest", &err))
                return jt_startup_fail(cfg, &err);
        snprintf(r.job_id, sizeof(r.job_id), "roundtrip-%" PRId64 "-%d", jt_time_wall_ms(),
                 (int)getpid());
        if (!connect_run(cfg, &opts, &r, &err)) {
                rc = jt_startup_fail(cfg, &err);
                goto done;
        }
        r.sent = calloc((size_t)r.count, sizeof(*r.sent));
        r.seen = calloc((size_t)r.count, sizeof(*r.seen));
        if (!r.sent || !r.seen) {
                jt_log_error("out of memory for %d tasks", r.count);
                goto done;
        }
        t0 = jt_time_mono_ms();
        if (!send_tasks(&r, jt_time_wall_ms(), opts.timeout_ms))
                goto done;
        t_sent = jt_time_mono_ms();
        read_back(&r, opts.timeout_ms);
        t_read = jt_time_mono_ms();

        printf("sent %d Avro stats tasks (%zu bytes, %.0f bytes each) to %s in %" PRId64 " ms\n",
               r.count, r.bytes, (double)r.bytes / r.count, r.topic, t_sent - t0);
        printf("read back %d of %d, decoded and equal field by field, in %" PRId64 " ms\n",
               r.matched, r.count, t_read - t_sent);
        if (r.matched == r.count && r.mismatched == 0)
                rc = JT_EXIT_OK;
        else
                fprintf(stderr, "%s: %d missing, %d different or undecodable\n",
                        jt_config_command_line_name(cfg), r.count - r.matched - r.mismatched,
                        r.mismatched);
done:
        for (int i = 0; r.sent && i < r.count; i++)
                jt_stats_task_clear(&r.sent[i]);
        free(r.sent);
        free(r.seen);
        jt_kafka_destroy(r.consumer);
        jt_kafka_destroy(r.producer);
        jt_avro_registry_destroy(r.reg);
        return rc;
}
