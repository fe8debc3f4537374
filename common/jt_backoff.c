/* Exponential backoff with jitter (jt_backoff.h). */
#include "jt_backoff.h"

#include <stdlib.h>

int64_t jt_backoff_ms(int64_t base_ms, int64_t max_ms, int attempt) {
        int shift = attempt < 1 ? 0 : attempt > 17 ? 16 : attempt - 1;
        int64_t ms = base_ms << shift;

        if (ms > max_ms || ms < 0)
                ms = max_ms;
        return ms * (75 + rand() % 51) / 100;
}
