/* Reading and decoding the DLQ for operators, and the marks that record dead letters replayed
 * or discarded one by one (jt_fleet_dlq.h). */
#include "jt_fleet_dlq.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt_dlq.h"
#include "jt_kafka_admin.h"
#include "jt_log.h"
#include "jt_time.h"

#define DEFAULT_MAX     500
#define MAX_JOB_GROUPS  16                   /* per-job replay groups asked about in one read */
#define VIEW_GROUP_NAME "joytify-fleet-view" /* the reader's group.id: it never commits */

/* Bytes from the wire as printable ASCII (\xNN for anything else, and for '\' and '"'), so
 * that they are safe for a terminal and valid UTF-8 for JSON. */
static void escape_bytes(const void *data, size_t len, char *out, size_t size) {
        const unsigned char *p = data;
        size_t used = 0;

        out[0] = '\0';
        for (size_t i = 0; p && i < len && used + 5 < size; i++) {
                if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
                        out[used++] = (char)p[i];
                else
                        used += (size_t)snprintf(out + used, size - used, "\\x%02x", p[i]);
        }
        out[used] = '\0';
}

static void decode_header(jt_fleet_dead_letter_t *d, const char *name, const void *value,
                          size_t size) {
        jt_fleet_header_t *h;

        if (strcmp(name, JT_DLQ_HDR_ERROR) == 0)
                escape_bytes(value, size, d->error, sizeof(d->error));
        else if (strcmp(name, JT_DLQ_HDR_TOPIC) == 0)
                escape_bytes(value, size, d->orig_topic, sizeof(d->orig_topic));
        if (d->header_count == JT_FLEET_HEADER_MAX)
                return;
        h = &d->headers[d->header_count++];
        escape_bytes(name, strlen(name), h->name, sizeof(h->name));
        escape_bytes(value, size, h->value, sizeof(h->value));
}

void jt_fleet_dlq_decode(const void *message, const jt_fleet_dlq_query_t *q,
                         jt_fleet_dead_letter_t *d) {
        const rd_kafka_message_t *msg = message;
        const char *key = msg->key;
        const char *slash = key ? memchr(key, '/', msg->key_len) : NULL;
        rd_kafka_headers_t *hdrs = NULL;
        const char *name;
        const void *value;
        size_t size;
        int64_t n;
        jt_error_t ignored;

        memset(d, 0, sizeof(*d));
        d->partition = msg->partition;
        d->offset = msg->offset;
        d->timestamp_ms = rd_kafka_message_timestamp(msg, NULL);
        d->value_len = msg->len;
        escape_bytes(key, msg->key_len, d->key, sizeof(d->key));
        if (slash)
                escape_bytes(key, (size_t)(slash - key), d->job, sizeof(d->job));
        if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
                for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == 0; i++)
                        decode_header(d, name, value, size);
        d->attempts = jt_dlq_header_int(msg, JT_DLQ_HDR_ATTEMPTS, &n, &ignored) ? n : -1;
        d->orig_partition =
            jt_dlq_header_int(msg, JT_DLQ_HDR_PARTITION, &n, &ignored) ? (int32_t)n : -1;
        d->orig_offset = jt_dlq_header_int(msg, JT_DLQ_HDR_OFFSET, &n, &ignored) ? n : -1;
        if (q->stats_topic && strcmp(d->orig_topic, q->stats_topic) == 0)
                snprintf(d->kind, sizeof(d->kind), "stats");
        else if (q->cleanup_topic && strcmp(d->orig_topic, q->cleanup_topic) == 0)
                snprintf(d->kind, sizeof(d->kind), "cleanup");
}

bool jt_fleet_dlq_coordinator_busy(const jt_error_t *err) {
        return err->domain == JT_ERR_KAFKA &&
               (err->code == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
                err->code == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
                err->code == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
}

/* ---- marks ------------------------------------------------------------------------------ */

void jt_fleet_dlq_marks_parse(const void *metadata, size_t size, jt_fleet_dlq_marks_t *m) {
        size_t tag = strlen(JT_FLEET_DLQ_MARKS_TAG);
        char buf[2048];
        char *p, *end;

        m->count = 0;
        if (!metadata || size <= tag || size >= sizeof(buf) ||
            memcmp(metadata, JT_FLEET_DLQ_MARKS_TAG, tag) != 0)
                return;
        memcpy(buf, metadata, size);
        buf[size] = '\0';
        for (p = buf + tag; *p; p = *end ? end + 1 : end) {
                long long v = strtoll(p, &end, 10);
                if (end == p || (*end && *end != ','))
                        return; /* not ours after all: the marks read so far stand */
                if (v >= 0)
                        jt_fleet_dlq_marks_add(m, v);
        }
}

bool jt_fleet_dlq_marks_has(const jt_fleet_dlq_marks_t *m, int64_t offset) {
        for (size_t i = 0; i < m->count; i++)
                if (m->offsets[i] == offset)
                        return true;
        return false;
}

bool jt_fleet_dlq_marks_add(jt_fleet_dlq_marks_t *m, int64_t offset) {
        size_t at = 0;

        if (jt_fleet_dlq_marks_has(m, offset))
                return true;
        if (m->count == JT_FLEET_DLQ_MARKS_MAX)
                return false;
        while (at < m->count && m->offsets[at] < offset)
                at++;
        memmove(&m->offsets[at + 1], &m->offsets[at], (m->count - at) * sizeof(m->offsets[0]));
        m->offsets[at] = offset;
        m->count++;
        return true;
}

void jt_fleet_dlq_marks_advance(jt_fleet_dlq_marks_t *m, int64_t *committed) {
        size_t keep = 0;

        for (size_t i = 0; i < m->count; i++)
                if (m->offsets[i] == *committed)
                        (*committed)++;
        for (size_t i = 0; i < m->count; i++)
                if (m->offsets[i] >= *committed)
                        m->offsets[keep++] = m->offsets[i];
        m->count = keep;
}

void jt_fleet_dlq_marks_format(const jt_fleet_dlq_marks_t *m, char *buf, size_t size) {
        size_t used = 0;

        buf[0] = '\0';
        if (m->count == 0)
                return;
        used = (size_t)snprintf(buf, size, "%s", JT_FLEET_DLQ_MARKS_TAG);
        for (size_t i = 0; i < m->count && used < size; i++)
                used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, i ? "," : "",
                                         m->offsets[i]);
}

/* ---- reading ---------------------------------------------------------------------------- */

typedef struct {
        int32_t partition;
        int64_t low, high, next;
        bool done;
} part_t;

typedef struct {
        const jt_fleet_dlq_query_t *q;
        rd_kafka_t *consumer;
        part_t *parts;
        int count;
        jt_fleet_dead_letter_t *out;
        size_t kept, cap;
        bool truncated;
} reader_t;

static part_t *part_find(reader_t *r, int32_t partition) {
        for (int i = 0; i < r->count; i++)
                if (r->parts[i].partition == partition)
                        return &r->parts[i];
        return NULL;
}

/* Partition ids and watermarks of the DLQ; *missing when the topic does not exist yet. */
static bool reader_bounds(reader_t *r, int64_t *total, bool *missing, jt_error_t *err) {
        const struct rd_kafka_metadata *md = NULL;
        int32_t *ids = NULL;
        bool ok = false;

        *missing = false;
        if (!jt_kafka_admin_topics(r->consumer, r->q->kafka, &md, err))
                return false;
        if (!jt_kafka_admin_topic_find(md, r->q->topic)) {
                *missing = true;
                ok = true;
                goto done;
        }
        if (!jt_kafka_admin_topic_partition_ids(md, r->q->topic, r->q->kafka->brokers, &ids,
                                                &r->count, err))
                goto done;
        if (!(r->parts = calloc((size_t)r->count + 1, sizeof(*r->parts)))) {
                jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
                goto done;
        }
        for (int i = 0; i < r->count; i++) {
                part_t *p = &r->parts[i];
                p->partition = ids[i];
                if (!jt_kafka_admin_watermarks(r->consumer, r->q->topic, p->partition,
                                               r->q->kafka->timeout_ms, &p->low, &p->high, err))
                        goto done;
                p->next = p->low;
                p->done = p->low >= p->high;
                *total += p->high - p->low;
        }
        ok = true;
done:
        free(ids);
        rd_kafka_metadata_destroy(md);
        return ok;
}

/* Keeps one message (when it is of the job asked for); false when the read is to stop. */
static bool reader_keep(reader_t *r, const rd_kafka_message_t *msg) {
        jt_fleet_dead_letter_t d;

        jt_fleet_dlq_decode(msg, r->q, &d);
        if (r->q->job && strcmp(d.job, r->q->job) != 0)
                return true;
        if (r->kept == r->cap) {
                r->truncated = true;
                return false;
        }
        r->out[r->kept++] = d;
        return true;
}

/* Polls until every partition reached the end seen at the start, the cap, or the deadline. */
static void reader_poll(reader_t *r, int64_t deadline) {
        int pending = 0;

        for (int i = 0; i < r->count; i++)
                pending += !r->parts[i].done;
        while (pending > 0) {
                rd_kafka_message_t *msg;
                part_t *p;

                if (jt_time_mono_ms() > deadline) {
                        r->truncated = true;
                        return;
                }
                if (!(msg = rd_kafka_consumer_poll(r->consumer, 100)))
                        continue;
                p = part_find(r, msg->partition);
                if (p && !p->done &&
                    (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
                     (!msg->err && msg->offset >= p->next))) {
                        bool go_on = msg->err || reader_keep(r, msg);
                        p->next = msg->err ? p->high : msg->offset + 1;
                        if (p->next >= p->high) {
                                p->done = true;
                                pending--;
                        }
                        if (!go_on)
                                pending = 0;
                }
                rd_kafka_message_destroy(msg);
        }
}

/* Marks handled what group's place (commit and marks) says it handled. */
static bool reader_mark(reader_t *r, rd_kafka_t *rk, const char *group, const char *job,
                        jt_error_t *err) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(r->count);
        bool ok;

        int64_t until = jt_time_mono_ms() + r->q->kafka->timeout_ms;

        for (int i = 0; i < r->count; i++)
                rd_kafka_topic_partition_list_add(list, r->q->topic, r->parts[i].partition);
        while (
            !(ok = jt_kafka_admin_group_offsets(rk, group, list, r->q->kafka->timeout_ms, err)) &&
            jt_fleet_dlq_coordinator_busy(err) && jt_time_mono_ms() < until)
                usleep(300 * 1000);
        for (int i = 0; ok && i < list->cnt; i++) {
                jt_fleet_dlq_marks_t marks;
                jt_fleet_dlq_marks_parse(list->elems[i].metadata, list->elems[i].metadata_size,
                                         &marks);
                for (size_t k = 0; k < r->kept; k++) {
                        jt_fleet_dead_letter_t *d = &r->out[k];
                        if (d->partition != list->elems[i].partition ||
                            (job && strcmp(d->job, job) != 0))
                                continue;
                        if (d->offset < list->elems[i].offset ||
                            jt_fleet_dlq_marks_has(&marks, d->offset))
                                d->handled = true;
                }
        }
        rd_kafka_topic_partition_list_destroy(list);
        return ok;
}

/* The replay group's place, then each job's own group's (replay --dlq --filter-job). */
static bool reader_mark_all(reader_t *r, jt_error_t *err) {
        const char *jobs[MAX_JOB_GROUPS];
        size_t njobs = 0;
        char group[512];

        if (!reader_mark(r, r->consumer, r->q->replay_group, NULL, err))
                return false;
        for (size_t k = 0; k < r->kept && njobs < MAX_JOB_GROUPS; k++) {
                bool seen = !r->out[k].job[0];
                for (size_t j = 0; j < njobs && !seen; j++)
                        seen = strcmp(jobs[j], r->out[k].job) == 0;
                if (!seen)
                        jobs[njobs++] = r->out[k].job;
        }
        for (size_t j = 0; j < njobs; j++) {
                snprintf(group, sizeof(group), "%s.%s", r->q->replay_group, jobs[j]);
                if (!reader_mark(r, r->consumer, group, jobs[j], err))
                        return false;
        }
        return true;
}

static bool reader_assign(reader_t *r, jt_error_t *err) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(r->count);
        rd_kafka_resp_err_t rc = RD_KAFKA_RESP_ERR_NO_ERROR;

        for (int i = 0; i < r->count; i++)
                if (!r->parts[i].done)
                        rd_kafka_topic_partition_list_add(list, r->q->topic, r->parts[i].partition)
                            ->offset = r->parts[i].low;
        if (list->cnt > 0)
                rc = rd_kafka_assign(r->consumer, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (rc)
                return jt_error_set(err, JT_ERR_KAFKA, rc, "reading %s: %s", r->q->topic,
                                    rd_kafka_err2str(rc));
        return true;
}

rd_kafka_t *jt_fleet_dlq_consumer_new(const jt_kafka_opts_t *opts, const char *group,
                                      jt_error_t *err) {
        jt_kv_t *settings = calloc(opts->setting_count + 1, sizeof(*settings));
        jt_kafka_opts_t copts = *opts;
        rd_kafka_t *rk;
        static char eof_key[] = "enable.partition.eof", eof_value[] = "true";

        if (!settings) {
                jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
                return NULL;
        }
        if (opts->setting_count)
                memcpy(settings, opts->settings, opts->setting_count * sizeof(*settings));
        settings[opts->setting_count] = (jt_kv_t){eof_key, eof_value};
        copts.settings = settings;
        copts.setting_count = opts->setting_count + 1;
        rk = jt_kafka_consumer_new(&copts, group, err);
        free(settings);
        return rk;
}

bool jt_fleet_dlq_read(const jt_fleet_dlq_query_t *q, jt_fleet_dead_letter_t **out, size_t *count,
                       int64_t *total, bool *truncated, jt_error_t *err) {
        reader_t r = {.q = q, .cap = q->max ? q->max : DEFAULT_MAX};
        int64_t deadline = jt_time_mono_ms() + (q->timeout_ms > 0 ? q->timeout_ms : 15000);
        bool missing = false, ok = false;

        *out = NULL;
        *count = 0;
        *total = 0;
        *truncated = false;
        if (!(r.out = calloc(r.cap, sizeof(*r.out))))
                return jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
        if (!(r.consumer = jt_fleet_dlq_consumer_new(q->kafka, VIEW_GROUP_NAME, err)) ||
            !reader_bounds(&r, total, &missing, err))
                goto done;
        if (!missing) {
                if (!reader_assign(&r, err))
                        goto done;
                reader_poll(&r, deadline);
                if (!reader_mark_all(&r, err))
                        goto done;
        }
        ok = true;
done:
        jt_kafka_destroy(r.consumer);
        free(r.parts);
        if (!ok) {
                free(r.out);
                return jt_error_prefix(err, "reading the DLQ %s", q->topic);
        }
        *out = r.out;
        *count = r.kept;
        *truncated = r.truncated;
        return true;
}
