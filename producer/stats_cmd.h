/* `joytify-producer stats`: emits the monthly statistics job. */
#ifndef JT_PRODUCER_STATS_CMD_H
#define JT_PRODUCER_STATS_CMD_H

#include "jt_config.h"

int jt_stats_cmd_run(const jt_config_t *cfg);

#endif
