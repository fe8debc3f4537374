/* --message-style original (notifier/original.c): the style option, the original's number and
 * time formats, the kinds the golden files do not show (a cleanup with records left but no
 * timeout, the logs link, a failure without an execution time), and Discord's 2,000 characters
 * of content held against hostile texts. The golden files (test_notifier_message) show each
 * kind whole. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "jt_test.h"
#include "message.h"
#include "original.h"

static size_t chars(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                n += ((unsigned char)*s & 0xC0) != 0x80;
        return n;
}

static void expect_contains(const char *what, const char *text, const char *needle) {
        if (!strstr(text, needle))
                fail_msg("%s: expected to contain \"%s\", actual:\n%s", what, needle, text);
}

static void expect_lacks(const char *what, const char *text, const char *needle) {
        if (strstr(text, needle))
                fail_msg("%s: expected not to contain \"%s\", actual:\n%s", what, needle, text);
}

static void test_style_option(void **state) {
        jt_message_style_t style;
        jt_error_t err;
        (void)state;
        jt_error_clear(&err);
        assert_ok(jt_message_style_parse("embed", &style, &err), err);
        assert_int_equal(style, JT_MESSAGE_STYLE_EMBED);
        assert_ok(jt_message_style_parse("original", &style, &err), err);
        assert_int_equal(style, JT_MESSAGE_STYLE_ORIGINAL);
        assert_false(jt_message_style_parse("Original", &style, &err));
        assert_int_equal(err.domain, JT_ERR_CONFIG);
        assert_string_equal(err.message,
                            "--message-style must be original or embed (got \"Original\")");
        assert_false(jt_message_style_parse(NULL, &style, &err));
}

static void test_formats(void **state) {
        static const struct {
                double pct;
                const char *want;
        } pcts[] = {{100.0, "100"}, {77.0, "77"}, {77.02211, "77"}, {97.46, "97.5"},
                    {33.3, "33.3"}, {0.0, "0"},   {0.04, "0"},      {99.96, "100"}};
        char buf[JT_FORMAT_BUF];
        jt_error_t err;
        (void)state;
        for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
                assert_string_equal(jt_format_percent1(pcts[i].pct, buf, sizeof(buf)),
                                    pcts[i].want);
        jt_error_clear(&err);
        assert_ok(jt_format_set_zone("Asia/Taipei", &err), err);
        /* toLocaleString("en-US"): month/day/year, 12-hour clock, no zone name. */
        assert_string_equal(jt_format_time_en_us(1793505725000, buf, sizeof(buf)),
                            "11/1/2026, 12:02:05 PM");
        assert_string_equal(jt_format_time_en_us(1793462400000, buf, sizeof(buf)),
                            "11/1/2026, 12:00:00 AM");
        assert_string_equal(jt_format_time_en_us(1795280400000, buf, sizeof(buf)),
                            "11/22/2026, 1:00:00 AM");
        assert_ok(jt_format_set_zone("UTC", &err), err);
        assert_string_equal(jt_format_time_en_us(1793505725000, buf, sizeof(buf)),
                            "11/1/2026, 4:02:05 AM");
}

static char *content_of(const jt_status_event_t *ev, const char *logs_url) {
        jt_message_opts_t opts = {logs_url};
        jt_message_t msg;
        char *text;
        assert_true(jt_original_for_outcome(ev, &opts, &msg));
        assert_non_null(msg.content);
        text = strdup(msg.content);
        jt_message_clear(&msg);
        return text;
}

static void test_cleanup_kinds(void **state) {
        jt_status_event_t ev = {.job_id = "cleanup-2026-11-02T0400Z",
                                .type = JT_STATUS_JOB_FINISHED,
                                .job_kind = JT_JOB_KIND_CLEANUP,
                                .timestamp_ms = 1794068522072,
                                .records_deleted = {true, 1499},
                                .total_records_found = {true, 1500},
                                .remaining_records = {true, 1},
                                .completion_percentage = {true, 99.9},
                                .was_timeout_stopped = {true, false},
                                .processing_mode = "direct\n## injected",
                                .execution_ms = {true, 5000}};
        char *text;
        (void)state;

        /* Left behind without a timeout (a late write into an old range): partial, no
         * "(Timeout)", the note without "stopped early". */
        text = content_of(&ev, "https://logs.example/joytify");
        expect_contains("partial cleanup", text,
                        "## 🧹 Playback Data Cleanup Partially Completed\n\n"
                        "✅ **Status**: ⏰ Partially Completed\n");
        expect_contains("partial cleanup", text, "📋 **Remaining**: 1 (99.9% complete)\n");
        expect_contains("partial cleanup", text,
                        "⚙️ **Processing Mode**: direct ## injected\n");
        expect_contains("partial cleanup", text,
                        "⚠️ **Note**: Remaining records will be processed by the next cleanup "
                        "run (Mondays 04:00 UTC), which continues where this one stopped.\n\n"
                        "📋 [View Detailed Logs](https://logs.example/joytify)");
        assert_string_equal(text + strlen(text) - strlen("(https://logs.example/joytify)"),
                            "(https://logs.example/joytify)");
        free(text);

        /* Failures: the cleanup's shows its execution time, the statistics' (as the
         * original's) does not; neither shows a made-up time when the event has none. */
        ev = (jt_status_event_t){.job_id = "cleanup-x",
                                 .type = JT_STATUS_JOB_FAILED,
                                 .job_kind = JT_JOB_KIND_CLEANUP,
                                 .timestamp_ms = 1795276800000,
                                 .error_message = "refused: `x`\nsecond line",
                                 .execution_ms = {true, 3723000}};
        text = content_of(&ev, NULL);
        expect_contains("cleanup failed", text,
                        "⚠️ **Error Message**: `refused: 'x' second line`\n"
                        "⏱️ **Execution Time**: 1h 2m 3s (3723000ms)\n");
        expect_contains("cleanup failed", text,
                        "🔧 **Next Steps**: Please check the logs for detailed error information");
        expect_lacks("cleanup failed without --logs-url", text, "View Error Logs");
        free(text);
        ev.execution_ms.set = false;
        text = content_of(&ev, NULL);
        expect_lacks("cleanup failed, no execution_ms", text, "Execution Time");
        free(text);
        ev.job_kind = JT_JOB_KIND_STATS;
        ev.execution_ms.set = true;
        text = content_of(&ev, NULL);
        expect_contains("stats failed", text, "## 🚨 Monthly Statistics Processing Failed\n\n");
        expect_lacks("stats failed", text, "Execution Time");
        free(text);

        /* Not an outcome: no message. */
        ev.type = JT_STATUS_TASK_PROGRESS;
        {
                jt_message_t msg;
                assert_false(jt_original_for_outcome(&ev, NULL, &msg));
        }
}

/* A 20,000-character error with mentions and fences, and foreign JSON of every size: the
 * content stays within Discord's 2,000 characters, pings nobody, and a code block is closed. */
static void test_content_limits(void **state) {
        char *huge = malloc(20001), *big;
        jt_status_event_t ev = {.job_id = "cleanup-x",
                                .type = JT_STATUS_JOB_FAILED,
                                .job_kind = JT_JOB_KIND_CLEANUP,
                                .timestamp_ms = 1795276800000};
        jt_message_t msg;
        json_t *payload;
        const char *content;
        jt_foreign_t doc;
        size_t n;
        (void)state;

        for (int i = 0; i < 20000; i++)
                huge[i] = "@everyone ```x"[i % 14];
        huge[20000] = '\0';
        ev.error_message = huge;
        assert_true(jt_original_for_outcome(&ev, NULL, &msg));
        payload = jt_message_discord(&msg);
        content = json_string_value(json_object_get(payload, "content"));
        assert_non_null(content);
        assert_true(chars(content) <= JT_DISCORD_CONTENT_MAX);
        assert_null(json_object_get(payload, "embeds"));
        assert_int_equal(
            json_array_size(json_object_get(json_object_get(payload, "allowed_mentions"), "parse")),
            0);
        expect_contains("huge error", content, "🕐 **Failed At**: "); /* not cut away */
        json_decref(payload);
        jt_message_clear(&msg);

        /* Foreign JSON: a small document whole, a 3,500-character text and a document too
         * large to parse cut to fit, the closing fence and the time kept. */
        for (n = 10; n <= 200000; n *= 10) {
                big = malloc(n + 64);
                snprintf(big, n + 64,
                         "{\"AlarmName\":\"a```b\",\"NewStateValue\":\"ALARM\",\"x\":\"");
                size_t at = strlen(big);
                for (size_t i = 0; i < n; i++)
                        big[at++] = "@here ``` \xC3\xA9"[i % 12];
                /* never end inside a multi-byte character */
                if (((unsigned char)big[at - 1] & 0xC0) == 0xC0)
                        at--;
                memcpy(big + at, "\"}", 3);
                assert_true(jt_foreign_render(big, strlen(big), &doc));
                jt_original_for_foreign(&doc, 1795280400000, NULL, &msg);
                payload = jt_message_discord(&msg);
                content = json_string_value(json_object_get(payload, "content"));
                if (chars(content) > JT_DISCORD_CONTENT_MAX)
                        fail_msg("foreign JSON of %zu bytes: expected at most %d characters, "
                                 "actual %zu",
                                 strlen(big), JT_DISCORD_CONTENT_MAX, chars(content));
                /* The alarm's name only from a parsed document, backticks made quotes. */
                expect_contains("foreign", content,
                                doc.parsed ? "## 🚨 CloudWatch Alarm: a'''b\n\n"
                                           : "## 📢 Lambda Notification\n\n");
                expect_contains("foreign", content, "```\n\n🕐 **Received At**: ");
                if (!doc.parsed)
                        expect_contains("foreign, not parsed", content, "📏 **Size**: ");
                /* One opening and one closing fence: the JSON's own are broken up. */
                {
                        size_t fences = 0;
                        for (const char *p = content; (p = strstr(p, "```")) != NULL; p += 3)
                                fences++;
                        assert_int_equal(fences, 2);
                }
                json_decref(payload);
                jt_message_clear(&msg);
                jt_foreign_clear(&doc);
                free(big);
        }
        free(huge);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_style_option),
            cmocka_unit_test(test_formats),
            cmocka_unit_test(test_cleanup_kinds),
            cmocka_unit_test(test_content_limits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
