/* One user's monthly statistics entry from their playbacks of the month: exact per-song,
 * per-artist and per-hour sums, then the sorted, rounded BSON entry (see stats.h). */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jt_time.h"
#include "jt_job_ids.h"

/* Exact sums: a duration in [0.001, 2678400] s is a multiple of 2^-62 below 2^22, so scaled by
 * 2^64 it is an integer below 2^86, and up to 2^32 of them add up without overflow. */
typedef unsigned __int128 exact_t;
#define EXACT_SCALE   64
#define MAX_PLAYBACKS UINT32_MAX

#define MS_PER_HOUR INT64_C(3600000)

/* Open addressing with linear probing, keyed by ObjectId. A used slot always has sum > 0 (every
 * duration is), so sum == 0 marks a free slot and a reset is one memset. */
typedef struct {
        exact_t sum;
        bson_oid_t id;
} slot_t;

typedef struct {
        slot_t *slots;
        size_t cap; /* 0 or a power of two; kept at most half full */
        size_t len;
} oid_map_t;

struct jt_stats_acc {
        int year;
        int month;
        int64_t start_ms; /* the month, [start_ms, end_ms) */
        int64_t end_ms;
        oid_map_t songs;
        oid_map_t artists;
        exact_t hours[24];
        exact_t total;
        size_t count;
        int64_t first_ms; /* createdAt and updatedAt of the entry */
        int64_t last_ms;
};

/* A total as stored, for sorting and output. */
typedef struct {
        bson_oid_t id;
        double total;
} ranked_t;

static double exact_to_double(exact_t sum) {
        /* The integer-to-double conversion rounds once, to nearest with ties to even, and the
         * scaling by a power of two is exact: the correctly rounded sum, as math.fsum gives. */
        return ldexp((double)sum, -EXACT_SCALE);
}

/* round2 of stats.h. Adding 0 turns a -0 (a small negative growth) into +0, so that an
 * entry never depends on the sign of a zero. */
static double round2(double x) {
        return round(x * 100.0) / 100.0 + 0.0;
}

/* --- ObjectId map ---------------------------------------------------------------------------- */

static size_t oid_hash(const bson_oid_t *id) {
        /* FNV-1a 64 over the 12 bytes: ObjectIds of one burst differ only in their last bytes. */
        uint64_t h = UINT64_C(14695981039346656037);
        for (int i = 0; i < 12; i++) {
                h ^= id->bytes[i];
                h *= UINT64_C(1099511628211);
        }
        return (size_t)(h ^ (h >> 32));
}

static slot_t *oid_map_find(const oid_map_t *map, const bson_oid_t *id) {
        size_t mask = map->cap - 1;
        for (size_t i = oid_hash(id) & mask;; i = (i + 1) & mask) {
                slot_t *s = &map->slots[i];
                if (s->sum == 0 || bson_oid_equal(&s->id, id))
                        return s;
        }
}

/* Makes room for one more key, so that the insertion that follows cannot fail. */
static bool oid_map_reserve(oid_map_t *map, jt_error_t *err) {
        if ((map->len + 1) * 2 <= map->cap)
                return true;
        size_t cap = map->cap ? map->cap * 2 : 64;
        slot_t *slots = calloc(cap, sizeof(*slots));
        if (!slots)
                return jt_error_set(err, JT_ERR_SYSTEM, 0,
                                    "out of memory growing a statistics map to %zu entries", cap);
        oid_map_t grown = {slots, cap, map->len};
        for (size_t i = 0; i < map->cap; i++) {
                if (map->slots[i].sum != 0)
                        *oid_map_find(&grown, &map->slots[i].id) = map->slots[i];
        }
        free(map->slots);
        *map = grown;
        return true;
}

static void oid_map_add(oid_map_t *map, const bson_oid_t *id, exact_t amount) {
        slot_t *s = oid_map_find(map, id);
        if (s->sum == 0) {
                bson_oid_copy(id, &s->id);
                map->len++;
        }
        s->sum += amount;
}

static void oid_map_clear(oid_map_t *map) {
        if (map->slots)
                memset(map->slots, 0, map->cap * sizeof(*map->slots));
        map->len = 0;
}

/* --- Ranking --------------------------------------------------------------------------------- */

/* totalDuration descending, then id ascending: a total order, so the output is deterministic. */
static int ranked_cmp(const void *a, const void *b) {
        const ranked_t *x = a, *y = b;
        if (x->total != y->total)
                return x->total > y->total ? -1 : 1;
        return bson_oid_compare(&x->id, &y->id);
}

/* The map's keys ranked, malloc'd (NULL with err set on no memory). */
static ranked_t *oid_map_ranked(const oid_map_t *map, jt_error_t *err) {
        ranked_t *out = malloc((map->len ? map->len : 1) * sizeof(*out));
        if (!out) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory ranking %zu statistics entries",
                             map->len);
                return NULL;
        }
        size_t n = 0;
        for (size_t i = 0; i < map->cap; i++) {
                if (map->slots[i].sum != 0) {
                        bson_oid_copy(&map->slots[i].id, &out[n].id);
                        out[n].total = exact_to_double(map->slots[i].sum);
                        n++;
                }
        }
        qsort(out, n, sizeof(*out), ranked_cmp);
        return out;
}

/* --- Public API ------------------------------------------------------------------------------ */

bool jt_stats_month_range(int year, int month, int64_t *start_ms, int64_t *end_ms,
                          jt_error_t *err) {
        *start_ms = 0;
        *end_ms = 0;
        /* From 1970 on, every time in the month is a non-negative number of milliseconds. */
        if (year < 1970 || year > 9999 || month < 1 || month > 12)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "statistics month must be 1970-01..9999-12 (got %d-%02d)", year,
                                    month);
        jt_time_month_bounds_ms(year, month, start_ms, end_ms);
        return true;
}

jt_stats_acc_t *jt_stats_acc_new(int year, int month, jt_error_t *err) {
        int64_t start_ms, end_ms;
        if (!jt_stats_month_range(year, month, &start_ms, &end_ms, err))
                return NULL;
        jt_stats_acc_t *acc = calloc(1, sizeof(*acc));
        if (!acc) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory for a statistics accumulator");
                return NULL;
        }
        acc->year = year;
        acc->month = month;
        acc->start_ms = start_ms;
        acc->end_ms = end_ms;
        return acc;
}

void jt_stats_acc_destroy(jt_stats_acc_t *acc) {
        if (!acc)
                return;
        free(acc->songs.slots);
        free(acc->artists.slots);
        free(acc);
}

void jt_stats_acc_reset(jt_stats_acc_t *acc) {
        oid_map_clear(&acc->songs);
        oid_map_clear(&acc->artists);
        memset(acc->hours, 0, sizeof(acc->hours));
        acc->total = 0;
        acc->count = 0;
        acc->first_ms = 0;
        acc->last_ms = 0;
}

/* "2026-10-01T00:00:00Z" for a time in milliseconds, rounded down to the second. */
static void format_ms(int64_t ms, char *buf, size_t size) {
        int64_t s = ms / 1000 - (ms % 1000 < 0);
        jt_time_format_iso(s, buf, size);
}

bool jt_stats_acc_add(jt_stats_acc_t *acc, const bson_oid_t *song, const bson_oid_t *artist,
                      double duration_s, int64_t created_at_ms, jt_error_t *err) {
        if (!song || !artist)
                return jt_error_set(err, JT_ERR_INPUT, 0, "playback has no %s id",
                                    song ? "artist" : "song");
        /* Written so that NaN fails too. */
        if (!(duration_s >= JT_STATS_MIN_DURATION_S && duration_s <= JT_STATS_MAX_DURATION_S))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "playback duration must be %g..%g seconds (got %g)",
                                    JT_STATS_MIN_DURATION_S, JT_STATS_MAX_DURATION_S, duration_s);
        if (created_at_ms < acc->start_ms || created_at_ms >= acc->end_ms) {
                char at[JT_TIME_ISO_BUF], start[JT_TIME_ISO_BUF], end[JT_TIME_ISO_BUF];
                format_ms(created_at_ms, at, sizeof(at));
                format_ms(acc->start_ms, start, sizeof(start));
                format_ms(acc->end_ms, end, sizeof(end));
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "playback createdAt %s (%" PRId64 " ms) is outside the month "
                                    "%04d-%02d, which is [%s, %s)",
                                    at, created_at_ms, acc->year, acc->month, start, end);
        }
        if (acc->count >= MAX_PLAYBACKS)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "more than %" PRIu32 " playbacks for one user in one month",
                                    (uint32_t)MAX_PLAYBACKS);
        /* Both reservations before any change: a failure leaves the accumulator as it was. */
        if (!oid_map_reserve(&acc->songs, err) || !oid_map_reserve(&acc->artists, err))
                return false;

        exact_t amount = (exact_t)ldexp(duration_s, EXACT_SCALE);
        oid_map_add(&acc->songs, song, amount);
        oid_map_add(&acc->artists, artist, amount);
        acc->hours[created_at_ms / MS_PER_HOUR % 24] += amount;
        acc->total += amount;
        if (acc->count == 0 || created_at_ms < acc->first_ms)
                acc->first_ms = created_at_ms;
        if (acc->count == 0 || created_at_ms > acc->last_ms)
                acc->last_ms = created_at_ms;
        acc->count++;
        return true;
}

size_t jt_stats_acc_count(const jt_stats_acc_t *acc) {
        return acc->count;
}

bool jt_stats_acc_top_artist(const jt_stats_acc_t *acc, bson_oid_t *artist) {
        const slot_t *best = NULL;
        ranked_t best_r = {0}, r;

        memset(artist, 0, sizeof(*artist));
        for (size_t i = 0; i < acc->artists.cap; i++) {
                const slot_t *s = &acc->artists.slots[i];
                if (s->sum == 0)
                        continue;
                bson_oid_copy(&s->id, &r.id);
                r.total = exact_to_double(s->sum);
                if (!best || ranked_cmp(&r, &best_r) < 0) {
                        best = s;
                        best_r = r;
                }
        }
        if (!best)
                return false;
        bson_oid_copy(&best->id, artist);
        return true;
}

/* Appends [{id_key: id, totalDuration: total}, ...]. */
static bool append_ranked(bson_t *doc, const char *key, const char *id_key, const ranked_t *r,
                          size_t n) {
        bson_t array, item;
        char index[16];
        const char *index_key;

        if (!bson_append_array_begin(doc, key, -1, &array))
                return false;
        for (size_t i = 0; i < n; i++) {
                bson_uint32_to_string((uint32_t)i, &index_key, index, sizeof(index));
                if (!bson_append_document_begin(&array, index_key, -1, &item) ||
                    !BSON_APPEND_OID(&item, id_key, &r[i].id) ||
                    !BSON_APPEND_DOUBLE(&item, "totalDuration", r[i].total) ||
                    !bson_append_document_end(&array, &item))
                        return false;
        }
        return bson_append_array_end(doc, &array);
}

static bool append_hours(bson_t *doc, const exact_t hours[24]) {
        bson_t array, item;
        char index[16];
        const char *index_key;
        uint32_t n = 0;

        if (!bson_append_array_begin(doc, "peakHour", -1, &array))
                return false;
        for (int h = 0; h < 24; h++) {
                if (hours[h] == 0)
                        continue;
                double total = exact_to_double(hours[h]);
                bson_uint32_to_string(n++, &index_key, index, sizeof(index));
                if (!bson_append_document_begin(&array, index_key, -1, &item) ||
                    !BSON_APPEND_INT32(&item, "hour", h) ||
                    !BSON_APPEND_DOUBLE(&item, "totalDuration", total) ||
                    !BSON_APPEND_DOUBLE(&item, "utilization", round2(total / 3600.0 * 100.0)) ||
                    !bson_append_document_end(&array, &item))
                        return false;
        }
        return bson_append_array_end(doc, &array);
}

bool jt_stats_acc_build(const jt_stats_acc_t *acc, const double *prev_total_s,
                        const char *top_artist_name, bson_t *entry_out, jt_error_t *err) {
        ranked_t *songs = NULL, *artists = NULL;
        bool ok = false;
        bson_t summary;

        bson_init(entry_out);
        if (acc->count == 0) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "no playback in %04d-%02d: a user without playback gets no entry",
                             acc->year, acc->month);
                goto done;
        }
        if (prev_total_s && !(isfinite(*prev_total_s) && *prev_total_s >= 0)) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "previous month's totalDuration must be a finite number >= 0 "
                             "(got %g)",
                             *prev_total_s);
                goto done;
        }
        if (!top_artist_name || !*top_artist_name)
                top_artist_name = JT_STATS_UNKNOWN_ARTIST;
        if (!bson_utf8_validate(top_artist_name, strlen(top_artist_name), false)) {
                jt_error_set(err, JT_ERR_INPUT, 0, "top artist's name is not valid UTF-8");
                goto done;
        }
        if (!(songs = oid_map_ranked(&acc->songs, err)) ||
            !(artists = oid_map_ranked(&acc->artists, err)))
                goto done;

        double total = exact_to_double(acc->total);
        double growth = 0;
        if (prev_total_s && *prev_total_s > 0)
                growth = round2((total - *prev_total_s) / *prev_total_s * 100.0);

        if (!append_ranked(entry_out, "songs", "song", songs, acc->songs.len) ||
            !append_ranked(entry_out, "artists", "artist", artists, acc->artists.len) ||
            !append_hours(entry_out, acc->hours) ||
            !BSON_APPEND_DOCUMENT_BEGIN(entry_out, "summary", &summary) ||
            !BSON_APPEND_INT32(&summary, "month", acc->month) ||
            !BSON_APPEND_INT32(&summary, "year", acc->year) ||
            !BSON_APPEND_DOUBLE(&summary, "totalDuration", total) ||
            !BSON_APPEND_DOUBLE(&summary, "growthPercentage", growth) ||
            !BSON_APPEND_UTF8(&summary, "topArtist", top_artist_name) ||
            !BSON_APPEND_DOUBLE(&summary, "topArtistTotalPlaybackTime", artists[0].total) ||
            !bson_append_document_end(entry_out, &summary) ||
            !BSON_APPEND_DATE_TIME(entry_out, "createdAt", acc->first_ms) ||
            !BSON_APPEND_DATE_TIME(entry_out, "updatedAt", acc->last_ms)) {
                /* libbson refuses only documents past 2 GB. */
                jt_error_set(err, JT_ERR_SYSTEM, 0,
                             "statistics entry too large for BSON (%zu songs, %zu artists)",
                             acc->songs.len, acc->artists.len);
                goto done;
        }
        ok = true;
done:
        if (!ok) {
                bson_destroy(entry_out);
                bson_init(entry_out);
        }
        free(songs);
        free(artists);
        return ok;
}

bool jt_stats_entry_total(const bson_t *entry, double *total_s, jt_error_t *err) {
        bson_iter_t it, field;

        *total_s = 0;
        if (!bson_iter_init(&it, entry) ||
            !bson_iter_find_descendant(&it, "summary.totalDuration", &field))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "stored statistics entry has no summary.totalDuration");
        double total;
        switch (bson_iter_type(&field)) {
        case BSON_TYPE_DOUBLE:
                total = bson_iter_double(&field);
                break;
        case BSON_TYPE_INT32:
                total = bson_iter_int32(&field);
                break;
        case BSON_TYPE_INT64:
                total = (double)bson_iter_int64(&field);
                break;
        default:
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "stored summary.totalDuration must be a number (got BSON "
                                    "type 0x%02x)",
                                    (unsigned)bson_iter_type(&field));
        }
        if (!(isfinite(total) && total >= 0))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "stored summary.totalDuration must be finite and >= 0 (got %g)",
                                    total);
        *total_s = total;
        return true;
}

bool jt_stats_entry_in(const bson_t *entry, int64_t from, int64_t to) {
        bson_iter_t it;
        int64_t t;

        if (!bson_iter_init_find(&it, entry, "createdAt") || !BSON_ITER_HOLDS_DATE_TIME(&it))
                return false;
        t = bson_iter_date_time(&it);
        return t >= from && t < to;
}
