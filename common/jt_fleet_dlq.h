/* Dead letters as an operator sees them: the DLQ read from its start to the end seen at the
 * start, each message decoded (key and job, the jt_dlq.h headers), and whether `replay --dlq`
 * has handled it already. Where replay --dlq stands is its group's committed offset per DLQ
 * partition, plus the offsets past it replayed or discarded one by one, kept in that commit's
 * metadata as "jt-dlq-done:O1,O2,..." (the marks below), so a full replay skips them. */
#ifndef JT_FLEET_DLQ_H
#define JT_FLEET_DLQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"
#include "jt_kafka.h"

#define JT_FLEET_ID_MAX     256
#define JT_FLEET_TEXT_MAX   512
#define JT_FLEET_HEADER_MAX 16 /* headers kept per dead letter */

typedef struct {
        char name[64];
        char value[JT_FLEET_TEXT_MAX]; /* escaped for a terminal (jt_log_escape) */
} jt_fleet_header_t;

typedef struct {
        int32_t partition; /* in the DLQ */
        int64_t offset;
        int64_t timestamp_ms;
        char key[JT_FLEET_ID_MAX]; /* the task id, escaped for a terminal */
        char job[JT_FLEET_ID_MAX]; /* the key up to its first '/' ("" without one) */
        char kind[16];             /* "stats" or "cleanup" when the original topic says so */
        char error[JT_FLEET_TEXT_MAX];
        int64_t attempts; /* -1 when the header is missing */
        char orig_topic[JT_FLEET_ID_MAX];
        int32_t orig_partition; /* -1 when missing */
        int64_t orig_offset;    /* -1 when missing */
        size_t value_len;
        bool handled; /* replayed or discarded already (behind or marked in replay's place) */
        size_t header_count;
        jt_fleet_header_t headers[JT_FLEET_HEADER_MAX];
} jt_fleet_dead_letter_t;

/* What to read. */
typedef struct {
        const jt_kafka_opts_t *kafka;
        const char *topic;        /* the DLQ */
        const char *replay_group; /* replay --dlq's group (JT_REPLAY_DLQ_GROUP) */
        const char *job;          /* only this job's messages; NULL: all */
        const char *stats_topic;  /* names the kind of a dead letter from its original topic */
        const char *cleanup_topic;
        size_t max;     /* most messages kept (0: 500); the read stops there */
        int timeout_ms; /* the whole read */
} jt_fleet_dlq_query_t;

/* Reads the dead letters q asks for into *out (the caller frees it) and *count, oldest first
 * per partition; *total counts every message in the DLQ (high - low), *truncated says the
 * read stopped at q->max or at the time bound. A missing DLQ topic is no error (nothing yet). */
bool jt_fleet_dlq_read(const jt_fleet_dlq_query_t *q, jt_fleet_dead_letter_t **out, size_t *count,
                       int64_t *total, bool *truncated, jt_error_t *err);

/* A consumer in group for reading the DLQ by assignment: opts plus enable.partition.eof, whose
 * events tell the reader a partition has nothing more. */
rd_kafka_t *jt_fleet_dlq_consumer_new(const jt_kafka_opts_t *opts, const char *group,
                                      jt_error_t *err);

/* Whether err is a group coordinator still loading or moving (a broker just started, a
 * coordinator failing over): the group calls of the view ask again until their bound. */
bool jt_fleet_dlq_coordinator_busy(const jt_error_t *err);

/* Decodes one DLQ message (never fails: missing headers stay "" or -1). */
void jt_fleet_dlq_decode(const void *msg, const jt_fleet_dlq_query_t *q, jt_fleet_dead_letter_t *d);

/* Offsets past a group's committed offset that were replayed or discarded one by one. */
#define JT_FLEET_DLQ_MARKS_MAX 64
#define JT_FLEET_DLQ_MARKS_TAG "jt-dlq-done:"
typedef struct {
        int64_t offsets[JT_FLEET_DLQ_MARKS_MAX]; /* sorted, no repeats */
        size_t count;
} jt_fleet_dlq_marks_t;

/* The marks of a commit's metadata; other metadata (or none) gives no mark. */
void jt_fleet_dlq_marks_parse(const void *metadata, size_t size, jt_fleet_dlq_marks_t *m);

bool jt_fleet_dlq_marks_has(const jt_fleet_dlq_marks_t *m, int64_t offset);

/* Adds offset; false when JT_FLEET_DLQ_MARKS_MAX are kept already. */
bool jt_fleet_dlq_marks_add(jt_fleet_dlq_marks_t *m, int64_t offset);

/* Moves *committed past the marks it reaches (a mark at *committed handled means the next
 * message is the first unhandled one) and drops the marks below it. */
void jt_fleet_dlq_marks_advance(jt_fleet_dlq_marks_t *m, int64_t *committed);

/* The metadata to commit with the marks: "jt-dlq-done:O1,O2" ("" with none). */
void jt_fleet_dlq_marks_format(const jt_fleet_dlq_marks_t *m, char *buf, size_t size);

#endif
