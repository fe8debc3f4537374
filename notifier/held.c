/* Status events of a schema this notifier does not know (notifier.h): a newer version's,
 * published during a rolling upgrade. Their partition is held at them, offset not stored, and
 * they are tried again after a growing backoff, once --schema-dir has been read again. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jt_avro.h" /* raw single-object headers and the --schema-dir writers */
#include "jt_log.h"
#include "jt_time.h"
#include "notifier.h"

/* Whether msg, which did not decode as a status event, is one of a schema this notifier does not
 * know yet: Avro single-object bytes with an unknown fingerprint, or a known status-event writer
 * that does not resolve to this build's reader (a newer version's enum symbol). Other message
 * types and bytes that are not Avro are not held: waiting cannot make them an event. */
bool jt_held_unknown_schema(const jt_notifier_t *n, const rd_kafka_message_t *msg,
                            const jt_error_t *err) {
        const uint8_t *p = msg->payload;
        jt_avro_schema_info_t writer;
        jt_error_t peek_err;

        if (err->domain != JT_ERR_SCHEMA || !p || msg->len < JT_AVRO_HEADER_BYTES || p[0] != 0xC3 ||
            p[1] != 0x01)
                return false;
        jt_error_clear(&peek_err);
        if (!jt_avro_peek(n->reg, p, msg->len, &writer, &peek_err))
                return peek_err.domain == JT_ERR_SCHEMA;
        return writer.type == JT_AVRO_STATUS_EVENT;
}

/* Adds the writer schemas of --schema-dir this notifier does not know yet (this build's readers
 * stay pinned, so a newer writer is read as far as it resolves to them). Files known already
 * are passed over quietly: the directory is read again before each retry. */
void jt_held_learn_schemas(jt_notifier_t *n) {
        DIR *dir;
        struct dirent *de;
        char path[4096];

        if (!n->schema_dir || !(dir = opendir(n->schema_dir)))
                return;
        while ((de = readdir(dir)) != NULL) {
                size_t len = strlen(de->d_name);
                jt_error_t err;
                if (len < 5 || strcmp(de->d_name + len - 5, ".avsc") != 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", n->schema_dir, de->d_name);
                jt_error_clear(&err);
                if (jt_avro_registry_add_file(n->reg, path, &err))
                        jt_log_info("learnt the writer schema %s", path);
                else
                        jt_log_debug("schema %s not added: %s", path, err.message);
        }
        closedir(dir);
}

static jt_held_t *held_find(jt_notifier_t *n, int32_t partition) {
        for (int i = 0; i < JT_NOTIFIER_MAX_HELD; i++)
                if (n->held[i].used && n->held[i].partition == partition)
                        return &n->held[i];
        return NULL;
}

static void held_update_metric(jt_notifier_t *n) {
        int64_t count = 0;
        for (int i = 0; i < JT_NOTIFIER_MAX_HELD; i++)
                count += n->held[i].used;
        jt_metrics_set_held_partitions(n->metrics, count);
}

/* msg is of an unknown schema: its partition waits at it, tried again after a growing backoff
 * (up to --retry-backoff-max-ms); one warning per try. */
void jt_held_add(jt_notifier_t *n, const rd_kafka_message_t *msg, const char *why) {
        jt_held_t *h = held_find(n, msg->partition);
        int64_t wait;

        if (h && h->offset != msg->offset)
                memset(h, 0, sizeof(*h)); /* an earlier held event of this partition went by */
        for (int i = 0; !h && i < JT_NOTIFIER_MAX_HELD; i++)
                if (!n->held[i].used)
                        h = &n->held[i];
        if (!h) {
                /* More held partitions than slots: wait here, blocking, rather than lose it. */
                jt_wait_pause_at(n, rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset);
                jt_wait_nap(n, n->backoff_max_ms);
                return;
        }
        if (!h->used) {
                *h = (jt_held_t){.used = true, .partition = msg->partition, .offset = msg->offset};
                jt_metrics_unknown_schema(n->metrics);
        }
        wait = jt_wait_backoff_ms(n, h->attempts++);
        h->resume_at_ms = jt_time_mono_ms() + wait;
        jt_wait_pause_at(n, rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset);
        held_update_metric(n);
        jt_log_warn("status [%" PRId32 "] offset %" PRId64 ": a status event of a schema this "
                    "notifier does not know (%s). Its partition waits at it, offset not stored, "
                    "nothing skipped; try %d again in %" PRId64 " ms. Run a notifier that knows "
                    "the schema (or put its .avsc in --schema-dir); to skip it on purpose: "
                    "joytify-producer replay --topic %s --group %s --to-offset %" PRId64,
                    msg->partition, msg->offset, why, h->attempts + 1, wait, n->topic,
                    n->posts.group, msg->offset + 1);
}

/* The event at which msg's partition was held was handled (or another message of the partition
 * was, after a rebalance): the partition runs again. */
void jt_held_release(jt_notifier_t *n, const rd_kafka_message_t *msg) {
        jt_held_t *h = held_find(n, msg->partition);

        if (!h || msg->offset < h->offset)
                return;
        if (h->attempts > 0)
                jt_log_info("status [%" PRId32 "] offset %" PRId64 ": handled after %d tries; the "
                            "partition runs again",
                            msg->partition, h->offset, h->attempts);
        memset(h, 0, sizeof(*h));
        held_update_metric(n);
}

/* Resumes the held partitions whose wait is over (the event comes again), after reading
 * --schema-dir again; forgets those no longer assigned (their new owner holds them). */
void jt_held_resume_due(jt_notifier_t *n) {
        rd_kafka_topic_partition_list_t *assigned = NULL;
        int64_t now = jt_time_mono_ms();
        bool learnt = false;

        for (int i = 0; i < JT_NOTIFIER_MAX_HELD; i++) {
                jt_held_t *h = &n->held[i];
                if (!h->used)
                        continue;
                if (!assigned && (rd_kafka_assignment(n->consumer, &assigned) || !assigned))
                        return;
                if (!rd_kafka_topic_partition_list_find(assigned, n->topic, h->partition)) {
                        memset(h, 0, sizeof(*h));
                        held_update_metric(n);
                        continue;
                }
                if (now < h->resume_at_ms)
                        continue;
                if (!learnt)
                        jt_held_learn_schemas(n);
                learnt = true;
                h->resume_at_ms = INT64_MAX; /* until the event comes again */
                jt_wait_pause_partition(n, h->partition, false);
        }
        if (assigned)
                rd_kafka_topic_partition_list_destroy(assigned);
}

/* jt_wait_nap resumes every assigned partition when it ends: the held ones wait on, except one
 * resumed for its retry (resume_at_ms INT64_MAX until its event comes again), which a nap
 * while another partition's message is handled must not pause for ever. */
void jt_held_pause_again(jt_notifier_t *n) {
        for (int i = 0; i < JT_NOTIFIER_MAX_HELD; i++)
                if (n->held[i].used && n->held[i].resume_at_ms != INT64_MAX)
                        jt_wait_pause_partition(n, n->held[i].partition, true);
}
