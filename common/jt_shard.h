/* Which statistics shard a user belongs to: FNV-1a of the user's 12-byte ObjectId, modulo the
 * shard count. Stable across versions and machines (pinned by a unit test), since a task names
 * only its shard number and every worker must agree on the users it covers. */
#ifndef JT_SHARD_H
#define JT_SHARD_H

#include <bson/bson.h>
#include <stdint.h>

/* 0 .. shard_count-1; shard_count must be >= 1. */
uint32_t jt_shard_of(const bson_oid_t *user, uint32_t shard_count);

#endif
