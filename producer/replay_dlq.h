/* `joytify-producer replay --dlq`: dead-lettered tasks re-sent to their original topics
 * (replay.h has the command's help and the DLQ group's name). */
#ifndef JT_PRODUCER_REPLAY_DLQ_H
#define JT_PRODUCER_REPLAY_DLQ_H

#include "jt_config.h"

/* Runs the DLQ mode for a config checked by jt_replay_run; the exit code as jt_replay_run. */
int jt_replay_dlq_run(const jt_config_t *cfg);

#endif
