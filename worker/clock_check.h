/* The worker's clock against the database server's. The retention guard trusts this host's
 * clock; a clock days ahead would let a cleanup task delete playbacks still inside retention.
 * So before a cleanup task deletes, the worker compares its clock with the server's (measured
 * at start, then again at most every JT_CLOCK_CHECK_EVERY_MS) and refuses when they differ by
 * more than --max-clock-skew seconds, or when the server's clock cannot be read. */
#ifndef JT_WORKER_CLOCK_CHECK_H
#define JT_WORKER_CLOCK_CHECK_H

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_error.h"
#include "task.h"

#define JT_CLOCK_CHECK_EVERY_MS (10 * 60 * 1000)

/* The last measurement; measured false means none yet. Task threads check it at once: the
 * lock guards the fields, and is held across a measurement so that one thread measures while
 * the others wait for its result. */
struct jt_clock_check_s {
        pthread_mutex_t lock;
        bool measured;
        int64_t at_mono_ms; /* when measured (monotonic) */
        int64_t skew_ms;    /* this host minus the server */
        int64_t local_ms;   /* the two clocks then (for the refusal's message) */
        int64_t server_ms;
};
typedef struct jt_clock_check_s jt_clock_check_t;

/* Reads the server's time: hello's localTime (MongoDB, SecantusDB), else an aggregate of
 * $$NOW. *skew_ms is this host's clock at the middle of the round trip minus the server's.
 * A transient error is marked so (jt_error_t.transient); a reply without a time is a
 * JT_ERR_MONGO error. */
bool jt_clock_check_measure(mongoc_client_t *client, int64_t *skew_ms, int64_t *local_ms,
                            int64_t *server_ms, jt_error_t *err);

/* At the worker's start: measures into *state, logs the skew (an error line when it is over
 * --max-clock-skew), sets the joytify_clock_skew_seconds gauge, and points env->clock at
 * state. A failure is logged, not fatal: statistics tasks need no clock check, and a cleanup
 * task measures again. */
void jt_clock_check_start(jt_task_env_t *env, jt_clock_check_t *state);

/* Releases what jt_clock_check_start set up in state. */
void jt_clock_check_clear(jt_clock_check_t *state);

/* Before a cleanup task deletes: DONE when the last measurement (renewed when older than
 * JT_CLOCK_CHECK_EVERY_MS) is within --max-clock-skew; PERMANENT with the reason (both clocks,
 * the skew; nothing deleted) when it is not or the server's time cannot be read; RETRY on a
 * transient database error. */
jt_task_outcome_t jt_clock_check_before_delete(const jt_task_env_t *env, jt_error_t *err);

#endif
