/* The monotonic clock in milliseconds, for deadlines and ages that a clock step must not move. */
#ifndef JT_TIME_H
#define JT_TIME_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: only differences mean anything. */
int64_t jt_time_mono_ms(void);

#endif
