/* The process-wide artist name cache (artist_names.h): open addressing under one mutex. */
#include "artist_names.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 65536 /* a power of two; names of 49,152 artists at most */

struct jt_artist_names_s {
        pthread_mutex_t lock;
        size_t used;
        bson_oid_t ids[SLOTS];
        char *names[SLOTS];
        bool taken[SLOTS];
};

jt_artist_names_t *jt_artist_names_new(void) {
        jt_artist_names_t *n = calloc(1, sizeof(*n));

        if (n)
                pthread_mutex_init(&n->lock, NULL);
        return n;
}

static void clear(jt_artist_names_t *n) {
        for (size_t i = 0; i < SLOTS; i++) {
                free(n->names[i]);
                n->names[i] = NULL;
                n->taken[i] = false;
        }
        n->used = 0;
}

void jt_artist_names_destroy(jt_artist_names_t *n) {
        if (!n)
                return;
        clear(n);
        pthread_mutex_destroy(&n->lock);
        free(n);
}

static size_t slot_of(const jt_artist_names_t *n, const bson_oid_t *artist) {
        size_t i = bson_oid_hash(artist) & (SLOTS - 1);

        while (n->taken[i] && !bson_oid_equal(&n->ids[i], artist))
                i = (i + 1) & (SLOTS - 1);
        return i;
}

bool jt_artist_names_get(jt_artist_names_t *n, const bson_oid_t *artist, char **name) {
        bool hit;
        size_t i;

        *name = NULL;
        if (!n)
                return false;
        pthread_mutex_lock(&n->lock);
        i = slot_of(n, artist);
        hit = n->taken[i];
        if (hit && n->names[i])
                *name = strdup(n->names[i]);
        pthread_mutex_unlock(&n->lock);
        return hit;
}

void jt_artist_names_put(jt_artist_names_t *n, const bson_oid_t *artist, const char *name) {
        size_t i;

        if (!n)
                return;
        pthread_mutex_lock(&n->lock);
        if (n->used >= SLOTS / 4 * 3)
                clear(n);
        i = slot_of(n, artist);
        if (!n->taken[i]) {
                bson_oid_copy(artist, &n->ids[i]);
                n->names[i] = name ? strdup(name) : NULL;
                n->taken[i] = true;
                n->used++;
        }
        pthread_mutex_unlock(&n->lock);
}
