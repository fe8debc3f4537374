/* Repeated log lines held back: the same text at most once per interval, with a count of the
 * repeats not shown, so that a broker down for an hour does not fill the log (librdkafka says
 * "Connect to ... failed" at every reconnect). */
#ifndef JT_LOG_LIMIT_H
#define JT_LOG_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* True when the line keyed by key is to be shown at now_ms: the first time it is seen, or
 * interval_ms or more after it was last shown; *held_back is then how many times it came in
 * between and was not shown (0 the first time). False: hold it back (counted). Thread-safe;
 * the most recently seen keys are remembered (a few dozen), the others forgotten. */
bool jt_log_limit_pass(const char *key, int64_t now_ms, int64_t interval_ms, long *held_back);

/* Forgets every key (for tests). */
void jt_log_limit_reset(void);

#endif
