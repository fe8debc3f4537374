/* `joytify-producer schedule`: the daemon that fires both jobs at their UTC cron times. */
#ifndef JT_PRODUCER_SCHEDULE_H
#define JT_PRODUCER_SCHEDULE_H

#include "jt_config.h"

/* The most --catch-up-months: more would reach far past any retention. */
#define JT_SCHEDULE_CATCH_UP_MAX 24

/* The value of --stats-cron or --cleanup-cron that turns that schedule off (not both). */
#define JT_SCHEDULE_OFF "off"

int jt_schedule_run(const jt_config_t *cfg);

#endif
