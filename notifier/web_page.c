/* The console's pages (web.h): one HTML shell per page, its style and script inline (no
 * external asset: the console works on a machine without internet), the data read by the
 * script from /api/. What the server itself prints from a request (a job id) is HTML-escaped. */
#include "web.h"

#include <stdlib.h>
#include <string.h>

#include "jt_jobs.h"

extern const char jt_web_assets_css[]; /* web/app.css, embedded at build time */
extern const char jt_web_assets_js[];  /* web/app.js */

void jt_web_page_escape(FILE *out, const char *text) {
        for (const char *p = text; p && *p; p++) {
                switch (*p) {
                case '&':
                        fputs("&amp;", out);
                        break;
                case '<':
                        fputs("&lt;", out);
                        break;
                case '>':
                        fputs("&gt;", out);
                        break;
                case '"':
                        fputs("&quot;", out);
                        break;
                case '\'':
                        fputs("&#39;", out);
                        break;
                default:
                        fputc(*p, out);
                }
        }
}

static const char *const pages[][2] = {{"jobs", "Jobs"},
                                       {"job", "Job"},
                                       {"workers", "Workers"},
                                       {"dlq", "Dead letters"},
                                       {NULL, NULL}};

static void write_nav(FILE *out, const char *page) {
        static const char *const links[][3] = {{"jobs", "/", "Jobs"},
                                               {"workers", "/workers", "Workers"},
                                               {"dlq", "/dlq", "Dead letters"}};

        fputs("<header><span class=\"brand\">Joytify console</span>", out);
        for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
                fprintf(out, "<a href=\"%s\"%s>%s</a>", links[i][1],
                        strcmp(page, links[i][0]) == 0 ? " class=\"here\"" : "", links[i][2]);
        fputs("<span id=\"updated\" class=\"muted\"></span></header>\n", out);
}

static void write_page(FILE *out, const jt_web_t *web, const char *page, const char *title,
                       const char *id, const char *nonce) {
        bool admin = web->admin_token != NULL;

        fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
              out);
        if (admin)
                fprintf(out, "<meta name=\"csrf-token\" content=\"%s\">", web->csrf);
        fprintf(out, "<title>%s", title);
        if (id) {
                fputs(" ", out);
                jt_web_page_escape(out, id);
        }
        fprintf(out, " - Joytify console</title><style nonce=\"%s\">%s</style></head>\n", nonce,
                jt_web_assets_css);
        fprintf(out, "<body data-page=\"%s\" data-admin=\"%d\">\n", page, admin);
        write_nav(out, page);
        fprintf(out, "<main><h1 id=\"title\">%s", title);
        if (id) {
                fputs(" <code id=\"job-id\">", out);
                jt_web_page_escape(out, id);
                fputs("</code>", out);
        }
        fputs("</h1><div id=\"admin-slot\"></div><div id=\"content\"></div></main>\n", out);
        fprintf(out, "<script nonce=\"%s\">%s</script></body></html>\n", nonce, jt_web_assets_js);
}

bool jt_web_page_render(const jt_web_t *web, const char *page, const char *id,
                        jt_http_reply_t *reply, bool *oom) {
        const char *title = NULL;
        char nonce[JT_WEB_TOKEN_SIZE];
        char *body = NULL;
        size_t len = 0;
        FILE *out;
        jt_error_t err;

        *oom = false;
        for (int i = 0; pages[i][0] && !title; i++)
                if (strcmp(pages[i][0], page) == 0)
                        title = pages[i][1];
        if (!title)
                return false;
        if (strcmp(page, "job") != 0)
                id = NULL;
        else if (!id)
                return jt_web_reply_error(reply, 400, "/job needs ?id=JOB") || (*oom = true, false);
        if (!jt_jobs_new_nonce(nonce, &err) || !(out = open_memstream(&body, &len))) {
                *oom = true;
                return false;
        }
        write_page(out, web, page, title, id, nonce);
        if (fclose(out) != 0) {
                free(body);
                *oom = true;
                return false;
        }
        if (!jt_web_reply(reply, 200, "text/html; charset=utf-8", body, len, nonce))
                *oom = true;
        return !*oom;
}
