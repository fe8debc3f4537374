/* Fuzz target: cron expressions (common/jt_cron.c), as --stats-cron and --cleanup-cron give
 * them to the producer's scheduler. An accepted expression must answer next/prev from any
 * time without overflow, and the answers must be whole minutes on the right side of it.
 * Input: the expression, then after a NUL byte up to 8 bytes of the time asked about. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "jt_cron.h"
#include "jt_time.h"
#include "jt_fuzz.h"

static const int64_t times[] = {
    0,         1793505725, JT_CRON_TIME_MIN, JT_CRON_TIME_MAX, -1, JT_CRON_TIME_MAX - 59,
    INT64_MAX, INT64_MIN};

static void check(const jt_cron_t *cron, int64_t t) {
        char buf[JT_TIME_ISO_BUF];
        int64_t next = jt_cron_next(cron, t), prev = jt_cron_prev(cron, t);

        if (next != JT_CRON_NONE && (next <= t || next % 60 != 0))
                jt_fuzz_finding("cron-next", "next after %" PRId64 " is %" PRId64, t, next);
        if (prev != JT_CRON_NONE && (prev > t || prev % 60 != 0))
                jt_fuzz_finding("cron-prev", "prev at or before %" PRId64 " is %" PRId64, t, prev);
        if (jt_time_format_iso(t, buf, sizeof(buf)) >= sizeof(buf))
                jt_fuzz_finding("cron-format", "%" PRId64 " does not fit", t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *expr = jt_fuzz_cstr(data, size);
        size_t len = strlen(expr);
        jt_cron_t cron;
        jt_error_t err;
        int64_t t = 0;

        /* The product call, in one place. */
        if (jt_cron_parse(expr, &cron, &err)) {
                for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
                        check(&cron, times[i]);
                if (len < size) {
                        memcpy(&t, data + len + 1, size - len - 1 < 8 ? size - len - 1 : 8);
                        check(&cron, t);
                }
        }
        free(expr);
        return 0;
}
