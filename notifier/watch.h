/* joytify-notifier watch: live progress bars per job (and its task kind) in a terminal,
 * folded from the status topic; JSON lines when stdout is not a terminal. */
#ifndef JT_NOTIFIER_WATCH_H
#define JT_NOTIFIER_WATCH_H

#include "jt_config.h"

int jt_notifier_watch(const jt_config_t *cfg);

#endif
