/* Job state names, as the ledger stores them. */
#include "jt_job_state.h"

#include <string.h>

static const char *const names[JT_JOB_STATE_COUNT] = {"running", "finalizing", "finished",
                                                      "failed"};

const char *jt_job_state_name(jt_job_state_t state) {
        return (unsigned)state < JT_JOB_STATE_COUNT ? names[state] : "unknown";
}

bool jt_job_state_from_name(const char *name, jt_job_state_t *state) {
        for (int i = 0; name && i < JT_JOB_STATE_COUNT; i++) {
                if (strcmp(name, names[i]) == 0) {
                        *state = (jt_job_state_t)i;
                        return true;
                }
        }
        return false;
}
