/* Time slices of a cleanup range (cleanup_slice.h). Widths are computed in double: a width times
 * a batch size can pass INT64_MAX for a range of years, and the result is clamped anyway. */
#include "cleanup_slice.h"

#include <stdbool.h>

#define MAX_WIDTH_MS (INT64_MAX / 4)

static int64_t clamp_width(double w) {
        if (!(w >= 1)) /* also NaN */
                return 1;
        return w >= (double)MAX_WIDTH_MS ? MAX_WIDTH_MS : (int64_t)w;
}

/* The slice before the epoch (see the header): to min(end, epoch), or to -1 ms from INT64_MIN
 * (a width is at most INT64_MAX). */
static jt_cleanup_slice_t before_epoch(int64_t start_ms, int64_t end_ms) {
        double w = (double)(end_ms < 0 ? end_ms : 0) - (double)start_ms;
        jt_cleanup_slice_t s = {start_ms, w >= (double)INT64_MAX ? INT64_MAX : (int64_t)w};
        if (s.width_ms < 1)
                s.width_ms = 1;
        return s;
}

jt_cleanup_slice_t jt_cleanup_slice_first(int64_t start_ms, int64_t end_ms, int64_t batch_size,
                                          int64_t left) {
        double span = (double)end_ms - (double)start_ms;
        jt_cleanup_slice_t s = {
            start_ms, clamp_width(left > 0 ? span * (double)batch_size / (double)left : span)};

        if (start_ms < -1)
                return before_epoch(start_ms, end_ms);
        return s;
}

void jt_cleanup_slice_next(jt_cleanup_slice_t *s, int64_t deleted, int64_t left, int64_t batch_size,
                           int64_t end_ms) {
        double w = (double)s->width_ms, next, rest;
        bool was_before_epoch = s->from_ms < -1;

        s->from_ms = jt_cleanup_slice_end(s, end_ms);
        if (was_before_epoch) { /* sized afresh for the dated part, as a first slice */
                *s = jt_cleanup_slice_first(s->from_ms, end_ms, batch_size, left);
                return;
        }
        rest = (double)end_ms - (double)s->from_ms;
        if (deleted > 0) {
                next = w * (double)batch_size / (double)deleted;
                if (next > w * 8)
                        next = w * 8;
                if (next < w / 8)
                        next = w / 8;
        } else if (left <= 0) {
                next = rest;
        } else {
                double even = rest * (double)batch_size / (double)left;
                next = even < w ? w : even > w * 2 ? w * 2 : even;
        }
        s->width_ms = clamp_width(next);
}

int64_t jt_cleanup_slice_end(const jt_cleanup_slice_t *s, int64_t end_ms) {
        int64_t room;
        /* room overflows only when it is wider than any width: the slice ends before end_ms */
        if (__builtin_sub_overflow(end_ms, s->from_ms, &room) || room > s->width_ms)
                return s->from_ms + s->width_ms;
        return end_ms;
}
