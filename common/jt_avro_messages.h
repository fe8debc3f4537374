/* The table-driven mapping between the message structs of jt_messages.h and Avro records,
 * shared by jt_stats_task.c, jt_cleanup_task.c and jt_status_event.c: one table per message maps
 * struct members to schema fields, and one routine per direction walks it. Private to common/. */
#ifndef JT_AVRO_MESSAGES_H
#define JT_AVRO_MESSAGES_H

#include "jt_avro.h"
#include "jt_messages.h"

#include <stddef.h>

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
} jt_avro_field_kind_t;

typedef struct {
        const char *name;
        jt_avro_field_kind_t kind;
        size_t offset;
        const char *const *symbols;
        int nsymbols;
        /* A field added with a default after version 1: a pinned older schema lacks it, so it
         * is not written there and reads as absent_value (F_LONG) or unset. */
        bool added;
        int64_t absent_value;
} jt_avro_field_t;

typedef struct {
        jt_avro_type_t type;
        const jt_avro_field_t *fields;
        size_t nfields;
        size_t size;      /* of the struct */
        const char *what; /* "stats task", for messages */
        /* The message's invariants, run before encoding and after decoding. */
        bool (*validate)(const void *msg, jt_error_t *err);
} jt_avro_message_t;

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
#define MESSAGE(type, fields, T, what, validate)                                                   \
        { type, fields, sizeof(fields) / sizeof((fields)[0]), sizeof(T), what, validate }

/* symbols[value], or NULL when value is out of range. */
const char *jt_avro_messages_symbol(const char *const *symbols, int n, int value);

/* Validates msg (a struct of m) and encodes it as one single-object message; *buf is
 * malloc'd. */
bool jt_avro_messages_encode(const jt_avro_message_t *m, const jt_avro_registry_t *reg,
                             const void *msg, void **buf, size_t *len, jt_error_t *err);

/* Decodes buf into msg (a struct of m, zeroed first) and validates it; on failure msg is
 * cleared. */
bool jt_avro_messages_decode(const jt_avro_message_t *m, const jt_avro_registry_t *reg,
                             const void *buf, size_t len, void *msg, jt_error_t *err);

/* Frees msg's strings and zeroes it; msg NULL is a no-op. */
void jt_avro_messages_clear(const jt_avro_message_t *m, void *msg);

/* Checks shared by the validations: a non-empty string, an id of at most 256 bytes, a month
 * YYYY-MM, an ObjectId as 24 hex digits. */
bool jt_avro_messages_nonempty(const char *s, const char *what, jt_error_t *err);
bool jt_avro_messages_id_bounded(const char *s, const char *what, jt_error_t *err);
bool jt_avro_messages_valid_month(const char *s);
bool jt_avro_messages_valid_object_id(const char *s);

#endif
