/* The generator's catalogue of artists and songs (gen_catalog.h). */
#include "gen_catalog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SONG_ZIPF_S   1.07
#define ARTIST_ZIPF_S 0.9

static const char *const first_words[] = {
    "Velvet", "Neon",   "Quiet",  "Golden", "Silver", "Electric", "Midnight", "Crimson",
    "Paper",  "Hollow", "Wild",   "Lunar",  "Static", "Amber",    "Glass",    "Northern",
    "Broken", "Sunday", "Cosmic", "Honey",  "Iron",   "Lost",     "Blue",     "Secret",
};
static const char *const second_words[] = {
    "Engines", "Tides",  "Sparrows", "Echoes",   "Harbours", "Satellites", "Wolves", "Lanterns",
    "Rivers",  "Pilots", "Machines", "Orchards", "Ghosts",   "Dreamers",   "Owls",   "Signals",
    "Parade",  "Fields", "Circuit",  "Comets",   "Choir",    "Gardens",    "Avenue", "Season",
};
#define N_FIRST  (sizeof(first_words) / sizeof(first_words[0]))
#define N_SECOND (sizeof(second_words) / sizeof(second_words[0]))

/* Cumulative Zipf weights over n ranks, normalised to end at 1. */
static double *zipf_cumul(size_t n, double s) {
        double *c = malloc(n * sizeof(*c)), total = 0;
        if (!c)
                return NULL;
        for (size_t r = 0; r < n; r++) {
                total += 1.0 / pow((double)(r + 1), s);
                c[r] = total;
        }
        for (size_t r = 0; r < n; r++)
                c[r] /= total;
        c[n - 1] = 1.0;
        return c;
}

static size_t pick(const double *cumul, size_t n, double u) {
        size_t lo = 0, hi = n - 1;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (cumul[mid] > u)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo;
}

jt_gen_catalog_t *jt_gen_catalog_new(uint64_t seed, size_t artists, size_t songs) {
        jt_gen_catalog_t *c = calloc(1, sizeof(*c));
        double *artist_cumul = NULL;
        jt_gen_rng_t rng;

        if (!c)
                return NULL;
        c->artist_count = artists;
        c->song_count = songs;
        c->artists = calloc(artists, sizeof(*c->artists));
        c->artist_names = calloc(artists, sizeof(*c->artist_names));
        c->songs = calloc(songs, sizeof(*c->songs));
        c->song_artist = calloc(songs, sizeof(*c->song_artist));
        c->song_cumul = zipf_cumul(songs, SONG_ZIPF_S);
        artist_cumul = zipf_cumul(artists, ARTIST_ZIPF_S);
        if (!c->artists || !c->artist_names || !c->songs || !c->song_artist || !c->song_cumul ||
            !artist_cumul) {
                free(artist_cumul);
                jt_gen_catalog_destroy(c);
                return NULL;
        }
        jt_gen_rng_seed(&rng, seed, 'C', 0);
        for (size_t a = 0; a < artists; a++) {
                char name[96];
                size_t k = (size_t)jt_gen_rng_below(&rng, N_FIRST * N_SECOND);
                size_t round = a / (N_FIRST * N_SECOND);
                jt_gen_rng_oid(&c->artists[a], 1700000000, seed, 'A', a, 0);
                if (round == 0)
                        snprintf(name, sizeof(name), "The %s %s", first_words[k % N_FIRST],
                                 second_words[k / N_FIRST]);
                else
                        snprintf(name, sizeof(name), "The %s %s %zu", first_words[k % N_FIRST],
                                 second_words[k / N_FIRST], round + 1);
                if (!(c->artist_names[a] = strdup(name))) {
                        free(artist_cumul);
                        jt_gen_catalog_destroy(c);
                        return NULL;
                }
        }
        /* Every artist has at least one song; the rest go to artists by popularity. Song ranks
         * are shuffled against artist ranks so a popular song may be by a smaller artist. */
        for (size_t s = 0; s < songs; s++) {
                jt_gen_rng_oid(&c->songs[s], 1700000000, seed, 'S', s, 0);
                c->song_artist[s] =
                    s < artists ? s : pick(artist_cumul, artists, jt_gen_rng_unit(&rng));
        }
        for (size_t s = songs - 1; s > 0; s--) {
                size_t j = (size_t)jt_gen_rng_below(&rng, s + 1), t = c->song_artist[s];
                c->song_artist[s] = c->song_artist[j];
                c->song_artist[j] = t;
        }
        free(artist_cumul);
        return c;
}

void jt_gen_catalog_destroy(jt_gen_catalog_t *c) {
        if (!c)
                return;
        for (size_t a = 0; c->artist_names && a < c->artist_count; a++)
                free(c->artist_names[a]);
        free(c->artists);
        free(c->artist_names);
        free(c->songs);
        free(c->song_artist);
        free(c->song_cumul);
        free(c);
}

size_t jt_gen_catalog_pick_song(const jt_gen_catalog_t *c, jt_gen_rng_t *rng) {
        return pick(c->song_cumul, c->song_count, jt_gen_rng_unit(rng));
}
