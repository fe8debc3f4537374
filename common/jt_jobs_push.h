/* A statistics job's app push in its ledger entry: how far the push of the month's notification
 * to the app got, so that a FINALIZE that is redelivered or taken over resumes after the last
 * batch the app acknowledged and never posts a job whose push is done again.
 *
 *   push: { batches, after, users, failedBatches, failedUsers, done, error }
 *
 * batches counts the batches recorded (acknowledged, or given up at the end), after is the last
 * user (hex ObjectId) of the last one: the users are read in _id order, so the next batch starts
 * after it. Only the holder of the job's finalize claim writes it, and each write is a
 * compare-and-set on the batches it read, which also renews the claim's lease. */
#ifndef JT_JOBS_PUSH_H
#define JT_JOBS_PUSH_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_error.h"

typedef struct {
        int64_t batches;        /* batches recorded so far */
        char after[25];         /* the last user recorded ("" before the first batch) */
        int64_t users;          /* users the app acknowledged */
        int64_t failed_batches; /* batches given up (0 or 1: a failed push stops) */
        int64_t failed_users;   /* users never pushed: the failed batch and all after it */
        bool done;              /* nothing more will be posted for this job */
        char error[256];        /* why the push stopped, when it failed ("" otherwise) */
} jt_push_progress_t;

/* The push progress recorded in a ledger entry (zero when none). */
void jt_jobs_push_progress(const bson_t *entry, jt_push_progress_t *p);

/* Records to (from's successor, or from itself: then only the lease is renewed) for job_id,
 * provided owner still holds its finalize claim and the recorded progress is still from (no
 * other writer got there first): finalizeUntil becomes now_ms + lease_ms. *held false: the
 * claim or the progress moved on (another worker took the job over), nothing written. */
bool jt_jobs_push_record(mongoc_client_t *client, const char *db, const char *job_id,
                         const char *owner, const jt_push_progress_t *from,
                         const jt_push_progress_t *to, int64_t now_ms, int64_t lease_ms, bool *held,
                         jt_error_t *err);

#endif
