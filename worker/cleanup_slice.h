/* The time slices a cleanup range is deleted in. A batch is a slice of createdAt sized to hold
 * about batch_size playbacks, not the batch_size oldest found by a query: on the local server an
 * indexed find decodes all of the range it touches before its limit applies, so a boundary query
 * per batch read the rest of the range again for every batch (3-4 times the range in all at
 * 10,000 per batch); a slice's deleteMany reads only the slice, here and on MongoDB. Pure
 * arithmetic: no database. */
#ifndef JT_CLEANUP_SLICE_H
#define JT_CLEANUP_SLICE_H

#include <stdint.h>

/* [from_ms, from_ms + width_ms), cut at the range's end by the caller. */
typedef struct {
        int64_t from_ms;
        int64_t width_ms;
} jt_cleanup_slice_t;

/* The first slice: from the range's start, as wide as batch_size playbacks spread evenly over
 * [start_ms, end_ms) if `left` playbacks are there (the whole range when none are).
 * A range starting before the epoch (a job's task for everything older than its ranges starts
 * at INT64_MIN) first takes everything before it in one slice, up to the epoch (-1 ms from
 * INT64_MIN): such dates are mistakes, few, spread over millennia, and a server may refuse the
 * query of a date it cannot represent (the local one takes years 1 to 9999 only); the next slice
 * is then sized as a first slice from there. */
jt_cleanup_slice_t jt_cleanup_slice_first(int64_t start_ms, int64_t end_ms, int64_t batch_size,
                                          int64_t left);

/* Moves past a slice that held `deleted` playbacks, `left` being what the range still holds
 * after it, and sizes the next slice:
 *   - after a slice that held some: toward batch_size by its density, by at most 8 times either
 *     way (one dense or sparse hour must not make the next slice absurd);
 *   - after an empty one: as wide again, or up to twice as wide while that stays under what an
 *     even spread of `left` over the rest would give (a tiny width left by a dense instant grows
 *     back in a few steps; an empty head left by a redelivery is crossed without a jump into
 *     the dense part); the whole rest when nothing is left.
 * Never under 1 ms; the next slice starts at this one's end, cut at end_ms. Playbacks bunched
 * within one slice's width (all of a range in its last minutes) are deleted in one batch larger
 * than batch_size: the widths follow what earlier slices held and cannot see ahead. */
void jt_cleanup_slice_next(jt_cleanup_slice_t *s, int64_t deleted, int64_t left, int64_t batch_size,
                           int64_t end_ms);

/* The slice's end, at most end_ms (no overflow however wide the slice). */
int64_t jt_cleanup_slice_end(const jt_cleanup_slice_t *s, int64_t end_ms);

#endif
