/* The monotonic clock, one definition for every module that measures an age or a deadline. */
#include "jt_time.h"

#include <time.h>

int64_t jt_time_mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
