/* Walks a message table (jt_avro_messages.h) to build an Avro record from a message struct
 * and back, and the checks the three messages' validations share. */
#include "jt_avro_messages.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER(msg, f, T)  ((T *)((char *)(msg) + (f)->offset))
#define CMEMBER(msg, f, T) ((const T *)((const char *)(msg) + (f)->offset))

const char *jt_avro_messages_symbol(const char *const *symbols, int n, int value) {
        return value >= 0 && value < n ? symbols[value] : NULL;
}

static bool has_field(avro_value_t *record, const char *name) {
        avro_value_t child;
        return avro_value_get_by_name(record, name, &child, NULL) == 0;
}

static bool to_value(const jt_avro_message_t *m, const void *msg, avro_value_t *v,
                     jt_error_t *err) {
        const jt_avro_field_t *f;
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
                        ok = jt_avro_value_set_string(v, f->name, *CMEMBER(msg, f, char *), err);
                        break;
                case F_INT:
                        /* A counter newer than a pinned reader (its default 0): fine while 0. */
                        if (*CMEMBER(msg, f, int32_t) == 0 && !has_field(v, f->name))
                                break;
                        ok = jt_avro_value_set_long(v, f->name, *CMEMBER(msg, f, int32_t), err);
                        break;
                case F_LONG:
                        if (*CMEMBER(msg, f, int64_t) == 0 && !has_field(v, f->name))
                                break;
                        ok = jt_avro_value_set_long(v, f->name, *CMEMBER(msg, f, int64_t), err);
                        break;
                case F_BOOL:
                        ok = jt_avro_value_set_bool(v, f->name, *CMEMBER(msg, f, bool), err);
                        break;
                case F_ENUM:
                        sym =
                            jt_avro_messages_symbol(f->symbols, f->nsymbols, *CMEMBER(msg, f, int));
                        if (!sym) {
                                jt_error_set(err, JT_ERR_INPUT, 0, "field '%s': %d is no %s",
                                             f->name, *CMEMBER(msg, f, int), f->name);
                                return false;
                        }
                        ok = jt_avro_value_set_enum(v, f->name, sym, err);
                        break;
                case F_OPT_LONG:
                        ok = CMEMBER(msg, f, jt_opt_long_t)->set
                                 ? jt_avro_value_set_long(
                                       v, f->name, CMEMBER(msg, f, jt_opt_long_t)->value, err)
                                 : jt_avro_value_set_null(v, f->name, err);
                        break;
                case F_OPT_DOUBLE:
                        ok = CMEMBER(msg, f, jt_opt_double_t)->set
                                 ? jt_avro_value_set_double(
                                       v, f->name, CMEMBER(msg, f, jt_opt_double_t)->value, err)
                                 : jt_avro_value_set_null(v, f->name, err);
                        break;
                case F_OPT_BOOL:
                        ok = CMEMBER(msg, f, jt_opt_bool_t)->set
                                 ? jt_avro_value_set_bool(
                                       v, f->name, CMEMBER(msg, f, jt_opt_bool_t)->value, err)
                                 : jt_avro_value_set_null(v, f->name, err);
                        break;
                }
        }
        return ok;
}

void jt_avro_messages_clear(const jt_avro_message_t *m, void *msg) {
        size_t i;

        if (!msg)
                return;
        for (i = 0; i < m->nfields; i++)
                if (m->fields[i].kind == F_STRING || m->fields[i].kind == F_OPT_STRING)
                        free(*MEMBER(msg, &m->fields[i], char *));
        memset(msg, 0, m->size);
}

static bool read_string(const jt_avro_field_t *f, avro_value_t *v, void *msg, jt_error_t *err) {
        const char *s;

        /* An optional field newer than this program's (pinned) reader. */
        if (f->kind == F_OPT_STRING && !has_field(v, f->name))
                return true;
        if (!jt_avro_value_get_string(v, f->name, &s, err))
                return false;
        if (!s && f->kind == F_STRING)
                return jt_error_set(err, JT_ERR_INPUT, 0, "field '%s' is required", f->name);
        if (s && !(*MEMBER(msg, f, char *) = strdup(s)))
                return jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
        return true;
}

static bool read_integer(const jt_avro_field_t *f, avro_value_t *v, void *msg, jt_error_t *err) {
        int64_t l = 0;

        if (!has_field(v, f->name))
                return true; /* newer than this reader: stays 0, its default */
        if (!jt_avro_value_get_long(v, f->name, &l, NULL, err))
                return false;
        if (f->kind == F_LONG)
                *MEMBER(msg, f, int64_t) = l;
        else if (l < INT32_MIN || l > INT32_MAX)
                return jt_error_set(err, JT_ERR_INPUT, 0, "field '%s': %" PRId64 " is out of range",
                                    f->name, l);
        else
                *MEMBER(msg, f, int32_t) = (int32_t)l;
        return true;
}

static bool from_value(const jt_avro_message_t *m, avro_value_t *v, void *msg, jt_error_t *err) {
        const jt_avro_field_t *f;
        const char *s;
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
                        if (!read_string(f, v, msg, err))
                                return false;
                        break;
                case F_INT:
                case F_LONG:
                        if (!read_integer(f, v, msg, err))
                                return false;
                        break;
                case F_BOOL:
                        if (!jt_avro_value_get_bool(v, f->name, MEMBER(msg, f, bool), NULL, err))
                                return false;
                        break;
                case F_ENUM:
                        if (!jt_avro_value_get_enum(v, f->name, &s, err))
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
                        if (!jt_avro_value_get_long(
                                v, f->name, &MEMBER(msg, f, jt_opt_long_t)->value, &present, err))
                                return false;
                        MEMBER(msg, f, jt_opt_long_t)->set = present;
                        break;
                case F_OPT_DOUBLE:
                        if (!jt_avro_value_get_double(
                                v, f->name, &MEMBER(msg, f, jt_opt_double_t)->value, &present, err))
                                return false;
                        MEMBER(msg, f, jt_opt_double_t)->set = present;
                        break;
                case F_OPT_BOOL:
                        if (!jt_avro_value_get_bool(
                                v, f->name, &MEMBER(msg, f, jt_opt_bool_t)->value, &present, err))
                                return false;
                        MEMBER(msg, f, jt_opt_bool_t)->set = present;
                        break;
                }
        }
        return true;
}

bool jt_avro_messages_encode(const jt_avro_message_t *m, const jt_avro_registry_t *reg,
                             const void *msg, void **buf, size_t *len, jt_error_t *err) {
        avro_value_t v;
        bool ok;

        *buf = NULL;
        *len = 0;
        if (!m->validate(msg, err))
                return jt_error_prefix(err, "%s not sent", m->what);
        if (!jt_avro_value_new(reg, m->type, &v, err))
                return false;
        ok = to_value(m, msg, &v, err) && jt_avro_encode(reg, m->type, &v, buf, len, err);
        if (!ok)
                jt_error_prefix(err, "cannot encode %s", jt_avro_type_name(m->type));
        avro_value_decref(&v);
        return ok;
}

bool jt_avro_messages_decode(const jt_avro_message_t *m, const jt_avro_registry_t *reg,
                             const void *buf, size_t len, void *msg, jt_error_t *err) {
        avro_value_t v;
        bool ok;

        memset(msg, 0, m->size);
        if (!jt_avro_decode(reg, m->type, buf, len, &v, err))
                return false;
        ok = from_value(m, &v, msg, err);
        avro_value_decref(&v);
        if (!ok) {
                jt_error_prefix(err, "%s message", jt_avro_type_name(m->type));
                jt_avro_messages_clear(m, msg);
                return false;
        }
        if (!m->validate(msg, err)) {
                jt_avro_messages_clear(m, msg);
                return jt_error_prefix(err, "invalid %s", m->what);
        }
        return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Validation: invariants a worker relies on. A message that breaks one is permanent input
 * error (DLQ), never a crash or a wrong deletion. */

bool jt_avro_messages_nonempty(const char *s, const char *what, jt_error_t *err) {
        if (!s || !*s)
                return jt_error_set(err, JT_ERR_INPUT, 0, "%s must not be empty", what);
        return true;
}

/* Ids are short (a job id, "<job>/0003+c2", "host/pid"): a longer one is hostile, and a reader
 * that keeps ids per job (the notifier's progress) must not grow by megabytes per event. */
#define ID_MAX 256

bool jt_avro_messages_id_bounded(const char *s, const char *what, jt_error_t *err) {
        size_t len = s ? strnlen(s, ID_MAX + 1) : 0;

        if (len > ID_MAX)
                return jt_error_set(err, JT_ERR_INPUT, 0, "%s must be at most %d bytes (got %zu)",
                                    what, ID_MAX, strlen(s));
        return true;
}

/* YYYY-MM, a real month. */
bool jt_avro_messages_valid_month(const char *s) {
        int i;

        if (!s || strlen(s) != 7 || s[4] != '-')
                return false;
        for (i = 0; i < 7; i++)
                if (i != 4 && !isdigit((unsigned char)s[i]))
                        return false;
        return (s[5] == '0' && s[6] >= '1') || (s[5] == '1' && s[6] <= '2');
}

bool jt_avro_messages_valid_object_id(const char *s) {
        int i;

        if (strlen(s) != 24)
                return false;
        for (i = 0; i < 24; i++)
                if (!isxdigit((unsigned char)s[i]))
                        return false;
        return true;
}
