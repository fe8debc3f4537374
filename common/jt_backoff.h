/* Exponential backoff with jitter: one rule for every retry of the fleet (a task, an HTTP
 * request), so that a change of policy is made once. */
#ifndef JT_BACKOFF_H
#define JT_BACKOFF_H

#include <stdint.h>

/* The delay before retry number attempt (1 for the first retry): base_ms doubled per attempt,
 * at most max_ms, then +-25 % jitter so that workers retrying the same outage do not hit it in
 * step. */
int64_t jt_backoff_ms(int64_t base_ms, int64_t max_ms, int attempt);

#endif
