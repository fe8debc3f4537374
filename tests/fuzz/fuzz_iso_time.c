/* Fuzz target: ISO 8601 times in and out (common/jt_time.c's jt_time_parse_iso, read from
 * --at, --start, --now and replay filters; jt_time_format_iso; the notifier's
 * jt_format_iso_utc and jt_format_time for wire timestamps). A time that parses must format
 * and parse back to itself; formatting any int64_t must not overflow. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "jt_time.h"
#include "jt_fuzz.h"

/* LLVMFuzzerInitialize (UTC): jt_fuzz_utc.c. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = jt_fuzz_cstr(data, size), buf[JT_TIME_ISO_BUF], out[JT_FORMAT_BUF];
        jt_error_t err;
        int64_t t, again, ms = 0;

        /* The product calls, in one place. */
        if (jt_time_parse_iso(text, &t, &err)) {
                jt_time_format_iso(t, buf, sizeof(buf));
                if (!jt_time_parse_iso(buf, &again, &err) || again != t)
                        jt_fuzz_finding("iso-roundtrip", "%s -> %" PRId64 " -> %s -> %s", text, t,
                                        buf, err.message);
        }
        /* Wire timestamps (ms) as the notifier formats them: the first 8 bytes. */
        memcpy(&ms, data, size < 8 ? size : 8);
        jt_time_format_iso(ms, buf, sizeof(buf));
        jt_format_iso_utc(ms, out, sizeof(out));
        jt_format_time(ms, out, sizeof(out));
        free(text);
        return 0;
}
