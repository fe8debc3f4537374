/* `joytify-loadtest floor stats|cleanup`: the least work the database can do for a job's
 * result, timed: the limit the fleet is measured against. */
#ifndef JT_LOADTEST_FLOOR_H
#define JT_LOADTEST_FLOOR_H

#include "jt_config.h"

extern const jt_opt_t *const jt_floor_tables[];

int jt_floor_run(const jt_config_t *cfg);

#endif
