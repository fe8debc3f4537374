/* `joytify-producer topics`: creates the four topics with their settings, before the first start.
 */
#ifndef JT_PRODUCER_TOPICS_CMD_H
#define JT_PRODUCER_TOPICS_CMD_H

#include "jt_config.h"

int jt_topics_cmd_run(const jt_config_t *cfg);

#endif
