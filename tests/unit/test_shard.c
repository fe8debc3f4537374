/* User sharding: pinned values (workers of every version must agree) and an even spread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "jt_shard.h"

/* Expected values computed independently (Python, FNV-1a 32-bit over the 12 bytes); they
 * must never change, or workers of two versions would disagree on shard membership. */
static void pinned_values(void **state) {
        static const struct {
                const char *oid;
                uint32_t shards, expected;
        } cases[] = {
            {"000000000000000000000000", 16, 5}, /* hash 3795608245 */
            {"6744a0f1c2d3e4f5a6b7c8d9", 16, 1}, /* hash 1247063697 */
            {"6744a0f1c2d3e4f5a6b7c8d9", 1, 0},
            {"6744a0f1c2d3e4f5a6b7c8da", 4096, 2520}, /* hash 1196730840 */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                bson_oid_t oid;
                bson_oid_init_from_string(&oid, cases[i].oid);
                assert_int_equal(jt_shard_of(&oid, cases[i].shards), cases[i].expected);
        }
}

static void spreads_evenly(void **state) {
        enum { USERS = 16000, SHARDS = 16 };
        unsigned counts[SHARDS] = {0};
        bson_oid_t oid;
        bson_oid_init_from_string(&oid, "6744a0f1c2d3e4f500000000");

        /* Users created in one burst: ObjectIds differ only in their last bytes. */
        for (uint32_t i = 0; i < USERS; i++) {
                oid.bytes[8] = (uint8_t)(i >> 24);
                oid.bytes[9] = (uint8_t)(i >> 16);
                oid.bytes[10] = (uint8_t)(i >> 8);
                oid.bytes[11] = (uint8_t)i;
                counts[jt_shard_of(&oid, SHARDS)]++;
        }
        for (int s = 0; s < SHARDS; s++) {
                /* 1000 expected per shard; allow +-15%. */
                if (counts[s] < 850 || counts[s] > 1150)
                        fail_msg("shard %d has %u users, expected 850..1150", s, counts[s]);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(pinned_values),
            cmocka_unit_test(spreads_evenly),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
