/* A Discord webhook over libcurl: POST a message (?wait=true, so the answer carries its id),
 * PATCH it later, and classify each answer the way the notifier must act on it. Discord's rate
 * limit headers are remembered, so the next request waits until the bucket has room. The
 * webhook URL's token appears in nothing this module returns or logs. */
#ifndef JT_NOTIFIER_WEBHOOK_H
#define JT_NOTIFIER_WEBHOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_error.h"

typedef enum {
        JT_POST_OK = 0,   /* 2xx */
        JT_POST_RETRY,    /* 429, 5xx, network: try again after wait_ms (0: caller's backoff) */
        JT_POST_REJECTED, /* another 4xx: Discord will never take this payload; move on */
        JT_POST_GONE,     /* 401, 403, 404: the webhook is deleted or the URL wrong; stop */
} jt_post_status_t;

typedef struct {
        jt_post_status_t status;
        long http_status;     /* 0 when no answer came */
        int64_t wait_ms;      /* RETRY: what Discord asked for (429), else 0 */
        bool maybe_delivered; /* the request may have reached Discord (timeouts, 5xx) */
        char message_id[32];  /* OK: the posted or edited message's id, "" if none */
        char detail[256];     /* why, for logs: never the token */
} jt_post_result_t;

typedef struct jt_webhook_s jt_webhook_t;

/* Checks url (http or https, with a host and a path) and keeps it. timeout_ms bounds one
 * request. The error shows the URL redacted. */
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

#endif
