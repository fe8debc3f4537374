/* The Avro codec behind the fleet's messages, private to common/jt_avro*.c and the message
 * modules (and tests and tools that work on raw Avro): Parsing Canonical Form and CRC-64-AVRO
 * fingerprints (which avro-c lacks), the registry of every published schema, single-object
 * encoding (C3 01, 8-byte little-endian fingerprint, datum) with writer-to-reader resolution,
 * and field helpers. Programs include jt_messages.h instead. Nothing here crashes or
 * over-allocates on hostile bytes. */
#ifndef JT_AVRO_H
#define JT_AVRO_H

#include "jt_error.h"
#include "jt_messages.h"

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
uint64_t jt_avro_fingerprint_crc64(const void *buf, size_t len);

/* The fingerprint as the 8 little-endian bytes that single-object encoding carries (and that
 * Java's and fastavro's "fingerprint bytes" print). */
void jt_avro_fingerprint_to_le(uint64_t fingerprint, uint8_t out[8]);
uint64_t jt_avro_fingerprint_from_le(const uint8_t in[8]);

/* The fingerprint as 16 hex digits of its little-endian bytes (how the header carries it, and
 * how Java and fastavro print it). */
void jt_avro_fingerprint_hex(uint64_t fingerprint, char out[17]);

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
 * unless pinned). The handle, jt_avro_registry_new() and _destroy() are in jt_messages.h (with
 * the rule of one registry per thread); what follows builds and inspects one. */

typedef struct {
        jt_avro_type_t type;
        int version;
        uint64_t fingerprint;
        const char *canonical; /* Parsing Canonical Form, owned by the registry */
        avro_schema_t schema;  /* owned by the registry */
} jt_avro_schema_info_t;

/* A registry with no schema, to assemble by hand (tests, tools). */
jt_avro_registry_t *jt_avro_registry_new_empty(jt_error_t *err);

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
bool jt_avro_value_get_string(avro_value_t *record, const char *field, const char **val,
                              jt_error_t *err);
/* int or long fields. present may be NULL for a required field; a null then is an error. */
bool jt_avro_value_get_long(avro_value_t *record, const char *field, int64_t *val, bool *present,
                            jt_error_t *err);
bool jt_avro_value_get_double(avro_value_t *record, const char *field, double *val, bool *present,
                              jt_error_t *err);
bool jt_avro_value_get_bool(avro_value_t *record, const char *field, bool *val, bool *present,
                            jt_error_t *err);
/* The enum's symbol; an index outside the reader's symbols is an error. */
bool jt_avro_value_get_enum(avro_value_t *record, const char *field, const char **symbol,
                            jt_error_t *err);

/* val NULL sets null (the field must allow it). */
bool jt_avro_value_set_string(avro_value_t *record, const char *field, const char *val,
                              jt_error_t *err);
/* int fields check the range. */
bool jt_avro_value_set_long(avro_value_t *record, const char *field, int64_t val, jt_error_t *err);
bool jt_avro_value_set_double(avro_value_t *record, const char *field, double val, jt_error_t *err);
bool jt_avro_value_set_bool(avro_value_t *record, const char *field, bool val, jt_error_t *err);
bool jt_avro_value_set_enum(avro_value_t *record, const char *field, const char *symbol,
                            jt_error_t *err);
bool jt_avro_value_set_null(avro_value_t *record, const char *field, jt_error_t *err);

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
#endif
