/* One user's monthly statistics entry (an element of the user's document in `stats`), computed from
 * that user's playbacks of the month: the worker streams a user's playbacks into an accumulator,
 * builds the entry, resets the accumulator and goes on with the next user, so memory holds one
 * user's data at a time. Pure computation: no database, no Kafka.
 *
 * The entry, field by field (BSON types in brackets):
 *   songs:    [{song [oid], totalDuration [double]}]     totalDuration descending, then id
 *   artists:  [{artist [oid], totalDuration [double]}]   totalDuration descending, then id
 *   peakHour: [{hour [int32 0-23 UTC], totalDuration [double], utilization [double]}]
 *             hour ascending, only hours with playback; utilization = round2(total / 3600 * 100)
 *   summary:  {month [int32 1-12], year [int32], totalDuration [double],
 *              growthPercentage [double], topArtist [utf8], topArtistTotalPlaybackTime [double]}
 *             growthPercentage = round2((total - prev) / prev * 100), 0 without a previous month
 *             or when it was 0; topArtist is artists[0]'s name, "Unknown Artist" without one
 *   createdAt [date]: the month's first playback, updatedAt [date]: its last playback.
 *
 * Rules that make two runs produce byte-identical entries, whatever the order the database
 * returns playbacks in (a sort on {user, createdAt} leaves equal times in any order):
 *   - Sums are exact: every total is the exact sum of its durations rounded once to the nearest
 *     double (ties to even), like Python's math.fsum, so it does not depend on the order of
 *     addition. Durations are therefore bounded (JT_STATS_MIN/MAX_DURATION_S).
 *   - Ties: equal totalDuration values (compared as the stored doubles) are ordered by id
 *     ascending (the 12 bytes, i.e. the hex string); the top artist is artists[0].
 *   - round2(x) = round(x * 100) / 100 in double arithmetic: x * 100 rounded to the nearest
 *     double, then C round() (half away from zero) on that double's exact value, then divided by
 *     100. So 1.005 (a double just below 1.005) gives 1.0 and 0.125 gives 0.13; -0 becomes 0.
 *   - createdAt/updatedAt come from the playbacks, not from the clock: the original created a
 *     user's entry on the month's first playback and updated it on each one, and the month an
 *     entry belongs to is found by its createdAt, which therefore always lies inside the month.
 *
 * A user with no playback in the month gets no entry (as in the original, where entries were
 * made by playbacks): the caller writes nothing for them, and since the original's
 * usersProcessed counts the users that have an entry for the month, they count in neither
 * usersProcessed nor usersUpdated. */
#ifndef JT_WORKER_STATS_H
#define JT_WORKER_STATS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"

/* Accepted playback durations in seconds. The app's clocks count milliseconds, and no playback
 * outlasts the longest month; the bounds also keep the exact sums in 128 bits. */
#define JT_STATS_MIN_DURATION_S 0.001
#define JT_STATS_MAX_DURATION_S 2678400.0 /* 31 days */

#define JT_STATS_UNKNOWN_ARTIST "Unknown Artist"

typedef struct jt_stats_acc jt_stats_acc_t;

/* [start, end) of a UTC month in milliseconds since the epoch: the playbacks that belong to it,
 * and the createdAt range that finds its entry. year 1970-9999, month 1-12 (JT_ERR_INPUT
 * otherwise, with both outputs 0). */
bool jt_stats_month_range(int year, int month, int64_t *start_ms, int64_t *end_ms, jt_error_t *err);

/* An empty accumulator for the given month (NULL with err set on a bad month or no memory). */
jt_stats_acc_t *jt_stats_acc_new(int year, int month, jt_error_t *err);

/* destroy(NULL) is a no-op. */
void jt_stats_acc_destroy(jt_stats_acc_t *acc);

/* Empties the accumulator for the next user of the same month, keeping its memory. */
void jt_stats_acc_reset(jt_stats_acc_t *acc);

/* Adds one playback. Bad data from the database fails with JT_ERR_INPUT and changes nothing, so
 * the caller skips and counts it: a NULL id, a duration that is NaN, infinite or outside
 * [JT_STATS_MIN_DURATION_S, JT_STATS_MAX_DURATION_S], a createdAt outside the month. Running out
 * of memory fails with JT_ERR_SYSTEM (also changing nothing): that one is the task's failure. */
bool jt_stats_acc_add(jt_stats_acc_t *acc, const bson_oid_t *song, const bson_oid_t *artist,
                      double duration_s, int64_t created_at_ms, jt_error_t *err);

/* How many playbacks were added since the last reset: 0 means no entry for this user. */
size_t jt_stats_acc_count(const jt_stats_acc_t *acc);

/* The top artist (the entry's artists[0]), whose name the caller looks up in `musicians` before
 * building. False, with *artist zeroed, when no playback was added. */
bool jt_stats_acc_top_artist(const jt_stats_acc_t *acc, bson_oid_t *artist);

/* Builds the entry into entry_out, which is initialised on every path (the caller always
 * bson_destroy()s it, as with mongo-c replies). prev_total_s: the previous month's stored
 * summary.totalDuration (see jt_stats_entry_total), NULL when there is no previous entry; it
 * must be finite and >= 0. top_artist_name: NULL or "" gives "Unknown Artist"; it must be valid
 * UTF-8. Fails with JT_ERR_INPUT when no playback was added (no entry: see above) or on a bad
 * argument, JT_ERR_SYSTEM on no memory. */
bool jt_stats_acc_build(const jt_stats_acc_t *acc, const double *prev_total_s,
                        const char *top_artist_name, bson_t *entry_out, jt_error_t *err);

/* Reads summary.totalDuration of a stored entry, the previous month's total for the growth. The
 * app's driver stores whole numbers as int32, so int32 and int64 are accepted as well as double.
 * Missing, another type, negative or not finite: JT_ERR_INPUT, *total_s = 0. */
bool jt_stats_entry_total(const bson_t *entry, double *total_s, jt_error_t *err);

/* Whether a stored entry's createdAt is in [from, to): the month it belongs to. */
bool jt_stats_entry_in(const bson_t *entry, int64_t from, int64_t to);

#endif
