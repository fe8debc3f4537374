/* Discord webhook requests and the reading of their answers (webhook.h). */
#include "webhook.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jt_sat.h"
#include "jt_secret.h"
#include "jt_time.h"
#include "jt_url.h"

#define MAX_BODY        (64 * 1024)
#define DEFAULT_WAIT_MS 1000 /* a 429 that says nothing */
#define BODY_QUOTE_MAX  120  /* bytes of an error body quoted in a log line */

struct jt_webhook_s {
        CURL *curl;
        char *base;  /* the URL without its query */
        char *query; /* "thread_id=..." or NULL */
        char *token; /* the last path segment, scrubbed from every text we return */
        char redacted[256];
        const char *scheme; /* "https", or "http" to a loopback address: the only protocol */
        int timeout_ms;
        int64_t ready_at_ms; /* monotonic: no request before this */
};

typedef struct {
        char *data;
        size_t len;
        bool truncated;
        jt_webhook_limits_t limits;
} answer_t;

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

/* The URL's scheme if the token may travel to it: "https", or "http" to a loopback address. */
static const char *allowed_scheme(const char *url, jt_error_t *err) {
        char scheme[16], host[256];
        const char *scheme_end, *path;

        if (!url || !jt_url_origin(url, scheme, sizeof(scheme), host, sizeof(host)) || !*host) {
                jt_error_set(err, JT_ERR_CONFIG, 0,
                             "--webhook-url must be an https URL with a host and a path, like "
                             "https://discord.com/api/webhooks/ID/TOKEN (got something that is "
                             "not a URL; not shown, since it may hold the token)");
                return NULL;
        }
        if (strcmp(scheme, "https") != 0 &&
            (strcmp(scheme, "http") != 0 || !jt_url_host_is_loopback(host))) {
                jt_error_set(err, JT_ERR_CONFIG, 0,
                             "--webhook-url must be https (got %s://%s): the URL holds the "
                             "webhook's token, which %s would send %s; http is accepted only to "
                             "a loopback address (127.0.0.0/8, ::1, localhost), for tests",
                             scheme, host, scheme,
                             strcmp(scheme, "http") == 0 ? "in clear text"
                                                         : "where it does not belong");
                return NULL;
        }
        /* The path is checked on the text: the request URLs are built from it. */
        if (!(scheme_end = strstr(url, "://")) || !(path = strchr(scheme_end + 3, '/')) ||
            path == scheme_end + 3 || path[1] == '\0' || strpbrk(url, " \t\r\n")) {
                jt_error_set(err, JT_ERR_CONFIG, 0,
                             "--webhook-url must be an https URL with a host and a path, like "
                             "https://discord.com/api/webhooks/ID/TOKEN (got %s://%s with no "
                             "path, or with blanks)",
                             scheme, host);
                return NULL;
        }
        return strcmp(scheme, "https") == 0 ? "https" : "http";
}

jt_webhook_t *jt_webhook_new(const char *url, int timeout_ms, jt_error_t *err) {
        jt_webhook_t *w;
        const char *q, *last, *scheme;

        if (!(scheme = allowed_scheme(url, err)))
                return NULL;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (!(w = calloc(1, sizeof(*w))) || !(w->curl = curl_easy_init())) {
                free(w);
                jt_error_set(err, JT_ERR_CONFIG, 0, "cannot set up libcurl");
                return NULL;
        }
        /* Each request sets these again (after a reset); a libcurl too old for them is found
         * here, at start, rather than at the first outcome. */
        if (curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, scheme) != CURLE_OK ||
            curl_easy_setopt(w->curl, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK) {
                jt_webhook_destroy(w);
                jt_error_set(err, JT_ERR_CONFIG, 0,
                             "libcurl %s cannot restrict protocols (CURLOPT_PROTOCOLS_STR needs "
                             "7.85 or later)",
                             curl_version_info(CURLVERSION_NOW)->version);
                return NULL;
        }
        w->scheme = scheme;
        q = strchr(url, '?');
        w->base = q ? strndup(url, (size_t)(q - url)) : strdup(url);
        w->query = q && q[1] ? strdup(q + 1) : NULL;
        while (strlen(w->base) > 1 && w->base[strlen(w->base) - 1] == '/')
                w->base[strlen(w->base) - 1] = '\0';
        last = strrchr(w->base, '/');
        w->token = strdup(last && strlen(last + 1) >= 8 ? last + 1 : "\x01no-token\x01");
        /* Out of every log line and error too, not only of what this module returns (an
         * answer's body quoting the URL reaches the logs through res->detail). */
        if (w->token && w->token[0] != '\x01')
                jt_secret_add(w->token, strlen(w->token));
        jt_webhook_redact(url, w->redacted, sizeof(w->redacted));
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
        int64_t left = jt_sat_sub_i64(w->ready_at_ms, jt_time_mono_ms());
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

void jt_webhook_limits_init(jt_webhook_limits_t *l) {
        l->retry_after_ms = -1;
        l->reset_after_ms = -1;
        l->remaining = -1;
}

/* The value of header name in line, or NULL (line not NUL-terminated: *vlen bytes). */
static const char *header_value(const char *line, size_t len, const char *name, size_t *vlen) {
        size_t nl = strlen(name);

        if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
                return NULL;
        *vlen = len - nl - 1;
        return line + nl + 1;
}

/* A header value as a non-negative decimal number ("2", "0.4", "1e300", "1e-3"), blanks around
 * it allowed; -1 for anything else: empty, negative, "nan", "inf", hex, trailing text. */
static double header_number(const char *v, size_t len) {
        char buf[64], *end;
        double d;

        while (len && (*v == ' ' || *v == '\t'))
                v++, len--;
        while (len && (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '\r' ||
                       v[len - 1] == '\n'))
                len--;
        if (len == 0 || len >= sizeof(buf) || v[0] < '0' || v[0] > '9')
                return -1;
        for (size_t i = 0; i < len; i++)
                if (!strchr("0123456789.eE+-", v[i]) || v[i] == '\0')
                        return -1;
        memcpy(buf, v, len);
        buf[len] = '\0';
        d = strtod(buf, &end);
        return *end != '\0' || !isfinite(d) || d < 0 ? -1 : d;
}

void jt_webhook_parse_header(const char *line, size_t len, jt_webhook_limits_t *l) {
        const char *v;
        size_t vlen;
        double d;
        int64_t n;

        if (!line)
                return;
        if ((v = header_value(line, len, "retry-after", &vlen)) != NULL) {
                l->retry_after_ms = jt_webhook_seconds_to_ms(header_number(v, vlen));
        } else if ((v = header_value(line, len, "x-ratelimit-reset-after", &vlen)) != NULL) {
                l->reset_after_ms = jt_webhook_seconds_to_ms(header_number(v, vlen));
        } else if ((v = header_value(line, len, "x-ratelimit-remaining", &vlen)) != NULL) {
                d = header_number(v, vlen);
                /* A fraction rounds down: "0.5" leaves no room, like 0. */
                l->remaining = d >= 0 && jt_sat_i64_from_double(d, &n) ? n : -1;
        }
}

static size_t on_header(char *line, size_t size, size_t n, void *ud) {
        answer_t *a = ud;
        jt_webhook_parse_header(line, size * n, &a->limits);
        return size * n;
}

int64_t jt_webhook_seconds_to_ms(double s) {
        if (isnan(s) || s < 0)
                return -1;
        /* Compared before any conversion: 1e300 seconds is no integer. */
        if (s * 1000.0 >= (double)JT_WEBHOOK_MAX_WAIT_MS)
                return JT_WEBHOOK_MAX_WAIT_MS;
        return (int64_t)ceil(s * 1000.0);
}

/* A Discord error body: {"message": "...", "code": N}; anything else is shown cut. */
static void body_reason(const json_t *doc, const char *body, size_t len, char *out, size_t size) {
        const char *m = json_string_value(json_object_get(doc, "message"));
        size_t shown;

        if (m) {
                snprintf(out, size, "%.200s (code %lld)", m,
                         (long long)json_integer_value(json_object_get(doc, "code")));
        } else if (body && len) {
                shown = len < BODY_QUOTE_MAX ? len : BODY_QUOTE_MAX;
                snprintf(out, size, "%.*s", (int)shown, body);
        } else {
                snprintf(out, size, "(no body)");
        }
        for (char *p = out; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = ' ';
}

/* 429's wait: the larger of the body's retry_after and the Retry-After header. */
static int64_t rate_limited_wait(const json_t *doc, const jt_webhook_limits_t *l) {
        const json_t *ra = json_object_get(doc, "retry_after");
        int64_t wait = json_is_number(ra) ? jt_webhook_seconds_to_ms(json_number_value(ra)) : -1;

        if (l->retry_after_ms > wait)
                wait = l->retry_after_ms;
        return wait > 0 ? wait : DEFAULT_WAIT_MS;
}

void jt_webhook_classify(long http, const char *body, size_t len, const jt_webhook_limits_t *l,
                         jt_post_result_t *res) {
        json_t *doc = body && len ? json_loadb(body, len, 0, NULL) : NULL;
        const char *id, *what = NULL;
        char reason[200];

        memset(res, 0, sizeof(*res));
        res->http_status = http;
        if (l->remaining == 0 && l->reset_after_ms >= 0)
                res->hold_ms = l->reset_after_ms;
        if (http >= 200 && http < 300) {
                res->status = JT_POST_OK;
                id = json_string_value(json_object_get(doc, "id"));
                if (id && strlen(id) < sizeof(res->message_id) &&
                    strspn(id, "0123456789") == strlen(id))
                        snprintf(res->message_id, sizeof(res->message_id), "%s", id);
                snprintf(res->detail, sizeof(res->detail), "HTTP %ld", http);
                goto done;
        }
        body_reason(doc, body, len, reason, sizeof(reason));
        if (http == 429) {
                res->status = JT_POST_RETRY;
                res->wait_ms = rate_limited_wait(doc, l);
                res->hold_ms = res->wait_ms;
                snprintf(res->detail, sizeof(res->detail),
                         "HTTP 429 rate limited: retry after %lld ms", (long long)res->wait_ms);
                goto done;
        }
        if (http >= 300 && http < 400) {
                /* Following would send the token to wherever the answer points; Discord answers
                 * 301 to an old or mistyped address, and it stays so. */
                res->status = JT_POST_GONE;
                what = "a redirect, not followed: the URL is not the webhook's address";
        } else if (http >= 500 || http == 408 || http == 425) {
                /* 408 Request Timeout and 425 Too Early: the request was not acted on; the next
                 * attempt may be. A 5xx may have been. */
                res->status = JT_POST_RETRY;
                res->maybe_delivered = http >= 500;
        } else if (http == 401 || http == 403 || http == 404) {
                res->status = JT_POST_GONE;
        } else {
                res->status = JT_POST_REJECTED;
        }
        if (what)
                snprintf(res->detail, sizeof(res->detail), "HTTP %ld, %s: %s", http, what, reason);
        else
                snprintf(res->detail, sizeof(res->detail), "HTTP %ld: %s", http, reason);
done:
        json_decref(doc);
}

/* For a 3xx: where it pointed, as scheme://host only (its path may carry the token). */
static void add_redirect_target(jt_webhook_t *w, jt_post_result_t *res) {
        char *to = NULL, scheme[16], host[128];
        size_t used = strlen(res->detail);

        if (curl_easy_getinfo(w->curl, CURLINFO_REDIRECT_URL, &to) == CURLE_OK && to &&
            jt_url_origin(to, scheme, sizeof(scheme), host, sizeof(host)))
                snprintf(res->detail + used, sizeof(res->detail) - used, " (to %s://%s)", scheme,
                         host);
}

void jt_webhook_send(jt_webhook_t *w, const char *message_id, const json_t *payload,
                     jt_post_result_t *res) {
        char *body = json_dumps(payload, JSON_COMPACT);
        char *url = NULL, errbuf[CURL_ERROR_SIZE] = "";
        answer_t a = {0};
        struct curl_slist *headers = NULL;
        CURLcode rc;
        long http = 0;
        size_t url_len;

        memset(res, 0, sizeof(*res));
        jt_webhook_limits_init(&a.limits);
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
        /* The token goes to the URL's host over its scheme and nowhere else: no redirect is
         * followed (a 3xx is an answer, jt_webhook_classify), and should that ever change,
         * only to https. */
        curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, w->scheme);
        curl_easy_setopt(w->curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
        curl_easy_setopt(w->curl, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(w->curl, CURLOPT_MAXREDIRS, 0L);
        curl_easy_setopt(w->curl, CURLOPT_CUSTOMREQUEST, message_id ? "PATCH" : "POST");
        curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "joytify-notifier/" JT_VERSION);
        curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
        curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(w->timeout_ms < 5000 ? w->timeout_ms : 5000));
        curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
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
        jt_webhook_classify(http, a.data, a.len, &a.limits, res);
        if (http >= 300 && http < 400)
                add_redirect_target(w, res);
        if (res->hold_ms > 0)
                w->ready_at_ms = jt_sat_add_i64(jt_time_mono_ms(), res->hold_ms);
done:
        scrub(w, res->detail);
        curl_slist_free_all(headers);
        free(a.data);
        free(url);
        free(body);
}
