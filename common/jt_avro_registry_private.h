/* Internals of the schema registry shared by jt_avro_registry.c (which builds it) and
 * jt_avro.c (which encodes and decodes with it). Nothing outside the Avro files includes this. */
#ifndef JT_AVRO_REGISTRY_PRIVATE_H
#define JT_AVRO_REGISTRY_PRIVATE_H

#include "jt_avro.h"

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

/* The reader entry of type, or NULL with err set. */
const entry_t *jt_avro_registry_reader_entry(const jt_avro_registry_t *reg, jt_avro_type_t type,
                                             jt_error_t *err);

/* The writer entry with that fingerprint, or NULL. */
const entry_t *jt_avro_registry_find_entry(const jt_avro_registry_t *reg, uint64_t fp);

void jt_avro_registry_fill_info(const entry_t *e, jt_avro_schema_info_t *info);

/* Sets every field of record that has a "default" in the reader's schema (only the nonly
 * fields of only, if given). */
bool jt_avro_registry_apply_defaults(avro_value_t *record, const entry_t *reader,
                                     const missing_field_t *only, size_t nonly, jt_error_t *err);

#endif
