/* `joytify-loadtest generate`: a seeded, repeatable dataset like the original generator's. */
#ifndef JT_LOADTEST_GENERATE_H
#define JT_LOADTEST_GENERATE_H

#include "jt_config.h"

extern const jt_opt_t *const jt_generate_tables[];

int jt_generate_run(const jt_config_t *cfg);

#endif
