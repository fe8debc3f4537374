/* What every integration test needs from the fixture: the stack's addresses, and assertions
 * that print the error of a failed call. */
#ifndef JT_IT_ENV_H
#define JT_IT_ENV_H

#include <stdlib.h>

/* The value of an environment variable the jt_stack fixture sets; fails the test without it. */
static inline const char *it_env(const char *name) {
        const char *v = getenv(name);
        if (!v || !*v)
                fail_msg("%s is not set: run this test through ctest (fixture jt_stack)", name);
        return v;
}

/* Fails with the error's message when a call that fills a jt_error_t returns false. */
#define assert_ok(call, err)                                                                   \
        do {                                                                                   \
                if (!(call))                                                                   \
                        fail_msg("%s failed: %s", #call, (err).message);                       \
        } while (0)

#endif
