/* The app push's pieces without a server (worker/app_push.c): how each answer is taken,
 * Retry-After, the request body, and the settings: https only (http to loopback), the key from
 * JT_APP_API_KEY only, never shown, refused on the command line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_push.h"
#include "jt_config.h"
#include "jt_help.h"
#include "jt_secret.h"
#include "jt_test.h"

#define KEY "k3y-Zq9X2v7Lm4Pw8Rt6"

static void test_classify(void **state) {
        static const struct {
                long http;
                jt_app_push_answer_t want;
        } cases[] = {{200, JT_APP_PUSH_OK},    {202, JT_APP_PUSH_OK},    {204, JT_APP_PUSH_OK},
                     {0, JT_APP_PUSH_RETRY},   {500, JT_APP_PUSH_RETRY}, {503, JT_APP_PUSH_RETRY},
                     {408, JT_APP_PUSH_RETRY}, {429, JT_APP_PUSH_RETRY}, {301, JT_APP_PUSH_FAIL},
                     {302, JT_APP_PUSH_FAIL},  {307, JT_APP_PUSH_FAIL},  {400, JT_APP_PUSH_FAIL},
                     {401, JT_APP_PUSH_FAIL},  {403, JT_APP_PUSH_FAIL},  {404, JT_APP_PUSH_FAIL},
                     {413, JT_APP_PUSH_FAIL},  {425, JT_APP_PUSH_FAIL}};
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                if (jt_app_push_classify(cases[i].http) != cases[i].want)
                        fail_msg("HTTP %ld: expected %d, actual %d", cases[i].http, cases[i].want,
                                 jt_app_push_classify(cases[i].http));
}

static void test_retry_after(void **state) {
        static const struct {
                const char *value;
                int64_t want;
        } cases[] = {{" 2\r\n", 2000}, {"0.4", 400},    {"0", 0},
                     {"1e300", -1},    {"600", 300000}, {"99999999999999999999", 300000},
                     {"-1", -1},       {"nan", -1},     {"inf", -1},
                     {"", -1},         {" \r\n", -1},   {"2 s", -1},
                     {".5", -1},       {"0x10", -1},    {"Wed, 21 Oct 2026 07:28:00 GMT", -1}};
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int64_t got =
                    jt_app_push_retry_after_ms(cases[i].value, strlen(cases[i].value), 300000);
                if (got != cases[i].want)
                        fail_msg("Retry-After \"%s\": expected %lld, actual %lld", cases[i].value,
                                 (long long)cases[i].want, (long long)got);
        }
}

static void test_body(void **state) {
        const char *ids[] = {"0123456789abcdef01234567", "0123456789abcdef01234568"};
        char *text = jt_app_push_body("6543a1b2c3d4e5f601234567", ids, 2, "2026-10");
        const char *want = "{\"notificationId\":\"6543a1b2c3d4e5f601234567\",\"userIds\":["
                           "\"0123456789abcdef01234567\",\"0123456789abcdef01234568\"],"
                           "\"type\":\"monthlyStatistic\",\"month\":\"2026-10\"}";
        (void)state;
        assert_non_null(text);
        if (strcmp(text, want) != 0)
                fail_msg("expected %s\nactual   %s", want, text);
        free(text);
}

/* The options app_push_new reads: its own table and the worker's backoff rows. */
static const jt_opt_t backoff_opts[] = {
    {"retry-backoff-ms", 0, JT_OPT_INT, "500", 1, 600000, NULL, false, "MS", "first delay"},
    {"retry-backoff-max-ms", 0, JT_OPT_INT, "30000", 1, 3600000, NULL, false, "MS", "longest"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};
static const jt_opt_t *const tables[] = {jt_app_push_opts, backoff_opts, NULL};
static const jt_command_t command = {NULL, "test", tables, NULL, NULL, NULL, NULL};

/* Parses argv (NULL-terminated after the program name) with JT_APP_API_KEY = key (NULL: unset)
 * and makes the push; returns whether both worked, err holding why not. */
static bool setup(const char *key, jt_app_push_t **push, jt_error_t *err, ...) {
        char *argv[16] = {"joytify-worker"};
        int argc = 1;
        va_list ap;
        jt_config_t *cfg;
        bool ok;

        va_start(ap, err);
        for (char *a; argc < 15 && (a = va_arg(ap, char *)) != NULL;)
                argv[argc++] = a;
        va_end(ap);
        if (key)
                setenv("JT_APP_API_KEY", key, 1);
        else
                unsetenv("JT_APP_API_KEY");
        unsetenv("JT_APP_API_URL");
        jt_error_clear(err);
        *push = NULL;
        if (!(cfg = jt_config_parse(&command, argc, argv, err)))
                return false;
        ok = jt_app_push_new(cfg, push, err);
        jt_config_destroy(cfg);
        return ok;
}

static void expect_refused(const char *key, const char *want, const char *url) {
        jt_app_push_t *push;
        jt_error_t err;

        if (setup(key, &push, &err, "--app-api-url", url, NULL))
                fail_msg("%s: expected a refusal saying \"%s\", actual accepted", url, want);
        assert_null(push);
        if (!strstr(err.message, want))
                fail_msg("%s: expected an error saying \"%s\", actual \"%s\"", url, want,
                         err.message);
        if (key && *key && strstr(err.message, key))
                fail_msg("%s: the error shows the key: \"%s\"", url, err.message);
        if (strstr(url, "/secret-path") && strstr(err.message, "/secret-path"))
                fail_msg("%s: the error shows the URL's path: \"%s\"", url, err.message);
}

static void test_settings(void **state) {
        static const char *accepted[] = {"https://app.example.com/api/notifications/socket",
                                         "http://127.0.0.1:8080/push", "http://127.1/push",
                                         "http://localhost:3000/push", "http://[::1]:3000/push"};
        jt_app_push_t *push;
        jt_error_t err;
        char scrubbed[256];
        (void)state;

        /* Not configured: no push, no error (the key alone changes nothing). */
        assert_ok(setup(KEY, &push, &err, NULL), err);
        assert_null(push);
        for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
                if (!setup(KEY, &push, &err, "--app-api-url", accepted[i], NULL))
                        fail_msg("%s: expected accepted, actual \"%s\"", accepted[i], err.message);
                assert_non_null(push);
                jt_app_push_destroy(push);
        }
        expect_refused(KEY, "must be https (got http://app.example.com)",
                       "http://app.example.com/secret-path");
        expect_refused(KEY, "must be https (got http://127.0.0.1.nip.io)",
                       "http://127.0.0.1.nip.io/secret-path");
        expect_refused(KEY, "--app-api-url must be", "ftp://app.example.com/secret-path");
        expect_refused(KEY, "not one; not shown", "not a url/secret-path");
        expect_refused(NULL, "JT_APP_API_KEY is not", "https://app.example.com/push");
        expect_refused("k3y with blank", "printable ASCII", "https://app.example.com/push");
        expect_refused("k3y\r\nX-Evil: 1", "printable ASCII", "https://app.example.com/push");
        /* The key joined the process's secrets when it was read. */
        jt_secret_scrub("answer quoting " KEY " back", scrubbed, sizeof(scrubbed));
        if (strstr(scrubbed, KEY))
                fail_msg("expected the key scrubbed, actual \"%s\"", scrubbed);
}

static void test_key_never_an_option(void **state) {
        static const char *forms[] = {"--app-api-key=" KEY, "--app-api-key"};
        jt_app_push_t *push;
        jt_error_t err;
        (void)state;

        for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
                if (setup(NULL, &push, &err, forms[i], KEY, NULL))
                        fail_msg("%s: expected refused, actual accepted", forms[i]);
                if (!strstr(err.message, "--app-api-key cannot be given on the command line") ||
                    !strstr(err.message, "JT_APP_API_KEY"))
                        fail_msg("%s: expected the refusal to name the variable, actual \"%s\"",
                                 forms[i], err.message);
                if (strstr(err.message, KEY))
                        fail_msg("%s: the error shows the key: \"%s\"", forms[i], err.message);
        }
        /* A mistyped option with a value attached never shows the value either. */
        assert_false(setup(NULL, &push, &err, "--app-api-kee=" KEY, NULL));
        if (!strstr(err.message, "unknown option --app-api-kee") || strstr(err.message, KEY))
                fail_msg("expected \"unknown option --app-api-kee\" without the value, actual "
                         "\"%s\"",
                         err.message);
}

static void test_help(void **state) {
        const jt_program_t prog = {"joytify-worker", "test", &command, NULL};
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        (void)state;

        setenv("JT_APP_API_KEY", KEY, 1);
        jt_help_print_command(&prog, &command, out, 80);
        fclose(out);
        if (!strstr(text, "JT_APP_API_KEY") || !strstr(text, "environment only") ||
            !strstr(text, "--app-api-url URL") || !strstr(text, "--app-push-batch N"))
                fail_msg("expected the push options and JT_APP_API_KEY in --help, actual\n%s",
                         text);
        if (strstr(text, "--app-api-key") || strstr(text, KEY))
                fail_msg("expected no --app-api-key option and no key in --help, actual\n%s", text);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_classify),
            cmocka_unit_test(test_retry_after),
            cmocka_unit_test(test_body),
            cmocka_unit_test(test_settings),
            cmocka_unit_test(test_key_never_an_option),
            cmocka_unit_test(test_help),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
