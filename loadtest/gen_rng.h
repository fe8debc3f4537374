/* The generator's randomness: xoshiro256** streams seeded by SplitMix64 from (seed, kind,
 * index), so each user's documents depend only on the seed and the user's number, and
 * ObjectIds derived the same way (a timestamp, then 8 bytes of a hash). */
#ifndef JT_LOADTEST_GEN_RNG_H
#define JT_LOADTEST_GEN_RNG_H

#include <bson/bson.h>
#include <stdint.h>

typedef struct {
        uint64_t s[4];
} jt_gen_rng_t;

void jt_gen_rng_seed(jt_gen_rng_t *rng, uint64_t seed, char kind, uint64_t index);
uint64_t jt_gen_rng_next(jt_gen_rng_t *rng);
/* Uniform in [0, n) (n > 0), without modulo bias. */
uint64_t jt_gen_rng_below(jt_gen_rng_t *rng, uint64_t n);
/* Uniform in [0, 1). */
double jt_gen_rng_unit(jt_gen_rng_t *rng);

/* An ObjectId with time_s in its timestamp and the rest from (seed, kind, a, b). */
void jt_gen_rng_oid(bson_oid_t *oid, int64_t time_s, uint64_t seed, char kind, uint64_t a,
                    uint64_t b);

#endif
