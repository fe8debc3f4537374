/* A Discord webhook over libcurl: POST a message (?wait=true, so the answer carries its id),
 * PATCH it later, and classify each answer the way the notifier must act on it. Discord's rate
 * limit headers are remembered, so the next request waits until the bucket has room. The
 * webhook URL's token appears in nothing this module returns or logs, and travels only over
 * https (http is allowed to a loopback address, for tests) to the URL's own host: no redirect
 * is ever followed. */
#ifndef JT_NOTIFIER_WEBHOOK_H
#define JT_NOTIFIER_WEBHOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"

/* The longest wait a 429 or a rate-limit header can impose; more is a bug or hostile. */
#define JT_WEBHOOK_MAX_WAIT_MS (15 * 60 * 1000)

typedef enum {
        JT_POST_OK = 0,   /* 2xx */
        JT_POST_RETRY,    /* 408, 425, 429, 5xx, network: try again after wait_ms (0: caller's
                           * backoff) */
        JT_POST_REJECTED, /* another 4xx: Discord will never take this payload; move on */
        JT_POST_GONE,     /* 401, 403, 404 (the webhook is deleted or the URL wrong) and 3xx (the
                           * URL is not the webhook's address: never followed, since the token
                           * would go along): only a new URL helps, so stop */
} jt_post_status_t;

typedef struct {
        jt_post_status_t status;
        long http_status;     /* 0 when no answer came */
        int64_t wait_ms;      /* RETRY: what Discord asked for (429), else 0 */
        int64_t hold_ms;      /* no request for this long: a 429, or an empty rate-limit bucket */
        bool maybe_delivered; /* the request may have reached Discord (timeouts, 5xx) */
        char message_id[32];  /* OK: the posted or edited message's id, "" if none */
        char detail[256];     /* why, for logs: never the token */
} jt_post_result_t;

/* What Discord's rate-limit headers of one answer say, checked: a value that is not a plain
 * non-negative number ("-1", "nan", "inf", "0x10", a date) counts as absent, and a huge one
 * ("1e300") saturates instead of overflowing. */
typedef struct {
        int64_t retry_after_ms; /* Retry-After; -1: absent */
        int64_t reset_after_ms; /* X-RateLimit-Reset-After; -1: absent */
        int64_t remaining;      /* X-RateLimit-Remaining, at most INT64_MAX; -1: absent */
} jt_webhook_limits_t;

typedef struct jt_webhook_s jt_webhook_t;

/* Checks url and keeps it: https with a host and a path, or http to a loopback address
 * (127.0.0.0/8, ::1, localhost; anything else would send the token in clear text). timeout_ms
 * bounds one request. A refused URL is a JT_ERR_CONFIG error naming only its scheme and
 * host. */
jt_webhook_t *jt_webhook_new(const char *url, int timeout_ms, jt_error_t *err);
void jt_webhook_destroy(jt_webhook_t *w);

/* The URL for logs: "https://discord.com/api/webhooks/123/..." (the token and any query cut). */
const char *jt_webhook_redacted(const jt_webhook_t *w);

/* Writes url redacted into out (for errors about a URL that was refused). */
void jt_webhook_redact(const char *url, char *out, size_t size);

/* Milliseconds to wait before the next request because the last answer said the rate limit
 * bucket is empty (X-RateLimit-Remaining: 0 with X-RateLimit-Reset-After), else 0. */
int64_t jt_webhook_ready_in_ms(const jt_webhook_t *w);

/* Posts payload as a new message (message_id NULL) or edits message message_id. */
void jt_webhook_send(jt_webhook_t *w, const char *message_id, const json_t *payload,
                     jt_post_result_t *res);

/* --- the reading of answers, without a request (unit tests and fuzzing) ------------------- */

/* Every limit absent. */
void jt_webhook_limits_init(jt_webhook_limits_t *l);

/* Reads one response header line as libcurl hands it ("Name: value\r\n", len bytes, not
 * NUL-terminated) into l when it is one of the three rate-limit headers; other lines are
 * ignored. Any bytes are safe. */
void jt_webhook_parse_header(const char *line, size_t len, jt_webhook_limits_t *l);

/* Seconds as Discord writes them (0.4, 2) as whole milliseconds rounded up, at most
 * JT_WEBHOOK_MAX_WAIT_MS; -1 for a negative number or NaN. */
int64_t jt_webhook_seconds_to_ms(double s);

/* Classifies an answer: the HTTP status http, its body (len bytes, not NUL-terminated, NULL
 * when none) and its limits. Fills every field of *res; detail never quotes more than 120
 * bytes of the body, with control characters blanked. */
void jt_webhook_classify(long http, const char *body, size_t len, const jt_webhook_limits_t *l,
                         jt_post_result_t *res);

#endif
