/* Avro for the fleet's messages: Parsing Canonical Form and CRC-64-AVRO fingerprints (which
 * avro-c lacks), a registry of every published schema, single-object encoding (C3 01, 8-byte
 * little-endian fingerprint, datum) with writer-to-reader resolution, field helpers, and typed
 * structs for the three messages. Nothing here crashes or over-allocates on hostile bytes. */
#ifndef JT_AVRO_H
#define JT_AVRO_H

#include "jt_error.h"

#include <avro.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest single-object message encoded or accepted, header included. Task and status
 * messages are a few hundred bytes; anything near this is a bug or an attack. */
#ifndef JT_AVRO_MAX_MESSAGE_BYTES
#define JT_AVRO_MAX_MESSAGE_BYTES (1024 * 1024)
#endif

/* C3 01 magic + 8-byte fingerprint. */
#define JT_AVRO_HEADER_BYTES 10

/* ---------------------------------------------------------------------------------------- */
/* Canonical form and fingerprint (Avro specification, "Schema Resolution" / "Parsing
 * Canonical Form for Schemas" / "Schema Fingerprints"). */

/* Parses the schema JSON text (len bytes, need not be NUL-terminated) and returns its Parsing
 * Canonical Form in *pcf (malloc'd, NUL-terminated; caller frees). Fails with JT_ERR_SCHEMA
 * on invalid JSON, an invalid schema or a reference to an undefined name. */
bool jt_avro_canonical_form(const char *json, size_t len, char **pcf, jt_error_t *err);

/* CRC-64-AVRO (Rabin) fingerprint of buf, normally a Parsing Canonical Form. */
uint64_t jt_avro_fingerprint64(const void *buf, size_t len);

/* The fingerprint as the 8 little-endian bytes that single-object encoding carries (and that
 * Java's and fastavro's "fingerprint bytes" print). */
void jt_avro_fingerprint_to_le(uint64_t fingerprint, uint8_t out[8]);
uint64_t jt_avro_fingerprint_from_le(const uint8_t in[8]);

/* ---------------------------------------------------------------------------------------- */
/* Message types and the schemas compiled into the library. */

typedef enum {
        JT_AVRO_STATS_TASK = 0, /* schemas/stats_task.vN.avsc,   io.joytify.fleet.StatsTask */
        JT_AVRO_CLEANUP_TASK,   /* schemas/cleanup_task.vN.avsc, io.joytify.fleet.CleanupTask */
        JT_AVRO_STATUS_EVENT,   /* schemas/status_event.vN.avsc, io.joytify.fleet.StatusEvent */
        JT_AVRO_TYPE_COUNT
} jt_avro_type_t;

/* "stats_task", "cleanup_task", "status_event": the schema file prefix. */
const char *jt_avro_type_name(jt_avro_type_t type);
bool jt_avro_type_from_name(const char *name, jt_avro_type_t *type, jt_error_t *err);

/* Splits a schema file name "TYPE.vN.avsc" (any directory part ignored) into type and
 * version N >= 1. */
bool jt_avro_parse_schema_file_name(const char *path, jt_avro_type_t *type, int *version,
                                    jt_error_t *err);

typedef struct {
        const char *file; /* "stats_task.v1.avsc" */
        const char *text; /* the file's bytes, NUL-terminated */
        size_t len;       /* without the NUL */
} jt_avro_schema_file_t;

/* Every .avsc file of schemas/ as it was at build time, sorted by file name (generated source, see
 * common/CMakeLists.txt). */
const jt_avro_schema_file_t *jt_avro_schema_files(size_t *count);

/* ---------------------------------------------------------------------------------------- */
/* Registry: every known writer schema, and per type one reader schema (the newest version
 * unless pinned). Built once at start-up; encoding and decoding only read it. Threads should
 * still not share one: Debian's avro-c is built without THREADSAFE and keeps its error text in
 * one static buffer. A registry per thread costs a few milliseconds. */

typedef struct jt_avro_registry_s jt_avro_registry_t;

typedef struct {
        jt_avro_type_t type;
        int version;
        uint64_t fingerprint;
        const char *canonical; /* Parsing Canonical Form, owned by the registry */
        avro_schema_t schema;  /* owned by the registry */
} jt_avro_schema_info_t;

/* A registry holding every schema compiled into the library; the reader of each type is its
 * newest version. Fails if a published schema does not parse or, being older, does not
 * resolve to the reader (a compatibility break). */
jt_avro_registry_t *jt_avro_registry_new(jt_error_t *err);

/* A registry with no schema, to assemble by hand (tests, tools). */
jt_avro_registry_t *jt_avro_registry_new_empty(jt_error_t *err);

void jt_avro_registry_destroy(jt_avro_registry_t *reg);

/* Adds a writer schema; if it is the newest version of its type it becomes that type's reader
 * (unless a reader was pinned). A fingerprint already known is an error. */
bool jt_avro_registry_add(jt_avro_registry_t *reg, jt_avro_type_t type, int version,
                          const char *json, size_t len, jt_error_t *err);

/* Same, from a file named TYPE.vN.avsc. */
bool jt_avro_registry_add_file(jt_avro_registry_t *reg, const char *path, jt_error_t *err);

/* Pins the reader of type to a known version: an older program's view, for tests. */
bool jt_avro_registry_set_reader(jt_avro_registry_t *reg, jt_avro_type_t type, int version,
                                 jt_error_t *err);

/* The reader schema of type. */
bool jt_avro_registry_reader(const jt_avro_registry_t *reg, jt_avro_type_t type,
                             jt_avro_schema_info_t *info, jt_error_t *err);

/* The writer schema with that fingerprint, if known. */
bool jt_avro_registry_lookup(const jt_avro_registry_t *reg, uint64_t fingerprint,
                             jt_avro_schema_info_t *info);

/* Whether a writer schema resolves to its type's reader; if not, why (in err). */
bool jt_avro_registry_check(const jt_avro_registry_t *reg, uint64_t fingerprint, jt_error_t *err);

/* ---------------------------------------------------------------------------------------- */
/* Single-object encoding. */

/* A new value of type's reader schema with every top-level field that has a default set to
 * it (so optional fields start null). The caller releases it with avro_value_decref(). */
bool jt_avro_value_new(const jt_avro_registry_t *reg, jt_avro_type_t type, avro_value_t *value,
                       jt_error_t *err);

/* Encodes value (of type's reader schema) as one single-object message. *buf is malloc'd
 * (hand it to rd_kafka_producev with RD_KAFKA_MSG_F_FREE, or free() it). */
bool jt_avro_encode(const jt_avro_registry_t *reg, jt_avro_type_t type, avro_value_t *value,
                    void **buf, size_t *len, jt_error_t *err);

/* Checks the header of a message and looks its writer schema up, without decoding the datum:
 * JT_ERR_INPUT for a short, oversized or non-Avro message, JT_ERR_SCHEMA for an unknown
 * fingerprint. */
bool jt_avro_peek(const jt_avro_registry_t *reg, const void *buf, size_t len,
                  jt_avro_schema_info_t *writer, jt_error_t *err);

/* Decodes a message of the given type into a new value of type's reader schema (the caller
 * releases it with avro_value_decref()). Fields the writer lacks get the reader's defaults.
 * JT_ERR_INPUT: bad or corrupted bytes; JT_ERR_SCHEMA: unknown fingerprint, another type, or
 * a writer schema that does not resolve to the reader. Both are permanent (DLQ). */
bool jt_avro_decode(const jt_avro_registry_t *reg, jt_avro_type_t type, const void *buf, size_t len,
                    avro_value_t *value, jt_error_t *err);

/* Checks that buf is exactly one well-formed datum of schema (varints, lengths within the
 * input, union and enum indexes in range, UTF-8 strings without NUL, nesting depth bounded),
 * without allocating. avro-c trusts lengths and would allocate whatever a corrupted message
 * says, so every decode runs this first. */
bool jt_avro_datum_check(avro_schema_t schema, const void *buf, size_t len, jt_error_t *err);

/* ---------------------------------------------------------------------------------------- */
/* Field helpers on a record value. A field of type ["null", T] is handled as an optional T.
 * Every failure (no such field, wrong type, null in a required field) is JT_ERR_SCHEMA. */

/* *val points into the value (valid while it lives); NULL when the field is null. */
bool jt_avro_get_string(avro_value_t *record, const char *field, const char **val, jt_error_t *err);
/* int or long fields. present may be NULL for a required field; a null then is an error. */
bool jt_avro_get_long(avro_value_t *record, const char *field, int64_t *val, bool *present,
                      jt_error_t *err);
bool jt_avro_get_double(avro_value_t *record, const char *field, double *val, bool *present,
                        jt_error_t *err);
bool jt_avro_get_bool(avro_value_t *record, const char *field, bool *val, bool *present,
                      jt_error_t *err);
/* The enum's symbol; an index outside the reader's symbols is an error. */
bool jt_avro_get_enum(avro_value_t *record, const char *field, const char **symbol,
                      jt_error_t *err);

/* val NULL sets null (the field must allow it). */
bool jt_avro_set_string(avro_value_t *record, const char *field, const char *val, jt_error_t *err);
/* int fields check the range. */
bool jt_avro_set_long(avro_value_t *record, const char *field, int64_t val, jt_error_t *err);
bool jt_avro_set_double(avro_value_t *record, const char *field, double val, jt_error_t *err);
bool jt_avro_set_bool(avro_value_t *record, const char *field, bool val, jt_error_t *err);
bool jt_avro_set_enum(avro_value_t *record, const char *field, const char *symbol, jt_error_t *err);
bool jt_avro_set_null(avro_value_t *record, const char *field, jt_error_t *err);

typedef enum {
        /* Plain JSON as a program would write it: a union takes null or the first branch
         * that fits the JSON value. */
        JT_AVRO_JSON_PLAIN,
        /* A schema "default": a union takes its first branch (Avro specification). */
        JT_AVRO_JSON_DEFAULT,
} jt_avro_json_mode_t;

/* Sets value from JSON: enums as symbols, bytes and fixed as strings of code points 0-255,
 * records as objects (members absent from the object are left as they are). */
bool jt_avro_value_from_json(avro_value_t *value, const json_t *json, jt_avro_json_mode_t mode,
                             jt_error_t *err);

/* Plain JSON of value (unions unwrapped, enums as symbols, bytes as code points 0-255).
 * *json is a new reference. */
bool jt_avro_value_to_json(avro_value_t *value, json_t **json, jt_error_t *err);

/* ---------------------------------------------------------------------------------------- */
/* Typed messages. Decode fills *msg with malloc'd strings that _clear() frees; encode only
 * reads *msg, so its strings may point anywhere. Both run _validate(), so a message that
 * breaks an invariant is never sent and is refused (JT_ERR_INPUT, permanent) on receipt. */

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
        char *task_id; /* cleanup-2026-11-23T0400Z/0003, continuations .../0003.c1 */
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
const char *jt_status_type_name(jt_status_type_t type);
const char *jt_job_kind_name(jt_job_kind_t kind);

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
