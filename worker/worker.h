/* The worker: tasks in from Kafka, effects out to the database and the status topic, offsets
 * stored only after both. Its loop and threads are described in worker_private.h. */
#ifndef JT_WORKER_WORKER_H
#define JT_WORKER_WORKER_H

#include "jt_config.h"

/* Runs until SIGTERM/SIGINT; returns the exit code. */
int jt_worker_run(const jt_config_t *cfg);

#endif
