/* CRC-64-AVRO, the Rabin fingerprint of the Avro specification ("Schema Fingerprints"), and
 * its little-endian byte form used by single-object encoding. */
#include "jt_avro.h"

#include <stdio.h>

/* The specification's EMPTY: the fingerprint of no bytes, and the polynomial. */
#define JT_AVRO_FP_EMPTY UINT64_C(0xc15d213aa4d7a795)

uint64_t jt_avro_fingerprint_crc64(const void *buf, size_t len) {
        const uint8_t *p = buf;
        uint64_t fp = JT_AVRO_FP_EMPTY;
        size_t i;
        int bit;

        /* The specification's table entry T[b] is 8 shift-and-reduce steps applied to b;
         * the steps are linear, so applying them to fp ^ b directly gives the same result
         * without a table (schemas are fingerprinted once, at start-up). */
        for (i = 0; i < len; i++) {
                fp ^= p[i];
                for (bit = 0; bit < 8; bit++)
                        fp = (fp >> 1) ^ (JT_AVRO_FP_EMPTY & (0 - (fp & 1)));
        }
        return fp;
}

void jt_avro_fingerprint_to_le(uint64_t fingerprint, uint8_t out[8]) {
        int i;

        for (i = 0; i < 8; i++)
                out[i] = (uint8_t)(fingerprint >> (8 * i));
}

uint64_t jt_avro_fingerprint_from_le(const uint8_t in[8]) {
        uint64_t fp = 0;
        int i;

        for (i = 0; i < 8; i++)
                fp |= (uint64_t)in[i] << (8 * i);
        return fp;
}

/* The fingerprint as the header carries it, which is how Java and fastavro print it too. */
void jt_avro_fingerprint_hex(uint64_t fp, char out[17]) {
        uint8_t le[8];
        int i;

        jt_avro_fingerprint_to_le(fp, le);
        for (i = 0; i < 8; i++)
                snprintf(out + 2 * i, 3, "%02x", le[i]);
}
