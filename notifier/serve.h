/* joytify-notifier serve: the operator's web console (jobs, workers, lag, dead letters; the
 * admin actions with --admin-token-file), on loopback unless an address is given. */
#ifndef JT_NOTIFIER_SERVE_H
#define JT_NOTIFIER_SERVE_H

#include "jt_config.h"

int jt_serve_run(const jt_config_t *cfg);

#endif
