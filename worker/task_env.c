/* Clocks for task handlers, and what a finalize step does when another worker holds the claim. */
#include "task_env.h"

#include <string.h>
#include <time.h>

#include "jt_jobs.h"

int64_t jt_task_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t jt_task_mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

jt_task_outcome_t jt_task_claim_lost(mongoc_client_t *client, const char *db, const char *job_id,
                                     jt_error_t *err) {
        char state[32];

        if (!jt_jobs_state(client, db, job_id, state, sizeof(state), err))
                return JT_TASK_RETRY;
        if (strcmp(state, "finished") == 0 || strcmp(state, "failed") == 0)
                return JT_TASK_DONE;
        if (!state[0]) {
                jt_error_set(err, JT_ERR_INPUT, 0, "job %s has no ledger entry", job_id);
                return JT_TASK_PERMANENT;
        }
        jt_error_set(err, JT_ERR_MONGO, 0,
                     "job %s is being finalized by another worker (state %s): waiting for it to "
                     "finish or for its claim to lapse",
                     job_id, state);
        return JT_TASK_WAIT;
}
