/* `joytify-producer replay --dlq`: re-sends the dead-lettered tasks of a DLQ to their original
 * topics with the same key and value bytes, at least once: a consumer group keeps how far the
 * runs got, committed only after the copies are delivered. */
#include "replay_dlq.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "jt_dlq.h"
#include "jt_fleet_dlq.h"
#include "jt_kafka.h"
#include "jt_kafka_admin.h"
#include "jt_log.h"
#include "jt_startup.h"
#include "jt_time.h"
#include "replay.h"

/* One DLQ partition: read from start up to (not including) end, the log end seen at start. */
typedef struct {
        int32_t partition;
        int64_t start;
        int64_t end;
        int64_t next; /* offset after the last message handled */
        bool done;
        jt_fleet_dlq_marks_t marks; /* handled one by one past start (jt_fleet_dlq.h) */
} dlq_part_t;

typedef struct {
        const char *topic; /* the DLQ */
        const char *job;   /* --filter-job, or NULL */
        bool dry_run;
        const struct rd_kafka_metadata *md; /* every topic, to check original topics exist */
        dlq_part_t *parts;
        int count;
        int resent, skipped, filtered, marked;
        char group[512];      /* the consumer group that keeps the run's place */
        rd_kafka_t *producer; /* re-sends */
        rd_kafka_t *consumer; /* reads the DLQ by assignment, commits in run->group */
} dlq_run_t;

/* Prints bytes from a topic as text, escaping anything that could garble the terminal. */
static void print_bytes(FILE *out, const void *data, size_t len) {
        const unsigned char *p = data;
        size_t shown = len < 200 ? len : 200;

        if (!data) {
                fputs("(null)", out);
                return;
        }
        fputc('"', out);
        for (size_t i = 0; i < shown; i++) {
                if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
                        fputc(p[i], out);
                else
                        fprintf(out, "\\x%02x", p[i]);
        }
        fputc('"', out);
        if (len > shown)
                fprintf(out, "...(%zu bytes)", len);
}

/* Keys are "job_id/...": the job is the part before the first '/'. */
static bool key_has_job(const rd_kafka_message_t *msg, const char *job) {
        const char *key = msg->key;
        const char *slash = key ? memchr(key, '/', msg->key_len) : NULL;
        size_t len = slash ? (size_t)(slash - key) : msg->key_len;

        return key && len == strlen(job) && memcmp(key, job, len) == 0;
}

/* Sends a copy of the DLQ message to topic: the same key and value bytes, the headers that are
 * not the DLQ's own, and jt-replayed-from. */
bool jt_replay_dlq_resend(rd_kafka_t *producer, const rd_kafka_message_t *msg, const char *topic,
                          const char *from, jt_error_t *err) {
        rd_kafka_headers_t *in = NULL;
        rd_kafka_headers_t *out = rd_kafka_headers_new(8);
        const char *name;
        const void *value;
        size_t size;

        if (rd_kafka_message_headers(msg, &in) == RD_KAFKA_RESP_ERR_NO_ERROR)
                for (size_t i = 0; rd_kafka_header_get_all(in, i, &name, &value, &size) ==
                                   RD_KAFKA_RESP_ERR_NO_ERROR;
                     i++)
                        if (!jt_dlq_header_is_contract(name) &&
                            strcmp(name, JT_DLQ_HDR_REPLAYED_FROM) != 0)
                                rd_kafka_header_add(out, name, -1, value, (ssize_t)size);
        rd_kafka_header_add(out, JT_DLQ_HDR_REPLAYED_FROM, -1, from, -1);
        if (!jt_kafka_send(producer, topic, msg->key, msg->key_len, msg->payload, msg->len, out,
                           err)) {
                rd_kafka_headers_destroy(out);
                return false;
        }
        return true;
}

/* Handles one DLQ message: filter, check, print, re-send. False only when sending failed,
 * which stops the read there: what was handled before it is still committed once delivered. */
static bool dlq_handle(dlq_run_t *run, const rd_kafka_message_t *msg, jt_error_t *err) {
        char topic[256], error[512], from[512], why[JT_ERROR_MSG_MAX], shown[2048];
        int64_t attempts = 0;
        jt_error_t herr;

        if (run->job && !key_has_job(msg, run->job)) {
                run->filtered++;
                return true;
        }
        snprintf(from, sizeof(from), "%s/%" PRId32 "/%" PRId64, run->topic, msg->partition,
                 msg->offset);
        jt_error_clear(&herr);
        why[0] = '\0';
        if (!jt_dlq_header_str(msg, JT_DLQ_HDR_TOPIC, topic, sizeof(topic), &herr))
                snprintf(why, sizeof(why), "%s", herr.message);
        else if (strcmp(topic, run->topic) == 0)
                snprintf(why, sizeof(why), "%s names the DLQ itself", JT_DLQ_HDR_TOPIC);
        else if (!jt_kafka_admin_topic_find(run->md, topic))
                snprintf(why, sizeof(why), "original topic %s does not exist", topic);
        if (why[0]) {
                /* Nothing to send it to: report it and move on, so one bad message never
                 * blocks the rest of the DLQ. */
                printf("skip     %s  key=", from);
                print_bytes(stdout, msg->key, msg->key_len);
                printf("  (%s)\n", jt_log_escape(why, shown, sizeof(shown)));
                run->skipped++;
                return true;
        }
        if (!jt_dlq_header_str(msg, JT_DLQ_HDR_ERROR, error, sizeof(error), &herr))
                snprintf(error, sizeof(error), "(%s)", herr.message);
        printf("%s  %s  key=", run->dry_run ? "would re-send" : "re-send", from);
        print_bytes(stdout, msg->key, msg->key_len);
        /* Header values are any producer's bytes: escaped for the terminal (jt_log.h). */
        printf("  -> %s", jt_log_escape(topic, shown, sizeof(shown)));
        printf("  error=\"%s\"", jt_log_escape(error, shown, sizeof(shown)));
        if (jt_dlq_header_int(msg, JT_DLQ_HDR_ATTEMPTS, &attempts, &herr))
                printf("  attempts=%" PRId64, attempts);
        printf("\n");
        if (!run->dry_run && !jt_replay_dlq_resend(run->producer, msg, topic, from, err))
                return false;
        run->resent++;
        return true;
}

static dlq_part_t *dlq_find(dlq_run_t *run, int32_t partition) {
        for (int i = 0; i < run->count; i++)
                if (run->parts[i].partition == partition)
                        return &run->parts[i];
        return NULL;
}

/* Reads every assigned partition up to the end seen at start. A partition that stops
 * delivering for timeout_ms ends the read with an error; what was handled until then still
 * counts (and is committed by the caller once delivered). */
static bool dlq_read(dlq_run_t *run, int timeout_ms, jt_error_t *err) {
        int pending = 0;
        int64_t last_progress = jt_time_mono_ms();

        for (int i = 0; i < run->count; i++)
                if (!run->parts[i].done)
                        pending++;
        while (pending > 0) {
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(run->consumer, 100);
                dlq_part_t *part;

                if (!msg) {
                        if (jt_time_mono_ms() - last_progress <= timeout_ms)
                                continue;
                        for (int i = 0; i < run->count; i++)
                                if (!run->parts[i].done)
                                        return jt_error_set(
                                            err, JT_ERR_KAFKA, RD_KAFKA_RESP_ERR__TIMED_OUT,
                                            "reading %s [%" PRId32 "] stalled at offset %" PRId64
                                            " before its end %" PRId64 ": nothing arrived for %d s",
                                            run->topic, run->parts[i].partition, run->parts[i].next,
                                            run->parts[i].end, timeout_ms / 1000);
                        break;
                }
                part = dlq_find(run, msg->partition);
                if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (part && !part->done && msg->offset >= part->end) {
                                part->done = true;
                                pending--;
                        }
                } else if (msg->err) {
                        /* Usually transient (the client retries); the stall bound above
                         * ends the run if it is not. */
                        jt_log_warn("reading %s: %s", run->topic, rd_kafka_message_errstr(msg));
                } else if (part && !part->done && msg->offset >= part->next &&
                           msg->offset < part->end) {
                        last_progress = jt_time_mono_ms();
                        if (jt_fleet_dlq_marks_has(&part->marks, msg->offset))
                                run->marked++; /* replayed or discarded on its own already */
                        else if (!dlq_handle(run, msg, err)) {
                                rd_kafka_message_destroy(msg);
                                return false;
                        }
                        part->next = msg->offset + 1;
                        if (part->next >= part->end) {
                                part->done = true;
                                pending--;
                        }
                }
                rd_kafka_message_destroy(msg);
        }
        return true;
}

/* Where each DLQ partition starts (the group's commit, else the log start) and ends. */
static bool dlq_bounds(dlq_run_t *run, int timeout_ms, jt_error_t *err) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(run->count);
        rd_kafka_resp_err_t rc;
        bool ok = false;

        for (int i = 0; i < run->count; i++)
                rd_kafka_topic_partition_list_add(list, run->topic, run->parts[i].partition);
        rc = rd_kafka_committed(run->consumer, list, timeout_ms);
        if (rc) {
                jt_error_set(err, JT_ERR_KAFKA, rc, "reading the committed offsets of %s: %s",
                             run->topic, rd_kafka_err2str(rc));
                goto done;
        }
        for (int i = 0; i < list->cnt; i++) {
                dlq_part_t *part = dlq_find(run, list->elems[i].partition);
                int64_t low, high;

                if (list->elems[i].err) {
                        jt_error_set(err, JT_ERR_KAFKA, list->elems[i].err,
                                     "reading the committed offset of %s [%" PRId32 "]: %s",
                                     run->topic, part->partition,
                                     rd_kafka_err2str(list->elems[i].err));
                        goto done;
                }
                if (!jt_kafka_admin_watermarks(run->consumer, run->topic, part->partition,
                                               timeout_ms, &low, &high, err))
                        goto done;
                /* A commit older than the log start points at deleted messages: start at
                 * what is left. */
                part->start = list->elems[i].offset >= low ? list->elems[i].offset : low;
                jt_fleet_dlq_marks_parse(list->elems[i].metadata, list->elems[i].metadata_size,
                                         &part->marks);
                jt_fleet_dlq_marks_advance(&part->marks, &part->start);
                part->end = high;
                part->next = part->start;
                part->done = part->start >= part->end;
        }
        ok = true;
done:
        rd_kafka_topic_partition_list_destroy(list);
        return ok;
}

void jt_replay_dlq_place(rd_kafka_topic_partition_list_t *list, const char *topic,
                         int32_t partition, int64_t offset, jt_fleet_dlq_marks_t *marks) {
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_add(list, topic, partition);
        char meta[2048];

        jt_fleet_dlq_marks_advance(marks, &offset);
        jt_fleet_dlq_marks_format(marks, meta, sizeof(meta));
        p->offset = offset;
        if (meta[0] && (p->metadata = malloc(strlen(meta))) != NULL) {
                memcpy(p->metadata, meta, strlen(meta));
                p->metadata_size = strlen(meta);
        }
}

/* Commits, for each partition read, the offset after the last message handled. */
static bool dlq_commit(dlq_run_t *run, jt_error_t *err) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(run->count);
        rd_kafka_resp_err_t rc = RD_KAFKA_RESP_ERR_NO_ERROR;
        bool ok = false;

        for (int i = 0; i < run->count; i++)
                if (run->parts[i].next > run->parts[i].start)
                        jt_replay_dlq_place(list, run->topic, run->parts[i].partition,
                                            run->parts[i].next, &run->parts[i].marks);
        if (list->cnt > 0)
                rc = rd_kafka_commit(run->consumer, list, 0);
        if (rc) {
                jt_error_set(err, JT_ERR_KAFKA, rc, "committing the offsets of %s: %s", run->topic,
                             rd_kafka_err2str(rc));
                goto done;
        }
        for (int i = 0; i < list->cnt; i++)
                if (list->elems[i].err) {
                        jt_error_set(err, JT_ERR_KAFKA, list->elems[i].err,
                                     "committing the offset of %s [%" PRId32 "]: %s", run->topic,
                                     list->elems[i].partition,
                                     rd_kafka_err2str(list->elems[i].err));
                        goto done;
                }
        ok = true;
done:
        rd_kafka_topic_partition_list_destroy(list);
        return ok;
}

static rd_kafka_topic_partition_list_t *dlq_assignment(const dlq_run_t *run) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(run->count);

        for (int i = 0; i < run->count; i++)
                if (!run->parts[i].done)
                        rd_kafka_topic_partition_list_add(list, run->topic, run->parts[i].partition)
                            ->offset = run->parts[i].start;
        return list;
}

/* Opens the producer and the reader, and finds where each DLQ partition starts and ends. */
static bool dlq_open(dlq_run_t *run, const jt_kafka_opts_t *opts, jt_error_t *err) {
        int32_t *ids = NULL;
        bool ok = false;

        if (!(run->producer = jt_kafka_producer_new(opts, err)) ||
            !jt_kafka_admin_topics(run->producer, opts, &run->md, err) ||
            !jt_kafka_admin_topic_partition_ids(run->md, run->topic, opts->brokers, &ids,
                                                &run->count, err) ||
            !(run->consumer = jt_fleet_dlq_consumer_new(opts, run->group, err)))
                goto done;
        if (!(run->parts = calloc((size_t)run->count, sizeof(*run->parts)))) {
                jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
                goto done;
        }
        for (int i = 0; i < run->count; i++)
                run->parts[i].partition = ids[i];
        ok = dlq_bounds(run, opts->timeout_ms, err);
done:
        free(ids);
        return ok;
}

static void dlq_close(dlq_run_t *run) {
        jt_kafka_destroy(run->consumer);
        if (run->md)
                rd_kafka_metadata_destroy(run->md);
        jt_kafka_destroy(run->producer);
        free(run->parts);
}

/* Reads every partition that has something to read; false with err when the read could not
 * start, *read_ok false with read_err when it stopped early. */
static bool dlq_read_all(dlq_run_t *run, int timeout_ms, bool *read_ok, jt_error_t *read_err,
                         jt_error_t *err) {
        rd_kafka_topic_partition_list_t *assignment = dlq_assignment(run);
        rd_kafka_resp_err_t arc = RD_KAFKA_RESP_ERR_NO_ERROR;

        *read_ok = true;
        if (assignment->cnt > 0) {
                arc = rd_kafka_assign(run->consumer, assignment);
                if (arc)
                        jt_error_set(err, JT_ERR_KAFKA, arc, "reading %s: %s", run->topic,
                                     rd_kafka_err2str(arc));
                else
                        *read_ok = dlq_read(run, timeout_ms, read_err);
        }
        rd_kafka_topic_partition_list_destroy(assignment);
        return arc == RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* The last line of a run that sent: what was re-sent, skipped and committed. */
static void dlq_print_summary(const dlq_run_t *run) {
        bool committed_any = false;

        for (int i = 0; i < run->count; i++)
                committed_any = committed_any || run->parts[i].next > run->parts[i].start;
        printf("re-sent %d, skipped %d%s", run->resent, run->skipped,
               run->skipped ? " (reported above)" : "");
        if (run->marked)
                printf(", passed %d replayed or discarded one by one before", run->marked);
        if (run->job)
                printf(", filtered out %d of other jobs", run->filtered);
        if (committed_any)
                printf("; DLQ offsets committed for group %s\n", run->group);
        else
                printf("; nothing new to commit for group %s\n", run->group);
}

int jt_replay_dlq_run(const jt_config_t *cfg) {
        jt_kafka_opts_t opts = jt_kafka_opts_from_config(cfg);
        dlq_run_t run = {.topic = jt_config_str(cfg, "dlq-topic"),
                         .job = jt_config_str(cfg, "filter-job"),
                         .dry_run = jt_config_bool(cfg, "dry-run")};
        int64_t total = 0;
        jt_error_t err, read_err;
        bool read_ok = true;
        int rc = JT_EXIT_FAILURE;

        jt_error_clear(&err);
        jt_error_clear(&read_err);
        /* A filtered run keeps its own place, so that it never commits past the other jobs'
         * messages, which a later run must still find. */
        if (run.job)
                snprintf(run.group, sizeof(run.group), "%s.%s", JT_REPLAY_DLQ_GROUP, run.job);
        else
                snprintf(run.group, sizeof(run.group), "%s", JT_REPLAY_DLQ_GROUP);
        if (!dlq_open(&run, &opts, &err))
                goto done;
        for (int i = 0; i < run.count; i++)
                total += run.parts[i].end - run.parts[i].start;
        printf("DLQ %s, group %s%s%s: %" PRId64 " message(s) to read up to the current end\n",
               run.topic, run.group, run.job ? ", only job " : "", run.job ? run.job : "", total);
        if (!dlq_read_all(&run, opts.timeout_ms, &read_ok, &read_err, &err))
                goto done;
        if (run.dry_run) {
                printf("dry run: would re-send %d, skip %d", run.resent, run.skipped);
                if (run.job)
                        printf(", filter out %d of other jobs", run.filtered);
                printf("; nothing sent, nothing committed\n");
                rc = read_ok ? JT_EXIT_OK : JT_EXIT_FAILURE;
                goto done;
        }
        /* Commit only what is delivered: a crash before this line re-sends, never loses. */
        if (!jt_kafka_flush(run.producer, opts.timeout_ms, &err) || !dlq_commit(&run, &err))
                goto done;
        dlq_print_summary(&run);
        rc = read_ok ? JT_EXIT_OK : JT_EXIT_FAILURE;
done:
        fflush(stdout);
        if (!read_ok)
                fprintf(stderr, "%s: %s\n", jt_config_command_line_name(cfg), read_err.message);
        if (err.domain != JT_ERR_NONE)
                rc = jt_startup_fail(cfg, &err);
        dlq_close(&run);
        return rc;
}
