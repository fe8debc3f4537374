/* The fleet's messages as programs see them: the stats task, the cleanup task and the status
 * event, their symbols, validation, and encoding to and from the wire (Avro single-object
 * encoding, kept private to common/jt_avro*.c), with the schema registry as an opaque handle.
 * Decode fills *msg with malloc'd strings that _clear() frees; encode only reads *msg, so its
 * strings may point anywhere. Both run _validate(), so a message that breaks an invariant is
 * never sent and is refused (JT_ERR_INPUT, permanent) on receipt. Implemented by
 * jt_stats_task.c, jt_cleanup_task.c and jt_status_event.c. */
#ifndef JT_MESSAGES_H
#define JT_MESSAGES_H

#include "jt_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every writer schema the program knows and, per message type, the reader schema. Built once
 * at start-up; encoding and decoding only read it. Threads should still not share one:
 * Debian's avro-c is built without THREADSAFE and keeps its error text in one static buffer.
 * A registry per thread costs a few milliseconds. */
typedef struct jt_avro_registry_s jt_avro_registry_t;

/* A registry holding every schema compiled into the library; the reader of each type is its
 * newest version. Fails if a published schema does not parse or, being older, does not
 * resolve to the reader (a compatibility break). */
jt_avro_registry_t *jt_avro_registry_new(jt_error_t *err);

void jt_avro_registry_destroy(jt_avro_registry_t *reg);

typedef struct {
        bool set;
        int64_t value;
} jt_opt_long_t;

typedef struct {
        bool set;
        double value;
} jt_opt_double_t;

typedef struct {
        bool set;
        bool value;
} jt_opt_bool_t;

typedef enum {
        JT_STATS_TASK_SHARD = 0, /* a v1/v2 hash shard: no longer produced, refused by workers */
        JT_STATS_TASK_FINALIZE,
        JT_STATS_TASK_RANGE, /* v3: the users of [user_from, user_to) */
} jt_stats_task_kind_t;

typedef struct {
        char *job_id;  /* stats-2026-10, test-stats-2026-10 */
        char *task_id; /* stats-2026-10/0007, .../0007+c2, stats-2026-10/finalize */
        jt_stats_task_kind_t kind;
        int32_t shard;       /* the task's index 0..shard_count-1; -1 for FINALIZE */
        int32_t shard_count; /* tasks of the job, >= 1 */
        char *month;         /* YYYY-MM */
        bool test_mode;
        char *run_id;    /* NULL: none */
        char *run_nonce; /* the ledger entry's runNonce (v2); NULL in v1 tasks */
        /* v3: the range and where a continuation resumes */
        char *user_from;      /* hex ObjectId, inclusive; NULL: from the lowest */
        char *user_to;        /* hex ObjectId, exclusive; NULL: to the highest */
        char *parent_task_id; /* the range task a continuation continues; NULL for a first */
        int32_t continuation_seq;
        char *resume_after_user; /* hex ObjectId: the last user done before; NULL: none */
        int64_t users_so_far, with_entry_so_far, bad_rows_so_far, notified_so_far;
        int32_t time_budget_s; /* 0: the worker's --task-budget */
        int64_t created_at_ms;
} jt_stats_task_t;

typedef struct {
        char *job_id;  /* cleanup-2026-11-23T0400Z */
        char *task_id; /* cleanup-2026-11-23T0400Z/0003, continuations .../0003+c1 */
        int64_t range_start_ms;
        int64_t range_end_ms;
        int64_t cutoff_ms;
        int32_t retention_days;
        int32_t batch_size;
        int32_t batch_delay_ms;
        int32_t time_budget_s;
        bool test_mode;
        char *triggered_by;   /* schedule, manual, monthly-stats-notification, ... */
        char *parent_task_id; /* NULL for a first task */
        int32_t continuation_seq;
        char *resume_after_id; /* hex ObjectId or NULL */
        int64_t deleted_so_far;
        char *run_nonce; /* the ledger entry's runNonce (v2); NULL in v1 tasks */
        int64_t created_at_ms;
        jt_opt_long_t resume_from_ms; /* v3: where a continuation starts; unset: range_start */
        int64_t found; /* v3: the range's first count (ledger found.<key>); -1: unknown, the
                        * value for a first task and what v1/v2 tasks decode to */
} jt_cleanup_task_t;

typedef enum {
        JT_STATUS_JOB_STARTED = 0,
        JT_STATUS_TASK_STARTED,
        JT_STATUS_TASK_PROGRESS,
        JT_STATUS_TASK_FINISHED,
        JT_STATUS_TASK_FAILED,
        JT_STATUS_JOB_FINISHED,
        JT_STATUS_JOB_FAILED,
} jt_status_type_t;

typedef enum {
        JT_JOB_KIND_STATS = 0,
        JT_JOB_KIND_CLEANUP,
} jt_job_kind_t;

typedef struct {
        char *job_id;
        char *task_id; /* NULL for JOB_* events */
        jt_status_type_t type;
        jt_job_kind_t job_kind;
        int64_t timestamp_ms;
        char *worker_id; /* NULL when the producer emits */
        bool test_mode;
        jt_opt_long_t tasks_total;
        jt_opt_long_t tasks_done;
        jt_opt_long_t users_processed;
        jt_opt_long_t users_updated;
        jt_opt_long_t notifications_created;
        char *notification_id;
        char *month;
        jt_opt_long_t records_deleted;
        jt_opt_long_t total_records_found;
        jt_opt_long_t remaining_records;
        jt_opt_double_t completion_percentage;
        jt_opt_bool_t was_timeout_stopped;
        char *processing_mode;
        jt_opt_long_t batch_size;
        jt_opt_long_t cutoff_date_ms;
        char *triggered_by;
        jt_opt_bool_t cleanup_triggered;
        jt_opt_long_t execution_ms;
        jt_opt_long_t progress_done;
        jt_opt_long_t progress_total;
        char *error_message;
        char *error_stack;
        /* v2: a statistics job's app push (absent when none was configured) */
        jt_opt_long_t users_pushed;
        jt_opt_long_t push_failures; /* users not pushed */
} jt_status_event_t;

/* Symbols as in the schemas: "SHARD", "TASK_PROGRESS", "CLEANUP", ... */
const char *jt_stats_task_kind_name(jt_stats_task_kind_t kind);
const char *jt_status_event_type_name(jt_status_type_t type);
const char *jt_status_event_job_kind_name(jt_job_kind_t kind);

bool jt_stats_task_validate(const jt_stats_task_t *task, jt_error_t *err);
bool jt_stats_task_encode(const jt_avro_registry_t *reg, const jt_stats_task_t *task, void **buf,
                          size_t *len, jt_error_t *err);
bool jt_stats_task_decode(const jt_avro_registry_t *reg, const void *buf, size_t len,
                          jt_stats_task_t *task, jt_error_t *err);
void jt_stats_task_clear(jt_stats_task_t *task);

bool jt_cleanup_task_validate(const jt_cleanup_task_t *task, jt_error_t *err);
bool jt_cleanup_task_encode(const jt_avro_registry_t *reg, const jt_cleanup_task_t *task,
                            void **buf, size_t *len, jt_error_t *err);
bool jt_cleanup_task_decode(const jt_avro_registry_t *reg, const void *buf, size_t len,
                            jt_cleanup_task_t *task, jt_error_t *err);
void jt_cleanup_task_clear(jt_cleanup_task_t *task);

/* The latest timestamp an event may carry: 9999-12-31T23:59:59.999Z. One before 1970 is
 * refused too, and counts must be >= 0 (of any size: readers saturate their sums). */
#define JT_STATUS_TIME_MAX_MS 253402300799999LL

bool jt_status_event_validate(const jt_status_event_t *event, jt_error_t *err);
bool jt_status_event_encode(const jt_avro_registry_t *reg, const jt_status_event_t *event,
                            void **buf, size_t *len, jt_error_t *err);
bool jt_status_event_decode(const jt_avro_registry_t *reg, const void *buf, size_t len,
                            jt_status_event_t *event, jt_error_t *err);
void jt_status_event_clear(jt_status_event_t *event);

#endif
