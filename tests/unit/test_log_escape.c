/* Wire strings made harmless for logs and terminals (common/jt_log.c): jt_log_escape's table of
 * control characters, escape sequences, invalid UTF-8, C1 and bidirectional controls, its cut
 * when the room runs out, and a log line whose argument tries to clear the screen and forge a
 * second line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt_log.h"

static void test_escape_table(void **state) {
        static const struct {
                const char *in, *want;
        } cases[] = {
            {"stats-2026-10", "stats-2026-10"},
            {"", ""},
            {"job\x1b[2J", "job\\x1b[2J"},
            {"a\rb\nc\td", "a\\rb\\nc\\td"},
            {"\x01\x1f\x7f", "\\x01\\x1f\\x7f"},
            {"\xff\xc3", "\\xff\\xc3"}, /* invalid UTF-8 */
            {"\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80", "\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80"},
            {"\xc2\x9b"
             "2J",
             "\\u009b2J"}, /* C1 CSI */
            {"a\xe2\x80\xae"
             "b",
             "a\\u202eb"},                                /* right-to-left override */
            {"\xe2\x81\xa6", "\\u2066"},                  /* left-to-right isolate */
            {"\xc0\xaf", "\\xc0\\xaf"},                   /* overlong "/" */
            {"\xed\xa0\x80", "\\xed\\xa0\\x80"},          /* a surrogate */
            {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"}, /* past U+10FFFF */
            {"back\\slash", "back\\slash"},
        };
        char out[128];
        (void)state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                jt_log_escape(cases[i].in, out, sizeof(out));
                if (strcmp(out, cases[i].want) != 0)
                        fail_msg("case %zu: expected \"%s\", actual \"%s\"", i, cases[i].want, out);
        }
        assert_string_equal(jt_log_escape(NULL, out, sizeof(out)), "");
}

/* The room runs out: the text is cut before an escape or a character that does not fit, never
 * in the middle of one, and is always terminated. */
static void test_escape_cut(void **state) {
        char out[8];
        (void)state;

        assert_string_equal(jt_log_escape("abc\x1b", out, 7), "abc");
        assert_string_equal(jt_log_escape("abc\x1b", out, 8), "abc\\x1b");
        assert_string_equal(jt_log_escape("abcde\xc3\xa9", out, 7), "abcde");
        assert_string_equal(jt_log_escape("abcdefghij", out, sizeof(out)), "abcdefg");
        out[0] = 'x';
        jt_log_escape("abc", out, 1);
        assert_int_equal(out[0], '\0');
}

/* A job id that clears the screen and forges a second line makes one log line, escaped. */
static void test_log_line(void **state) {
        char path[] = "/tmp/jt-log-escape-XXXXXX", buf[1024];
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);
        FILE *f;
        size_t n;
        (void)state;

        assert_true(fd >= 0 && saved >= 0);
        fflush(stderr);
        dup2(fd, STDERR_FILENO);
        jt_log_init("test", JT_LOG_INFO);
        jt_log_warn("job=%s failed", "evil\x1b[2J\r\n2026-12-07T00:00:00.000Z INFO forged");
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        f = fdopen(fd, "r");
        rewind(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        unlink(path);
        print_message("log line: %s", buf);
        if (strchr(buf, '\x1b') || strchr(buf, '\r') || strchr(buf, '\n') != buf + n - 1)
                fail_msg("expected one line without ESC or CR, actual \"%s\"", buf);
        assert_non_null(strstr(buf, "job=evil\\x1b[2J\\r\\n2026-12-07T00:00:00.000Z INFO forged "
                                    "failed\n"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_escape_table),
            cmocka_unit_test(test_escape_cut),
            cmocka_unit_test(test_log_line),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
