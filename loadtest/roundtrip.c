/* `joytify-loadtest roundtrip`: proves the path every task takes (Avro single-object encoding,
 * the real broker, a consumer, decoding, schema resolution) and times it. The consumer is
 * assigned the partitions at their end offsets read before sending, so it reads exactly the
 * messages of this run, however many runs came before. */
#include "roundtrip.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jt_avro.h"
#include "jt_kafka.h"
#include "jt_kafka_admin.h"
#include "jt_log.h"
#include "jt_options.h"
#include "jt_startup.h"

static const jt_opt_t roundtrip_opts[] = {
    {"count", 'c', JT_OPT_INT, "10", 1, 1000000, NULL, false, "N", "tasks to send and read back"},
    {"topic", 0, JT_OPT_STRING, "joytify.roundtrip", 0, 0, NULL, false, "TOPIC",
     "scratch topic (never a task topic: workers would take the tasks)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

const jt_opt_t *const jt_roundtrip_tables[] = {roundtrip_opts, jt_opts_kafka, jt_opts_log, NULL};

#define ROUNDTRIP_PARTITIONS 3

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

        int64_t deadline = now_ms() + timeout_ms;

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
                } while (now_ms() < deadline);
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

int jt_roundtrip_run(const jt_config_t *cfg) {
        jt_kafka_opts_t opts = jt_kafka_opts_from_config(cfg);
        const char *topic = jt_config_str(cfg, "topic");
        int count = (int)jt_config_int(cfg, "count");
        jt_avro_registry_t *reg = NULL;
        rd_kafka_t *producer = NULL, *consumer = NULL;
        jt_stats_task_t *sent = NULL;
        bool *seen = NULL;
        char job_id[64], group[96];
        jt_error_t err;
        int rc = JT_EXIT_FAILURE, matched = 0, mismatched = 0;
        size_t bytes = 0;
        int64_t t0, t_sent, t_read;

        jt_error_clear(&err);
        if (!jt_options_apply_log(cfg, "loadtest", &err))
                return jt_startup_fail(cfg, &err);
        snprintf(job_id, sizeof(job_id), "roundtrip-%" PRId64 "-%d", now_ms(), (int)getpid());
        snprintf(group, sizeof(group), "joytify-%s", job_id);
        if (!(reg = jt_avro_registry_new(&err)) ||
            !(producer = jt_kafka_producer_new(&opts, &err)) ||
            !jt_kafka_admin_check_reachable(producer, &opts, &err) ||
            !jt_kafka_admin_ensure_topics(producer, &topic, 1, ROUNDTRIP_PARTITIONS,
                                          (int)jt_config_int(cfg, "replication-factor"),
                                          opts.timeout_ms, &err) ||
            !(consumer = jt_kafka_consumer_new(&opts, group, &err)) ||
            !assign_at_end(consumer, topic, opts.timeout_ms, &err)) {
                rc = jt_startup_fail(cfg, &err);
                goto done;
        }

        sent = calloc((size_t)count, sizeof(*sent));
        seen = calloc((size_t)count, sizeof(*seen));
        t0 = now_ms();
        for (int i = 0; i < count; i++) {
                char task_id[96];
                void *buf = NULL;
                size_t len = 0;

                snprintf(task_id, sizeof(task_id), "%s/%04d", job_id, i);
                sent[i] = (jt_stats_task_t){.job_id = strdup(job_id),
                                            .task_id = strdup(task_id),
                                            .kind = JT_STATS_TASK_SHARD,
                                            .shard = i,
                                            .shard_count = count,
                                            .month = strdup("2026-10"),
                                            .created_at_ms = t0};
                if (!jt_stats_task_encode(reg, &sent[i], &buf, &len, &err) ||
                    !jt_kafka_send(producer, topic, task_id, strlen(task_id), buf, len, NULL,
                                   &err)) {
                        free(buf);
                        jt_log_error("task %s: %s", task_id, err.message);
                        goto done;
                }
                bytes += len;
                free(buf);
        }
        if (!jt_kafka_flush(producer, opts.timeout_ms, &err)) {
                jt_log_error("%s", err.message);
                goto done;
        }
        t_sent = now_ms();

        while (matched + mismatched < count && now_ms() - t_sent < opts.timeout_ms) {
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(consumer, 100);
                jt_stats_task_t got = {0};

                if (!msg)
                        continue;
                if (msg->err) {
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                if (!jt_stats_task_decode(reg, msg->payload, msg->len, &got, &err)) {
                        jt_log_error("partition %d offset %" PRId64 ": %s", msg->partition,
                                     msg->offset, err.message);
                        mismatched++;
                } else if (strcmp(got.job_id, job_id) == 0 && got.shard >= 0 && got.shard < count &&
                           !seen[got.shard]) {
                        seen[got.shard] = true;
                        if (tasks_equal(&got, &sent[got.shard])) {
                                matched++;
                        } else {
                                jt_log_error("task %s came back different", got.task_id);
                                mismatched++;
                        }
                }
                jt_stats_task_clear(&got);
                rd_kafka_message_destroy(msg);
        }
        t_read = now_ms();

        printf("sent %d Avro stats tasks (%zu bytes, %.0f bytes each) to %s in %" PRId64 " ms\n",
               count, bytes, (double)bytes / count, topic, t_sent - t0);
        printf("read back %d of %d, decoded and equal field by field, in %" PRId64 " ms\n", matched,
               count, t_read - t_sent);
        if (matched == count && mismatched == 0)
                rc = JT_EXIT_OK;
        else
                fprintf(stderr, "%s: %d missing, %d different or undecodable\n",
                        jt_config_command_line_name(cfg), count - matched - mismatched, mismatched);
done:
        for (int i = 0; sent && i < count; i++)
                jt_stats_task_clear(&sent[i]);
        free(sent);
        free(seen);
        jt_kafka_destroy(consumer);
        jt_kafka_destroy(producer);
        jt_avro_registry_destroy(reg);
        return rc;
}
