/* Saturating arithmetic and checked conversions for numbers from outside (jt_sat.h). */
#include "jt_sat.h"

#include <math.h>

/* 2^63 exactly: the first double above INT64_MAX ((double)INT64_MAX rounds up to it). */
#define TWO_63 9223372036854775808.0

int64_t jt_sat_add_i64(int64_t a, int64_t b) {
        int64_t r;
        if (__builtin_add_overflow(a, b, &r))
                return b > 0 ? INT64_MAX : INT64_MIN;
        return r;
}

int64_t jt_sat_sub_i64(int64_t a, int64_t b) {
        int64_t r;
        if (__builtin_sub_overflow(a, b, &r))
                return b < 0 ? INT64_MAX : INT64_MIN;
        return r;
}

bool jt_sat_i64_from_double(double d, int64_t *out) {
        *out = 0;
        if (isnan(d))
                return false;
        /* Every double in (-2^63, 2^63) truncates into range; -2^63 itself is INT64_MIN. */
        if (d >= TWO_63)
                *out = INT64_MAX;
        else if (d <= -TWO_63)
                *out = INT64_MIN;
        else
                *out = (int64_t)d;
        return true;
}

double jt_sat_clamp_double(double d, double lo, double hi) {
        if (isnan(d) || d < lo)
                return lo;
        return d > hi ? hi : d;
}
