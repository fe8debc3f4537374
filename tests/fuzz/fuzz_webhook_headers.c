/* Fuzz target: how the notifier reads Discord's answers (notifier/webhook.c): the header
 * callback (Retry-After, X-RateLimit-*), the body callback and its 64 KiB cap, and the
 * classification of status and body (ids, error texts, retry_after); also the webhook URL's
 * checks and redaction. webhook.c is compiled into this file, because those readers are static
 * and the real path needs a server: the calls into it are in run_answer() and run_url().
 * Checked: waits stay within the cap, the token is in no detail text, ids are digits.
 * Input: 'U' then a webhook URL; or two bytes of HTTP status, one of body repeats, header lines
 * up to an empty line, then the body. */
#include "../../notifier/webhook.c"

#include "jt_fuzz.h"

#define TOKEN "fuzzTOKENfuzzTOKENfuzz"
#define URL   "https://discord.com/api/webhooks/123456/" TOKEN

static jt_webhook_t *hook;

static void check_result(const jt_post_result_t *res) {
        if (!memchr(res->detail, '\0', sizeof(res->detail)) ||
            !memchr(res->message_id, '\0', sizeof(res->message_id)))
                jt_fuzz_finding("webhook-unterminated", "detail or message id not terminated");
        if (strstr(res->detail, TOKEN))
                jt_fuzz_finding("webhook-token", "the token is in the detail: %s", res->detail);
        if (strspn(res->message_id, "0123456789") != strlen(res->message_id))
                jt_fuzz_finding("webhook-id", "message id %s", res->message_id);
        if (res->wait_ms < 0 || res->wait_ms > JT_WEBHOOK_MAX_WAIT_MS)
                jt_fuzz_finding("webhook-wait", "wait %lld ms", (long long)res->wait_ms);
        if (jt_webhook_ready_in_ms(hook) > JT_WEBHOOK_MAX_WAIT_MS)
                jt_fuzz_finding("webhook-ready", "next request in %lld ms",
                                (long long)jt_webhook_ready_in_ms(hook));
}

/* What jt_webhook_send does with curl's callbacks and the status, without the network. */
static void run_answer(const uint8_t *data, size_t size) {
        answer_t a = {0};
        jt_post_result_t res;
        long http = (long)((data[0] << 8 | data[1]) % 1000);
        int repeats = data[2] >= 0xE0 ? 1 + (data[2] & 0x1F) : 1;
        const uint8_t *p = data + 3, *end = data + size;

        jt_webhook_limits_init(&a.limits);

        /* Header lines as curl hands them over: one at a time, with their line end. */
        while (p < end) {
                const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
                char *line = malloc(len); /* exactly len bytes: an overread is an ASan report */
                if (!line)
                        abort();
                memcpy(line, p, len);
                on_header(line, 1, len, &a);
                free(line);
                p += len;
                if (len <= 2 && (len == 1 || p[-2] == '\r'))
                        break; /* the empty line that ends the headers */
        }
        for (int i = 0; i < repeats && p < end; i++) {
                size_t len = (size_t)(end - p);
                char *chunk = malloc(len);
                if (!chunk)
                        abort();
                memcpy(chunk, p, len);
                on_body(chunk, 1, len, &a);
                free(chunk);
        }
        memset(&res, 0, sizeof(res));
        hook->ready_at_ms = 0;
        jt_webhook_classify(http, a.data, a.len, &a.limits, &res);
        if (res.hold_ms > 0)
                hook->ready_at_ms = jt_sat_add_i64(jt_time_mono_ms(), res.hold_ms);
        scrub(hook, res.detail);
        check_result(&res);
        free(a.data);
}

/* jt_webhook_new's checks and jt_webhook_redact on any URL: the token never in the output. */
static void run_url(const char *url) {
        char out[256];
        const char *hooks = strstr(url, "/webhooks/"), *id_end, *tok_end;
        jt_webhook_t *w;
        jt_error_t err;

        jt_webhook_redact(url, out, sizeof(out));
        if ((w = jt_webhook_new(url, 1000, &err)) != NULL) {
                snprintf(out, sizeof(out), "%s", jt_webhook_redacted(w));
                jt_webhook_destroy(w);
        }
        /* /webhooks/ID/TOKEN: a token of 8 or more characters that the part kept (up to the ID)
         * does not contain by chance must not be shown. */
        if (!hooks || !(id_end = strchr(hooks + 10, '/')))
                return;
        tok_end = id_end + 1 + strcspn(id_end + 1, "/?#");
        if (tok_end - (id_end + 1) >= 8) {
                char *token = strndup(id_end + 1, (size_t)(tok_end - (id_end + 1)));
                char *kept = strndup(url, (size_t)(id_end - url));
                if (token && kept && !strstr(kept, token) && strstr(out, token))
                        jt_fuzz_finding("webhook-redact", "token shown: %s -> %s", url, out);
                free(token);
                free(kept);
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        jt_error_t err;
        (void)argc;
        (void)argv;
        if (!(hook = jt_webhook_new(URL, 1000, &err)))
                jt_fuzz_finding("setup", "%s", err.message);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!hook)
                LLVMFuzzerInitialize(NULL, NULL);
        if (size >= 1 && data[0] == 'U') {
                char *url = jt_fuzz_cstr(data + 1, size - 1);
                run_url(url);
                free(url);
        } else if (size >= 3) {
                run_answer(data, size);
        }
        return 0;
}
