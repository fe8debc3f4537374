/* `joytify-loadtest baseline stats|cleanup`: the original single-process algorithms, timed. */
#ifndef JT_LOADTEST_BASELINE_H
#define JT_LOADTEST_BASELINE_H

#include "jt_config.h"

extern const jt_opt_t *const jt_baseline_tables[];

int jt_baseline_run(const jt_config_t *cfg);

#endif
