/* `joytify-loadtest capacity`: bytes per active and regular user from collStats, and the users
 * that fit in a storage limit and under its alert threshold. */
#ifndef JT_LOADTEST_CAPACITY_H
#define JT_LOADTEST_CAPACITY_H

#include "jt_config.h"

extern const jt_opt_t *const jt_capacity_tables[];

int jt_capacity_run(const jt_config_t *cfg);

#endif
