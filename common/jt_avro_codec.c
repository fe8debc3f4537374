/* The schema registry and single-object encoding: C3 01, the writer schema's CRC-64-AVRO
 * fingerprint (8 bytes, little-endian), then the Avro binary datum. Decoding resolves the
 * writer's schema to the program's reader schema with avro-c's resolver, adding what avro-c
 * 1.11 lacks: defaults for reader fields the writer does not have, and a check that enums
 * only grew at the end (avro-c maps enum symbols by position). */
#include "jt_avro.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t jt_avro_magic[2] = {0xc3, 0x01};

static const char *const type_names[JT_AVRO_TYPE_COUNT] = {
    [JT_AVRO_STATS_TASK] = "stats_task",
    [JT_AVRO_CLEANUP_TASK] = "cleanup_task",
    [JT_AVRO_STATUS_EVENT] = "status_event",
};

/* A reader field the writer does not have: decoding sets it to its default. */
typedef struct {
        const char *name;
        const json_t *def; /* borrowed from the reader entry's tree */
} missing_field_t;

typedef struct {
        jt_avro_type_t type;
        int version;
        json_t *tree; /* the schema JSON, for field defaults */
        avro_schema_t schema;
        avro_value_iface_t *iface; /* generic values of schema */
        char *pcf;
        uint64_t fingerprint;

        /* Resolution to the current reader of the type, redone when that changes. */
        bool resolves;
        char why[JT_ERROR_MSG_MAX]; /* when it does not */
        bool direct;                /* writer is the reader: no resolver needed */
        avro_value_iface_t *resolver;
        avro_schema_t projected; /* reader without the missing fields, or NULL */
        avro_value_iface_t *projected_iface;
        missing_field_t *missing;
        size_t nmissing;
} entry_t;

struct jt_avro_registry_s {
        entry_t **entries;
        size_t count;
        size_t cap;
        int reader[JT_AVRO_TYPE_COUNT]; /* index into entries, -1 when none */
        bool pinned[JT_AVRO_TYPE_COUNT];
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

/* The fingerprint as the header carries it, which is how Java and fastavro print it too. */
static void fp_hex(uint64_t fp, char out[17]) {
        uint8_t le[8];
        int i;

        jt_avro_fingerprint_to_le(fp, le);
        for (i = 0; i < 8; i++)
                snprintf(out + 2 * i, 3, "%02x", le[i]);
}

/* ---------------------------------------------------------------------------------------- */
/* Entries and resolution */

static void entry_unresolve(entry_t *e) {
        if (e->resolver)
                avro_value_iface_decref(e->resolver);
        if (e->projected_iface)
                avro_value_iface_decref(e->projected_iface);
        if (e->projected)
                avro_schema_decref(e->projected);
        free(e->missing);
        e->resolver = NULL;
        e->projected_iface = NULL;
        e->projected = NULL;
        e->missing = NULL;
        e->nmissing = 0;
        e->resolves = false;
        e->direct = false;
        e->why[0] = '\0';
}

static void entry_destroy(entry_t *e) {
        if (!e)
                return;
        entry_unresolve(e);
        if (e->iface)
                avro_value_iface_decref(e->iface);
        if (e->schema)
                avro_schema_decref(e->schema);
        json_decref(e->tree);
        free(e->pcf);
        free(e);
}

static const json_t *tree_field(const entry_t *e, const char *name) {
        const json_t *f;
        size_t i;

        json_array_foreach(json_object_get(e->tree, "fields"), i, f) {
                if (!strcmp(json_string_value(json_object_get(f, "name")), name))
                        return f;
        }
        return NULL;
}

/* Sets every field of record that has a "default" in tree (only those in names, if given). */
static bool apply_defaults(avro_value_t *record, const entry_t *reader, const missing_field_t *only,
                           size_t nonly, jt_error_t *err) {
        const json_t *f, *def;
        avro_value_t field;
        size_t i;

        if (only) {
                for (i = 0; i < nonly; i++) {
                        if (avro_value_get_by_name(record, only[i].name, &field, NULL))
                                return jt_error_set(err, JT_ERR_SCHEMA, 0, "no field '%s'",
                                                    only[i].name);
                        if (!jt_avro_value_from_json(&field, only[i].def, JT_AVRO_JSON_DEFAULT,
                                                     err))
                                return jt_error_prefix(err, "default of field '%s'", only[i].name);
                }
                return true;
        }
        json_array_foreach(json_object_get(reader->tree, "fields"), i, f) {
                if (!(def = json_object_get(f, "default")))
                        continue;
                if (avro_value_get_by_index(record, i, &field, NULL) ||
                    !jt_avro_value_from_json(&field, def, JT_AVRO_JSON_DEFAULT, err))
                        return jt_error_prefix(err, "default of field '%s'",
                                               json_string_value(json_object_get(f, "name")));
        }
        return true;
}

#define MAX_ENUMS 64

typedef struct {
        avro_schema_t enums[MAX_ENUMS];
        size_t count;
} enum_list_t;

static void collect_enums(avro_schema_t s, enum_list_t *out, int depth) {
        size_t i;

        if (!s || depth > 64 || is_avro_link(s))
                return; /* a link points back at a type already walked */
        switch (avro_typeof(s)) {
        case AVRO_ENUM:
                for (i = 0; i < out->count; i++)
                        if (out->enums[i] == s)
                                return;
                if (out->count < MAX_ENUMS)
                        out->enums[out->count++] = s;
                return;
        case AVRO_RECORD:
                for (i = 0; i < avro_schema_record_size(s); i++)
                        collect_enums(avro_schema_record_field_get_by_index(s, (int)i), out,
                                      depth + 1);
                return;
        case AVRO_UNION:
                for (i = 0; i < avro_schema_union_size(s); i++)
                        collect_enums(avro_schema_union_branch(s, (int)i), out, depth + 1);
                return;
        case AVRO_ARRAY:
                collect_enums(avro_schema_array_items(s), out, depth + 1);
                return;
        case AVRO_MAP:
                collect_enums(avro_schema_map_values(s), out, depth + 1);
                return;
        default:
                return;
        }
}

/* avro-c's resolver stores the writer's enum index as is, so the symbols both schemas share
 * must sit at the same positions: an enum may only grow at its end. */
static bool check_enum_positions(const entry_t *w, const entry_t *r, jt_error_t *err) {
        enum_list_t we = {.count = 0}, re = {.count = 0};
        size_t i, j;
        int k, n;

        collect_enums(w->schema, &we, 0);
        collect_enums(r->schema, &re, 0);
        for (i = 0; i < we.count; i++)
                for (j = 0; j < re.count; j++) {
                        if (strcmp(avro_schema_name(we.enums[i]), avro_schema_name(re.enums[j])))
                                continue;
                        n = avro_schema_enum_number_of_symbols(we.enums[i]);
                        if (avro_schema_enum_number_of_symbols(re.enums[j]) < n)
                                n = avro_schema_enum_number_of_symbols(re.enums[j]);
                        for (k = 0; k < n; k++)
                                if (strcmp(avro_schema_enum_get(we.enums[i], k),
                                           avro_schema_enum_get(re.enums[j], k)))
                                        return jt_error_set(
                                            err, JT_ERR_SCHEMA, 0,
                                            "enum %s has '%s' at position %d in the writer but "
                                            "'%s' in the reader (enums may only grow at the end)",
                                            avro_schema_name(we.enums[i]),
                                            avro_schema_enum_get(we.enums[i], k), k,
                                            avro_schema_enum_get(re.enums[j], k));
                }
        return true;
}

/* The reader schema without the fields the writer lacks, for avro-c's resolver, which refuses
 * a reader field absent from the writer even when it has a default. */
static bool build_projection(entry_t *w, const entry_t *r, jt_error_t *err) {
        json_t *copy = json_deep_copy(r->tree);
        json_t *fields = json_array();
        const json_t *f;
        char *text = NULL;
        size_t i, m;
        bool keep, ok = false;

        if (!copy || !fields) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                goto done;
        }
        json_array_foreach(json_object_get(copy, "fields"), i, f) {
                keep = true;
                for (m = 0; m < w->nmissing; m++)
                        if (!strcmp(json_string_value(json_object_get(f, "name")),
                                    w->missing[m].name))
                                keep = false;
                if (keep)
                        json_array_append(fields, (json_t *)f);
        }
        json_object_set(copy, "fields", fields);
        if (!(text = json_dumps(copy, JSON_COMPACT))) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                goto done;
        }
        if (avro_schema_from_json_length(text, strlen(text), &w->projected)) {
                w->projected = NULL;
                jt_error_set(err, JT_ERR_SCHEMA, 0, "reader without the missing fields: %s",
                             avro_strerror());
                goto done;
        }
        if (!(w->projected_iface = avro_generic_class_from_schema(w->projected))) {
                jt_error_set(err, JT_ERR_SCHEMA, 0, "%s", avro_strerror());
                goto done;
        }
        ok = true;
done:
        free(text);
        json_decref(fields);
        json_decref(copy);
        return ok;
}

static bool resolve_entry(entry_t *w, const entry_t *r, jt_error_t *err) {
        const json_t *rf, *def;
        avro_value_t scratch = {NULL, NULL};
        const char *name;
        size_t i;
        bool ok = false;

        if (w == r) {
                w->direct = true;
                return true;
        }
        if (!check_enum_positions(w, r, err))
                return false;
        w->missing = calloc(avro_schema_record_size(r->schema) + 1, sizeof(*w->missing));
        if (!w->missing)
                return jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
        for (i = 0; i < avro_schema_record_size(r->schema); i++) {
                name = avro_schema_record_field_name(r->schema, (int)i);
                if (avro_schema_record_field_get_index(w->schema, name) >= 0)
                        continue;
                rf = tree_field(r, name);
                if (!rf || !(def = json_object_get(rf, "default")))
                        return jt_error_set(err, JT_ERR_SCHEMA, 0,
                                            "reader field '%s' is not in the writer and has no "
                                            "default",
                                            name);
                w->missing[w->nmissing].name = json_string_value(json_object_get(rf, "name"));
                w->missing[w->nmissing].def = def;
                w->nmissing++;
        }
        if (w->nmissing && !build_projection(w, r, err))
                return false;
        w->resolver = avro_resolved_writer_new(w->schema, w->projected ? w->projected : r->schema);
        if (!w->resolver)
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "%s", avro_strerror());
        /* Try the defaults once now, so that decoding cannot fail on them later. */
        if (w->nmissing) {
                if (avro_generic_value_new(r->iface, &scratch)) {
                        jt_error_set(err, JT_ERR_SYSTEM, 0, "%s", avro_strerror());
                        goto done;
                }
                if (!apply_defaults(&scratch, r, w->missing, w->nmissing, err))
                        goto done;
        }
        ok = true;
done:
        if (scratch.self)
                avro_value_decref(&scratch);
        return ok;
}

/* Re-resolves every writer of type against its (possibly new) reader. */
static void resolve_type(jt_avro_registry_t *reg, jt_avro_type_t type) {
        const entry_t *r = reg->reader[type] >= 0 ? reg->entries[reg->reader[type]] : NULL;
        jt_error_t why;
        size_t i;
        entry_t *w;

        for (i = 0; i < reg->count; i++) {
                w = reg->entries[i];
                if (w->type != type)
                        continue;
                entry_unresolve(w);
                jt_error_clear(&why);
                if (!r)
                        snprintf(w->why, sizeof(w->why), "no reader schema for %s",
                                 jt_avro_type_name(type));
                else if (resolve_entry(w, r, &why))
                        w->resolves = true;
                else {
                        entry_unresolve(w); /* drop what the failed attempt built */
                        snprintf(w->why, sizeof(w->why), "%s v%d does not resolve to v%d: %s",
                                 jt_avro_type_name(type), w->version, r->version, why.message);
                }
        }
}

/* ---------------------------------------------------------------------------------------- */
/* Registry */

jt_avro_registry_t *jt_avro_registry_new_empty(jt_error_t *err) {
        jt_avro_registry_t *reg = calloc(1, sizeof(*reg));
        int t;

        if (!reg) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                return NULL;
        }
        for (t = 0; t < JT_AVRO_TYPE_COUNT; t++)
                reg->reader[t] = -1;
        return reg;
}

void jt_avro_registry_destroy(jt_avro_registry_t *reg) {
        size_t i;

        if (!reg)
                return;
        for (i = 0; i < reg->count; i++)
                entry_destroy(reg->entries[i]);
        free(reg->entries);
        free(reg);
}

jt_avro_registry_t *jt_avro_registry_new(jt_error_t *err) {
        jt_avro_registry_t *reg = jt_avro_registry_new_empty(err);
        const jt_avro_schema_file_t *files;
        jt_avro_type_t type;
        size_t n, i;
        int version, t;

        if (!reg)
                return NULL;
        files = jt_avro_schema_files(&n);
        for (i = 0; i < n; i++) {
                if (!jt_avro_parse_schema_file_name(files[i].file, &type, &version, err) ||
                    !jt_avro_registry_add(reg, type, version, files[i].text, files[i].len, err)) {
                        jt_error_prefix(err, "built-in schema %s", files[i].file);
                        goto fail;
                }
        }
        for (t = 0; t < JT_AVRO_TYPE_COUNT; t++)
                if (reg->reader[t] < 0) {
                        jt_error_set(err, JT_ERR_SCHEMA, 0,
                                     "no built-in schema for %s (schemas/%s.v1.avsc missing "
                                     "at build time?)",
                                     type_names[t], type_names[t]);
                        goto fail;
                }
        /* A published schema that no longer resolves means a release broke compatibility:
         * refuse to start rather than dead-letter that version's messages one by one. */
        for (i = 0; i < reg->count; i++)
                if (!reg->entries[i]->resolves) {
                        jt_error_set(err, JT_ERR_SCHEMA, 0, "built-in schemas: %s",
                                     reg->entries[i]->why);
                        goto fail;
                }
        return reg;
fail:
        jt_avro_registry_destroy(reg);
        return NULL;
}

bool jt_avro_registry_add(jt_avro_registry_t *reg, jt_avro_type_t type, int version,
                          const char *json, size_t len, jt_error_t *err) {
        entry_t *e = NULL, **grown;
        json_error_t jerr;
        size_t i;
        char hex[17];
        int r;

        if ((int)type < 0 || type >= JT_AVRO_TYPE_COUNT || version < 1)
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "bad schema type %d or version %d",
                                    (int)type, version);
        if (!(e = calloc(1, sizeof(*e))))
                return jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
        e->type = type;
        e->version = version;
        if (!jt_avro_canonical_form(json, len, &e->pcf, err))
                goto fail;
        e->fingerprint = jt_avro_fingerprint64(e->pcf, strlen(e->pcf));
        if (!(e->tree = json_loadb(json, len, JSON_DECODE_ANY, &jerr))) {
                jt_error_set(err, JT_ERR_SCHEMA, 0, "%s", jerr.text);
                goto fail;
        }
        if (avro_schema_from_json_length(json, len, &e->schema)) {
                e->schema = NULL;
                jt_error_set(err, JT_ERR_SCHEMA, 0, "avro-c cannot parse the schema: %s",
                             avro_strerror());
                goto fail;
        }
        if (!is_avro_record(e->schema)) {
                jt_error_set(err, JT_ERR_SCHEMA, 0, "a message schema must be a record, not a %s",
                             avro_schema_type_name(e->schema));
                goto fail;
        }
        if (!(e->iface = avro_generic_class_from_schema(e->schema))) {
                jt_error_set(err, JT_ERR_SCHEMA, 0, "%s", avro_strerror());
                goto fail;
        }
        for (i = 0; i < reg->count; i++) {
                if (reg->entries[i]->fingerprint == e->fingerprint) {
                        fp_hex(e->fingerprint, hex);
                        jt_error_set(err, JT_ERR_SCHEMA, 0,
                                     "%s v%d has the same canonical form (fingerprint %s) as "
                                     "%s v%d",
                                     jt_avro_type_name(type), version, hex,
                                     jt_avro_type_name(reg->entries[i]->type),
                                     reg->entries[i]->version);
                        goto fail;
                }
                if (reg->entries[i]->type == type && reg->entries[i]->version == version) {
                        jt_error_set(err, JT_ERR_SCHEMA, 0, "%s v%d is already known",
                                     jt_avro_type_name(type), version);
                        goto fail;
                }
        }
        if (reg->count == reg->cap) {
                size_t cap = reg->cap ? 2 * reg->cap : 8;
                if (!(grown = realloc(reg->entries, cap * sizeof(*grown)))) {
                        jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                        goto fail;
                }
                reg->entries = grown;
                reg->cap = cap;
        }
        reg->entries[reg->count++] = e;
        r = reg->reader[type];
        if (!reg->pinned[type] && (r < 0 || reg->entries[r]->version < version))
                reg->reader[type] = (int)reg->count - 1;
        resolve_type(reg, type);
        return true;
fail:
        jt_error_prefix(err, "%s v%d", jt_avro_type_name(type), version);
        entry_destroy(e);
        return false;
}

bool jt_avro_registry_add_file(jt_avro_registry_t *reg, const char *path, jt_error_t *err) {
        jt_avro_type_t type;
        int version;
        FILE *f = NULL;
        char *buf = NULL;
        size_t n;
        bool ok = false;

        if (!jt_avro_parse_schema_file_name(path, &type, &version, err))
                return false;
        if (!(f = fopen(path, "rb"))) {
                jt_error_set(err, JT_ERR_SYSTEM, errno, "cannot open %s: %s", path,
                             strerror(errno));
                goto done;
        }
        /* Schemas are a few KiB; the cap only keeps a wrong path from eating memory. */
        if (!(buf = malloc(JT_AVRO_MAX_MESSAGE_BYTES + 1))) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                goto done;
        }
        n = fread(buf, 1, JT_AVRO_MAX_MESSAGE_BYTES + 1, f);
        if (ferror(f) || n > JT_AVRO_MAX_MESSAGE_BYTES) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "cannot read %s (error or over %d bytes)", path,
                             JT_AVRO_MAX_MESSAGE_BYTES);
                goto done;
        }
        ok = jt_avro_registry_add(reg, type, version, buf, n, err);
        if (!ok)
                jt_error_prefix(err, "%s", path);
done:
        free(buf);
        if (f)
                fclose(f);
        return ok;
}

static const entry_t *find_version(const jt_avro_registry_t *reg, jt_avro_type_t type, int version,
                                   int *index) {
        size_t i;

        for (i = 0; i < reg->count; i++)
                if (reg->entries[i]->type == type && reg->entries[i]->version == version) {
                        if (index)
                                *index = (int)i;
                        return reg->entries[i];
                }
        return NULL;
}

bool jt_avro_registry_set_reader(jt_avro_registry_t *reg, jt_avro_type_t type, int version,
                                 jt_error_t *err) {
        int index;

        if ((int)type < 0 || type >= JT_AVRO_TYPE_COUNT)
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "bad schema type %d", (int)type);
        if (!find_version(reg, type, version, &index))
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "no %s v%d in the registry",
                                    jt_avro_type_name(type), version);
        reg->reader[type] = index;
        reg->pinned[type] = true;
        resolve_type(reg, type);
        return true;
}

static void fill_info(const entry_t *e, jt_avro_schema_info_t *info) {
        info->type = e->type;
        info->version = e->version;
        info->fingerprint = e->fingerprint;
        info->canonical = e->pcf;
        info->schema = e->schema;
}

static const entry_t *reader_entry(const jt_avro_registry_t *reg, jt_avro_type_t type,
                                   jt_error_t *err) {
        if ((int)type < 0 || type >= JT_AVRO_TYPE_COUNT) {
                jt_error_set(err, JT_ERR_SCHEMA, 0, "bad message type %d", (int)type);
                return NULL;
        }
        if (reg->reader[type] < 0) {
                jt_error_set(err, JT_ERR_SCHEMA, 0, "no reader schema for %s",
                             jt_avro_type_name(type));
                return NULL;
        }
        return reg->entries[reg->reader[type]];
}

bool jt_avro_registry_reader(const jt_avro_registry_t *reg, jt_avro_type_t type,
                             jt_avro_schema_info_t *info, jt_error_t *err) {
        const entry_t *r = reader_entry(reg, type, err);

        memset(info, 0, sizeof(*info));
        if (!r)
                return false;
        fill_info(r, info);
        return true;
}

static const entry_t *find_fingerprint(const jt_avro_registry_t *reg, uint64_t fp) {
        size_t i;

        for (i = 0; i < reg->count; i++)
                if (reg->entries[i]->fingerprint == fp)
                        return reg->entries[i];
        return NULL;
}

bool jt_avro_registry_lookup(const jt_avro_registry_t *reg, uint64_t fingerprint,
                             jt_avro_schema_info_t *info) {
        const entry_t *e = find_fingerprint(reg, fingerprint);

        memset(info, 0, sizeof(*info));
        if (!e)
                return false;
        fill_info(e, info);
        return true;
}

bool jt_avro_registry_check(const jt_avro_registry_t *reg, uint64_t fingerprint, jt_error_t *err) {
        const entry_t *e = find_fingerprint(reg, fingerprint);
        char hex[17];

        if (!e) {
                fp_hex(fingerprint, hex);
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "unknown fingerprint %s", hex);
        }
        if (!e->resolves)
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "%s", e->why);
        return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Encoding and decoding */

bool jt_avro_value_new(const jt_avro_registry_t *reg, jt_avro_type_t type, avro_value_t *value,
                       jt_error_t *err) {
        const entry_t *r = reader_entry(reg, type, err);

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
        if (!apply_defaults(value, r, NULL, 0, err)) {
                avro_value_decref(value);
                value->iface = NULL;
                value->self = NULL;
                return false;
        }
        return true;
}

bool jt_avro_encode(const jt_avro_registry_t *reg, jt_avro_type_t type, avro_value_t *value,
                    void **buf, size_t *len, jt_error_t *err) {
        const entry_t *r = reader_entry(reg, type, err);
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
        if (!(e = find_fingerprint(reg, jt_avro_fingerprint_from_le(p + 2)))) {
                fp_hex(jt_avro_fingerprint_from_le(p + 2), hex);
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
        fill_info(e, writer);
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
        if (!(r = reader_entry(reg, type, err)) || !(w = peek(reg, p, len, err)))
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
                if (!apply_defaults(&out, r, w->missing, w->nmissing, err))
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
