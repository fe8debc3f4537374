/* The range plan of a statistics job: users split into contiguous _id ranges [from, to) of
 * about --users-per-task users each, cut from one sorted pass over the users' ids. The first
 * range starts at the lowest id (from NULL), the last ends past the highest (to NULL), and
 * range i ends where range i+1 starts, so every user, present or inserted later, falls in
 * exactly one range. The plan is kept in the job's ledger params, so a re-sent job sends the
 * same ranges whatever users were added meanwhile. */
#ifndef JT_STATS_PLAN_H
#define JT_STATS_PLAN_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"

#define JT_STATS_PLAN_OID_HEX 25 /* 24 hex digits and the NUL */

typedef struct {
        size_t count;                          /* ranges, at least 1 */
        char (*bounds)[JT_STATS_PLAN_OID_HEX]; /* the count-1 inner boundaries, ascending */
        int64_t users;                         /* ObjectId ids read by the pass */
        int64_t skipped;                       /* ids that are not ObjectIds, left out */
        int64_t users_per_task;                /* per range as cut (the last may hold fewer) */
        bool reused;                           /* read from the ledger, not planned now */
} jt_stats_plan_t;

/* The cut itself, apart from the database: ids are added in ascending order, a boundary falls
 * every users_per_task ids, and when that would make more than max_tasks ranges the users per
 * range grow instead. Memory stays bounded whatever the number of ids. */
typedef struct jt_stats_plan_cut_s jt_stats_plan_cut_t;

jt_stats_plan_cut_t *jt_stats_plan_cut_new(int64_t users_per_task, int32_t max_tasks);

/* Adds the next id; an id not above the previous one is a JT_ERR_INPUT error (the pass must be
 * sorted, or ranges would overlap). */
bool jt_stats_plan_cut_add(jt_stats_plan_cut_t *cut, const bson_oid_t *id, jt_error_t *err);

/* The plan of the ids added so far into *plan (cleared first; release with
 * jt_stats_plan_clear). */
bool jt_stats_plan_cut_finish(const jt_stats_plan_cut_t *cut, jt_stats_plan_t *plan,
                              jt_error_t *err);

void jt_stats_plan_cut_destroy(jt_stats_plan_cut_t *cut);

/* Plans from one covered pass over the _id index of users (test-users in test mode): ids only,
 * sorted, hinted to {_id: 1}. Ids that are not ObjectIds are counted in plan->skipped. */
bool jt_stats_plan_make(mongoc_client_t *client, const char *db, bool test_mode,
                        int64_t users_per_task, int32_t max_tasks, jt_stats_plan_t *plan,
                        jt_error_t *err);

/* Range i's bounds (NULL: open end); pointers into plan. */
void jt_stats_plan_range(const jt_stats_plan_t *plan, size_t i, const char **from, const char **to);

/* Appends "tasks" and "bounds" (the inner boundaries as hex strings) to a job's params. */
void jt_stats_plan_append_params(const jt_stats_plan_t *plan, bson_t *params);

/* The plan stored in a job's params (as jt_stats_plan_append_params wrote it): *found false
 * when params holds none (an older job). Stored bounds that are not ascending ObjectIds, or a
 * task count that does not match them, are a JT_ERR_INPUT error. */
bool jt_stats_plan_from_params(const bson_t *params, jt_stats_plan_t *plan, bool *found,
                               jt_error_t *err);

/* Releases the bounds; a cleared plan is empty. */
void jt_stats_plan_clear(jt_stats_plan_t *plan);

#endif
