/* --log-format json (common/jt_log.c): one JSON object per line with the thread's job, task,
 * topic and partition, secrets scrubbed and controls escaped by the encoder; and the repeat
 * limiter librdkafka's log goes through (common/jt_log_limit.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "jt_log.h"
#include "jt_log_limit.h"
#include "jt_secret.h"

/* Runs log_lines with stderr going to a file; returns what was written (free it). */
static char *captured(void (*log_lines)(void)) {
        char path[] = "/tmp/jt-log-json-XXXXXX";
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);
        char *text = calloc(1, 65536);
        FILE *f;

        assert_true(fd >= 0 && saved >= 0 && text);
        fflush(stderr);
        dup2(fd, STDERR_FILENO);
        log_lines();
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        f = fdopen(fd, "r");
        rewind(f);
        text[fread(text, 1, 65535, f)] = '\0';
        fclose(f);
        unlink(path);
        return text;
}

static void task_lines(void) {
        jt_log_init("worker", JT_LOG_INFO);
        jt_log_set_format(JT_LOG_FORMAT_JSON);
        jt_log_info("no fields yet");
        jt_log_fields_topic("joytify.tasks.stats", 3);
        jt_log_fields_job("stats-2026-10", "0007");
        jt_log_warn("job=%s user %s: %s", "stats-2026-10", "evil\x1b[2J\r\nforged\x7f\xff",
                    "password hunter2x9 in a driver message");
        jt_log_fields_clear();
        jt_log_error("fields cleared");
        jt_log_set_format(JT_LOG_FORMAT_TEXT);
}

/* Parses line i (0-based) of text as JSON. */
static json_t *line_json(const char *text, int i) {
        const char *p = text;
        json_error_t error;
        json_t *doc;

        while (i-- > 0 && (p = strchr(p, '\n')))
                p++;
        assert_non_null(p);
        doc = json_loadb(p, strcspn(p, "\n"), 0, &error);
        if (!doc)
                fail_msg("expected a JSON object, actual \"%.*s\": %s", (int)strcspn(p, "\n"), p,
                         error.text);
        return doc;
}

static void expect_field(json_t *doc, const char *key, const char *want) {
        json_t *v = json_object_get(doc, key);
        if (!want) {
                if (v)
                        fail_msg("expected no \"%s\", actual %s", key,
                                 json_dumps(v, JSON_ENCODE_ANY));
                return;
        }
        if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
                fail_msg("expected \"%s\": \"%s\", actual %s", key, want,
                         v ? json_dumps(v, JSON_ENCODE_ANY) : "(none)");
}

static void json_lines_carry_the_fields(void **state) {
        char *text;
        json_t *doc;

        jt_secret_add("hunter2x9", 9);
        text = captured(task_lines);
        print_message("%s", text);
        /* three lines, no raw control character in any */
        for (const char *c = text; *c; c++)
                if ((unsigned char)*c < 0x20 && *c != '\n')
                        fail_msg("expected no control character, actual 0x%02x in\n%s", *c, text);
        if (strchr(text, '\x7f') || strstr(text, "hunter2x9"))
                fail_msg("expected DEL escaped and the secret scrubbed, actual\n%s", text);

        doc = line_json(text, 0);
        expect_field(doc, "level", "info");
        expect_field(doc, "program", "worker");
        expect_field(doc, "message", "no fields yet");
        expect_field(doc, "job", NULL);
        if (!json_is_string(json_object_get(doc, "time")) ||
            strlen(json_string_value(json_object_get(doc, "time"))) != 24)
                fail_msg("expected time like 2026-12-07T07:00:00.000Z");
        json_decref(doc);

        doc = line_json(text, 1);
        expect_field(doc, "level", "warn");
        expect_field(doc, "job", "stats-2026-10");
        expect_field(doc, "task", "0007");
        expect_field(doc, "topic", "joytify.tasks.stats");
        assert_int_equal(json_integer_value(json_object_get(doc, "partition")), 3);
        /* not UTF-8 (0xff) and a DEL: the message comes escaped, still one line */
        if (!strstr(json_string_value(json_object_get(doc, "message")), "evil\\x1b[2J\\r\\nforged"))
                fail_msg("expected the escaped job id in the message, actual %s",
                         json_string_value(json_object_get(doc, "message")));
        json_decref(doc);

        doc = line_json(text, 2);
        expect_field(doc, "level", "error");
        expect_field(doc, "job", NULL);
        expect_field(doc, "topic", NULL);
        if (json_object_get(doc, "partition"))
                fail_msg("expected no partition once cleared");
        json_decref(doc);
        free(text);
}

static void utf8_lines(void) {
        jt_log_init("notifier", JT_LOG_INFO);
        jt_log_set_format(JT_LOG_FORMAT_JSON);
        jt_log_fields_job("job\n2", NULL);
        jt_log_info("Beyonc\xc3\xa9 \xe2\x80\xae reversed\ttab");
        jt_log_fields_clear();
        jt_log_set_format(JT_LOG_FORMAT_TEXT);
}

/* Valid UTF-8 goes to jansson as it is: controls escaped as JSON escapes, everything past ASCII
 * (the bidirectional override included) as \uXXXX, and a reader gets the text back. */
static void json_escapes_with_the_encoder(void **state) {
        char *text = captured(utf8_lines);
        json_t *doc = line_json(text, 0);

        print_message("%s", text);
        if (!strstr(text, "\\u00E9") || !strstr(text, "\\u202E") || !strstr(text, "\\t") ||
            !strstr(text, "\"job\":\"job\\n2\""))
                fail_msg("expected ASCII JSON escapes, actual\n%s", text);
        expect_field(doc, "message", "Beyonc\xc3\xa9 \xe2\x80\xae reversed\ttab");
        expect_field(doc, "task", NULL);
        json_decref(doc);
        free(text);
}

static void format_names(void **state) {
        jt_log_format_t f;

        assert_true(jt_log_format_parse("json", &f) && f == JT_LOG_FORMAT_JSON);
        assert_true(jt_log_format_parse("TEXT", &f) && f == JT_LOG_FORMAT_TEXT);
        assert_false(jt_log_format_parse("xml", &f));
}

/* The same key once per interval, with the count held back in between; keys apart. */
static void repeats_are_limited(void **state) {
        long held = -1;

        jt_log_limit_reset();
        assert_true(jt_log_limit_pass("connect refused", 1000, 30000, &held));
        assert_int_equal(held, 0);
        for (int i = 1; i <= 5; i++) {
                assert_false(jt_log_limit_pass("connect refused", 1000 + i * 1000, 30000, &held));
                assert_int_equal(held, 0);
        }
        assert_true(jt_log_limit_pass("another error", 7000, 30000, &held));
        assert_int_equal(held, 0);
        assert_false(jt_log_limit_pass("connect refused", 30999, 30000, &held));
        assert_true(jt_log_limit_pass("connect refused", 31000, 30000, &held));
        assert_int_equal(held, 6); /* five, then the one at 30999 */
        assert_false(jt_log_limit_pass("connect refused", 32000, 30000, &held));
        /* Many keys: the longest unseen is forgotten, a recent one kept. */
        for (int i = 0; i < 100; i++) {
                char key[32];
                snprintf(key, sizeof(key), "key %d", i);
                assert_true(jt_log_limit_pass(key, 40000 + i, 30000, &held));
                assert_false(jt_log_limit_pass("connect refused", 40000 + i, 30000, &held));
        }
        assert_true(jt_log_limit_pass("connect refused", 61000, 30000, &held));
        assert_int_equal(held, 101);
        jt_log_limit_reset();
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(json_lines_carry_the_fields),
            cmocka_unit_test(json_escapes_with_the_encoder),
            cmocka_unit_test(format_names),
            cmocka_unit_test(repeats_are_limited),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
