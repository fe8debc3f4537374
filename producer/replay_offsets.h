/* `joytify-producer replay --topic T --group G`: a consumer group's committed offsets moved to a
 * time or an offset (replay.h has the command's help). */
#ifndef JT_PRODUCER_REPLAY_OFFSETS_H
#define JT_PRODUCER_REPLAY_OFFSETS_H

#include "jt_config.h"

/* Runs the offsets mode for a config checked by jt_replay_run; the exit code as jt_replay_run. */
int jt_replay_offsets_run(const jt_config_t *cfg);

#endif
