/* Assertions shared by the cmocka tests: a failed call that fills a jt_error_t fails the test
 * with the error's message, so a red test says why. Include after <cmocka.h>. */
#ifndef JT_TEST_H
#define JT_TEST_H

#define assert_ok(call, err)                                                                       \
        do {                                                                                       \
                if (!(call))                                                                       \
                        fail_msg("%s failed: %s", #call, (err).message);                           \
        } while (0)

#endif
