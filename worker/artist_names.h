/* Artist names by id, shared by the worker's task threads: a statistics entry names its user's
 * top artist, and the top artists of a month are few and popular, so a process-wide cache saves
 * almost every lookup across tasks (a per-task cache looked up about one artist per three users
 * on a catalogue of 2,000 artists). Bounded: cleared when three quarters full. */
#ifndef JT_WORKER_ARTIST_NAMES_H
#define JT_WORKER_ARTIST_NAMES_H

#include <bson/bson.h>
#include <stdbool.h>

typedef struct jt_artist_names_s jt_artist_names_t;

jt_artist_names_t *jt_artist_names_new(void);
void jt_artist_names_destroy(jt_artist_names_t *names);

/* Whether artist is cached; if so *name is a copy of its name (NULL: the artist has none), for
 * the caller to free. */
bool jt_artist_names_get(jt_artist_names_t *names, const bson_oid_t *artist, char **name);

/* Caches artist's name (NULL: it has none). */
void jt_artist_names_put(jt_artist_names_t *names, const bson_oid_t *artist, const char *name);

#endif
