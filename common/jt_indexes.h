/* The indexes the fleet's queries rely on, created by the producer before a job's tasks go out
 * (and by the loadtest generator): playbacks {user: 1, createdAt: 1} for a shard's month and
 * {createdAt: 1} for the cleanup's ranges and oldest playback; stats {user: 1}, unique, for a
 * chunk's stats documents and so that a user never has two. createIndexes is a no-op for an
 * index that exists, so this is idempotent. */
#ifndef JT_INDEXES_H
#define JT_INDEXES_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "jt_error.h"

/* Creates the missing indexes; replaces a non-unique stats user_1 (an older version's) by the
 * unique one. Fails naming a user with two stats documents, dropping nothing. */
bool jt_indexes_ensure(mongoc_client_pool_t *pool, const char *db, bool test_mode, jt_error_t *err);

#endif
