/* The generator's seeded random streams and ObjectIds (gen_rng.h). */
#include "gen_rng.h"

static uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

static uint64_t mix(uint64_t seed, char kind, uint64_t a, uint64_t b) {
        uint64_t x = seed * UINT64_C(0x100000001B3) ^ (uint64_t)(unsigned char)kind;
        uint64_t h = splitmix64(&x);
        x ^= a * UINT64_C(0xD6E8FEB86659FD93);
        h ^= splitmix64(&x);
        x ^= b * UINT64_C(0xA0761D6478BD642F);
        return h ^ splitmix64(&x);
}

void jt_gen_rng_seed(jt_gen_rng_t *rng, uint64_t seed, char kind, uint64_t index) {
        uint64_t x = mix(seed, kind, index, 0);
        for (int i = 0; i < 4; i++)
                rng->s[i] = splitmix64(&x);
}

uint64_t jt_gen_rng_next(jt_gen_rng_t *rng) {
        uint64_t *s = rng->s;
        uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

uint64_t jt_gen_rng_below(jt_gen_rng_t *rng, uint64_t n) {
        uint64_t limit = UINT64_MAX - UINT64_MAX % n, r;
        do
                r = jt_gen_rng_next(rng);
        while (r >= limit);
        return r % n;
}

double jt_gen_rng_unit(jt_gen_rng_t *rng) {
        return (double)(jt_gen_rng_next(rng) >> 11) * 0x1.0p-53;
}

void jt_gen_rng_oid(bson_oid_t *oid, int64_t time_s, uint64_t seed, char kind, uint64_t a,
                    uint64_t b) {
        uint64_t h = mix(seed, kind, a, b);
        uint32_t t = (uint32_t)time_s;

        oid->bytes[0] = (uint8_t)(t >> 24);
        oid->bytes[1] = (uint8_t)(t >> 16);
        oid->bytes[2] = (uint8_t)(t >> 8);
        oid->bytes[3] = (uint8_t)t;
        for (int i = 0; i < 8; i++)
                oid->bytes[4 + i] = (uint8_t)(h >> (8 * i));
}
