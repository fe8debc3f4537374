/* The reading of Discord's answers (notifier/webhook.c) with hostile numbers and statuses:
 * rate-limit headers of "1e300", "-1", "nan", "inf" and cut buffers; every class of status
 * (2xx, 3xx redirects, 408/425, 429, other 4xx, 5xx); and the webhook URL check (https, or
 * http to loopback only, the URL never quoted beyond its scheme and host). Under the sanitizer
 * build any overflow or out-of-range cast aborts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_test.h"
#include "webhook.h"

/* A copy of text in a buffer of exactly its length, no NUL after it: ASan catches a read past
 * the end, as libcurl's header and body buffers are not terminated either. */
static char *unterminated(const char *text, size_t len) {
        char *buf = malloc(len ? len : 1);
        assert_non_null(buf);
        memcpy(buf, text, len);
        return buf;
}

static jt_webhook_limits_t parse_one(const char *line) {
        jt_webhook_limits_t l;
        char *buf = unterminated(line, strlen(line));

        jt_webhook_limits_init(&l);
        jt_webhook_parse_header(buf, strlen(line), &l);
        free(buf);
        return l;
}

static void test_headers(void **state) {
        static const struct {
                const char *line;
                int64_t retry_after_ms, reset_after_ms, remaining;
        } cases[] = {
            {"X-RateLimit-Remaining: 4\r\n", -1, -1, 4},
            {"x-ratelimit-remaining:0\r\n", -1, -1, 0},
            {"X-RateLimit-Remaining: 1e300\r\n", -1, -1, INT64_MAX},
            {"X-RateLimit-Remaining: 9223372036854775808\r\n", -1, -1, INT64_MAX},
            {"X-RateLimit-Remaining: 99999999999999999999999\r\n", -1, -1, INT64_MAX},
            {"X-RateLimit-Remaining: 1e999\r\n", -1, -1, -1}, /* no finite number */
            {"X-RateLimit-Remaining: -1\r\n", -1, -1, -1},
            {"X-RateLimit-Remaining: -1e300\r\n", -1, -1, -1},
            {"X-RateLimit-Remaining: nan\r\n", -1, -1, -1},
            {"X-RateLimit-Remaining: inf\r\n", -1, -1, -1},
            {"X-RateLimit-Remaining: 0x10\r\n", -1, -1, -1},
            {"X-RateLimit-Remaining: 5 apples\r\n", -1, -1, -1},
            {"X-RateLimit-Remaining: \r\n", -1, -1, -1},
            {"X-RateLimit-Remaining: 0.5\r\n", -1, -1, 0},
            {"X-RateLimit-Remaining:   7   \r\n", -1, -1, 7},
            {"X-RateLimit-Reset-After: 0.4\r\n", -1, 400, -1},
            {"X-RateLimit-Reset-After: 0.0001\r\n", -1, 1, -1},
            {"X-RateLimit-Reset-After: 1e300\r\n", -1, JT_WEBHOOK_MAX_WAIT_MS, -1},
            {"X-RateLimit-Reset-After: 1e-300\r\n", -1, 1, -1},
            {"X-RateLimit-Reset-After: nan\r\n", -1, -1, -1},
            {"Retry-After: 2\r\n", 2000, -1, -1},
            {"retry-after: 1e300\r\n", JT_WEBHOOK_MAX_WAIT_MS, -1, -1},
            {"Retry-After: -1\r\n", -1, -1, -1},
            {"Retry-After: inf\r\n", -1, -1, -1},
            {"Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n", -1, -1, -1},
            {"Retry-After-Not: 5\r\n", -1, -1, -1},
            {"Retry-After 5\r\n", -1, -1, -1},
            {"HTTP/1.1 429 Too Many Requests\r\n", -1, -1, -1},
            {"\r\n", -1, -1, -1},
            {"", -1, -1, -1},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                jt_webhook_limits_t l = parse_one(cases[i].line);
                if (l.retry_after_ms != cases[i].retry_after_ms ||
                    l.reset_after_ms != cases[i].reset_after_ms ||
                    l.remaining != cases[i].remaining)
                        fail_msg("header %zu \"%s\": expected retry_after_ms %lld, reset_after_ms "
                                 "%lld, remaining %lld; actual %lld, %lld, %lld",
                                 i, cases[i].line, (long long)cases[i].retry_after_ms,
                                 (long long)cases[i].reset_after_ms, (long long)cases[i].remaining,
                                 (long long)l.retry_after_ms, (long long)l.reset_after_ms,
                                 (long long)l.remaining);
        }
}

/* A value cut by the buffer's length is read up to there, never beyond. */
static void test_header_cut(void **state) {
        const char *line = "Retry-After: 12345";
        char *buf = unterminated(line, strlen("Retry-After: 12"));
        jt_webhook_limits_t l;

        (void)state;
        jt_webhook_limits_init(&l);
        jt_webhook_parse_header(buf, strlen("Retry-After: 12"), &l);
        assert_int_equal(l.retry_after_ms, 12000);
        /* A NUL inside the value makes it no number. */
        memcpy(buf, "Retry-After: 1\0", 15);
        jt_webhook_parse_header(buf, 15, &l);
        assert_int_equal(l.retry_after_ms, -1);
        jt_webhook_parse_header(NULL, 0, &l);
        free(buf);
}

static void test_seconds(void **state) {
        static const struct {
                double s;
                int64_t want;
        } cases[] = {{0, 0},
                     {0.4, 400},
                     {0.0004, 1},
                     {2, 2000},
                     {900, JT_WEBHOOK_MAX_WAIT_MS},
                     {1e300, JT_WEBHOOK_MAX_WAIT_MS},
                     {DBL_MAX, JT_WEBHOOK_MAX_WAIT_MS},
                     {INFINITY, JT_WEBHOOK_MAX_WAIT_MS},
                     {-0.5, -1},
                     {-INFINITY, -1},
                     {NAN, -1}};
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int64_t got = jt_webhook_seconds_to_ms(cases[i].s);
                if (got != cases[i].want)
                        fail_msg("seconds %g: expected %lld ms, actual %lld", cases[i].s,
                                 (long long)cases[i].want, (long long)got);
        }
}

static void test_classify(void **state) {
        static const struct {
                long http;
                const char *body;
                int64_t remaining, reset_after_ms, retry_after_ms;
                jt_post_status_t status;
                int64_t wait_ms, hold_ms;
                bool maybe_delivered;
                const char *detail_has, *message_id;
        } cases[] = {
            {200, "{\"id\":\"1300000000000000001\"}", 4, 400, -1, JT_POST_OK, 0, 0, false,
             "HTTP 200", "1300000000000000001"},
            {200, "{\"id\":\"12\"}", 0, 400, -1, JT_POST_OK, 0, 400, false, "HTTP 200", "12"},
            {200, "{\"id\":\"not digits\"}", INT64_MAX, 400, -1, JT_POST_OK, 0, 0, false, NULL, ""},
            {204, NULL, -1, -1, -1, JT_POST_OK, 0, 0, false, "HTTP 204", ""},
            {301, "", -1, -1, -1, JT_POST_GONE, 0, 0, false, "redirect", ""},
            {302, "<html>moved</html>", -1, -1, -1, JT_POST_GONE, 0, 0, false, "redirect", ""},
            {307, NULL, -1, -1, -1, JT_POST_GONE, 0, 0, false, "HTTP 307, a redirect", ""},
            {308, NULL, -1, -1, -1, JT_POST_GONE, 0, 0, false, "redirect", ""},
            {300, NULL, -1, -1, -1, JT_POST_GONE, 0, 0, false, "redirect", ""},
            {408, "", -1, -1, -1, JT_POST_RETRY, 0, 0, false, "HTTP 408", ""},
            {425, "", -1, -1, -1, JT_POST_RETRY, 0, 0, false, "HTTP 425", ""},
            {500, "{\"message\":\"500: Internal Server Error\",\"code\":0}", -1, -1, -1,
             JT_POST_RETRY, 0, 0, true, "Internal Server Error", ""},
            {503, NULL, 0, 700, -1, JT_POST_RETRY, 0, 700, true, "HTTP 503", ""},
            {429, "{\"retry_after\":0.4}", 0, 400, -1, JT_POST_RETRY, 400, 400, false, "429", ""},
            {429, "{\"retry_after\":1e300}", -1, -1, -1, JT_POST_RETRY, JT_WEBHOOK_MAX_WAIT_MS,
             JT_WEBHOOK_MAX_WAIT_MS, false, "429", ""},
            {429, "{\"retry_after\":-5}", -1, -1, -1, JT_POST_RETRY, 1000, 1000, false, "429", ""},
            {429, "{\"retry_after\":\"nan\"}", -1, -1, -1, JT_POST_RETRY, 1000, 1000, false, "429",
             ""},
            {429, "{\"retry_after\":0.1}", -1, -1, 2000, JT_POST_RETRY, 2000, 2000, false, "429",
             ""},
            {429, "not json", -1, -1, -1, JT_POST_RETRY, 1000, 1000, false, "429", ""},
            {400, "{\"message\":\"Invalid Form Body\",\"code\":50035}", -1, -1, -1,
             JT_POST_REJECTED, 0, 0, false, "Invalid Form Body (code 50035)", ""},
            {401, NULL, -1, -1, -1, JT_POST_GONE, 0, 0, false, "HTTP 401", ""},
            {403, NULL, -1, -1, -1, JT_POST_GONE, 0, 0, false, "HTTP 403", ""},
            {404, "{\"message\":\"Unknown Webhook\",\"code\":10015}", -1, -1, -1, JT_POST_GONE, 0,
             0, false, "Unknown Webhook", ""},
            {413, "line\nbreak\x1b[31m", -1, -1, -1, JT_POST_REJECTED, 0, 0, false,
             "line break [31m", ""},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                jt_webhook_limits_t l = {cases[i].retry_after_ms, cases[i].reset_after_ms,
                                         cases[i].remaining};
                size_t len = cases[i].body ? strlen(cases[i].body) : 0;
                char *body = cases[i].body ? unterminated(cases[i].body, len) : NULL;
                jt_post_result_t r;

                jt_webhook_classify(cases[i].http, body, len, &l, &r);
                free(body);
                if (r.status != cases[i].status || r.wait_ms != cases[i].wait_ms ||
                    r.hold_ms != cases[i].hold_ms ||
                    r.maybe_delivered != cases[i].maybe_delivered ||
                    r.http_status != cases[i].http ||
                    (cases[i].detail_has && !strstr(r.detail, cases[i].detail_has)) ||
                    strcmp(r.message_id, cases[i].message_id) != 0)
                        fail_msg("HTTP %ld %s: expected status %d wait %lld hold %lld maybe %d "
                                 "detail with \"%s\" id \"%s\"; actual status %d wait %lld hold "
                                 "%lld maybe %d detail \"%s\" id \"%s\"",
                                 cases[i].http, cases[i].body ? cases[i].body : "(no body)",
                                 cases[i].status, (long long)cases[i].wait_ms,
                                 (long long)cases[i].hold_ms, cases[i].maybe_delivered,
                                 cases[i].detail_has ? cases[i].detail_has : "",
                                 cases[i].message_id, r.status, (long long)r.wait_ms,
                                 (long long)r.hold_ms, r.maybe_delivered, r.detail, r.message_id);
        }
}

/* A long body is quoted cut, never read past its length. */
static void test_classify_long_body(void **state) {
        size_t len = 100000;
        char *body = malloc(len);
        jt_webhook_limits_t l;
        jt_post_result_t r;

        (void)state;
        assert_non_null(body);
        memset(body, 'x', len);
        jt_webhook_limits_init(&l);
        jt_webhook_classify(502, body, len, &l, &r);
        assert_int_equal(r.status, JT_POST_RETRY);
        assert_true(strlen(r.detail) < 140);
        free(body);
}

static void test_url_check(void **state) {
        static const struct {
                const char *url;
                bool accepted;
                const char *shown; /* refused: the message names this, and no more of the URL */
        } cases[] = {
            {"https://discord.com/api/webhooks/42/SECRETtoken_abc", true, NULL},
            {"https://discord.com/api/webhooks/42/SECRETtoken_abc?thread_id=9", true, NULL},
            {"http://127.0.0.1:8080/api/webhooks/42/SECRETtoken_abc", true, NULL},
            {"http://127.9.8.7/api/webhooks/42/SECRETtoken_abc", true, NULL},
            {"http://127.1/api/webhooks/42/SECRETtoken_abc", true, NULL},
            {"http://localhost:1/api/webhooks/42/SECRETtoken_abc", true, NULL},
            {"http://[::1]:9/api/webhooks/42/SECRETtoken_abc", true, NULL},
            {"http://example.com/api/webhooks/42/SECRETtoken_abc", false, "http://example.com"},
            {"http://discord.com/api/webhooks/42/SECRETtoken_abc", false, "http://discord.com"},
            {"http://10.0.0.1/api/webhooks/42/SECRETtoken_abc", false, "http://10.0.0.1"},
            {"http://128.0.0.1/api/webhooks/42/SECRETtoken_abc", false, "http://128.0.0.1"},
            {"http://127.0.0.1.nip.io/api/webhooks/42/SECRETtoken_abc", false,
             "http://127.0.0.1.nip.io"},
            {"http://localhost.example.com/api/webhooks/42/SECRETtoken_abc", false,
             "http://localhost.example.com"},
            {"http://[::2]/api/webhooks/42/SECRETtoken_abc", false, "http://[::2]"},
            {"http://user:SECRETtoken_abc@example.com/api/webhooks/42/x", false,
             "http://example.com"},
            {"ftp://127.0.0.1/api/webhooks/42/SECRETtoken_abc", false, "ftp://127.0.0.1"},
            {"https://discord.com", false, "https://discord.com"},
            {"https://discord.com/", false, "https://discord.com"},
            {"not a url SECRETtoken_abc", false, NULL},
            {"", false, NULL},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                jt_error_t err;
                jt_webhook_t *w;

                jt_error_clear(&err);
                w = jt_webhook_new(cases[i].url, 1000, &err);
                if (cases[i].accepted != (w != NULL))
                        fail_msg("%s: expected %s, actual %s (%s)", cases[i].url,
                                 cases[i].accepted ? "accepted" : "refused",
                                 w ? "accepted" : "refused", err.message);
                if (w) {
                        assert_null(strstr(jt_webhook_redacted(w), "SECRETtoken_abc"));
                        jt_webhook_destroy(w);
                        continue;
                }
                if (err.domain != JT_ERR_CONFIG || strstr(err.message, "SECRETtoken_abc") ||
                    strstr(err.message, "/webhooks/42") ||
                    (cases[i].shown && !strstr(err.message, cases[i].shown)))
                        fail_msg("%s: expected a config error naming \"%s\" and no path or "
                                 "token, actual (domain %d) %s",
                                 cases[i].url, cases[i].shown ? cases[i].shown : "(nothing)",
                                 err.domain, err.message);
        }
        jt_webhook_destroy(NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_headers),
            cmocka_unit_test(test_header_cut),
            cmocka_unit_test(test_seconds),
            cmocka_unit_test(test_classify),
            cmocka_unit_test(test_classify_long_body),
            cmocka_unit_test(test_url_check),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
