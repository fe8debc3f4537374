/* Stored statistics history for the generator (`generate --history-months N`): N monthly
 * entries per user, before the generated months, built by the worker's own entry builder
 * (worker/stats.h) from playbacks drawn for each month, so that they have every field
 * and the size of the entries the fleet writes. The benchmark measures the worker's memory on
 * stats documents that carry a year of entries, as the application's do. */
#ifndef JT_LOADTEST_GEN_HISTORY_H
#define JT_LOADTEST_GEN_HISTORY_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "gen_catalog.h"
#include "jt_error.h"

typedef struct {
        const jt_gen_catalog_t *catalog;
        uint64_t seed;
        int months;                  /* entries per user, 0..JT_GEN_HISTORY_MAX_MONTHS */
        int64_t plays_per_month;     /* playbacks behind each entry, >= 1 */
        int first_year, first_month; /* the oldest history month */
} jt_gen_history_t;

#define JT_GEN_HISTORY_MAX_MONTHS 120

/* The history months: the `months` calendar months (UTC) before the one holding
 * generated_from_ms (the generator's oldest playback). */
void jt_gen_history_init(jt_gen_history_t *h, const jt_gen_catalog_t *catalog, uint64_t seed,
                         int months, int64_t plays_per_month, int64_t generated_from_ms);

/* Appends user_index's entries, oldest first, to entries (an open BSON array), each entry's
 * growth from the one before. Their own random stream: the user's playbacks stay the same
 * with or without history. False on no memory (err says so). */
bool jt_gen_history_append(const jt_gen_history_t *h, uint64_t user_index, bson_t *entries,
                           jt_error_t *err);

/* The year and month of history month i (0 = the oldest). */
void jt_gen_history_month(const jt_gen_history_t *h, int i, int *year, int *month);

#endif
