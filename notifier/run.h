/* joytify-notifier run: consumes the status topic in its own group and posts one message per
 * job outcome to a Discord webhook (or writes it to stdout or a file), exactly once across
 * restarts, keeping an optional progress message per running job up to date. */
#ifndef JT_NOTIFIER_RUN_H
#define JT_NOTIFIER_RUN_H

#include "jt_config.h"

int jt_notifier_run(const jt_config_t *cfg);

#endif
