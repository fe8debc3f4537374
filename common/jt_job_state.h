/* The states of a job, one type for the ledger (jt_jobs: the `state` field of a `jobs`
 * document) and for what the notifier follows from status events. */
#ifndef JT_JOB_STATE_H
#define JT_JOB_STATE_H

#include <stdbool.h>

typedef enum {
        JT_JOB_RUNNING = 0, /* tasks sent, not all done */
        JT_JOB_FINALIZING,  /* every task done, the finishing step not done yet */
        JT_JOB_FINISHED,
        JT_JOB_FAILED,
} jt_job_state_t;

#define JT_JOB_STATE_COUNT 4

/* "running", "finalizing", "finished", "failed": the names stored in the ledger. */
const char *jt_job_state_name(jt_job_state_t state);

/* The state a stored name stands for; false for a name that is none of them. */
bool jt_job_state_from_name(const char *name, jt_job_state_t *state);

#endif
