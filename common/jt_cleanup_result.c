/* The figures of a cleanup outcome (jt_cleanup_result.h). */
#include "jt_cleanup_result.h"

#include <math.h>

const char *jt_cleanup_result_processing_mode(int64_t found, int64_t batch_size) {
        if (found <= 0)
                return "none";
        return found <= batch_size ? "direct" : "batch";
}

double jt_cleanup_result_completion_percentage(int64_t deleted, int64_t found) {
        if (found <= 0)
                return 100.0;
        if (deleted <= 0)
                return 0.0;
        double pct = round((double)deleted * 1000.0 / (double)found) / 10.0; /* halves up */
        /* 9,995 of 10,000 rounds to 100.0: a cleanup that left records never reads complete. */
        return deleted < found && pct > 99.9 ? 99.9 : pct;
}

void jt_cleanup_result_fill(jt_status_event_t *ev, int64_t found, int64_t deleted,
                            int64_t remaining, int64_t batch_size) {
        ev->records_deleted = (jt_opt_long_t){true, deleted};
        ev->total_records_found = (jt_opt_long_t){true, found};
        ev->remaining_records = (jt_opt_long_t){true, remaining};
        ev->completion_percentage =
            (jt_opt_double_t){true, jt_cleanup_result_completion_percentage(deleted, found)};
        ev->was_timeout_stopped = (jt_opt_bool_t){true, false};
        ev->processing_mode = (char *)jt_cleanup_result_processing_mode(found, batch_size);
}
