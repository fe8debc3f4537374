/* The command-line conventions (issue 19 item 5): stray arguments refused with exit 2 and named,
 * 75 for a server unreachable at start, --help wrapped to the width with an example and only
 * the command's options, --version with the libraries' versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jt_cli.h"
#include "jt_help.h"
#include "jt_startup.h"

static int ran; /* how often a command's run was reached */

static int run_ok(const jt_config_t *cfg) {
        (void)cfg;
        ran++;
        return JT_EXIT_OK;
}

static const jt_opt_t one_opts[] = {
    {"month", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "YYYY-MM",
     "month to process, a long description that has to be wrapped over several lines when the "
     "terminal is narrow, as one is"},
    {"shards", 0, JT_OPT_INT, "16", 1, 4096, "JT_TEST_SHARDS", false, "N", "shards"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};
static const jt_opt_t two_opts[] = {
    {"only-in-two", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL, "an option of command two"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};
static const jt_opt_t *const one_tables[] = {one_opts, NULL};
static const jt_opt_t *const two_tables[] = {two_opts, NULL};
static const jt_command_t commands[] = {
    {"one", "the first command", one_tables, run_ok, NULL, NULL, "prog one --month 2026-10"},
    {"two", "the second command", two_tables, run_ok, NULL, "stats|cleanup", "prog two stats"},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
static const jt_program_t prog = {"prog", "a test program", commands, NULL};

static int cli(int argc, ...) {
        char *argv[16];
        va_list ap;

        va_start(ap, argc);
        for (int i = 0; i < argc; i++)
                argv[i] = va_arg(ap, char *);
        va_end(ap);
        argv[argc] = NULL;
        return jt_cli_main(&prog, argc, argv);
}

static void stray_arguments_exit_2_before_running(void **state) {
        jt_error_t err;
        char *argv[] = {"prog one", "--month", "2026-10", "2026-11", "x\ny", NULL};
        jt_config_t *cfg;

        ran = 0;
        assert_int_equal(cli(3, "prog", "one", "stray"), JT_EXIT_USAGE);
        assert_int_equal(cli(5, "prog", "one", "--shards", "2", "stray"), JT_EXIT_USAGE);
        assert_int_equal(ran, 0);
        jt_error_clear(&err);
        cfg = jt_config_parse(&commands[0], 5, argv, &err);
        assert_null(cfg);
        assert_int_equal(err.domain, JT_ERR_CONFIG);
        /* both named, the newline escaped so that the message stays one line */
        if (!strstr(err.message, "unexpected arguments \"2026-11\" \"x\\ny\""))
                fail_msg("expected both arguments named, actual \"%s\"", err.message);
        /* a command with operands gets them */
        assert_int_equal(cli(3, "prog", "two", "stats"), JT_EXIT_OK);
        assert_int_equal(ran, 1);
}

static void unreachable_server_exits_75(void **state) {
        jt_error_t err;

        jt_error_clear(&err);
        jt_error_set(&err, JT_ERR_CONFIG, 0, "--x must be 1..2");
        assert_int_equal(jt_startup_exit_code(&err), JT_EXIT_USAGE);
        jt_error_clear(&err);
        jt_error_set(&err, JT_ERR_KAFKA, 0, "cannot reach Kafka at 127.0.0.1:1 within 1 s");
        err.transient = true;
        assert_int_equal(jt_startup_exit_code(&err), 75);
        err.transient = false;
        assert_int_equal(jt_startup_exit_code(&err), JT_EXIT_FAILURE);
}

/* The help of command cmd at width columns, in a buffer to free. */
static char *help_of(const jt_command_t *cmd, int width) {
        char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);

        assert_non_null(out);
        jt_help_print_command(&prog, cmd, out, width);
        fclose(out);
        return text;
}

/* The longest line of text but the one after "Example:" (a line to copy, never wrapped). */
static size_t longest_line(const char *text) {
        size_t longest = 0;
        bool example = false;

        for (const char *p = text; *p;) {
                size_t n = strcspn(p, "\n");
                if (!example && n > longest)
                        longest = n;
                example = n == 8 && strncmp(p, "Example:", 8) == 0;
                p += n + (p[n] == '\n');
        }
        return longest;
}

static void help_wraps_to_the_width(void **state) {
        static const int widths[] = {40, 60, 80, 132};

        for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
                char *text = help_of(&commands[0], widths[i]);
                if (longest_line(text) > (size_t)widths[i])
                        fail_msg("width %d: expected no line longer, actual %zu:\n%s", widths[i],
                                 longest_line(text), text);
                /* an annotation stays on one line */
                if (!strstr(text, "(env: JT_TEST_SHARDS)") || !strstr(text, "(default: 16)"))
                        fail_msg("width %d: expected whole annotations, actual\n%s", widths[i],
                                 text);
                free(text);
        }
}

static void help_lists_the_commands_options_and_an_example(void **state) {
        char *one = help_of(&commands[0], 80), *two = help_of(&commands[1], 80);

        if (!strstr(one, "--month YYYY-MM") || strstr(one, "--only-in-two") ||
            !strstr(one, "Example:\n  prog one --month 2026-10\n") || !strstr(one, "--help"))
                fail_msg("expected one's options, --help and its example only, actual\n%s", one);
        if (!strstr(two, "Usage: prog two [options] stats|cleanup") || strstr(two, "--month"))
                fail_msg("expected two's usage with its operands, actual\n%s", two);
        if (!strstr(one, "75 Kafka or MongoDB unreachable at start"))
                fail_msg("expected the exit codes, actual\n%s", one);
        free(one);
        free(two);
}

static void width_from_columns(void **state) {
        FILE *out = tmpfile();

        assert_non_null(out);
        unsetenv("COLUMNS");
        assert_int_equal(jt_help_width(out), 80); /* not a terminal */
        setenv("COLUMNS", "100", 1);
        assert_int_equal(jt_help_width(out), 100);
        setenv("COLUMNS", "7", 1);
        assert_int_equal(jt_help_width(out), 40); /* no narrower than 40 */
        setenv("COLUMNS", "wide", 1);
        assert_int_equal(jt_help_width(out), 80);
        unsetenv("COLUMNS");
        fclose(out);
}

static void version_names_the_libraries(void **state) {
        char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);

        assert_non_null(out);
        jt_help_print_version(&prog, out);
        fclose(out);
        if (!strstr(text, "prog " JT_VERSION "\n") || !strstr(text, "\nlibrdkafka 2.") ||
            !strstr(text, "\nlibmongoc 1.") || !strstr(text, "\navro-c 1.") ||
            strstr(text, "libcurl"))
                fail_msg("expected the program's and the libraries' versions, no libcurl (not "
                         "linked), actual\n%s",
                         text);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(stray_arguments_exit_2_before_running),
            cmocka_unit_test(unreachable_server_exits_75),
            cmocka_unit_test(help_wraps_to_the_width),
            cmocka_unit_test(help_lists_the_commands_options_and_an_example),
            cmocka_unit_test(width_from_columns),
            cmocka_unit_test(version_names_the_libraries),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
