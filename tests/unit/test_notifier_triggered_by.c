/* The chained cleanup's triggeredBy as the notifier reads it: the original's value
 * (monthly-stats-notification), which the workers send, and the fleet's earlier monthly-stats,
 * still in status events and ledger entries written before, both name a statistics job's
 * cleanup (jt_cleanup_job_chained_by_stats, used by `watch`) and both render in the outcome
 * message as they came. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "jt_avro.h"
#include "jt_cleanup_job.h"
#include "message.h"

static void chained_by_stats(void **state) {
        static const struct {
                const char *value;
                bool want;
        } cases[] = {
            {"monthly-stats-notification", true},
            {"monthly-stats", true},
            {"schedule", false},
            {"manual", false},
            {"monthly-stats-notificationX", false},
            {"monthly", false},
            {"", false},
            {NULL, false},
        };
        (void)state;

        assert_string_equal(JT_TRIGGERED_BY_STATS, "monthly-stats-notification");
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                if (jt_cleanup_job_chained_by_stats(cases[i].value) != cases[i].want)
                        fail_msg("triggeredBy %s%s%s: expected chained %d, actual %d",
                                 cases[i].value ? "\"" : "",
                                 cases[i].value ? cases[i].value : "NULL",
                                 cases[i].value ? "\"" : "", cases[i].want, !cases[i].want);
}

/* A cleanup JOB_FINISHED with either value makes its outcome message, showing the value. */
static void renders_both_values(void **state) {
        const char *const values[] = {"monthly-stats-notification", "monthly-stats"};
        (void)state;

        for (size_t i = 0; i < 2; i++) {
                jt_status_event_t ev = {.job_id = "cleanup-2026-11-01T0200Z",
                                        .type = JT_STATUS_JOB_FINISHED,
                                        .job_kind = JT_JOB_KIND_CLEANUP,
                                        .timestamp_ms = 1793505790000,
                                        .worker_id = "worker-b/202",
                                        .records_deleted = {true, 35000},
                                        .total_records_found = {true, 35000},
                                        .remaining_records = {true, 0},
                                        .completion_percentage = {true, 100.0},
                                        .was_timeout_stopped = {true, false},
                                        .processing_mode = "batch",
                                        .cutoff_date_ms = {true, 1788314520000},
                                        .triggered_by = (char *)values[i],
                                        .execution_ms = {true, 61500}};
                jt_message_t msg;
                char *md, *js, line[128];
                json_t *payload;

                if (!jt_message_for_outcome(&ev, NULL, &msg))
                        fail_msg("triggeredBy %s: expected an outcome message, actual none",
                                 values[i]);
                md = jt_message_markdown(&msg);
                payload = jt_message_discord(&msg);
                js = json_dumps(payload, JSON_COMPACT);
                assert_non_null(md);
                assert_non_null(js);
                /* The value whole, not a prefix of the other (": monthly-stats\n"). */
                snprintf(line, sizeof(line), ": %s\n", values[i]);
                if (!strstr(md, line))
                        fail_msg("triggeredBy %s: expected \"%s\" in the message, actual\n%s",
                                 values[i], values[i], md);
                if (!strstr(js, values[i]))
                        fail_msg("triggeredBy %s: expected it in the Discord payload, actual\n%s",
                                 values[i], js);
                free(js);
                free(md);
                json_decref(payload);
                jt_message_clear(&msg);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(chained_by_stats),
            cmocka_unit_test(renders_both_values),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
