/* A statistics range's run, shared by its files: stats_task.c runs the range chunk by chunk,
 * stats_chunk.c reads a chunk and builds its users' entries, stats_checks.c decides whether and
 * where the range starts. */
#ifndef JT_WORKER_STATS_RANGE_H
#define JT_WORKER_STATS_RANGE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_error.h"
#include "jt_jobs.h"
#include "stats.h"
#include "stats_writes.h"
#include "task.h"

#define CHUNK_USERS       1000  /* --chunk-users at most */
#define USERS_BATCH       5000  /* ids and one preference each: small documents */
#define PLAYBACKS_BATCH   50000 /* projected playbacks are about 100 bytes */
#define PROGRESS_EVERY_MS 1000
#define RANGE_LEASE_MS    30000 /* plus --chunk-delay-ms: renewed after every chunk */

typedef struct {
        const jt_task_env_t *env;
        const jt_stats_task_t *task;
        mongoc_client_t *client;
        mongoc_collection_t *users, *playbacks, *stats, *musicians, *notifications;
        bool per_user; /* --playback-reads per-user: one query per user instead of one cursor */
        int64_t start_ms, end_ms, prev_start_ms;
        jt_stats_acc_t *acc;
        jt_stats_writes_t writes;
        char key[64];
        const char *root_id; /* the listed task whose result this one records */
        bson_oid_t nid;      /* the month's notification, once made ... */
        bool notification_made;
        bool notification_fresh; /* ... by this job run (stats_notification.h) */
        /* The cursors over what is left of the range, and a document each read past the
         * current chunk (kept for the next one). */
        mongoc_cursor_t *user_cur, *play_cur;
        bson_t *play_next;
        bool users_end;
        /* The chunk: its users (sorted), whether each wants the notification, got an entry,
         * had playbacks, and its stats document as read. */
        bson_oid_t ids[CHUNK_USERS];
        bool wants[CHUNK_USERS], has_entry[CHUNK_USERS], seen[CHUNK_USERS];
        bson_t *stored[CHUNK_USERS];
        size_t n, chunk; /* users in the chunk; --chunk-users */
        /* Where the range stands: every user up to `after` done and in the figures. */
        jt_range_figures_t fig;
        bool have_after;
        bson_oid_t after;
        int64_t last_progress;
        /* This run's hold on the range (a lease renewed at each checkpoint), so that a second
         * run of the same range (a redelivery next to its continuation, a task still running on
         * a partition revoked from its worker) waits instead of colliding with it. */
        char holder[256];
        int64_t lease_ms;
} range_run_t;

/* stats_chunk.c: a chunk's reads and entries. */

/* Opens the cursors over the rest of the range (after run->after when set). */
void jt_stats_chunk_open(range_run_t *run);

/* Forgets the chunk's users and their stats documents. */
void jt_stats_chunk_clear(range_run_t *run);

/* The chunk's users (the next --chunk-users ids), their stats documents, and their playbacks
 * (one cursor, or a query per user with --playback-reads per-user) added to run->acc, each
 * user's entry built and queued once the next user's playbacks begin. *current: the chunk slot
 * being accumulated (-1: none), whose entry jt_stats_chunk_finish_user builds at the end. */
jt_task_outcome_t jt_stats_chunk_read_users(range_run_t *run, jt_error_t *err);
jt_task_outcome_t jt_stats_chunk_read_docs(range_run_t *run, jt_error_t *err);
jt_task_outcome_t jt_stats_chunk_read_playbacks(range_run_t *run, long *current, jt_error_t *err);

/* The entry of the chunk's user at slot, whose month is in run->acc, queued for writing. */
jt_task_outcome_t jt_stats_chunk_finish_user(range_run_t *run, size_t slot, jt_error_t *err);

/* The month's notification added to the chunk's users with an entry who want it. */
jt_task_outcome_t jt_stats_chunk_notify(range_run_t *run, jt_error_t *err);

/* stats_checks.c: whether and where the range starts. */

/* A range whose result is recorded already: nothing computed; the FINALIZE sent again if the
 * job is complete. */
jt_task_outcome_t jt_stats_checks_done_before(const jt_task_env_t *env, const jt_stats_task_t *task,
                                              const jt_job_view_t *view, jt_error_t *err);

/* No playback of the month can have been deleted (retention, cleanup cutoffs): else
 * JT_TASK_PERMANENT. */
jt_task_outcome_t jt_stats_checks_month_whole(const jt_task_env_t *env, mongoc_client_t *client,
                                              const jt_stats_task_t *task, int64_t start_ms,
                                              jt_error_t *err);

/* The task is a range its job planned, a continuation's resume point inside it: else
 * JT_TASK_REJECTED. */
jt_task_outcome_t jt_stats_checks_planned(const jt_stats_task_t *task, const jt_job_view_t *view,
                                          jt_error_t *err);

/* Where the range starts (the ledger's checkpoint, into run), JT_TASK_WAIT while another run
 * holds it, JT_TASK_REJECTED for a continuation ahead of the checkpoint. */
jt_task_outcome_t jt_stats_checks_resume_point(range_run_t *run, const jt_job_view_t *view,
                                               jt_error_t *err);

#endif
