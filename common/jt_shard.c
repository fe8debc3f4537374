/* User sharding by id hash. FNV-1a is simple, fast, and spreads ObjectIds (whose first bytes
 * are a timestamp shared by users created together) evenly over the shards. */
#include "jt_shard.h"

uint32_t jt_shard_of(const bson_oid_t *user, uint32_t shard_count) {
        uint32_t hash = 2166136261u;

        for (int i = 0; i < 12; i++) {
                hash ^= user->bytes[i];
                hash *= 16777619u;
        }
        return shard_count ? hash % shard_count : 0;
}
