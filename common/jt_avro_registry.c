/* The schema registry: every writer schema the program knows and, per message type, the
 * reader schema. Each writer is resolved to its type's reader with avro-c's resolver, adding
 * what avro-c 1.11 lacks: defaults for reader fields the writer does not have, and a check
 * that enums only grew at the end (avro-c maps enum symbols by position). */
#include "jt_avro.h"
#include "jt_avro_registry_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
bool jt_avro_registry_apply_defaults(avro_value_t *record, const entry_t *reader,
                                     const missing_field_t *only, size_t nonly, jt_error_t *err) {
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
                if (!jt_avro_registry_apply_defaults(&scratch, r, w->missing, w->nmissing, err))
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
                                     jt_avro_type_name((jt_avro_type_t)t),
                                     jt_avro_type_name((jt_avro_type_t)t));
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
        e->fingerprint = jt_avro_fingerprint_crc64(e->pcf, strlen(e->pcf));
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
                        jt_avro_fingerprint_hex(e->fingerprint, hex);
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

void jt_avro_registry_fill_info(const entry_t *e, jt_avro_schema_info_t *info) {
        info->type = e->type;
        info->version = e->version;
        info->fingerprint = e->fingerprint;
        info->canonical = e->pcf;
        info->schema = e->schema;
}

const entry_t *jt_avro_registry_reader_entry(const jt_avro_registry_t *reg, jt_avro_type_t type,
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
        const entry_t *r = jt_avro_registry_reader_entry(reg, type, err);

        memset(info, 0, sizeof(*info));
        if (!r)
                return false;
        jt_avro_registry_fill_info(r, info);
        return true;
}

const entry_t *jt_avro_registry_find_entry(const jt_avro_registry_t *reg, uint64_t fp) {
        size_t i;

        for (i = 0; i < reg->count; i++)
                if (reg->entries[i]->fingerprint == fp)
                        return reg->entries[i];
        return NULL;
}

bool jt_avro_registry_lookup(const jt_avro_registry_t *reg, uint64_t fingerprint,
                             jt_avro_schema_info_t *info) {
        const entry_t *e = jt_avro_registry_find_entry(reg, fingerprint);

        memset(info, 0, sizeof(*info));
        if (!e)
                return false;
        jt_avro_registry_fill_info(e, info);
        return true;
}

bool jt_avro_registry_check(const jt_avro_registry_t *reg, uint64_t fingerprint, jt_error_t *err) {
        const entry_t *e = jt_avro_registry_find_entry(reg, fingerprint);
        char hex[17];

        if (!e) {
                jt_avro_fingerprint_hex(fingerprint, hex);
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "unknown fingerprint %s", hex);
        }
        if (!e->resolves)
                return jt_error_set(err, JT_ERR_SCHEMA, 0, "%s", e->why);
        return true;
}
