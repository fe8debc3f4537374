/* The benchmark's state-equality guard: a fingerprint of what a job leaves in the database
 * (the month's entries, the notifications pushed, the playbacks left), so that runs are
 * compared only when they produced the same result; and the resets between statistics runs. */
#ifndef JT_LOADTEST_BENCH_STATE_H
#define JT_LOADTEST_BENCH_STATE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_error.h"

typedef struct {
        int64_t entries;        /* users with an entry for the month */
        uint64_t entries_hash;  /* every such entry without its timestamps, in user order */
        int64_t notified;       /* users with a notification */
        uint64_t notified_hash; /* (user, number of notifications), in user order */
        int64_t playbacks;      /* playbacks left (-1: not counted) */
        int64_t older;          /* of them, older than the cutoff (-1: not counted) */
} jt_bench_state_t;

bool jt_bench_state_read(mongoc_client_t *client, const char *db, int year, int month,
                         bool count_playbacks, int64_t cutoff_ms, jt_bench_state_t *state,
                         jt_error_t *err);

/* "entries 50 #1a2b..., notified 40 #..., playbacks 7500 (0 older than the cutoff)" */
void jt_bench_state_describe(const jt_bench_state_t *state, char *buf, size_t size);

/* Before a statistics run: the month's entries, the users' notifications, the notifications
 * and the job ledger go (the generated state again). */
bool jt_bench_state_reset_stats(mongoc_client_t *client, const char *db, int year, int month,
                                jt_error_t *err);

/* Before the baseline's statistics: only the notifications go (it needs the entries). */
bool jt_bench_state_reset_notifications(mongoc_client_t *client, const char *db, jt_error_t *err);

#endif
