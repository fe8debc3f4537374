/* Stored statistics history for the generator (gen_history.h). */
#include "gen_history.h"

#include <stdio.h>

#include "gen_rng.h"
#include "jt_time.h"
#include "stats.h"

void jt_gen_history_init(jt_gen_history_t *h, const jt_gen_catalog_t *catalog, uint64_t seed,
                         int months, int64_t plays_per_month, int64_t generated_from_ms) {
        jt_time_civil_t c;
        int index;

        jt_time_to_civil(generated_from_ms / 1000, &c);
        /* Months counted from year 0: the oldest history month is `months` before c's. */
        index = (int)c.year * 12 + c.month - 1 - months;
        h->catalog = catalog;
        h->seed = seed;
        h->months = months;
        h->plays_per_month = plays_per_month < 1 ? 1 : plays_per_month;
        h->first_year = index / 12;
        h->first_month = index % 12 + 1;
}

void jt_gen_history_month(const jt_gen_history_t *h, int i, int *year, int *month) {
        int index = h->first_year * 12 + (h->first_month - 1) + i;

        *year = index / 12;
        *month = index % 12 + 1;
}

bool jt_gen_history_append(const jt_gen_history_t *h, uint64_t user_index, bson_t *entries,
                           jt_error_t *err) {
        jt_gen_rng_t rng;
        double prev_total = 0;
        bool have_prev = false;

        jt_gen_rng_seed(&rng, h->seed, 'H', user_index);
        for (int i = 0; i < h->months; i++) {
                jt_stats_acc_t *acc;
                bson_oid_t top;
                bson_t entry;
                int year, month;
                int64_t start, end, plays;
                char key[16];
                const char *index_key;
                const char *top_name = NULL;
                bool ok;

                jt_gen_history_month(h, i, &year, &month);
                if (!jt_stats_month_range(year, month, &start, &end, err) ||
                    !(acc = jt_stats_acc_new(year, month, err)))
                        return false;
                /* Months differ, as listening does: half to one and a half times the mean. */
                plays = h->plays_per_month / 2 +
                        (int64_t)jt_gen_rng_below(&rng, (uint64_t)h->plays_per_month + 1);
                if (plays < 1)
                        plays = 1;
                ok = true;
                for (int64_t p = 0; ok && p < plays; p++) {
                        size_t song = jt_gen_catalog_pick_song(h->catalog, &rng);
                        int64_t at =
                            start + (int64_t)jt_gen_rng_below(&rng, (uint64_t)(end - start));
                        /* Durations in the generator's playbacks' range: 30..329 s. */
                        double duration = 30.0 + (double)jt_gen_rng_below(&rng, 300);
                        ok = jt_stats_acc_add(acc, &h->catalog->songs[song],
                                              &h->catalog->artists[h->catalog->song_artist[song]],
                                              duration, at, err);
                }
                if (ok && jt_stats_acc_top_artist(acc, &top)) {
                        for (size_t a = 0; a < h->catalog->artist_count; a++)
                                if (bson_oid_equal(&top, &h->catalog->artists[a])) {
                                        top_name = h->catalog->artist_names[a];
                                        break;
                                }
                }
                ok = ok &&
                     jt_stats_acc_build(acc, have_prev ? &prev_total : NULL, top_name, &entry, err);
                jt_stats_acc_destroy(acc);
                if (ok && !jt_stats_entry_total(&entry, &prev_total, err))
                        ok = false;
                if (ok) {
                        bson_uint32_to_string((uint32_t)i, &index_key, key, sizeof(key));
                        if (!bson_append_document(entries, index_key, -1, &entry))
                                ok = jt_error_set(err, JT_ERR_SYSTEM, 0,
                                                  "stats document too large for BSON with %d "
                                                  "history months",
                                                  h->months);
                }
                bson_destroy(&entry);
                if (!ok)
                        return false;
                have_prev = true;
        }
        return true;
}
