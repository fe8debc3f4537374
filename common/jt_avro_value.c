/* Field access on avro-c record values by name, with ["null", T] unions handled as optional
 * values, and conversion between values and plain JSON (schema defaults, the test tool). */
#include "jt_avro.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

static const char *value_type_name(avro_value_t *v) {
        return avro_schema_type_name(avro_value_get_schema(v));
}

static const char *type_label(avro_type_t t) {
        switch (t) {
        case AVRO_NULL:
                return "null";
        case AVRO_BOOLEAN:
                return "boolean";
        case AVRO_INT32:
        case AVRO_INT64:
                return "int or long";
        case AVRO_FLOAT:
        case AVRO_DOUBLE:
                return "float or double";
        case AVRO_STRING:
                return "string";
        case AVRO_ENUM:
                return "enum";
        default:
                return "value of this type";
        }
}

static bool get_field(avro_value_t *record, const char *field, avro_value_t *out, jt_error_t *err) {
        if (avro_value_get_type(record) != AVRO_RECORD)
                return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                    "cannot get field '%s' of a %s value (not a record)", field,
                                    value_type_name(record));
        if (avro_value_get_by_name(record, field, out, NULL))
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "record %s has no field '%s'",
                                    avro_schema_name(avro_value_get_schema(record)), field);
        return true;
}

/* The field's value, looking through a union to its current branch. *is_null tells whether
 * that is null; a required (present == NULL) null field is an error. */
static bool get_inner(avro_value_t *record, const char *field, avro_value_t *inner, bool *present,
                      jt_error_t *err) {
        avro_value_t f;
        int disc = -1;

        if (!get_field(record, field, &f, err))
                return false;
        if (avro_value_get_type(&f) == AVRO_UNION) {
                if (avro_value_get_discriminant(&f, &disc) || disc < 0 ||
                    avro_value_get_current_branch(&f, inner))
                        return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                            "union field '%s' has no branch set", field);
        } else {
                *inner = f;
        }
        if (avro_value_get_type(inner) == AVRO_NULL) {
                if (!present)
                        return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                            "field '%s' is null but required", field);
                *present = false;
        } else if (present) {
                *present = true;
        }
        return true;
}

/* Makes the field hold a value of one of types (in order of preference), selecting a union
 * branch when the field is a union, and returns that value in *inner. */
static bool set_inner(avro_value_t *record, const char *field, const avro_type_t *types,
                      size_t ntypes, avro_value_t *inner, jt_error_t *err) {
        avro_value_t f;
        avro_schema_t us;
        size_t t, b;

        if (!get_field(record, field, &f, err))
                return false;
        if (avro_value_get_type(&f) != AVRO_UNION) {
                for (t = 0; t < ntypes; t++)
                        if (avro_value_get_type(&f) == types[t]) {
                                *inner = f;
                                return true;
                        }
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s' is a %s, not a %s", field,
                                    value_type_name(&f), type_label(types[0]));
        }
        us = avro_value_get_schema(&f);
        for (t = 0; t < ntypes; t++)
                for (b = 0; b < avro_schema_union_size(us); b++) {
                        avro_schema_t bs = avro_schema_union_branch(us, (int)b);
                        if (avro_typeof(bs) != types[t])
                                continue;
                        if (avro_value_set_branch(&f, (int)b, inner))
                                return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                                    "field '%s': cannot select branch %zu: %s",
                                                    field, b, avro_strerror());
                        return true;
                }
        return jt_error_set(err, JT_ERR_SCHEMA, 0, "union field '%s' has no branch for this value",
                            field);
}

bool jt_avro_value_get_string(avro_value_t *record, const char *field, const char **val,
                              jt_error_t *err) {
        avro_value_t v;
        bool present;
        size_t size;

        *val = NULL;
        if (!get_inner(record, field, &v, &present, err))
                return false;
        if (!present)
                return true;
        if (avro_value_get_type(&v) != AVRO_STRING)
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s' is a %s, not a string",
                                    field, value_type_name(&v));
        return avro_value_get_string(&v, val, &size) == 0 ||
               jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s': %s", field, avro_strerror());
}

bool jt_avro_value_get_long(avro_value_t *record, const char *field, int64_t *val, bool *present,
                            jt_error_t *err) {
        avro_value_t v;
        bool here = true;
        int32_t i32;

        *val = 0;
        if (!get_inner(record, field, &v, present ? &here : NULL, err))
                return false;
        if (present)
                *present = here;
        if (!here)
                return true;
        switch (avro_value_get_type(&v)) {
        case AVRO_INT64:
                return avro_value_get_long(&v, val) == 0 ||
                       jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s': %s", field,
                                    avro_strerror());
        case AVRO_INT32:
                if (avro_value_get_int(&v, &i32))
                        return jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s': %s", field,
                                            avro_strerror());
                *val = i32;
                return true;
        default:
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s' is a %s, not an int or long",
                                    field, value_type_name(&v));
        }
}

bool jt_avro_value_get_double(avro_value_t *record, const char *field, double *val, bool *present,
                              jt_error_t *err) {
        avro_value_t v;
        bool here = true;
        float f;

        *val = 0;
        if (!get_inner(record, field, &v, present ? &here : NULL, err))
                return false;
        if (present)
                *present = here;
        if (!here)
                return true;
        if (avro_value_get_type(&v) == AVRO_DOUBLE && avro_value_get_double(&v, val) == 0)
                return true;
        if (avro_value_get_type(&v) == AVRO_FLOAT && avro_value_get_float(&v, &f) == 0) {
                *val = f;
                return true;
        }
        return jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s' is a %s, not a double", field,
                            value_type_name(&v));
}

bool jt_avro_value_get_bool(avro_value_t *record, const char *field, bool *val, bool *present,
                            jt_error_t *err) {
        avro_value_t v;
        bool here = true;
        int b = 0;

        *val = false;
        if (!get_inner(record, field, &v, present ? &here : NULL, err))
                return false;
        if (present)
                *present = here;
        if (!here)
                return true;
        if (avro_value_get_type(&v) != AVRO_BOOLEAN || avro_value_get_boolean(&v, &b))
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s' is a %s, not a boolean",
                                    field, value_type_name(&v));
        *val = b != 0;
        return true;
}

/* avro_schema_enum_get() returns garbage for an index it does not know. */
static const char *enum_symbol(avro_schema_t schema, int index) {
        if (index < 0 || index >= avro_schema_enum_number_of_symbols(schema))
                return NULL;
        return avro_schema_enum_get(schema, index);
}

bool jt_avro_value_get_enum(avro_value_t *record, const char *field, const char **symbol,
                            jt_error_t *err) {
        avro_value_t v;
        int index = -1;

        *symbol = NULL;
        if (!get_inner(record, field, &v, NULL, err))
                return false;
        if (avro_value_get_type(&v) != AVRO_ENUM || avro_value_get_enum(&v, &index))
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s' is a %s, not an enum", field,
                                    value_type_name(&v));
        if (!(*symbol = enum_symbol(avro_value_get_schema(&v), index)))
                return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                    "field '%s': enum index %d is no symbol of %s", field, index,
                                    avro_schema_name(avro_value_get_schema(&v)));
        return true;
}

bool jt_avro_value_set_string(avro_value_t *record, const char *field, const char *val,
                              jt_error_t *err) {
        static const avro_type_t types[] = {AVRO_STRING};
        avro_value_t v;

        if (!val)
                return jt_avro_value_set_null(record, field, err);
        if (!set_inner(record, field, types, 1, &v, err))
                return false;
        return avro_value_set_string(&v, val) == 0 ||
               jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s': %s", field, avro_strerror());
}

bool jt_avro_value_set_long(avro_value_t *record, const char *field, int64_t val, jt_error_t *err) {
        static const avro_type_t types[] = {AVRO_INT64, AVRO_INT32};
        avro_value_t v;

        if (!set_inner(record, field, types, 2, &v, err))
                return false;
        if (avro_value_get_type(&v) == AVRO_INT64)
                return avro_value_set_long(&v, val) == 0 ||
                       jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s': %s", field,
                                    avro_strerror());
        if (val < INT32_MIN || val > INT32_MAX)
                return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                    "field '%s' is an int: %" PRId64 " is out of range", field,
                                    val);
        return avro_value_set_int(&v, (int32_t)val) == 0 ||
               jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s': %s", field, avro_strerror());
}

bool jt_avro_value_set_double(avro_value_t *record, const char *field, double val,
                              jt_error_t *err) {
        static const avro_type_t types[] = {AVRO_DOUBLE, AVRO_FLOAT};
        avro_value_t v;

        if (!set_inner(record, field, types, 2, &v, err))
                return false;
        if (avro_value_get_type(&v) == AVRO_DOUBLE)
                return avro_value_set_double(&v, val) == 0 ||
                       jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s': %s", field,
                                    avro_strerror());
        return avro_value_set_float(&v, (float)val) == 0 ||
               jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s': %s", field, avro_strerror());
}

bool jt_avro_value_set_bool(avro_value_t *record, const char *field, bool val, jt_error_t *err) {
        static const avro_type_t types[] = {AVRO_BOOLEAN};
        avro_value_t v;

        if (!set_inner(record, field, types, 1, &v, err))
                return false;
        return avro_value_set_boolean(&v, val) == 0 ||
               jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s': %s", field, avro_strerror());
}

bool jt_avro_value_set_enum(avro_value_t *record, const char *field, const char *symbol,
                            jt_error_t *err) {
        static const avro_type_t types[] = {AVRO_ENUM};
        avro_value_t v;
        int index;

        if (!set_inner(record, field, types, 1, &v, err))
                return false;
        index = avro_schema_enum_get_by_name(avro_value_get_schema(&v), symbol);
        if (index < 0)
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s': '%s' is no symbol of %s",
                                    field, symbol, avro_schema_name(avro_value_get_schema(&v)));
        return avro_value_set_enum(&v, index) == 0 ||
               jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s': %s", field, avro_strerror());
}

bool jt_avro_value_set_null(avro_value_t *record, const char *field, jt_error_t *err) {
        static const avro_type_t types[] = {AVRO_NULL};
        avro_value_t v;

        if (!set_inner(record, field, types, 1, &v, err))
                return jt_error_prefix(err, "cannot set null");
        return avro_value_set_null(&v) == 0 ||
               jt_error_set(err, JT_ERR_SCHEMA, 0, "field '%s': %s", field, avro_strerror());
}

/* ---------------------------------------------------------------------------------------- */
/* JSON */

/* Avro's JSON for bytes and fixed: each byte is one code point 0-255. */
static bool json_to_octets(const json_t *json, char **out, size_t *n, jt_error_t *err) {
        const unsigned char *s = (const unsigned char *)json_string_value(json);
        size_t len = json_string_length(json), i = 0;
        char *buf = malloc(len + 1);

        *out = NULL;
        *n = 0;
        if (!buf)
                return jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
        while (i < len) {
                if (s[i] < 0x80) {
                        buf[(*n)++] = (char)s[i++];
                } else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < len) {
                        buf[(*n)++] = (char)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3f));
                        i += 2;
                } else {
                        free(buf);
                        *n = 0;
                        return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                            "bytes as JSON must be code points 0-255");
                }
        }
        *out = buf;
        return true;
}

static json_t *octets_to_json(const unsigned char *p, size_t n) {
        char *buf = malloc(2 * n + 1);
        size_t i, k = 0;
        json_t *j;

        if (!buf)
                return NULL;
        for (i = 0; i < n; i++) {
                if (p[i] < 0x80) {
                        buf[k++] = (char)p[i];
                } else {
                        buf[k++] = (char)(0xc0 | (p[i] >> 6));
                        buf[k++] = (char)(0x80 | (p[i] & 0x3f));
                }
        }
        j = json_stringn(buf, k);
        free(buf);
        return j;
}

/* Whether json can be a value of schema s: picks the union branch of plain JSON. */
static bool json_fits(avro_schema_t s, const json_t *json) {
        if (is_avro_link(s))
                s = avro_schema_link_target(s);
        switch (avro_typeof(s)) {
        case AVRO_NULL:
                return json_is_null(json);
        case AVRO_BOOLEAN:
                return json_is_boolean(json);
        case AVRO_INT32:
                return json_is_integer(json) && json_integer_value(json) >= INT32_MIN &&
                       json_integer_value(json) <= INT32_MAX;
        case AVRO_INT64:
                return json_is_integer(json);
        case AVRO_FLOAT:
        case AVRO_DOUBLE:
                return json_is_number(json);
        case AVRO_STRING:
        case AVRO_BYTES:
        case AVRO_FIXED:
                return json_is_string(json);
        case AVRO_ENUM:
                return json_is_string(json) &&
                       avro_schema_enum_get_by_name(s, json_string_value(json)) >= 0;
        case AVRO_RECORD:
        case AVRO_MAP:
                return json_is_object(json);
        case AVRO_ARRAY:
                return json_is_array(json);
        default:
                return false;
        }
}

static bool from_json(avro_value_t *v, const json_t *json, jt_avro_json_mode_t mode, int depth,
                      jt_error_t *err) {
        avro_schema_t s = avro_value_get_schema(v);
        avro_type_t t = avro_value_get_type(v);
        avro_value_t child;
        const char *key;
        const json_t *item;
        size_t i;
        char *octets;
        int rc = 0;

        if (depth > JSON_MAX_DEPTH)
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "JSON nested too deep");
        if (t != AVRO_UNION && !json_fits(s, json))
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "JSON value does not fit a %s",
                                    avro_schema_type_name(s));
        switch (t) {
        case AVRO_NULL:
                rc = avro_value_set_null(v);
                break;
        case AVRO_BOOLEAN:
                rc = avro_value_set_boolean(v, json_is_true(json));
                break;
        case AVRO_INT32:
                rc = avro_value_set_int(v, (int32_t)json_integer_value(json));
                break;
        case AVRO_INT64:
                rc = avro_value_set_long(v, (int64_t)json_integer_value(json));
                break;
        case AVRO_FLOAT:
                rc = avro_value_set_float(v, (float)json_number_value(json));
                break;
        case AVRO_DOUBLE:
                rc = avro_value_set_double(v, json_number_value(json));
                break;
        case AVRO_STRING:
                /* avro-c strings are C strings: a NUL inside would cut the value short. */
                if (strlen(json_string_value(json)) != json_string_length(json))
                        return jt_error_set(err, JT_ERR_SCHEMA, 0, "string contains a NUL");
                rc = avro_value_set_string(v, json_string_value(json));
                break;
        case AVRO_BYTES:
        case AVRO_FIXED:
                if (!json_to_octets(json, &octets, &i, err))
                        return false;
                if (t == AVRO_FIXED && (int64_t)i != avro_schema_fixed_size(s)) {
                        free(octets);
                        return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                            "fixed %s takes %" PRId64 " bytes, not %zu",
                                            avro_schema_name(s), avro_schema_fixed_size(s), i);
                }
                rc = t == AVRO_BYTES ? avro_value_set_bytes(v, octets, i)
                                     : avro_value_set_fixed(v, octets, i);
                free(octets);
                break;
        case AVRO_ENUM:
                rc = avro_value_set_enum(v,
                                         avro_schema_enum_get_by_name(s, json_string_value(json)));
                break;
        case AVRO_UNION:
                if (mode == JT_AVRO_JSON_DEFAULT) {
                        i = 0; /* a union's default is a value of its first branch */
                } else {
                        for (i = 0; i < avro_schema_union_size(s); i++)
                                if (json_fits(avro_schema_union_branch(s, (int)i), json))
                                        break;
                        if (i == avro_schema_union_size(s))
                                return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                                    "JSON value fits no branch of the union");
                }
                if (avro_value_set_branch(v, (int)i, &child))
                        break;
                return from_json(&child, json, mode, depth + 1, err);
        case AVRO_RECORD:
                json_object_foreach((json_t *)json, key, item) {
                        if (avro_value_get_by_name(v, key, &child, NULL))
                                return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                                    "record %s has no field '%s'",
                                                    avro_schema_name(s), key);
                        if (!from_json(&child, item, mode, depth + 1, err))
                                return jt_error_prefix(err, "field '%s'", key);
                }
                return true;
        case AVRO_ARRAY:
                avro_value_reset(v);
                json_array_foreach(json, i, item) {
                        if (avro_value_append(v, &child, NULL))
                                break;
                        if (!from_json(&child, item, mode, depth + 1, err))
                                return jt_error_prefix(err, "item %zu", i);
                }
                break;
        case AVRO_MAP:
                avro_value_reset(v);
                json_object_foreach((json_t *)json, key, item) {
                        if (avro_value_add(v, key, &child, NULL, NULL))
                                break;
                        if (!from_json(&child, item, mode, depth + 1, err))
                                return jt_error_prefix(err, "key '%s'", key);
                }
                break;
        default:
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "cannot set a %s from JSON",
                                    avro_schema_type_name(s));
        }
        if (rc)
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "%s", avro_strerror());
        return true;
}

bool jt_avro_value_from_json(avro_value_t *value, const json_t *json, jt_avro_json_mode_t mode,
                             jt_error_t *err) {
        return from_json(value, json, mode, 0, err);
}

/* A float or double as a JSON real (none for NaN and the infinities). */
static json_t *real_to_json(avro_value_t *v, jt_error_t *err) {
        json_t *out;
        float f;
        double d;

        if (avro_value_get_type(v) == AVRO_FLOAT) {
                if (avro_value_get_float(v, &f)) {
                        jt_error_set(err, JT_ERR_SCHEMA, 0, "%s", avro_strerror());
                        return NULL;
                }
                d = f;
        } else if (avro_value_get_double(v, &d)) {
                jt_error_set(err, JT_ERR_SCHEMA, 0, "%s", avro_strerror());
                return NULL;
        }
        if (!(out = json_real(d)))
                jt_error_set(err, JT_ERR_SCHEMA, 0, "%g has no JSON form", d);
        return out;
}

static json_t *to_json(avro_value_t *v, int depth, jt_error_t *err);

/* A record or map as an object, an array as an array. */
static json_t *container_to_json(avro_value_t *v, int depth, jt_error_t *err) {
        bool array = avro_value_get_type(v) == AVRO_ARRAY;
        avro_value_t child;
        const char *name;
        json_t *out, *c;
        size_t i, count;

        if (avro_value_get_size(v, &count)) {
                jt_error_set(err, JT_ERR_SCHEMA, 0, "%s", avro_strerror());
                return NULL;
        }
        if (!(out = array ? json_array() : json_object())) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                return NULL;
        }
        for (i = 0; i < count; i++) {
                name = NULL;
                if (avro_value_get_by_index(v, i, &child, &name)) {
                        jt_error_set(err, JT_ERR_SCHEMA, 0, "%s", avro_strerror());
                        json_decref(out);
                        return NULL;
                }
                if (!(c = to_json(&child, depth + 1, err))) {
                        json_decref(out);
                        return NULL;
                }
                if (array ? json_array_append_new(out, c) : json_object_set_new(out, name, c)) {
                        json_decref(out);
                        jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                        return NULL;
                }
        }
        return out;
}

static json_t *to_json(avro_value_t *v, int depth, jt_error_t *err) {
        avro_schema_t s = avro_value_get_schema(v);
        avro_value_t child;
        json_t *out = NULL;
        const char *str;
        const void *bytes;
        size_t size;
        int32_t i32;
        int64_t i64;
        int b, idx;

        if (depth > JSON_MAX_DEPTH) {
                jt_error_set(err, JT_ERR_SCHEMA, 0, "value nested too deep");
                return NULL;
        }
        switch (avro_value_get_type(v)) {
        case AVRO_NULL:
                return json_null();
        case AVRO_BOOLEAN:
                if (avro_value_get_boolean(v, &b))
                        break;
                return json_boolean(b);
        case AVRO_INT32:
                if (avro_value_get_int(v, &i32))
                        break;
                return json_integer(i32);
        case AVRO_INT64:
                if (avro_value_get_long(v, &i64))
                        break;
                return json_integer(i64);
        case AVRO_FLOAT:
        case AVRO_DOUBLE:
                return real_to_json(v, err);
        case AVRO_STRING:
                if (avro_value_get_string(v, &str, &size))
                        break;
                /* size counts avro-c's terminating NUL */
                if (!(out = json_stringn(str, size ? size - 1 : 0)))
                        jt_error_set(err, JT_ERR_INPUT, 0, "string is not valid UTF-8");
                return out;
        case AVRO_BYTES:
        case AVRO_FIXED:
                if (avro_value_get_type(v) == AVRO_BYTES ? avro_value_get_bytes(v, &bytes, &size)
                                                         : avro_value_get_fixed(v, &bytes, &size))
                        break;
                if (!(out = octets_to_json(bytes, size)))
                        jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                return out;
        case AVRO_ENUM:
                if (avro_value_get_enum(v, &idx))
                        break;
                if (!(str = enum_symbol(s, idx))) {
                        jt_error_set(err, JT_ERR_SCHEMA, 0, "enum index %d is no symbol of %s", idx,
                                     avro_schema_name(s));
                        return NULL;
                }
                return json_string(str);
        case AVRO_UNION:
                if (avro_value_get_current_branch(v, &child))
                        break;
                return to_json(&child, depth + 1, err);
        case AVRO_RECORD:
        case AVRO_MAP:
        case AVRO_ARRAY:
                return container_to_json(v, depth, err);
        default:
                jt_error_set(err, JT_ERR_SCHEMA, 0, "a %s has no JSON form here",
                             avro_schema_type_name(s));
                return NULL;
        }
        /* an avro-c accessor failed (every break above) */
        jt_error_set(err, JT_ERR_SCHEMA, 0, "%s", avro_strerror());
        return NULL;
}

bool jt_avro_value_to_json(avro_value_t *value, json_t **json, jt_error_t *err) {
        *json = to_json(value, 0, err);
        return *json != NULL;
}
