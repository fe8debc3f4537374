/* Framing of the Avro targets' inputs (fuzz_avro.h). */
#include "fuzz_avro.h"

#include <stdlib.h>
#include <string.h>

#include "jt_fuzz.h"

#define MAX_VERSIONS 16

static jt_avro_registry_t *registry;
/* Per type, the fingerprints of its writer schemas in file order (v1, v2, ...). */
static uint64_t fingerprints[JT_AVRO_TYPE_COUNT][MAX_VERSIONS];
static size_t versions[JT_AVRO_TYPE_COUNT];

static void load(void) {
        const jt_avro_schema_file_t *files;
        size_t count;
        jt_error_t err;

        if (!(registry = jt_avro_registry_new(&err)))
                jt_fuzz_finding("setup", "registry: %s", err.message);
        files = jt_avro_schema_files(&count);
        for (size_t i = 0; i < count; i++) {
                jt_avro_type_t type;
                int version;
                char *pcf = NULL;

                if (!jt_avro_parse_schema_file_name(files[i].file, &type, &version, &err) ||
                    !jt_avro_canonical_form(files[i].text, files[i].len, &pcf, &err))
                        jt_fuzz_finding("setup", "%s: %s", files[i].file, err.message);
                if (versions[type] < MAX_VERSIONS)
                        fingerprints[type][versions[type]++] =
                            jt_avro_fingerprint_crc64(pcf, strlen(pcf));
                free(pcf);
        }
}

const jt_avro_registry_t *jt_fuzz_avro_registry(void) {
        if (!registry)
                load();
        return registry;
}

void jt_fuzz_avro_message(jt_avro_type_t type, const uint8_t *data, size_t size, uint8_t **msg,
                          size_t *len) {
        jt_fuzz_avro_registry();
        if (size == 0 || (data[0] & 0x80) || versions[type] == 0) {
                size_t skip = size ? 1 : 0;
                *len = size - skip;
                *msg = malloc(*len + 1);
                if (!*msg)
                        abort();
                if (*len)
                        memcpy(*msg, data + skip, *len);
                return;
        }
        *len = JT_AVRO_HEADER_BYTES + size - 1;
        if (!(*msg = malloc(*len)))
                abort();
        (*msg)[0] = 0xC3;
        (*msg)[1] = 0x01;
        jt_avro_fingerprint_to_le(fingerprints[type][data[0] % versions[type]], *msg + 2);
        memcpy(*msg + JT_AVRO_HEADER_BYTES, data + 1, size - 1);
}
