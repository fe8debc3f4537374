/* `replay --dlq --list` and `replay --dlq --partition P --offset O [--discard]`: the DLQ decoded
 * without moving anything, and one dead letter re-sent or discarded. Either way the message is
 * recorded in replay's place (its group's commit metadata, jt_fleet_dlq.h) for the group of a
 * full replay and for its job's --filter-job group, so no later replay sends it again. */
#include "replay_dlq_one.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_dlq.h"
#include "jt_fleet_view.h"
#include "jt_kafka_admin.h"
#include "jt_startup.h"
#include "jt_time.h"
#include "replay.h"
#include "replay_dlq.h"
#include "status_text.h"

#define LIST_MAX 5000

int jt_replay_dlq_one_list(const jt_config_t *cfg) {
        jt_kafka_opts_t opts = jt_kafka_opts_from_config(cfg);
        jt_fleet_dlq_query_t q = {.kafka = &opts,
                                  .topic = jt_config_str(cfg, "dlq-topic"),
                                  .replay_group = JT_REPLAY_DLQ_GROUP,
                                  .job = jt_config_str(cfg, "filter-job"),
                                  .stats_topic = jt_config_str(cfg, "stats-topic"),
                                  .cleanup_topic = jt_config_str(cfg, "cleanup-topic"),
                                  .max = LIST_MAX,
                                  .timeout_ms = opts.timeout_ms};
        jt_fleet_dead_letter_t *dead = NULL;
        size_t count = 0, pending = 0;
        int64_t total = 0;
        bool truncated = false;
        jt_error_t err;

        jt_error_clear(&err);
        if (!jt_fleet_dlq_read(&q, &dead, &count, &total, &truncated, &err))
                return jt_startup_fail(cfg, &err);
        for (size_t i = 0; i < count; i++)
                pending += !dead[i].handled;
        if (jt_config_bool(cfg, "json")) {
                json_t *messages = json_array();
                json_t *doc;
                for (size_t i = 0; i < count; i++)
                        json_array_append_new(messages, jt_fleet_view_json_dead_letter(&dead[i]));
                doc = json_pack("{s:s, s:I, s:I, s:b, s:o}", "topic", q.topic, "total",
                                (json_int_t)total, "pending", (json_int_t)pending, "truncated",
                                truncated, "messages", messages);
                json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
                fputc('\n', stdout);
                json_decref(doc);
        } else {
                for (size_t i = 0; i < count; i++)
                        jt_status_text_dead_letter(stdout, &dead[i]);
                printf("DLQ %s: %zu dead letter(s)%s%s, %zu pending; %" PRId64
                       " message(s) in the topic%s\n",
                       q.topic, count, q.job ? " of job " : "", q.job ? q.job : "", pending, total,
                       truncated ? "; the list was cut short (time or count bound)" : "");
        }
        free(dead);
        return JT_EXIT_OK;
}

/* Where a group stands on one DLQ partition: its commit (the log start without one) and the
 * offsets past it handled one by one. */
typedef struct {
        rd_kafka_t *consumer;
        rd_kafka_topic_partition_list_t *list;
        int64_t committed;
        jt_fleet_dlq_marks_t marks;
} place_t;

static bool place_open(place_t *p, const jt_kafka_opts_t *opts, const char *group,
                       const char *topic, int32_t partition, int64_t low, jt_error_t *err) {
        rd_kafka_resp_err_t rc;

        memset(p, 0, sizeof(*p));
        if (!(p->consumer = jt_fleet_dlq_consumer_new(opts, group, err)))
                return false;
        p->list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(p->list, topic, partition);
        rc = rd_kafka_committed(p->consumer, p->list, opts->timeout_ms);
        if (!rc)
                rc = p->list->elems[0].err;
        if (rc)
                return jt_error_set(err, JT_ERR_KAFKA, rc,
                                    "reading the committed offset of group %s on %s [%" PRId32
                                    "]: %s",
                                    group, topic, partition, rd_kafka_err2str(rc));
        p->committed = p->list->elems[0].offset >= low ? p->list->elems[0].offset : low;
        jt_fleet_dlq_marks_parse(p->list->elems[0].metadata, p->list->elems[0].metadata_size,
                                 &p->marks);
        jt_fleet_dlq_marks_advance(&p->marks, &p->committed);
        return true;
}

static bool place_handled(const place_t *p, int64_t offset) {
        return offset < p->committed || jt_fleet_dlq_marks_has(&p->marks, offset);
}

/* Records offset as handled and commits the place. */
static bool place_record(place_t *p, const char *group, int64_t offset, jt_error_t *err) {
        rd_kafka_topic_partition_list_t *commit = rd_kafka_topic_partition_list_new(1);
        const rd_kafka_topic_partition_t *at = &p->list->elems[0];
        rd_kafka_resp_err_t rc = RD_KAFKA_RESP_ERR_NO_ERROR;

        if (!place_handled(p, offset) && !jt_fleet_dlq_marks_add(&p->marks, offset))
                rc = RD_KAFKA_RESP_ERR__FAIL;
        if (!rc) {
                jt_replay_dlq_place(commit, at->topic, at->partition, p->committed, &p->marks);
                rc = rd_kafka_commit(p->consumer, commit, 0);
                if (!rc)
                        rc = commit->elems[0].err;
        }
        rd_kafka_topic_partition_list_destroy(commit);
        if (rc == RD_KAFKA_RESP_ERR__FAIL)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "group %s holds %d dead letters handled one by one past its "
                                    "place on %s [%" PRId32 "] already: run a full replay --dlq "
                                    "first",
                                    group, JT_FLEET_DLQ_MARKS_MAX, at->topic, at->partition);
        if (rc)
                return jt_error_set(err, JT_ERR_KAFKA, rc,
                                    "recording offset %" PRId64 " in group %s: %s", offset, group,
                                    rd_kafka_err2str(rc));
        return true;
}

static void place_close(place_t *p) {
        jt_kafka_destroy(p->consumer);
        if (p->list)
                rd_kafka_topic_partition_list_destroy(p->list);
}

/* Records the message handled for the full replay's group and its job's own group. */
static bool record_both(const jt_kafka_opts_t *opts, const char *topic, int32_t partition,
                        int64_t offset, int64_t low, const char *job, jt_error_t *err) {
        char group[512];
        place_t p;
        bool ok = true;

        for (int i = 0; ok && i < (job[0] ? 2 : 1); i++) {
                if (i == 0)
                        snprintf(group, sizeof(group), "%s", JT_REPLAY_DLQ_GROUP);
                else
                        snprintf(group, sizeof(group), "%s.%s", JT_REPLAY_DLQ_GROUP, job);
                ok = place_open(&p, opts, group, topic, partition, low, err) &&
                     place_record(&p, group, offset, err);
                place_close(&p);
                if (ok)
                        printf("recorded as handled for group %s\n", group);
        }
        return ok;
}

/* The message at partition/offset of topic, polled within timeout_ms (the caller destroys it);
 * NULL with err when there is none. */
static rd_kafka_message_t *fetch_one(rd_kafka_t *consumer, const char *topic, int32_t partition,
                                     int64_t offset, int timeout_ms, jt_error_t *err) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        int64_t until = jt_time_mono_ms() + timeout_ms;
        rd_kafka_message_t *msg = NULL;
        rd_kafka_resp_err_t rc;

        rd_kafka_topic_partition_list_add(list, topic, partition)->offset = offset;
        rc = rd_kafka_assign(consumer, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (rc) {
                jt_error_set(err, JT_ERR_KAFKA, rc, "reading %s: %s", topic, rd_kafka_err2str(rc));
                return NULL;
        }
        while (jt_time_mono_ms() < until) {
                if (!(msg = rd_kafka_consumer_poll(consumer, 100)))
                        continue;
                if (!msg->err && msg->partition == partition && msg->offset >= offset)
                        break;
                rd_kafka_message_destroy(msg);
                msg = NULL;
        }
        if (!msg)
                jt_error_set(err, JT_ERR_KAFKA, RD_KAFKA_RESP_ERR__TIMED_OUT,
                             "reading %s [%" PRId32 "] offset %" PRId64 ": nothing within %d s",
                             topic, partition, offset, timeout_ms / 1000);
        else if (msg->offset != offset) {
                jt_error_set(err, JT_ERR_CONFIG, 0,
                             "%s [%" PRId32 "] holds no message at offset %" PRId64
                             " (the next one is at %" PRId64 ")",
                             topic, partition, offset, msg->offset);
                rd_kafka_message_destroy(msg);
                msg = NULL;
        }
        return msg;
}

/* The original topic of d when a copy can go there; else false with the reason. */
static bool target_ok(const struct rd_kafka_metadata *md, const char *dlq,
                      const jt_fleet_dead_letter_t *d, jt_error_t *err) {
        if (!d->orig_topic[0])
                return jt_error_set(err, JT_ERR_INPUT, 0, "the dead letter has no %s header",
                                    JT_DLQ_HDR_TOPIC);
        if (strcmp(d->orig_topic, dlq) == 0)
                return jt_error_set(err, JT_ERR_INPUT, 0, "%s names the DLQ itself",
                                    JT_DLQ_HDR_TOPIC);
        if (!jt_kafka_admin_topic_find(md, d->orig_topic))
                return jt_error_set(err, JT_ERR_INPUT, 0, "original topic %s does not exist",
                                    d->orig_topic);
        return true;
}

/* Re-sends msg to its original topic and waits until the copy is delivered. */
static bool resend_one(const jt_kafka_opts_t *opts, const rd_kafka_message_t *msg,
                       const char *topic, const char *dlq, jt_error_t *err) {
        rd_kafka_t *producer = jt_kafka_producer_new(opts, err);
        char from[512];
        bool ok;

        if (!producer)
                return false;
        snprintf(from, sizeof(from), "%s/%" PRId32 "/%" PRId64, dlq, msg->partition, msg->offset);
        ok = jt_replay_dlq_resend(producer, msg, topic, from, err) &&
             jt_kafka_flush(producer, opts->timeout_ms, err);
        jt_kafka_destroy(producer);
        return ok;
}

/* The message's partition bounds; a partition or offset the DLQ does not hold is bad input. */
static bool one_bounds(rd_kafka_t *rk, const jt_kafka_opts_t *opts, const char *dlq,
                       int32_t partition, int64_t offset, const struct rd_kafka_metadata **md,
                       int64_t *low, jt_error_t *err) {
        int64_t high;

        if (!jt_kafka_admin_topics(rk, opts, md, err))
                return false;
        if (!jt_kafka_admin_topic_find(*md, dlq))
                return jt_error_set(err, JT_ERR_CONFIG, 0, "the DLQ %s does not exist", dlq);
        if (!jt_kafka_admin_watermarks(rk, dlq, partition, opts->timeout_ms, low, &high, err))
                return jt_error_prefix(err, "--partition %" PRId32, partition);
        if (offset < *low || offset >= high)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "%s [%" PRId32 "] holds offsets %" PRId64 "..%" PRId64
                                    " (got --offset %" PRId64 ")",
                                    dlq, partition, *low, high - 1, offset);
        return true;
}

/* What the one-message run decided: the exit code, or -1 to go on and act. */
static int one_decide(const jt_config_t *cfg, const place_t *main_place, int64_t offset,
                      bool discard, jt_error_t *err) {
        if (place_handled(main_place, offset) && !jt_config_bool(cfg, "force")) {
                printf("already handled (replayed or discarded) for group %s: nothing done "
                       "(--force does it again)\n",
                       JT_REPLAY_DLQ_GROUP);
                return JT_EXIT_OK;
        }
        if (!place_handled(main_place, offset) &&
            main_place->marks.count == JT_FLEET_DLQ_MARKS_MAX) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "group %s holds %d dead letters handled one by one already: run a "
                             "full replay --dlq first",
                             JT_REPLAY_DLQ_GROUP, JT_FLEET_DLQ_MARKS_MAX);
                return JT_EXIT_FAILURE;
        }
        if (jt_config_bool(cfg, "dry-run")) {
                printf("dry run: would %s it; nothing sent, nothing recorded\n",
                       discard ? "discard" : "re-send");
                return JT_EXIT_OK;
        }
        return -1;
}

int jt_replay_dlq_one_run(const jt_config_t *cfg) {
        jt_kafka_opts_t opts = jt_kafka_opts_from_config(cfg);
        const char *dlq = jt_config_str(cfg, "dlq-topic");
        int32_t partition = (int32_t)jt_config_int(cfg, "partition");
        bool discard = jt_config_bool(cfg, "discard");
        jt_fleet_dlq_query_t q = {.stats_topic = jt_config_str(cfg, "stats-topic"),
                                  .cleanup_topic = jt_config_str(cfg, "cleanup-topic")};
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_message_t *msg = NULL;
        rd_kafka_t *reader = NULL;
        place_t main_place = {0};
        jt_fleet_dead_letter_t d;
        int64_t offset = -1, low = 0;
        jt_error_t err;
        int rc = JT_EXIT_FAILURE;

        jt_error_clear(&err);
        if (!jt_replay_dlq_one_offset(jt_config_str(cfg, "offset"), &offset, &err) ||
            !(reader = jt_fleet_dlq_consumer_new(&opts, JT_REPLAY_DLQ_ONE_GROUP, &err)) ||
            !one_bounds(reader, &opts, dlq, partition, offset, &md, &low, &err) ||
            !(msg = fetch_one(reader, dlq, partition, offset, opts.timeout_ms, &err)) ||
            !place_open(&main_place, &opts, JT_REPLAY_DLQ_GROUP, dlq, partition, low, &err))
                goto done;
        jt_fleet_dlq_decode(msg, &q, &d);
        jt_status_text_dead_letter(stdout, &d);
        if ((rc = one_decide(cfg, &main_place, offset, discard, &err)) >= 0)
                goto done;
        rc = JT_EXIT_FAILURE;
        if (!discard &&
            (!target_ok(md, dlq, &d, &err) || !resend_one(&opts, msg, d.orig_topic, dlq, &err)))
                goto done;
        printf(discard ? "discarded %s [%" PRId32 "] offset %" PRId64 ": not re-sent\n"
                       : "re-sent %s [%" PRId32 "] offset %" PRId64 "\n",
               dlq, partition, offset);
        if (record_both(&opts, dlq, partition, offset, low, d.job, &err))
                rc = JT_EXIT_OK;
done:
        fflush(stdout);
        if (err.domain == JT_ERR_INPUT) {
                /* The message itself cannot go anywhere: nothing was sent or recorded. */
                fprintf(stderr, "%s: %s\n", jt_config_command_line_name(cfg), err.message);
                rc = JT_EXIT_FAILURE;
        } else if (err.domain != JT_ERR_NONE) {
                rc = jt_startup_fail(cfg, &err);
        }
        place_close(&main_place);
        if (msg)
                rd_kafka_message_destroy(msg);
        if (md)
                rd_kafka_metadata_destroy(md);
        jt_kafka_destroy(reader);
        return rc;
}

bool jt_replay_dlq_one_offset(const char *text, int64_t *offset, jt_error_t *err) {
        char *end;
        long long v;

        errno = 0;
        v = text ? strtoll(text, &end, 10) : -1;
        if (!text || errno || end == text || *end || v < 0)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--offset must be a DLQ offset, 0 or more (got \"%s\")",
                                    text ? text : "");
        *offset = v;
        return true;
}
