/* The writes of a statistics range: each user's entry of the month put into the user's stats
 * document in place of any entry for that month, touching nothing else of the document (the app
 * may write to it meanwhile). Writes are queued per chunk of users and sent as unordered bulks;
 * each is guarded by the state it was decided on, so a concurrent change makes it miss and the
 * chunk is retried from a fresh read. */
#ifndef JT_WORKER_STATS_WRITES_H
#define JT_WORKER_STATS_WRITES_H

#include <mongoc/mongoc.h>

#include "jt_error.h"
#include "task.h"

typedef struct {
        mongoc_collection_t *stats;
        int64_t start_ms, end_ms; /* the month */
        int64_t updated_at_ms;    /* the task's creation time: updatedAt of what it writes */
        /* The chunk's writes: the drift's removals first (they must land before an entry is
         * added), then the entries. */
        mongoc_bulk_operation_t *bulk, *pulls;
        size_t bulk_ops, pull_ops;
} jt_stats_writes_t;

/* Queues the write making entry the user's entry of the month (entry NULL: removes the month's
 * entries, for a user without playback this month). stored is the user's stats document as read
 * (NULL: none). JT_TASK_PERMANENT when its `stats` is not an array: a task never overwrites data
 * it does not understand. */
jt_task_outcome_t jt_stats_writes_queue(jt_stats_writes_t *w, const bson_oid_t *user,
                                        const bson_t *stored, const bson_t *entry, jt_error_t *err);

/* Sends the queued writes and checks that every one matched (or inserted) its document.
 * *changed says a failure was a document changed since it was read (a guard missed, or the
 * unique index refused an upsert): someone else wrote meanwhile. */
jt_task_outcome_t jt_stats_writes_flush(jt_stats_writes_t *w, bool *changed, jt_error_t *err);

/* Drops the queued writes. */
void jt_stats_writes_discard(jt_stats_writes_t *w);

#endif
