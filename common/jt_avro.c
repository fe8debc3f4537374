/* Single-object encoding: C3 01, the writer schema's CRC-64-AVRO fingerprint (8 bytes,
 * little-endian), then the Avro binary datum. Decoding resolves the writer's schema to the
 * program's reader schema (jt_avro_registry.c prepares the resolution) and checks that enum
 * indexes stay within the reader's symbols. Also the names of the message types. */
#include "jt_avro.h"
#include "jt_avro_registry_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t jt_avro_magic[2] = {0xc3, 0x01};

static const char *const type_names[JT_AVRO_TYPE_COUNT] = {
    [JT_AVRO_STATS_TASK] = "stats_task",
    [JT_AVRO_CLEANUP_TASK] = "cleanup_task",
    [JT_AVRO_STATUS_EVENT] = "status_event",
};

/* ---------------------------------------------------------------------------------------- */
/* Names */

const char *jt_avro_type_name(jt_avro_type_t type) {
        if ((int)type < 0 || type >= JT_AVRO_TYPE_COUNT)
                return "unknown";
        return type_names[type];
}

bool jt_avro_type_from_name(const char *name, jt_avro_type_t *type, jt_error_t *err) {
        int t;

        for (t = 0; t < JT_AVRO_TYPE_COUNT; t++)
                if (!strcmp(name, type_names[t])) {
                        *type = (jt_avro_type_t)t;
                        return true;
                }
        *type = JT_AVRO_TYPE_COUNT;
        return jt_error_set(err, JT_ERR_SCHEMA, 0,
                            "unknown message type '%s' (expected stats_task, cleanup_task or "
                            "status_event)",
                            name);
}

bool jt_avro_parse_schema_file_name(const char *path, jt_avro_type_t *type, int *version,
                                    jt_error_t *err) {
        const char *base = strrchr(path, '/');
        const char *v, *ext;
        char name[64];
        char *end;
        long n;

        *type = JT_AVRO_TYPE_COUNT;
        *version = 0;
        base = base ? base + 1 : path;
        ext = strstr(base, ".avsc");
        v = strstr(base, ".v");
        if (!ext || ext[5] != '\0' || !v || v > ext || (size_t)(v - base) >= sizeof(name))
                return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                    "schema file name '%s' is not TYPE.vN.avsc", base);
        memcpy(name, base, (size_t)(v - base));
        name[v - base] = '\0';
        errno = 0;
        n = strtol(v + 2, &end, 10);
        if (end != ext || errno || n < 1 || n > 9999 || v[2] < '1' || v[2] > '9')
                return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                    "schema file name '%s': version must be 1..9999", base);
        if (!jt_avro_type_from_name(name, type, err))
                return jt_error_prefix(err, "schema file '%s'", base);
        *version = (int)n;
        return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Encoding and decoding */

bool jt_avro_value_new(const jt_avro_registry_t *reg, jt_avro_type_t type, avro_value_t *value,
                       jt_error_t *err) {
        const entry_t *r = jt_avro_registry_reader_entry(reg, type, err);

        value->iface = NULL;
        value->self = NULL;
        if (!r)
                return false;
        if (avro_generic_value_new(r->iface, value)) {
                value->iface = NULL;
                value->self = NULL;
                return jt_error_set(err, JT_ERR_SYSTEM, 0, "cannot make a %s value: %s",
                                    jt_avro_type_name(type), avro_strerror());
        }
        if (!jt_avro_registry_apply_defaults(value, r, NULL, 0, err)) {
                avro_value_decref(value);
                value->iface = NULL;
                value->self = NULL;
                return false;
        }
        return true;
}

bool jt_avro_encode(const jt_avro_registry_t *reg, jt_avro_type_t type, avro_value_t *value,
                    void **buf, size_t *len, jt_error_t *err) {
        const entry_t *r = jt_avro_registry_reader_entry(reg, type, err);
        avro_writer_t writer = NULL;
        avro_schema_t vs;
        uint8_t *out = NULL;
        size_t size = 0;
        bool ok = false;

        *buf = NULL;
        *len = 0;
        if (!r)
                return false;
        vs = avro_value_get_schema(value);
        if (vs != r->schema && !avro_schema_equal(vs, r->schema))
                return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                    "cannot encode a %s value as %s v%d: another schema",
                                    avro_schema_name(vs), jt_avro_type_name(type), r->version);
        if (avro_value_sizeof(value, &size))
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "cannot encode %s: %s",
                                    jt_avro_type_name(type), avro_strerror());
        if (size > JT_AVRO_MAX_MESSAGE_BYTES - JT_AVRO_HEADER_BYTES)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "%s message of %zu bytes exceeds the %d-byte cap",
                                    jt_avro_type_name(type), size + JT_AVRO_HEADER_BYTES,
                                    JT_AVRO_MAX_MESSAGE_BYTES);
        if (!(out = malloc(JT_AVRO_HEADER_BYTES + size)))
                return jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
        memcpy(out, jt_avro_magic, 2);
        jt_avro_fingerprint_to_le(r->fingerprint, out + 2);
        writer = avro_writer_memory((const char *)out + JT_AVRO_HEADER_BYTES, (int64_t)size);
        if (!writer) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                goto done;
        }
        if (avro_value_write(writer, value) || (size_t)avro_writer_tell(writer) != size) {
                jt_error_set(err, JT_ERR_SCHEMA, 0, "cannot encode %s: %s", jt_avro_type_name(type),
                             avro_strerror());
                goto done;
        }
        /* Never send what a reader would refuse, such as a string that is not UTF-8. */
        if (!jt_avro_datum_check(r->schema, out + JT_AVRO_HEADER_BYTES, size, err)) {
                jt_error_prefix(err, "cannot encode %s", jt_avro_type_name(type));
                goto done;
        }
        *buf = out;
        *len = JT_AVRO_HEADER_BYTES + size;
        out = NULL;
        ok = true;
done:
        if (writer)
                avro_writer_free(writer);
        free(out);
        return ok;
}

static const entry_t *peek(const jt_avro_registry_t *reg, const uint8_t *p, size_t len,
                           jt_error_t *err) {
        const entry_t *e;
        char hex[17];

        if (len == 0) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "empty message (expected Avro single-object encoding: c3 01, "
                             "8-byte fingerprint, datum)");
                return NULL;
        }
        if (len > JT_AVRO_MAX_MESSAGE_BYTES) {
                jt_error_set(err, JT_ERR_INPUT, 0, "message of %zu bytes exceeds the %d-byte cap",
                             len, JT_AVRO_MAX_MESSAGE_BYTES);
                return NULL;
        }
        if (p[0] != jt_avro_magic[0] || (len > 1 && p[1] != jt_avro_magic[1])) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "not an Avro single-object message: starts with %02x %02x, "
                             "expected c3 01",
                             p[0], len > 1 ? p[1] : 0);
                return NULL;
        }
        if (len < JT_AVRO_HEADER_BYTES) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "truncated message: %zu bytes, the header alone takes %d", len,
                             JT_AVRO_HEADER_BYTES);
                return NULL;
        }
        if (!(e = jt_avro_registry_find_entry(reg, jt_avro_fingerprint_from_le(p + 2)))) {
                jt_avro_fingerprint_hex(jt_avro_fingerprint_from_le(p + 2), hex);
                jt_error_set(err, JT_ERR_SCHEMA, 0,
                             "unknown schema fingerprint %s: none of the %zu schemas this "
                             "program knows (written by a newer version?)",
                             hex, reg->count);
        }
        return e;
}

bool jt_avro_peek(const jt_avro_registry_t *reg, const void *buf, size_t len,
                  jt_avro_schema_info_t *writer, jt_error_t *err) {
        const entry_t *e = peek(reg, buf, len, err);

        memset(writer, 0, sizeof(*writer));
        if (!e)
                return false;
        jt_avro_registry_fill_info(e, writer);
        return true;
}

/* An enum index past the reader's symbols: a newer writer's symbol (avro-c does not check). */
static bool check_enum_values(avro_value_t *v, int depth, jt_error_t *err) {
        avro_value_t child;
        size_t i, n;
        int idx;

        if (depth > 64)
                return true; /* the datum check already bounded the depth */
        switch (avro_value_get_type(v)) {
        case AVRO_ENUM:
                if (avro_value_get_enum(v, &idx) ||
                    idx >= avro_schema_enum_number_of_symbols(avro_value_get_schema(v)) || idx < 0)
                        return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                            "enum %s: symbol %d of the writer is unknown to "
                                            "this reader",
                                            avro_schema_name(avro_value_get_schema(v)), idx);
                return true;
        case AVRO_UNION:
                if (avro_value_get_current_branch(v, &child))
                        return true;
                return check_enum_values(&child, depth + 1, err);
        case AVRO_RECORD:
        case AVRO_ARRAY:
        case AVRO_MAP:
                if (avro_value_get_size(v, &n))
                        return true;
                for (i = 0; i < n; i++)
                        if (!avro_value_get_by_index(v, i, &child, NULL) &&
                            !check_enum_values(&child, depth + 1, err))
                                return false;
                return true;
        default:
                return true;
        }
}

bool jt_avro_decode(const jt_avro_registry_t *reg, jt_avro_type_t type, const void *buf, size_t len,
                    avro_value_t *value, jt_error_t *err) {
        const uint8_t *p = buf;
        const entry_t *w, *r;
        avro_reader_t reader = NULL;
        avro_value_t out = {NULL, NULL}, proj = {NULL, NULL}, resolved = {NULL, NULL};
        avro_value_t src, dst;
        const char *name;
        size_t i, n;
        bool ok = false;

        value->iface = NULL;
        value->self = NULL;
        if (!(r = jt_avro_registry_reader_entry(reg, type, err)) || !(w = peek(reg, p, len, err)))
                return false;
        if (w->type != type)
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "message is a %s v%d, expected a %s",
                                    jt_avro_type_name(w->type), w->version,
                                    jt_avro_type_name(type));
        if (!w->resolves)
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "%s", w->why);
        if (!jt_avro_datum_check(w->schema, p + JT_AVRO_HEADER_BYTES, len - JT_AVRO_HEADER_BYTES,
                                 err))
                return jt_error_prefix(err, "%s v%d message", jt_avro_type_name(type), w->version);

        if (avro_generic_value_new(r->iface, &out) ||
            (w->projected_iface && avro_generic_value_new(w->projected_iface, &proj)) ||
            (w->resolver && avro_resolved_writer_new_value(w->resolver, &resolved))) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "cannot make a %s value: %s",
                             jt_avro_type_name(type), avro_strerror());
                goto done;
        }
        reader = avro_reader_memory((const char *)p + JT_AVRO_HEADER_BYTES,
                                    (int64_t)(len - JT_AVRO_HEADER_BYTES));
        if (!reader) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                goto done;
        }
        if (w->resolver)
                avro_resolved_writer_set_dest(&resolved, proj.self ? &proj : &out);
        if (avro_value_read(reader, w->direct ? &out : &resolved)) {
                jt_error_set(err, JT_ERR_INPUT, 0, "%s v%d message: avro-c cannot read it: %s",
                             jt_avro_type_name(type), w->version, avro_strerror());
                goto done;
        }
        if (proj.self) {
                /* Field by name: the projection lacks some fields, so indexes differ. */
                if (avro_value_get_size(&proj, &n))
                        n = 0;
                for (i = 0; i < n; i++) {
                        if (avro_value_get_by_index(&proj, i, &src, &name) ||
                            avro_value_get_by_name(&out, name, &dst, NULL) ||
                            avro_value_copy(&dst, &src)) {
                                jt_error_set(err, JT_ERR_SCHEMA, 0, "%s: cannot copy field %zu: %s",
                                             jt_avro_type_name(type), i, avro_strerror());
                                goto done;
                        }
                }
                if (!jt_avro_registry_apply_defaults(&out, r, w->missing, w->nmissing, err))
                        goto done;
        }
        if (!check_enum_values(&out, 0, err)) {
                jt_error_prefix(err, "%s v%d message", jt_avro_type_name(type), w->version);
                goto done;
        }
        *value = out;
        out.self = NULL;
        ok = true;
done:
        if (reader)
                avro_reader_free(reader);
        if (resolved.self)
                avro_value_decref(&resolved);
        if (proj.self)
                avro_value_decref(&proj);
        if (out.self)
                avro_value_decref(&out);
        return ok;
}
