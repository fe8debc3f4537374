/* The generator's catalogue: artists (with names, for `musicians`) and songs, each song by one
 * artist; popularity is Zipf-like (weight 1/rank^s), so a few songs and artists take most plays
 * as in a real service, and top-artist names and ties come out realistic. */
#ifndef JT_LOADTEST_GEN_CATALOG_H
#define JT_LOADTEST_GEN_CATALOG_H

#include <bson/bson.h>
#include <stddef.h>

#include "gen_rng.h"

typedef struct {
        size_t artist_count, song_count;
        bson_oid_t *artists;
        char **artist_names;
        bson_oid_t *songs;
        size_t *song_artist; /* index into artists */
        double *song_cumul;  /* cumulative popularity, song_cumul[song_count-1] == 1 */
} jt_gen_catalog_t;

/* NULL when out of memory. */
jt_gen_catalog_t *jt_gen_catalog_new(uint64_t seed, size_t artists, size_t songs);
void jt_gen_catalog_destroy(jt_gen_catalog_t *c);

/* A song index drawn by popularity. */
size_t jt_gen_catalog_pick_song(const jt_gen_catalog_t *c, jt_gen_rng_t *rng);

#endif
