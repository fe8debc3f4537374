/* Expectations that say what was expected and what came instead; each fails the test
 * (cmocka's fail_msg) with `what` and both values. */
#ifndef JT_IT_EXPECT_H
#define JT_IT_EXPECT_H

#include <stdint.h>

void it_expect_int(const char *what, int64_t expected, int64_t actual);

/* NULL is a value: null expected and null got is a match. */
void it_expect_str(const char *what, const char *expected, const char *actual);

void it_expect_contains(const char *what, const char *text, const char *wanted);

#endif
