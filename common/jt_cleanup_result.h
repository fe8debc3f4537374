/* What a cleanup job reports, by the rules of the original playback cleanup function it
 * replaces: processingMode none / direct / batch, completionPercentage to one decimal. One place
 * for the rule: the worker's FINALIZE and the producer's empty job. */
#ifndef JT_CLEANUP_RESULT_H
#define JT_CLEANUP_RESULT_H

#include <stdint.h>

#include "jt_messages.h"

/* "none" when nothing was found; "direct" when what was found fits in one batch
 * (found <= batch_size: the original's single deleteMany); "batch" otherwise. */
const char *jt_cleanup_result_processing_mode(int64_t found, int64_t batch_size);

/* deleted / found * 100 rounded to one decimal, halves up (the original's toFixed(1)); 100 when
 * nothing was found; at most 99.9 while deleted < found (the original's 9,999 of 10,000 read
 * "100.0 %" with a record left). */
double jt_cleanup_result_completion_percentage(int64_t deleted, int64_t found);

/* Sets a cleanup outcome's figures on ev: records deleted, total found, remaining, completion
 * percentage and processing mode as above, was_timeout_stopped false (a task that spends its
 * time budget hands the rest on: the job itself never stops early). */
void jt_cleanup_result_fill(jt_status_event_t *ev, int64_t found, int64_t deleted,
                            int64_t remaining, int64_t batch_size);

#endif
