/* Whether a month's statistics can still be computed from complete data. A cleanup deletes every
 * playback before its cutoff, so a month starting before the newest cleanup cutoff in the job
 * ledger, or before now - retention (a cleanup may run any time and delete that far), has lost
 * playbacks or may have: recomputing it would replace good entries with smaller ones. */
#ifndef JT_RETENTION_H
#define JT_RETENTION_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_error.h"

/* *safe false when the month starting at month_start_ms (UTC) starts before now_ms -
 * retention_days, or before params.cutoff of any cleanup job of test_mode in db's `jobs` ledger
 * (the newest one is named). reason then says which month, which bound or cutoff, which job; it
 * is "" when safe. False with err (transient when a retry can help) when the ledger cannot be
 * read. */
bool jt_retention_month_safe(mongoc_client_t *client, const char *db, bool test_mode,
                             int64_t month_start_ms, int retention_days, int64_t now_ms, bool *safe,
                             char *reason, size_t reason_size, jt_error_t *err);

/* The newest job of db's ledger among those matching filter, by the ledger field `field`
 * (sorted on it, descending; few jobs exist, so no index is needed): *found, and in newest
 * (initialised on every path, the caller's to bson_destroy) its _id and field. False with err
 * ("reading <what> of <db>.jobs: ...", transient when a retry can help) when the ledger cannot
 * be read. The retention check's newest cutoff and the scheduler's newest month. */
bool jt_retention_newest_job(mongoc_client_t *client, const char *db, const bson_t *filter,
                             const char *field, const char *what, bson_t *newest, bool *found,
                             jt_error_t *err);

#endif
