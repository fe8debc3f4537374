/* Typed structs for the three messages (stats task, cleanup task, status event): one table
 * per message maps struct members to schema fields, and one generic routine per direction
 * walks it. Validation of field values lives here too, run on both sides of the wire. */
#include "jt_avro.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum {
        F_STRING,     /* char *, required */
        F_OPT_STRING, /* char *, NULL for null */
        F_INT,        /* int32_t */
        F_LONG,       /* int64_t */
        F_BOOL,       /* bool */
        F_ENUM,       /* a C enum whose value i is symbols[i] */
        F_OPT_LONG,   /* jt_opt_long_t, int or long in the schema */
        F_OPT_DOUBLE, /* jt_opt_double_t */
        F_OPT_BOOL,   /* jt_opt_bool_t */
} field_kind_t;

typedef struct {
        const char *name;
        field_kind_t kind;
        size_t offset;
        const char *const *symbols;
        int nsymbols;
        /* A field added with a default after version 1: a pinned older schema lacks it, so it
         * is not written there and reads as absent_value (F_LONG) or unset. */
        bool added;
        int64_t absent_value;
} field_t;

typedef struct {
        jt_avro_type_t type;
        const field_t *fields;
        size_t nfields;
        size_t size; /* of the struct */
} message_t;

/* The enum members are read and written through int. */
_Static_assert(sizeof(jt_stats_task_kind_t) == sizeof(int), "enum size");
_Static_assert(sizeof(jt_status_type_t) == sizeof(int), "enum size");
_Static_assert(sizeof(jt_job_kind_t) == sizeof(int), "enum size");

#define NSYM(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define FIELD(T, m, k)                                                                             \
        { .name = #m, .kind = k, .offset = offsetof(T, m) }
#define NAMED(T, m, n, k)                                                                          \
        { .name = n, .kind = k, .offset = offsetof(T, m) }
#define ENUM(T, m, syms)                                                                           \
        {                                                                                          \
                .name = #m, .kind = F_ENUM, .offset = offsetof(T, m), .symbols = syms,             \
                .nsymbols = NSYM(syms)                                                             \
        }
#define ADDED(T, m, n, k, absent)                                                                  \
        { .name = n, .kind = k, .offset = offsetof(T, m), .added = true, .absent_value = absent }

/* In the order of the C enums, which is the schemas' order. */
static const char *const stats_kind_symbols[] = {"SHARD", "FINALIZE", "RANGE"};
static const char *const status_type_symbols[] = {"JOB_STARTED",   "TASK_STARTED", "TASK_PROGRESS",
                                                  "TASK_FINISHED", "TASK_FAILED",  "JOB_FINISHED",
                                                  "JOB_FAILED"};
static const char *const job_kind_symbols[] = {"STATS", "CLEANUP"};

static const field_t stats_task_fields[] = {
    FIELD(jt_stats_task_t, job_id, F_STRING),
    FIELD(jt_stats_task_t, task_id, F_STRING),
    ENUM(jt_stats_task_t, kind, stats_kind_symbols),
    FIELD(jt_stats_task_t, shard, F_INT),
    FIELD(jt_stats_task_t, shard_count, F_INT),
    FIELD(jt_stats_task_t, month, F_STRING),
    FIELD(jt_stats_task_t, test_mode, F_BOOL),
    FIELD(jt_stats_task_t, run_id, F_OPT_STRING),
    FIELD(jt_stats_task_t, run_nonce, F_OPT_STRING),
    FIELD(jt_stats_task_t, user_from, F_OPT_STRING),
    FIELD(jt_stats_task_t, user_to, F_OPT_STRING),
    FIELD(jt_stats_task_t, parent_task_id, F_OPT_STRING),
    FIELD(jt_stats_task_t, continuation_seq, F_INT),
    FIELD(jt_stats_task_t, resume_after_user, F_OPT_STRING),
    FIELD(jt_stats_task_t, users_so_far, F_LONG),
    FIELD(jt_stats_task_t, with_entry_so_far, F_LONG),
    FIELD(jt_stats_task_t, bad_rows_so_far, F_LONG),
    FIELD(jt_stats_task_t, notified_so_far, F_LONG),
    FIELD(jt_stats_task_t, time_budget_s, F_INT),
    NAMED(jt_stats_task_t, created_at_ms, "created_at", F_LONG),
};

static const field_t cleanup_task_fields[] = {
    FIELD(jt_cleanup_task_t, job_id, F_STRING),
    FIELD(jt_cleanup_task_t, task_id, F_STRING),
    NAMED(jt_cleanup_task_t, range_start_ms, "range_start", F_LONG),
    NAMED(jt_cleanup_task_t, range_end_ms, "range_end", F_LONG),
    NAMED(jt_cleanup_task_t, cutoff_ms, "cutoff", F_LONG),
    FIELD(jt_cleanup_task_t, retention_days, F_INT),
    FIELD(jt_cleanup_task_t, batch_size, F_INT),
    FIELD(jt_cleanup_task_t, batch_delay_ms, F_INT),
    FIELD(jt_cleanup_task_t, time_budget_s, F_INT),
    FIELD(jt_cleanup_task_t, test_mode, F_BOOL),
    FIELD(jt_cleanup_task_t, triggered_by, F_STRING),
    FIELD(jt_cleanup_task_t, parent_task_id, F_OPT_STRING),
    FIELD(jt_cleanup_task_t, continuation_seq, F_INT),
    FIELD(jt_cleanup_task_t, resume_after_id, F_OPT_STRING),
    FIELD(jt_cleanup_task_t, deleted_so_far, F_LONG),
    FIELD(jt_cleanup_task_t, run_nonce, F_OPT_STRING),
    NAMED(jt_cleanup_task_t, created_at_ms, "created_at", F_LONG),
    ADDED(jt_cleanup_task_t, resume_from_ms, "resume_from", F_OPT_LONG, 0),
    ADDED(jt_cleanup_task_t, found, "found", F_LONG, -1),
};

static const field_t status_event_fields[] = {
    FIELD(jt_status_event_t, job_id, F_STRING),
    FIELD(jt_status_event_t, task_id, F_OPT_STRING),
    ENUM(jt_status_event_t, type, status_type_symbols),
    ENUM(jt_status_event_t, job_kind, job_kind_symbols),
    NAMED(jt_status_event_t, timestamp_ms, "timestamp", F_LONG),
    FIELD(jt_status_event_t, worker_id, F_OPT_STRING),
    FIELD(jt_status_event_t, test_mode, F_BOOL),
    FIELD(jt_status_event_t, tasks_total, F_OPT_LONG),
    FIELD(jt_status_event_t, tasks_done, F_OPT_LONG),
    FIELD(jt_status_event_t, users_processed, F_OPT_LONG),
    FIELD(jt_status_event_t, users_updated, F_OPT_LONG),
    FIELD(jt_status_event_t, notifications_created, F_OPT_LONG),
    FIELD(jt_status_event_t, notification_id, F_OPT_STRING),
    FIELD(jt_status_event_t, month, F_OPT_STRING),
    FIELD(jt_status_event_t, records_deleted, F_OPT_LONG),
    FIELD(jt_status_event_t, total_records_found, F_OPT_LONG),
    FIELD(jt_status_event_t, remaining_records, F_OPT_LONG),
    FIELD(jt_status_event_t, completion_percentage, F_OPT_DOUBLE),
    FIELD(jt_status_event_t, was_timeout_stopped, F_OPT_BOOL),
    FIELD(jt_status_event_t, processing_mode, F_OPT_STRING),
    FIELD(jt_status_event_t, batch_size, F_OPT_LONG),
    NAMED(jt_status_event_t, cutoff_date_ms, "cutoff_date", F_OPT_LONG),
    FIELD(jt_status_event_t, triggered_by, F_OPT_STRING),
    FIELD(jt_status_event_t, cleanup_triggered, F_OPT_BOOL),
    FIELD(jt_status_event_t, execution_ms, F_OPT_LONG),
    FIELD(jt_status_event_t, progress_done, F_OPT_LONG),
    FIELD(jt_status_event_t, progress_total, F_OPT_LONG),
    FIELD(jt_status_event_t, error_message, F_OPT_STRING),
    FIELD(jt_status_event_t, error_stack, F_OPT_STRING),
    ADDED(jt_status_event_t, users_pushed, "users_pushed", F_OPT_LONG, 0),
    ADDED(jt_status_event_t, push_failures, "push_failures", F_OPT_LONG, 0),
};

static const message_t stats_task_msg = {JT_AVRO_STATS_TASK, stats_task_fields,
                                         sizeof(stats_task_fields) / sizeof(field_t),
                                         sizeof(jt_stats_task_t)};
static const message_t cleanup_task_msg = {JT_AVRO_CLEANUP_TASK, cleanup_task_fields,
                                           sizeof(cleanup_task_fields) / sizeof(field_t),
                                           sizeof(jt_cleanup_task_t)};
static const message_t status_event_msg = {JT_AVRO_STATUS_EVENT, status_event_fields,
                                           sizeof(status_event_fields) / sizeof(field_t),
                                           sizeof(jt_status_event_t)};

#define MEMBER(msg, f, T)  ((T *)((char *)(msg) + (f)->offset))
#define CMEMBER(msg, f, T) ((const T *)((const char *)(msg) + (f)->offset))

static const char *symbol_name(const char *const *symbols, int n, int value) {
        return value >= 0 && value < n ? symbols[value] : NULL;
}

const char *jt_stats_task_kind_name(jt_stats_task_kind_t kind) {
        const char *s = symbol_name(stats_kind_symbols, NSYM(stats_kind_symbols), (int)kind);
        return s ? s : "unknown";
}

const char *jt_status_type_name(jt_status_type_t type) {
        const char *s = symbol_name(status_type_symbols, NSYM(status_type_symbols), (int)type);
        return s ? s : "unknown";
}

const char *jt_job_kind_name(jt_job_kind_t kind) {
        const char *s = symbol_name(job_kind_symbols, NSYM(job_kind_symbols), (int)kind);
        return s ? s : "unknown";
}

static bool has_field(avro_value_t *record, const char *name) {
        avro_value_t child;
        return avro_value_get_by_name(record, name, &child, NULL) == 0;
}

static bool to_value(const message_t *m, const void *msg, avro_value_t *v, jt_error_t *err) {
        const field_t *f;
        const char *sym;
        size_t i;
        bool ok = true;

        for (i = 0; i < m->nfields && ok; i++) {
                f = &m->fields[i];
                if (f->added && !has_field(v, f->name))
                        continue;
                switch (f->kind) {
                case F_STRING:
                        if (!*CMEMBER(msg, f, char *)) {
                                jt_error_set(err, JT_ERR_INPUT, 0, "field '%s' is required",
                                             f->name);
                                return false;
                        }
                        /* fall through */
                case F_OPT_STRING:
                        /* A field newer than a pinned (older) reader: fine while unset. */
                        if (!*CMEMBER(msg, f, char *) && f->kind == F_OPT_STRING &&
                            !has_field(v, f->name))
                                break;
                        ok = jt_avro_set_string(v, f->name, *CMEMBER(msg, f, char *), err);
                        break;
                case F_INT:
                        /* A counter newer than a pinned reader (its default 0): fine while 0. */
                        if (*CMEMBER(msg, f, int32_t) == 0 && !has_field(v, f->name))
                                break;
                        ok = jt_avro_set_long(v, f->name, *CMEMBER(msg, f, int32_t), err);
                        break;
                case F_LONG:
                        if (*CMEMBER(msg, f, int64_t) == 0 && !has_field(v, f->name))
                                break;
                        ok = jt_avro_set_long(v, f->name, *CMEMBER(msg, f, int64_t), err);
                        break;
                case F_BOOL:
                        ok = jt_avro_set_bool(v, f->name, *CMEMBER(msg, f, bool), err);
                        break;
                case F_ENUM:
                        sym = symbol_name(f->symbols, f->nsymbols, *CMEMBER(msg, f, int));
                        if (!sym) {
                                jt_error_set(err, JT_ERR_INPUT, 0, "field '%s': %d is no %s",
                                             f->name, *CMEMBER(msg, f, int), f->name);
                                return false;
                        }
                        ok = jt_avro_set_enum(v, f->name, sym, err);
                        break;
                case F_OPT_LONG:
                        ok = CMEMBER(msg, f, jt_opt_long_t)->set
                                 ? jt_avro_set_long(v, f->name,
                                                    CMEMBER(msg, f, jt_opt_long_t)->value, err)
                                 : jt_avro_set_null(v, f->name, err);
                        break;
                case F_OPT_DOUBLE:
                        ok = CMEMBER(msg, f, jt_opt_double_t)->set
                                 ? jt_avro_set_double(v, f->name,
                                                      CMEMBER(msg, f, jt_opt_double_t)->value, err)
                                 : jt_avro_set_null(v, f->name, err);
                        break;
                case F_OPT_BOOL:
                        ok = CMEMBER(msg, f, jt_opt_bool_t)->set
                                 ? jt_avro_set_bool(v, f->name,
                                                    CMEMBER(msg, f, jt_opt_bool_t)->value, err)
                                 : jt_avro_set_null(v, f->name, err);
                        break;
                }
        }
        return ok;
}

static void clear_message(const message_t *m, void *msg) {
        size_t i;

        if (!msg)
                return;
        for (i = 0; i < m->nfields; i++)
                if (m->fields[i].kind == F_STRING || m->fields[i].kind == F_OPT_STRING)
                        free(*MEMBER(msg, &m->fields[i], char *));
        memset(msg, 0, m->size);
}

static bool from_value(const message_t *m, avro_value_t *v, void *msg, jt_error_t *err) {
        const field_t *f;
        const char *s;
        int64_t l = 0;
        size_t i;
        bool present;
        int k;

        for (i = 0; i < m->nfields; i++) {
                f = &m->fields[i];
                if (f->added && !has_field(v, f->name)) {
                        if (f->kind == F_LONG)
                                *MEMBER(msg, f, int64_t) = f->absent_value;
                        continue;
                }
                switch (f->kind) {
                case F_STRING:
                case F_OPT_STRING:
                        /* An optional field newer than this program's (pinned) reader. */
                        if (f->kind == F_OPT_STRING && !has_field(v, f->name))
                                break;
                        if (!jt_avro_get_string(v, f->name, &s, err))
                                return false;
                        if (!s && f->kind == F_STRING)
                                return jt_error_set(err, JT_ERR_INPUT, 0, "field '%s' is required",
                                                    f->name);
                        if (s && !(*MEMBER(msg, f, char *) = strdup(s)))
                                return jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                        break;
                case F_INT:
                case F_LONG:
                        if (!has_field(v, f->name))
                                break; /* newer than this reader: stays 0, its default */
                        if (!jt_avro_get_long(v, f->name, &l, NULL, err))
                                return false;
                        if (f->kind == F_LONG)
                                *MEMBER(msg, f, int64_t) = l;
                        else if (l < INT32_MIN || l > INT32_MAX)
                                return jt_error_set(err, JT_ERR_INPUT, 0,
                                                    "field '%s': %" PRId64 " is out of range",
                                                    f->name, l);
                        else
                                *MEMBER(msg, f, int32_t) = (int32_t)l;
                        break;
                case F_BOOL:
                        if (!jt_avro_get_bool(v, f->name, MEMBER(msg, f, bool), NULL, err))
                                return false;
                        break;
                case F_ENUM:
                        if (!jt_avro_get_enum(v, f->name, &s, err))
                                return false;
                        for (k = 0; k < f->nsymbols; k++)
                                if (!strcmp(s, f->symbols[k]))
                                        break;
                        if (k == f->nsymbols)
                                return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                                    "field '%s': this program does not know "
                                                    "'%s'",
                                                    f->name, s);
                        *MEMBER(msg, f, int) = k;
                        break;
                case F_OPT_LONG:
                        if (!jt_avro_get_long(v, f->name, &MEMBER(msg, f, jt_opt_long_t)->value,
                                              &present, err))
                                return false;
                        MEMBER(msg, f, jt_opt_long_t)->set = present;
                        break;
                case F_OPT_DOUBLE:
                        if (!jt_avro_get_double(v, f->name, &MEMBER(msg, f, jt_opt_double_t)->value,
                                                &present, err))
                                return false;
                        MEMBER(msg, f, jt_opt_double_t)->set = present;
                        break;
                case F_OPT_BOOL:
                        if (!jt_avro_get_bool(v, f->name, &MEMBER(msg, f, jt_opt_bool_t)->value,
                                              &present, err))
                                return false;
                        MEMBER(msg, f, jt_opt_bool_t)->set = present;
                        break;
                }
        }
        return true;
}

static bool encode_message(const message_t *m, const jt_avro_registry_t *reg, const void *msg,
                           void **buf, size_t *len, jt_error_t *err) {
        avro_value_t v;
        bool ok;

        *buf = NULL;
        *len = 0;
        if (!jt_avro_value_new(reg, m->type, &v, err))
                return false;
        ok = to_value(m, msg, &v, err) && jt_avro_encode(reg, m->type, &v, buf, len, err);
        if (!ok)
                jt_error_prefix(err, "cannot encode %s", jt_avro_type_name(m->type));
        avro_value_decref(&v);
        return ok;
}

static bool decode_message(const message_t *m, const jt_avro_registry_t *reg, const void *buf,
                           size_t len, void *msg, jt_error_t *err) {
        avro_value_t v;
        bool ok;

        memset(msg, 0, m->size);
        if (!jt_avro_decode(reg, m->type, buf, len, &v, err))
                return false;
        ok = from_value(m, &v, msg, err);
        avro_value_decref(&v);
        if (!ok) {
                jt_error_prefix(err, "%s message", jt_avro_type_name(m->type));
                clear_message(m, msg);
        }
        return ok;
}

/* ---------------------------------------------------------------------------------------- */
/* Validation: invariants a worker relies on. A message that breaks one is permanent input
 * error (DLQ), never a crash or a wrong deletion. */

static bool nonempty(const char *s, const char *what, jt_error_t *err) {
        if (!s || !*s)
                return jt_error_set(err, JT_ERR_INPUT, 0, "%s must not be empty", what);
        return true;
}

/* Ids are short (a job id, "<job>/0003+c2", "host/pid"): a longer one is hostile, and a reader
 * that keeps ids per job (the notifier's progress) must not grow by megabytes per event. */
#define ID_MAX 256

static bool id_bounded(const char *s, const char *what, jt_error_t *err) {
        size_t len = s ? strnlen(s, ID_MAX + 1) : 0;

        if (len > ID_MAX)
                return jt_error_set(err, JT_ERR_INPUT, 0, "%s must be at most %d bytes (got %zu)",
                                    what, ID_MAX, strlen(s));
        return true;
}

/* YYYY-MM, a real month. */
static bool valid_month(const char *s) {
        int i;

        if (!s || strlen(s) != 7 || s[4] != '-')
                return false;
        for (i = 0; i < 7; i++)
                if (i != 4 && !isdigit((unsigned char)s[i]))
                        return false;
        return (s[5] == '0' && s[6] >= '1') || (s[5] == '1' && s[6] <= '2');
}

static bool valid_object_id(const char *s) {
        int i;

        if (strlen(s) != 24)
                return false;
        for (i = 0; i < 24; i++)
                if (!isxdigit((unsigned char)s[i]))
                        return false;
        return true;
}

bool jt_stats_task_validate(const jt_stats_task_t *t, jt_error_t *err) {
        if (!nonempty(t->job_id, "job_id", err) || !nonempty(t->task_id, "task_id", err))
                return false;
        if (!valid_month(t->month))
                return jt_error_set(err, JT_ERR_INPUT, 0, "month must be YYYY-MM (got '%s')",
                                    t->month ? t->month : "(null)");
        if (t->shard_count < 1)
                return jt_error_set(err, JT_ERR_INPUT, 0, "shard_count must be >= 1 (got %d)",
                                    t->shard_count);
        if (t->kind != JT_STATS_TASK_FINALIZE && (t->shard < 0 || t->shard >= t->shard_count))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "shard must be 0..%d for a %s task (got %d)",
                                    t->shard_count - 1, jt_stats_task_kind_name(t->kind), t->shard);
        if (t->kind == JT_STATS_TASK_FINALIZE && t->shard != -1)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "shard must be -1 for the FINALIZE task (got %d)", t->shard);
        if (t->kind != JT_STATS_TASK_SHARD && t->kind != JT_STATS_TASK_FINALIZE &&
            t->kind != JT_STATS_TASK_RANGE)
                return jt_error_set(err, JT_ERR_INPUT, 0, "kind %d is unknown", (int)t->kind);
        if ((t->user_from && !valid_object_id(t->user_from)) ||
            (t->user_to && !valid_object_id(t->user_to)) ||
            (t->resume_after_user && !valid_object_id(t->resume_after_user)))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "user_from, user_to and resume_after_user must be 24 hex "
                                    "digits (an ObjectId) or null");
        if (t->user_from && t->user_to && strcasecmp(t->user_from, t->user_to) >= 0)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "the user range [%s, %s) is empty or inverted", t->user_from,
                                    t->user_to);
        if (t->continuation_seq < 0 || t->time_budget_s < 0 || t->users_so_far < 0 ||
            t->with_entry_so_far < 0 || t->bad_rows_so_far < 0 || t->notified_so_far < 0)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "continuation_seq, time_budget_s and the figures so far must "
                                    "not be negative");
        if ((t->continuation_seq > 0) != (t->parent_task_id != NULL))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "a continuation has both parent_task_id and continuation_seq "
                                    "> 0, a first task neither");
        return true;
}

bool jt_cleanup_task_validate(const jt_cleanup_task_t *t, jt_error_t *err) {
        if (!nonempty(t->job_id, "job_id", err) || !nonempty(t->task_id, "task_id", err) ||
            !nonempty(t->triggered_by, "triggered_by", err))
                return false;
        if (t->range_start_ms >= t->range_end_ms)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "range_start must be before range_end (got %" PRId64
                                    " >= %" PRId64 ")",
                                    t->range_start_ms, t->range_end_ms);
        if (t->range_end_ms > t->cutoff_ms)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "range_end must not pass the cutoff (got %" PRId64 " > %" PRId64
                                    ")",
                                    t->range_end_ms, t->cutoff_ms);
        if (t->retention_days < 1)
                return jt_error_set(err, JT_ERR_INPUT, 0, "retention_days must be >= 1 (got %d)",
                                    t->retention_days);
        if (t->batch_size < 1)
                return jt_error_set(err, JT_ERR_INPUT, 0, "batch_size must be >= 1 (got %d)",
                                    t->batch_size);
        if (t->batch_delay_ms < 0)
                return jt_error_set(err, JT_ERR_INPUT, 0, "batch_delay_ms must be >= 0 (got %d)",
                                    t->batch_delay_ms);
        if (t->time_budget_s < 1)
                return jt_error_set(err, JT_ERR_INPUT, 0, "time_budget_s must be >= 1 (got %d)",
                                    t->time_budget_s);
        if (t->continuation_seq < 0 || t->deleted_so_far < 0)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "continuation_seq and deleted_so_far must be >= 0 (got %d, "
                                    "%" PRId64 ")",
                                    t->continuation_seq, t->deleted_so_far);
        if ((t->continuation_seq > 0) != (t->parent_task_id != NULL))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "a continuation (continuation_seq %d) has a parent_task_id, "
                                    "a first task has none",
                                    t->continuation_seq);
        if (t->found < -1)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "found must be -1 (unknown) or a count >= 0 (got %" PRId64 ")",
                                    t->found);
        if (t->resume_from_ms.set && (t->resume_from_ms.value < t->range_start_ms ||
                                      t->resume_from_ms.value > t->range_end_ms))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "resume_from must lie in the range [%" PRId64 ", %" PRId64
                                    "] (got %" PRId64 ")",
                                    t->range_start_ms, t->range_end_ms, t->resume_from_ms.value);
        if (t->resume_after_id && !valid_object_id(t->resume_after_id))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "resume_after_id must be a 24-digit hex ObjectId (got '%s')",
                                    t->resume_after_id);
        return true;
}

bool jt_status_event_validate(const jt_status_event_t *e, jt_error_t *err) {
        const struct {
                const char *name;
                const jt_opt_long_t *v;
        } counts[] = {{"tasks_total", &e->tasks_total},
                      {"tasks_done", &e->tasks_done},
                      {"users_processed", &e->users_processed},
                      {"users_updated", &e->users_updated},
                      {"notifications_created", &e->notifications_created},
                      {"records_deleted", &e->records_deleted},
                      {"total_records_found", &e->total_records_found},
                      {"remaining_records", &e->remaining_records},
                      {"batch_size", &e->batch_size},
                      {"execution_ms", &e->execution_ms},
                      {"progress_done", &e->progress_done},
                      {"progress_total", &e->progress_total},
                      {"users_pushed", &e->users_pushed},
                      {"push_failures", &e->push_failures}};
        size_t i;

        if (!nonempty(e->job_id, "job_id", err) || !id_bounded(e->job_id, "job_id", err) ||
            !id_bounded(e->task_id, "task_id", err) || !id_bounded(e->worker_id, "worker_id", err))
                return false;
        if (!symbol_name(status_type_symbols, NSYM(status_type_symbols), (int)e->type) ||
            !symbol_name(job_kind_symbols, NSYM(job_kind_symbols), (int)e->job_kind))
                return jt_error_set(err, JT_ERR_INPUT, 0, "unknown event type %d or job kind %d",
                                    (int)e->type, (int)e->job_kind);
        if (e->type >= JT_STATUS_TASK_STARTED && e->type <= JT_STATUS_TASK_FAILED && !e->task_id)
                return jt_error_set(err, JT_ERR_INPUT, 0, "a %s event needs a task_id",
                                    jt_status_type_name(e->type));
        /* The event's time is subtracted from the clock and from other events' times: a year
         * outside 1970..9999 is no event of ours, and would overflow that arithmetic. (The
         * cutoff is only shown, and any value shows.) */
        if (e->timestamp_ms < 0 || e->timestamp_ms > JT_STATUS_TIME_MAX_MS)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "timestamp must be 0..%" PRId64
                                    " ms (1970 to 9999, got %" PRId64 ")",
                                    (int64_t)JT_STATUS_TIME_MAX_MS, e->timestamp_ms);
        /* Counts may be as large as int64 goes: readers saturate their sums (jt_sat.h). */
        for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
                if (counts[i].v->set && counts[i].v->value < 0)
                        return jt_error_set(err, JT_ERR_INPUT, 0,
                                            "%s must be >= 0 (got %" PRId64 ")", counts[i].name,
                                            counts[i].v->value);
        if (e->completion_percentage.set &&
            (!isfinite(e->completion_percentage.value) || e->completion_percentage.value < 0))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "completion_percentage must be a finite number >= 0");
        return true;
}

/* ---------------------------------------------------------------------------------------- */

bool jt_stats_task_encode(const jt_avro_registry_t *reg, const jt_stats_task_t *task, void **buf,
                          size_t *len, jt_error_t *err) {
        *buf = NULL;
        *len = 0;
        if (!jt_stats_task_validate(task, err))
                return jt_error_prefix(err, "stats task not sent");
        return encode_message(&stats_task_msg, reg, task, buf, len, err);
}

bool jt_stats_task_decode(const jt_avro_registry_t *reg, const void *buf, size_t len,
                          jt_stats_task_t *task, jt_error_t *err) {
        if (!decode_message(&stats_task_msg, reg, buf, len, task, err))
                return false;
        if (!jt_stats_task_validate(task, err)) {
                jt_stats_task_clear(task);
                return jt_error_prefix(err, "invalid stats task");
        }
        return true;
}

void jt_stats_task_clear(jt_stats_task_t *task) {
        clear_message(&stats_task_msg, task);
}

bool jt_cleanup_task_encode(const jt_avro_registry_t *reg, const jt_cleanup_task_t *task,
                            void **buf, size_t *len, jt_error_t *err) {
        *buf = NULL;
        *len = 0;
        if (!jt_cleanup_task_validate(task, err))
                return jt_error_prefix(err, "cleanup task not sent");
        return encode_message(&cleanup_task_msg, reg, task, buf, len, err);
}

bool jt_cleanup_task_decode(const jt_avro_registry_t *reg, const void *buf, size_t len,
                            jt_cleanup_task_t *task, jt_error_t *err) {
        if (!decode_message(&cleanup_task_msg, reg, buf, len, task, err))
                return false;
        if (!jt_cleanup_task_validate(task, err)) {
                jt_cleanup_task_clear(task);
                return jt_error_prefix(err, "invalid cleanup task");
        }
        return true;
}

void jt_cleanup_task_clear(jt_cleanup_task_t *task) {
        clear_message(&cleanup_task_msg, task);
}

bool jt_status_event_encode(const jt_avro_registry_t *reg, const jt_status_event_t *event,
                            void **buf, size_t *len, jt_error_t *err) {
        *buf = NULL;
        *len = 0;
        if (!jt_status_event_validate(event, err))
                return jt_error_prefix(err, "status event not sent");
        return encode_message(&status_event_msg, reg, event, buf, len, err);
}

bool jt_status_event_decode(const jt_avro_registry_t *reg, const void *buf, size_t len,
                            jt_status_event_t *event, jt_error_t *err) {
        if (!decode_message(&status_event_msg, reg, buf, len, event, err))
                return false;
        if (!jt_status_event_validate(event, err)) {
                jt_status_event_clear(event);
                return jt_error_prefix(err, "invalid status event");
        }
        return true;
}

void jt_status_event_clear(jt_status_event_t *event) {
        clear_message(&status_event_msg, event);
}
