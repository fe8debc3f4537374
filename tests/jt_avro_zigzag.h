/* Avro's zigzag varint (the encoding of int and long), for tests that craft or mutate encoded
 * messages byte by byte: the fuzz driver's mutations and the forged tasks of integration tests. */
#ifndef JT_AVRO_ZIGZAG_H
#define JT_AVRO_ZIGZAG_H

#include <stddef.h>
#include <stdint.h>

/* The encoding of v into out (at most 10 bytes); returns its length. */
static inline size_t jt_avro_zigzag_encode(int64_t v, uint8_t out[10]) {
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        size_t n = 0;

        do {
                out[n] = (uint8_t)(z & 0x7f);
                z >>= 7;
                if (z)
                        out[n] |= 0x80;
                n++;
        } while (z);
        return n;
}

#endif
