/* The console's router (web.h): every request's Host is checked, then the page, the API or an
 * action answers; every reply carries the security headers (a strict Content-Security-Policy
 * whose nonce admits only the page's own inline script and style). */
#include "web.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* No origin but this server's for scripts, styles, fetches; no framing, no forms, no referrer. */
static const char csp_format[] =
    "Content-Security-Policy: default-src 'none'; script-src 'nonce-%s'; style-src 'nonce-%s'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'\r\n";
static const char common_headers[] = "X-Content-Type-Options: nosniff\r\n"
                                     "Referrer-Policy: no-referrer\r\n"
                                     "X-Frame-Options: DENY\r\n"
                                     "Cache-Control: no-store\r\n";

bool jt_web_reply(jt_http_reply_t *reply, unsigned int status, const char *type, char *body,
                  size_t len, const char *nonce) {
        size_t size = sizeof(csp_format) + sizeof(common_headers) + 2 * JT_WEB_TOKEN_SIZE;

        reply->status = status;
        reply->content_type = type;
        reply->body = body;
        reply->len = len;
        if (!(reply->headers = malloc(size)))
                return false;
        if (nonce)
                snprintf(reply->headers, size, csp_format, nonce, nonce);
        else
                snprintf(reply->headers, size, csp_format, "none", "none");
        strcat(reply->headers, common_headers);
        return body != NULL;
}

bool jt_web_reply_json(jt_http_reply_t *reply, unsigned int status, json_t *doc) {
        char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

        json_decref(doc);
        return jt_web_reply(reply, status, "application/json", text, text ? strlen(text) : 0, NULL);
}

bool jt_web_reply_error(jt_http_reply_t *reply, unsigned int status, const char *message) {
        return jt_web_reply_json(reply, status, json_pack("{s:s}", "error", message));
}

/* Host "NAME:PORT" or "[V6]:PORT" with NAME a loopback name and PORT ours: a page bound to
 * loopback is never read through a DNS name rebound to 127.0.0.1 by another site. */
bool jt_web_host_ok(const jt_web_t *web, const jt_http_request_t *req) {
        static const char *const names[] = {"127.0.0.1", "localhost", "[::1]", NULL};
        const char *host = jt_http_request_header(req, "Host");
        char want[64];

        if (!web->loopback)
                return true;
        if (!host)
                return false;
        for (int i = 0; names[i]; i++) {
                snprintf(want, sizeof(want), "%s:%d", names[i], web->port);
                if (strcasecmp(host, want) == 0)
                        return true;
        }
        return false;
}

/* "/" and "/jobs": the jobs list; "/job?id=ID"; "/workers"; "/dlq". */
static bool answer_page(jt_web_t *web, const jt_http_request_t *req, jt_http_reply_t *reply,
                        bool *ok) {
        const char *path = jt_http_request_path(req);
        const char *page = NULL;
        bool oom = false;

        if (strcmp(path, "/") == 0 || strcmp(path, "/jobs") == 0)
                page = "jobs";
        else if (strcmp(path, "/job") == 0)
                page = "job";
        else if (strcmp(path, "/workers") == 0)
                page = "workers";
        else if (strcmp(path, "/dlq") == 0)
                page = "dlq";
        if (!page)
                return false;
        *ok = jt_web_page_render(web, page, jt_http_request_arg(req, "id"), reply, &oom) || !oom;
        return true;
}

bool jt_web_handle(void *opaque, const jt_http_request_t *req, jt_http_reply_t *reply) {
        jt_web_t *web = opaque;
        bool ok = true;

        if (!jt_web_host_ok(web, req))
                return jt_web_reply_error(reply, 421, "unknown Host: use 127.0.0.1 or localhost");
        if (jt_web_action_answer(web, req, reply, &ok))
                return ok;
        if (strcmp(jt_http_request_method(req), "POST") == 0)
                return jt_web_reply_error(reply, 404, "no such action");
        if (jt_web_api_answer(web, req, reply, &ok) || answer_page(web, req, reply, &ok))
                return ok;
        return jt_web_reply_error(reply, 404, "not found");
}
