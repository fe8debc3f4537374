/* The ledger's side of the scheduler's catch-up (schedule_catchup.h). */
#include "schedule_catchup.h"

#include <stdio.h>

#include "jt_cron.h"
#include "jt_time.h"
#include "jt_job_ids.h"
#include "jt_retention.h"

bool jt_schedule_catchup_newest_month(mongoc_client_t *client, const char *db, bool test_mode,
                                      char month[8], bool *found, jt_error_t *err) {
        /* runId null matches a missing runId too. Few stats jobs exist (one a month, or one per
         * fire of a test schedule), so the sort needs no index. */
        bson_t *filter =
            BCON_NEW("kind", "stats", "testMode", BCON_BOOL(test_mode), "runId", BCON_NULL);
        bson_t newest;
        bson_iter_t it;
        bool ok = jt_retention_newest_job(client, db, filter, "params.month",
                                          "the newest statistics month", &newest, found, err);

        month[0] = '\0';
        if (*found && bson_iter_init(&it, &newest) &&
            bson_iter_find_descendant(&it, "params.month", &it) && BSON_ITER_HOLDS_UTF8(&it))
                snprintf(month, 8, "%s", bson_iter_utf8(&it, NULL));
        else
                *found = false;
        bson_destroy(&newest);
        bson_destroy(filter);
        return ok;
}

int64_t jt_schedule_catchup_after_month(const char *month) {
        int64_t start_ms, end_ms;
        jt_error_t err;

        jt_error_clear(&err);
        if (!jt_job_ids_month_range(month, &start_ms, &end_ms, &err))
                return JT_CRON_NONE;
        /* end_ms is the start of M+1; the start of M+2 is the month after it. */
        return jt_time_month_start(end_ms / 1000 + 32 * 86400) - 1;
}
