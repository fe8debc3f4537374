/* Numbers that come from outside (a topic, the database, an HTTP header): saturating
 * arithmetic where sums and differences are kept, and conversions from double that never
 * overflow. A signed overflow or an out-of-range float-to-integer cast is undefined behaviour
 * in C; a count of INT64_MAX from the wire must end as INT64_MAX on screen, not as a crash. */
#ifndef JT_SAT_H
#define JT_SAT_H

#include <stdbool.h>
#include <stdint.h>

/* a + b and a - b, clamped to INT64_MIN..INT64_MAX. */
int64_t jt_sat_add_i64(int64_t a, int64_t b);
int64_t jt_sat_sub_i64(int64_t a, int64_t b);

/* d truncated toward zero into *out, clamped to INT64_MIN..INT64_MAX (infinities included).
 * False, with *out = 0, when d is NaN. */
bool jt_sat_i64_from_double(double d, int64_t *out);

/* d clamped to lo..hi; NaN gives lo. */
double jt_sat_clamp_double(double d, double lo, double hi);

#endif
