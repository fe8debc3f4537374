/* `joytify-producer schedule`: the daemon that fires both jobs at their UTC cron times. */
#ifndef JT_PRODUCER_SCHEDULE_H
#define JT_PRODUCER_SCHEDULE_H

#include "jt_config.h"

int jt_schedule_run(const jt_config_t *cfg);

#endif
