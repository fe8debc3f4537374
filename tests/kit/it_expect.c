/* Expectations that print what was expected and what came instead (it_expect.h). */
#include "it_expect.h"

#include <inttypes.h>
#include <string.h>

#include "it_cmocka.h"

void it_expect_int(const char *what, int64_t expected, int64_t actual) {
        if (expected != actual)
                fail_msg("%s: expected %" PRId64 ", actual %" PRId64, what, expected, actual);
}

void it_expect_str(const char *what, const char *expected, const char *actual) {
        if (!expected && !actual)
                return;
        if (!expected || !actual || strcmp(expected, actual) != 0)
                fail_msg("%s: expected %s%s%s, actual %s%s%s", what, expected ? "\"" : "",
                         expected ? expected : "null", expected ? "\"" : "", actual ? "\"" : "",
                         actual ? actual : "null", actual ? "\"" : "");
}

void it_expect_contains(const char *what, const char *text, const char *wanted) {
        if (!text || !strstr(text, wanted))
                fail_msg("%s: expected to contain \"%s\", actual \"%s\"", what, wanted,
                         text ? text : "(null)");
}
