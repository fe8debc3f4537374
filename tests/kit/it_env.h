/* What every integration test needs from the fixture: the stack's addresses. */
#ifndef JT_IT_ENV_H
#define JT_IT_ENV_H

#include <stdlib.h>

#include "jt_test.h"

/* The value of an environment variable the jt_stack fixture sets; fails the test without it. */
static inline const char *it_env(const char *name) {
        const char *v = getenv(name);
        if (!v || !*v)
                fail_msg("%s is not set: run this test through ctest (fixture jt_stack)", name);
        return v;
}

#endif
