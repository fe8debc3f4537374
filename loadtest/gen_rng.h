/* The generator's randomness: xoshiro256** streams seeded by SplitMix64 from (seed, kind,
 * index), so each user's documents depend only on the seed and the user's number, and
 * ObjectIds derived the same way (a timestamp, then 8 bytes of a hash). */
#ifndef JT_LOADTEST_GEN_RNG_H
#define JT_LOADTEST_GEN_RNG_H

#include <bson/bson.h>
#include <stdint.h>

typedef struct {
        uint64_t s[4];
} gen_rng_t;

void gen_rng_seed(gen_rng_t *rng, uint64_t seed, char kind, uint64_t index);
uint64_t gen_rng_next(gen_rng_t *rng);
/* Uniform in [0, n) (n > 0), without modulo bias. */
uint64_t gen_rng_below(gen_rng_t *rng, uint64_t n);
/* Uniform in [0, 1). */
double gen_rng_unit(gen_rng_t *rng);

/* An ObjectId with time_s in its timestamp and the rest from (seed, kind, a, b). */
void gen_oid(bson_oid_t *oid, int64_t time_s, uint64_t seed, char kind, uint64_t a, uint64_t b);

#endif
