/* `replay --dlq --list` and one dead letter re-sent or discarded by partition and offset. */
#ifndef JT_PRODUCER_REPLAY_DLQ_ONE_H
#define JT_PRODUCER_REPLAY_DLQ_ONE_H

#include <stdbool.h>
#include <stdint.h>

#include "jt_config.h"

/* The group.id of the client that reads the one message: it never commits. */
#define JT_REPLAY_DLQ_ONE_GROUP "joytify-dlq-reader"

/* `replay --dlq --list [--filter-job ID] [--json]`: every dead letter decoded, with whether
 * replay handled it; moves nothing. 0, or 75 when the brokers do not answer. */
int jt_replay_dlq_one_list(const jt_config_t *cfg);

/* `replay --dlq --partition P --offset O [--discard] [--dry-run] [--force]`: re-sends (or, with
 * --discard, does not) the one dead letter there, then records it handled in replay's place
 * for the full replay's group and for its job's. 0 done or handled already (nothing done
 * without --force), 1 a refused delivery or commit, or a message with nowhere to go, 2 bad
 * input (no such partition or offset), 75 brokers that do not answer. */
int jt_replay_dlq_one_run(const jt_config_t *cfg);

/* --offset's text as an offset (0 or more); JT_ERR_CONFIG otherwise. */
bool jt_replay_dlq_one_offset(const char *text, int64_t *offset, jt_error_t *err);

#endif
