/* The input of the Avro targets: one byte choosing the writer schema, then the datum. A first
 * byte with its high bit set passes the rest as a whole single-object message instead, so that
 * the header checks are fuzzed too without every mutation breaking the fingerprint. */
#ifndef JT_FUZZ_AVRO_H
#define JT_FUZZ_AVRO_H

#include <stddef.h>
#include <stdint.h>

#include "jt_avro.h"

/* The registry of every schema compiled in (built once, kept for the process). */
const jt_avro_registry_t *jt_fuzz_avro_registry(void);

/* The message to decode for this input (malloc'd, the caller frees *msg). */
void jt_fuzz_avro_message(jt_avro_type_t type, const uint8_t *data, size_t size, uint8_t **msg,
                          size_t *len);

#endif
