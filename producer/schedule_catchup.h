/* Where the statistics schedule resumes after downtime: the job ledger's newest statistics
 * month is the last one the fleet fired (by schedule or by hand), and every later month with a
 * fire is missed, up to --catch-up-months of them before the latest. */
#ifndef JT_PRODUCER_SCHEDULE_CATCHUP_H
#define JT_PRODUCER_SCHEDULE_CATCHUP_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_error.h"

/* The newest month ("YYYY-MM") of a statistics job of test_mode in db's ledger, --run-id runs
 * left out (they repeat a month, they do not advance the schedule); *found false and month ""
 * when there is none. False with err when the ledger cannot be read. */
bool jt_schedule_catchup_newest_month(mongoc_client_t *client, const char *db, bool test_mode,
                                      char month[8], bool *found, jt_error_t *err);

/* The time after which a fire stands for a month later than month ("YYYY-MM"): the fires of
 * month M+1 compute M, so the first fire for a later month is in M+2. JT_CRON_NONE when month
 * is not YYYY-MM. */
int64_t jt_schedule_catchup_after_month(const char *month);

#endif
