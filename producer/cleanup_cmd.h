/* `joytify-producer cleanup`: emits the playback cleanup job. */
#ifndef JT_PRODUCER_CLEANUP_CMD_H
#define JT_PRODUCER_CLEANUP_CMD_H

#include "jt_config.h"

int jt_cleanup_cmd_run(const jt_config_t *cfg);

#endif
