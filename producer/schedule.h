/* `joytify-producer schedule`: the daemon that fires both jobs at their UTC cron times. */
#ifndef JT_PRODUCER_SCHEDULE_H
#define JT_PRODUCER_SCHEDULE_H

#include "jt_config.h"

/* The most --catch-up-months: more would reach far past any retention. */
#define JT_SCHEDULE_CATCH_UP_MAX 24

/* The value of --stats-cron or --cleanup-cron that turns that schedule off (not both). */
#define JT_SCHEDULE_OFF "off"

/* --stats-cron and --cleanup-cron: one row each for the scheduler and for status, which shows
 * their next fire times. */
/* clang-format off */
#define JT_SCHEDULE_OPT_STATS_CRON                                                                 \
        {"stats-cron", 0, JT_OPT_STRING, "0 2 1 * *", 0, 0, NULL, false, "CRON|off",               \
         "UTC schedule of the monthly statistics job; off: none (not with --cleanup-cron off)"}
#define JT_SCHEDULE_OPT_CLEANUP_CRON                                                               \
        {"cleanup-cron", 0, JT_OPT_STRING, "0 4 * * 1", 0, 0, NULL, false, "CRON|off",             \
         "UTC schedule of the cleanup job; off: none (a cleanup still follows each statistics "   \
         "job)"}
/* clang-format on */

int jt_schedule_run(const jt_config_t *cfg);

#endif
