/* The worker's consumer loop: tasks in, effects out, offsets stored only after both. */
#ifndef JT_WORKER_LOOP_H
#define JT_WORKER_LOOP_H

#include "jt_config.h"

/* Runs until SIGTERM/SIGINT; returns the exit code. */
int jt_worker_run(const jt_config_t *cfg);

#endif
