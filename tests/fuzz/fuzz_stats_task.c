/* Fuzz target: the stats_task decoder (common/jt_stats_task.c, jt_avro_messages.c,
 * jt_avro.c, jt_avro_datum.c) on hostile bytes from the task topic; a message it accepts must
 * encode again and decode to the same ids (continuations are built from decoded tasks). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_avro.h"
#include "jt_fuzz.h"

static bool same(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const jt_avro_registry_t *reg = jt_fuzz_avro_registry();
        jt_stats_task_t first = {0}, again = {0};
        jt_error_t err;
        uint8_t *msg;
        void *buf = NULL;
        size_t len, buf_len = 0;

        jt_fuzz_avro_message(JT_AVRO_STATS_TASK, data, size, &msg, &len);
        /* The product calls, in one place: decode, then encode and decode what was accepted. */
        if (jt_stats_task_decode(reg, msg, len, &first, &err)) {
                if (!jt_stats_task_encode(reg, &first, &buf, &buf_len, &err))
                        jt_fuzz_finding("stats_task-reencode", "accepted but not re-encoded: %s",
                                        err.message);
                else if (!jt_stats_task_decode(reg, buf, buf_len, &again, &err))
                        jt_fuzz_finding("stats_task-redecode", "re-encoded but not decoded: %s",
                                        err.message);
                else if (!same(first.job_id, again.job_id) || !same(first.task_id, again.task_id))
                        jt_fuzz_finding("stats_task-roundtrip", "ids changed: %s %s -> %s %s",
                                        first.job_id, first.task_id ? first.task_id : "-",
                                        again.job_id, again.task_id ? again.task_id : "-");
        }
        jt_stats_task_clear(&first);
        jt_stats_task_clear(&again);
        free(buf);
        free(msg);
        return 0;
}
