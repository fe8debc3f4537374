/* Parsing Canonical Form of an Avro schema, from the specification: primitives as bare names,
 * fullnames with no namespace attribute, only name/type/fields/symbols/items/values/size in
 * that order, no whitespace. The fingerprint in every message header hashes these bytes, so
 * they must match other implementations exactly (tests/tools/avro_crosscheck.py checks). */
#include "jt_avro.h"

#include <stdlib.h>
#include <string.h>

/* Deeper nesting than this is no schema of ours; the bound keeps recursion off the stack's
 * edge whatever the input. */
#define CANON_MAX_DEPTH 64

typedef struct {
        json_t *names; /* fullnames defined so far, as an object used as a set */
        jt_error_t *err;
} canon_ctx_t;

static const char *const primitive_names[] = {"null",  "boolean", "int",   "long",
                                              "float", "double",  "bytes", "string"};

static bool is_primitive(const char *name) {
        size_t i;

        for (i = 0; i < sizeof(primitive_names) / sizeof(primitive_names[0]); i++)
                if (!strcmp(name, primitive_names[i]))
                        return true;
        return false;
}

/* [A-Za-z_][A-Za-z0-9_]* */
static bool is_simple_name(const char *s, size_t len) {
        size_t i;

        if (len == 0)
                return false;
        for (i = 0; i < len; i++) {
                char c = s[i];
                bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
                if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
                        return false;
        }
        return true;
}

/* Dot-separated simple names; empty allowed when allow_empty (the null namespace). */
static bool is_dotted_name(const char *s, bool allow_empty) {
        const char *dot;

        if (!*s)
                return allow_empty;
        while ((dot = strchr(s, '.'))) {
                if (!is_simple_name(s, (size_t)(dot - s)))
                        return false;
                s = dot + 1;
        }
        return is_simple_name(s, strlen(s));
}

static char *join_name(const char *ns, const char *name) {
        size_t nslen = ns ? strlen(ns) : 0;
        size_t len = strlen(name);
        char *out;

        if (!nslen)
                return strdup(name);
        out = malloc(nslen + 1 + len + 1);
        if (!out)
                return NULL;
        memcpy(out, ns, nslen);
        out[nslen] = '.';
        memcpy(out + nslen + 1, name, len + 1);
        return out;
}

static json_t *canon_node(canon_ctx_t *ctx, const json_t *node, const char *ns, int depth);

/* A type given by name: a primitive, or a named type defined earlier. */
static json_t *canon_reference(canon_ctx_t *ctx, const char *name, const char *ns) {
        char *full;
        json_t *out = NULL;

        if (is_primitive(name))
                return json_string(name);
        if (!is_dotted_name(name, false)) {
                jt_error_set(ctx->err, JT_ERR_SCHEMA, 0, "invalid type name '%s'", name);
                return NULL;
        }
        full = strchr(name, '.') ? strdup(name) : join_name(ns, name);
        if (!full) {
                jt_error_set(ctx->err, JT_ERR_SYSTEM, 0, "out of memory");
                return NULL;
        }
        if (!json_object_get(ctx->names, full))
                jt_error_set(ctx->err, JT_ERR_SCHEMA, 0,
                             "unknown type '%s' (not a primitive and not defined before use)",
                             full);
        else
                out = json_string(full);
        free(full);
        return out;
}

/* Fullname and namespace of a named type's definition (specification, "Names"). */
static bool named_fullname(canon_ctx_t *ctx, const json_t *node, const char *ns, char **full,
                           char **newns) {
        const json_t *jname = json_object_get(node, "name");
        const json_t *jns = json_object_get(node, "namespace");
        const char *name, *dot, *simple;

        *full = NULL;
        *newns = NULL;
        if (!json_is_string(jname))
                return jt_error_set(ctx->err, JT_ERR_SCHEMA, 0,
                                    "named type without a string \"name\"");
        name = json_string_value(jname);
        if (!is_dotted_name(name, false))
                return jt_error_set(ctx->err, JT_ERR_SCHEMA, 0, "invalid name '%s'", name);
        if (jns && !json_is_string(jns) && !json_is_null(jns))
                return jt_error_set(ctx->err, JT_ERR_SCHEMA, 0,
                                    "\"namespace\" of '%s' must be a string", name);
        if ((dot = strrchr(name, '.'))) {
                /* A dotted name is already a fullname: any namespace attribute is ignored. */
                *full = strdup(name);
                *newns = strndup(name, (size_t)(dot - name));
                simple = dot + 1;
        } else {
                if (json_is_string(jns)) {
                        ns = json_string_value(jns);
                        if (!is_dotted_name(ns, true))
                                return jt_error_set(ctx->err, JT_ERR_SCHEMA, 0,
                                                    "invalid namespace '%s'", ns);
                }
                *full = join_name(ns, name);
                *newns = strdup(ns ? ns : "");
                simple = name;
        }
        if (!*full || !*newns) {
                free(*full);
                free(*newns);
                *full = *newns = NULL;
                return jt_error_set(ctx->err, JT_ERR_SYSTEM, 0, "out of memory");
        }
        if (is_primitive(simple))
                jt_error_set(ctx->err, JT_ERR_SCHEMA, 0, "'%s' redefines a primitive type name",
                             *full);
        else if (json_object_get(ctx->names, *full))
                jt_error_set(ctx->err, JT_ERR_SCHEMA, 0, "type '%s' is defined twice", *full);
        else if (json_object_set_new(ctx->names, *full, json_true()) == 0)
                return true;
        else
                jt_error_set(ctx->err, JT_ERR_SYSTEM, 0, "out of memory");
        free(*full);
        free(*newns);
        *full = *newns = NULL;
        return false;
}

static bool canon_fields(canon_ctx_t *ctx, const json_t *fields, const char *ns, int depth,
                         json_t *out) {
        json_t *seen = json_object();
        json_t *list = json_array();
        const json_t *field;
        size_t i;
        bool ok = false;

        if (!seen || !list) {
                jt_error_set(ctx->err, JT_ERR_SYSTEM, 0, "out of memory");
                goto done;
        }
        if (!json_is_array(fields)) {
                jt_error_set(ctx->err, JT_ERR_SCHEMA, 0, "record \"fields\" must be an array");
                goto done;
        }
        json_array_foreach(fields, i, field) {
                const json_t *jname = json_object_get(field, "name");
                const char *name;
                json_t *ftype, *fout;

                if (!json_is_object(field) || !json_is_string(jname)) {
                        jt_error_set(ctx->err, JT_ERR_SCHEMA, 0,
                                     "field %zu must be an object with a string \"name\"", i);
                        goto done;
                }
                name = json_string_value(jname);
                if (!is_simple_name(name, strlen(name))) {
                        jt_error_set(ctx->err, JT_ERR_SCHEMA, 0, "invalid field name '%s'", name);
                        goto done;
                }
                if (json_object_get(seen, name)) {
                        jt_error_set(ctx->err, JT_ERR_SCHEMA, 0, "field '%s' appears twice", name);
                        goto done;
                }
                json_object_set_new(seen, name, json_true());
                if (!json_object_get(field, "type")) {
                        jt_error_set(ctx->err, JT_ERR_SCHEMA, 0, "field '%s' has no \"type\"",
                                     name);
                        goto done;
                }
                if (!(ftype = canon_node(ctx, json_object_get(field, "type"), ns, depth + 1))) {
                        jt_error_prefix(ctx->err, "field '%s'", name);
                        goto done;
                }
                /* "o" hands ftype over, also when json_pack fails. */
                fout = json_pack("{s:s, s:o}", "name", name, "type", ftype);
                if (!fout || json_array_append_new(list, fout)) {
                        jt_error_set(ctx->err, JT_ERR_SYSTEM, 0, "out of memory");
                        goto done;
                }
        }
        if (json_object_set(out, "fields", list)) {
                jt_error_set(ctx->err, JT_ERR_SYSTEM, 0, "out of memory");
                goto done;
        }
        ok = true;
done:
        json_decref(seen);
        json_decref(list);
        return ok;
}

static bool canon_symbols(canon_ctx_t *ctx, const json_t *symbols, const char *full, json_t *out) {
        json_t *seen = json_object();
        const json_t *sym;
        size_t i;
        bool ok = false;

        if (!seen) {
                jt_error_set(ctx->err, JT_ERR_SYSTEM, 0, "out of memory");
                goto done;
        }
        if (!json_is_array(symbols)) {
                jt_error_set(ctx->err, JT_ERR_SCHEMA, 0, "enum '%s': \"symbols\" must be an array",
                             full);
                goto done;
        }
        json_array_foreach(symbols, i, sym) {
                const char *s = json_string_value(sym);
                if (!s || !is_simple_name(s, strlen(s)) || json_object_get(seen, s)) {
                        jt_error_set(ctx->err, JT_ERR_SCHEMA, 0,
                                     "enum '%s': symbol %zu must be a unique name "
                                     "[A-Za-z_][A-Za-z0-9_]*",
                                     full, i);
                        goto done;
                }
                json_object_set_new(seen, s, json_true());
        }
        /* Symbols are names, so a copy of the array is already canonical. */
        if (json_object_set_new(out, "symbols", json_deep_copy(symbols))) {
                jt_error_set(ctx->err, JT_ERR_SYSTEM, 0, "out of memory");
                goto done;
        }
        ok = true;
done:
        json_decref(seen);
        return ok;
}

static json_t *canon_named(canon_ctx_t *ctx, const json_t *node, const char *type, const char *ns,
                           int depth) {
        char *full = NULL, *newns = NULL;
        json_t *out = NULL;
        const json_t *size;

        if (!named_fullname(ctx, node, ns, &full, &newns))
                return NULL;
        out = json_object();
        /* Protocol errors are records for parsing purposes. */
        if (!out || json_object_set_new(out, "name", json_string(full)) ||
            json_object_set_new(out, "type",
                                json_string(!strcmp(type, "error") ? "record" : type))) {
                jt_error_set(ctx->err, JT_ERR_SYSTEM, 0, "out of memory");
                goto fail;
        }
        if (!strcmp(type, "record") || !strcmp(type, "error")) {
                if (!canon_fields(ctx, json_object_get(node, "fields"), newns, depth, out)) {
                        jt_error_prefix(ctx->err, "record '%s'", full);
                        goto fail;
                }
        } else if (!strcmp(type, "enum")) {
                if (!canon_symbols(ctx, json_object_get(node, "symbols"), full, out))
                        goto fail;
        } else {
                size = json_object_get(node, "size");
                if (!json_is_integer(size) || json_integer_value(size) < 0) {
                        jt_error_set(ctx->err, JT_ERR_SCHEMA, 0,
                                     "fixed '%s': \"size\" must be a non-negative integer", full);
                        goto fail;
                }
                /* [INTEGERS]: a JSON integer prints without quotes or leading zeros. */
                if (json_object_set_new(out, "size", json_integer(json_integer_value(size)))) {
                        jt_error_set(ctx->err, JT_ERR_SYSTEM, 0, "out of memory");
                        goto fail;
                }
        }
        free(full);
        free(newns);
        return out;
fail:
        json_decref(out);
        free(full);
        free(newns);
        return NULL;
}

static json_t *canon_container(canon_ctx_t *ctx, const json_t *node, const char *type,
                               const char *ns, int depth) {
        const char *attr = !strcmp(type, "array") ? "items" : "values";
        const json_t *child = json_object_get(node, attr);
        json_t *out, *cchild;

        if (!child) {
                jt_error_set(ctx->err, JT_ERR_SCHEMA, 0, "%s without \"%s\"", type, attr);
                return NULL;
        }
        if (!(cchild = canon_node(ctx, child, ns, depth + 1)))
                return NULL;
        out = json_object();
        /* json_object_set_new() takes the reference even when it fails. */
        if (!out || json_object_set_new(out, "type", json_string(type)) ||
            json_object_set_new(out, attr, json_incref(cchild))) {
                json_decref(out);
                json_decref(cchild);
                jt_error_set(ctx->err, JT_ERR_SYSTEM, 0, "out of memory");
                return NULL;
        }
        json_decref(cchild);
        return out;
}

static json_t *canon_node(canon_ctx_t *ctx, const json_t *node, const char *ns, int depth) {
        const json_t *jtype;
        const char *type;

        if (depth > CANON_MAX_DEPTH) {
                jt_error_set(ctx->err, JT_ERR_SCHEMA, 0, "schema nested deeper than %d levels",
                             CANON_MAX_DEPTH);
                return NULL;
        }
        if (json_is_string(node))
                return canon_reference(ctx, json_string_value(node), ns);

        if (json_is_array(node)) { /* a union */
                json_t *out = json_array();
                const json_t *branch;
                size_t i;

                if (!out) {
                        jt_error_set(ctx->err, JT_ERR_SYSTEM, 0, "out of memory");
                        return NULL;
                }
                json_array_foreach(node, i, branch) {
                        json_t *c = canon_node(ctx, branch, ns, depth + 1);
                        if (!c || json_array_append_new(out, c)) {
                                if (c)
                                        jt_error_set(ctx->err, JT_ERR_SYSTEM, 0, "out of memory");
                                json_decref(out);
                                return NULL;
                        }
                }
                return out;
        }

        if (!json_is_object(node)) {
                jt_error_set(ctx->err, JT_ERR_SCHEMA, 0,
                             "a schema must be a name, an array or an object");
                return NULL;
        }
        jtype = json_object_get(node, "type");
        if (!json_is_string(jtype)) {
                jt_error_set(ctx->err, JT_ERR_SCHEMA, 0, "schema object without a string \"type\"");
                return NULL;
        }
        type = json_string_value(jtype);
        /* [PRIMITIVES] and [STRIP]: {"type":"long","logicalType":...} is just "long". */
        if (is_primitive(type))
                return json_string(type);
        if (!strcmp(type, "record") || !strcmp(type, "error") || !strcmp(type, "enum") ||
            !strcmp(type, "fixed"))
                return canon_named(ctx, node, type, ns, depth);
        if (!strcmp(type, "array") || !strcmp(type, "map"))
                return canon_container(ctx, node, type, ns, depth);
        /* {"type": "SomeRecord"}: a reference in object form. */
        return canon_reference(ctx, type, ns);
}

bool jt_avro_canonical_form(const char *json, size_t len, char **pcf, jt_error_t *err) {
        canon_ctx_t ctx = {.names = json_object(), .err = err};
        json_error_t jerr;
        json_t *root = NULL, *canon = NULL;
        bool ok = false;

        *pcf = NULL;
        if (!ctx.names) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                goto done;
        }
        root = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                jt_error_set(err, JT_ERR_SCHEMA, 0, "schema is not valid JSON: %s at line %d",
                             jerr.text, jerr.line);
                goto done;
        }
        if (!(canon = canon_node(&ctx, root, "", 0)))
                goto done;
        /* [ORDER] is the insertion order above; [WHITESPACE] is JSON_COMPACT; [STRINGS]:
         * without JSON_ENSURE_ASCII jansson writes UTF-8, escaping only what JSON requires. */
        *pcf = json_dumps(canon, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        if (!*pcf) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                goto done;
        }
        ok = true;
done:
        json_decref(canon);
        json_decref(root);
        json_decref(ctx.names);
        return ok;
}
