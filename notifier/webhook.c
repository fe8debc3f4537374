/* Discord webhook requests and the reading of their answers (webhook.h). */
#include "webhook.h"

#include <curl/curl.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_BODY        (64 * 1024)
#define MAX_WAIT_MS     (15 * 60 * 1000) /* a retry_after beyond this is a bug or hostile */
#define DEFAULT_WAIT_MS 1000             /* a 429 that says nothing */

struct jt_webhook_s {
        CURL *curl;
        char *base;  /* the URL without its query */
        char *query; /* "thread_id=..." or NULL */
        char *token; /* the last path segment, scrubbed from every text we return */
        char redacted[256];
        int timeout_ms;
        int64_t ready_at_ms; /* monotonic: no request before this */
};

typedef struct {
        char *data;
        size_t len;
        bool truncated;
        double retry_after_s, reset_after_s;
        long remaining; /* -1: header absent */
} answer_t;

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void jt_webhook_redact(const char *url, char *out, size_t size) {
        const char *hooks = strstr(url, "/webhooks/");
        const char *host = strstr(url, "://");
        const char *keep_to;

        if (hooks && (keep_to = strchr(hooks + strlen("/webhooks/"), '/')) != NULL)
                snprintf(out, size, "%.*s/***", (int)(keep_to - url), url);
        else if (host && (keep_to = strchr(host + 3, '/')) != NULL)
                snprintf(out, size, "%.*s/***", (int)(keep_to - url), url);
        else
                snprintf(out, size, "***");
}

jt_webhook_t *jt_webhook_new(const char *url, int timeout_ms, jt_error_t *err) {
        jt_webhook_t *w;
        const char *scheme_end, *path, *q, *last;
        char red[256];

        jt_webhook_redact(url ? url : "", red, sizeof(red));
        if (!url || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) ||
            !(scheme_end = strstr(url, "://")) || !(path = strchr(scheme_end + 3, '/')) ||
            path == scheme_end + 3 || path[1] == '\0' || strpbrk(url, " \t\r\n")) {
                jt_error_set(err, JT_ERR_CONFIG, 0,
                             "--webhook-url must be an http(s) URL with a host and a path, like "
                             "https://discord.com/api/webhooks/ID/TOKEN (got %s)",
                             red);
                return NULL;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (!(w = calloc(1, sizeof(*w))) || !(w->curl = curl_easy_init())) {
                free(w);
                jt_error_set(err, JT_ERR_CONFIG, 0, "cannot set up libcurl");
                return NULL;
        }
        q = strchr(url, '?');
        w->base = q ? strndup(url, (size_t)(q - url)) : strdup(url);
        w->query = q && q[1] ? strdup(q + 1) : NULL;
        while (strlen(w->base) > 1 && w->base[strlen(w->base) - 1] == '/')
                w->base[strlen(w->base) - 1] = '\0';
        last = strrchr(w->base, '/');
        w->token = strdup(last && strlen(last + 1) >= 8 ? last + 1 : "\x01no-token\x01");
        snprintf(w->redacted, sizeof(w->redacted), "%s", red);
        w->timeout_ms = timeout_ms;
        return w;
}

void jt_webhook_destroy(jt_webhook_t *w) {
        if (!w)
                return;
        curl_easy_cleanup(w->curl);
        free(w->base);
        free(w->query);
        free(w->token);
        free(w);
}

const char *jt_webhook_redacted(const jt_webhook_t *w) {
        return w->redacted;
}

int64_t jt_webhook_ready_in_ms(const jt_webhook_t *w) {
        int64_t left = w->ready_at_ms - mono_ms();
        return left > 0 ? left : 0;
}

/* Replaces every occurrence of the token in text by "***" (curl messages can quote URLs). */
static void scrub(const jt_webhook_t *w, char *text) {
        size_t tl = strlen(w->token);
        char *p;

        while ((p = strstr(text, w->token)) != NULL) {
                memcpy(p, "***", 3);
                memmove(p + 3, p + tl, strlen(p + tl) + 1);
        }
}

static size_t on_body(char *ptr, size_t size, size_t n, void *ud) {
        answer_t *a = ud;
        size_t len = size * n, take = len;

        if (a->len + take > MAX_BODY) {
                take = MAX_BODY - a->len;
                a->truncated = true;
        }
        if (take) {
                char *grown = realloc(a->data, a->len + take + 1);
                if (!grown)
                        return 0;
                a->data = grown;
                memcpy(a->data + a->len, ptr, take);
                a->len += take;
                a->data[a->len] = '\0';
        }
        return len;
}

static bool header_is(const char *line, size_t len, const char *name, const char **value) {
        size_t nl = strlen(name);
        if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
                return false;
        *value = line + nl + 1;
        return true;
}

static double header_number(const char *v, size_t len) {
        char buf[64];
        char *end;
        double d;

        snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) - 1 ? len : sizeof(buf) - 1), v);
        d = strtod(buf, &end);
        return end == buf || !isfinite(d) || d < 0 ? -1 : d;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud) {
        answer_t *a = ud;
        size_t len = size * n;
        const char *v;

        if (header_is(line, len, "retry-after", &v))
                a->retry_after_s = header_number(v, len - (size_t)(v - line));
        else if (header_is(line, len, "x-ratelimit-reset-after", &v))
                a->reset_after_s = header_number(v, len - (size_t)(v - line));
        else if (header_is(line, len, "x-ratelimit-remaining", &v))
                a->remaining = (long)header_number(v, len - (size_t)(v - line));
        return len;
}

static int64_t seconds_to_ms(double s) {
        if (s < 0)
                return -1;
        if (s * 1000.0 > MAX_WAIT_MS)
                return MAX_WAIT_MS;
        return (int64_t)ceil(s * 1000.0);
}

/* A Discord error body: {"message": "...", "code": N}; anything else is shown cut. */
static void body_reason(const answer_t *a, char *out, size_t size) {
        json_t *doc = a->data ? json_loads(a->data, 0, NULL) : NULL;
        const char *m = json_string_value(json_object_get(doc, "message"));

        if (m)
                snprintf(out, size, "%s (code %lld)", m,
                         (long long)json_integer_value(json_object_get(doc, "code")));
        else
                snprintf(out, size, "%.120s", a->data ? a->data : "(no body)");
        for (char *p = out; *p; p++)
                if ((unsigned char)*p < 0x20)
                        *p = ' ';
        json_decref(doc);
}

static void read_answer(jt_webhook_t *w, const answer_t *a, long http, jt_post_result_t *res) {
        json_t *doc;
        const char *id;
        int64_t wait;

        res->http_status = http;
        if (a->remaining == 0 && a->reset_after_s >= 0)
                w->ready_at_ms = mono_ms() + seconds_to_ms(a->reset_after_s);
        if (http >= 200 && http < 300) {
                res->status = JT_POST_OK;
                doc = a->data ? json_loads(a->data, 0, NULL) : NULL;
                id = json_string_value(json_object_get(doc, "id"));
                if (id && strlen(id) < sizeof(res->message_id) &&
                    strspn(id, "0123456789") == strlen(id))
                        snprintf(res->message_id, sizeof(res->message_id), "%s", id);
                json_decref(doc);
                snprintf(res->detail, sizeof(res->detail), "HTTP %ld", http);
                return;
        }
        body_reason(a, res->detail, sizeof(res->detail));
        if (http == 429) {
                doc = a->data ? json_loads(a->data, 0, NULL) : NULL;
                wait = seconds_to_ms(json_number_value(json_object_get(doc, "retry_after")));
                if (!json_is_number(json_object_get(doc, "retry_after")))
                        wait = -1;
                if (seconds_to_ms(a->retry_after_s) > wait)
                        wait = seconds_to_ms(a->retry_after_s);
                json_decref(doc);
                res->status = JT_POST_RETRY;
                res->wait_ms = wait > 0 ? wait : DEFAULT_WAIT_MS;
                w->ready_at_ms = mono_ms() + res->wait_ms;
                snprintf(res->detail, sizeof(res->detail),
                         "HTTP 429 rate limited: retry after %lld ms", (long long)res->wait_ms);
        } else if (http >= 500) {
                res->status = JT_POST_RETRY;
                res->maybe_delivered = true;
        } else if (http == 401 || http == 403 || http == 404) {
                res->status = JT_POST_GONE;
        } else {
                res->status = JT_POST_REJECTED;
        }
        if (res->status != JT_POST_RETRY || http != 429) {
                char reason[200];
                snprintf(reason, sizeof(reason), "%s", res->detail);
                snprintf(res->detail, sizeof(res->detail), "HTTP %ld: %s", http, reason);
        }
}

void jt_webhook_send(jt_webhook_t *w, const char *message_id, const json_t *payload,
                     jt_post_result_t *res) {
        char *body = json_dumps(payload, JSON_COMPACT);
        char *url = NULL, errbuf[CURL_ERROR_SIZE] = "";
        answer_t a = {.retry_after_s = -1, .reset_after_s = -1, .remaining = -1};
        struct curl_slist *headers = NULL;
        CURLcode rc;
        long http = 0;
        size_t url_len;

        memset(res, 0, sizeof(*res));
        url_len = strlen(w->base) + (message_id ? strlen(message_id) : 0) +
                  (w->query ? strlen(w->query) : 0) + 32;
        if (!body || !(url = malloc(url_len))) {
                res->status = JT_POST_REJECTED;
                snprintf(res->detail, sizeof(res->detail), "out of memory building the request");
                goto done;
        }
        if (message_id)
                snprintf(url, url_len, "%s/messages/%s%s%s", w->base, message_id,
                         w->query ? "?" : "", w->query ? w->query : "");
        else
                snprintf(url, url_len, "%s?wait=true%s%s", w->base, w->query ? "&" : "",
                         w->query ? w->query : "");
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_reset(w->curl);
        curl_easy_setopt(w->curl, CURLOPT_URL, url);
        curl_easy_setopt(w->curl, CURLOPT_CUSTOMREQUEST, message_id ? "PATCH" : "POST");
        curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "joytify-notifier/" JT_VERSION);
        curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
        curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(w->timeout_ms < 5000 ? w->timeout_ms : 5000));
        curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(w->curl, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(w->curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(w->curl, CURLOPT_HEADERDATA, &a);
        rc = curl_easy_perform(w->curl);
        if (rc != CURLE_OK) {
                res->status = JT_POST_RETRY;
                /* Refused or unresolved: nothing reached Discord. Anything later may have. */
                res->maybe_delivered = rc != CURLE_COULDNT_CONNECT &&
                                       rc != CURLE_COULDNT_RESOLVE_HOST &&
                                       rc != CURLE_COULDNT_RESOLVE_PROXY;
                snprintf(res->detail, sizeof(res->detail), "%s",
                         errbuf[0] ? errbuf : curl_easy_strerror(rc));
                goto done;
        }
        curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &http);
        read_answer(w, &a, http, res);
done:
        scrub(w, res->detail);
        curl_slist_free_all(headers);
        free(a.data);
        free(url);
        free(body);
}
