/* The notifier's console without a stack (notifier/web*.c on common/jt_http.c): a job id
 * carrying markup is printed escaped, every answer carries the nonce Content-Security-Policy,
 * another Host is refused, and the actions are 404 on a read-only console and 403/405/400 on
 * an admin one without the token, the CSRF token, the Origin, the POST or a valid target
 * (nothing is run). Real sockets on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jt_test.h"
#include "web.h"

#define TOKEN "unit-admin-token-0123456789"
#define CSRF  "0123456789abcdef0123456789abcdef"

typedef struct {
        jt_web_t web;
        jt_http_t *http;
        char host[64]; /* "127.0.0.1:PORT" */
} console_t;

static void console_start(console_t *c, bool admin) {
        jt_error_t err = {0};

        memset(c, 0, sizeof(*c));
        c->web.loopback = true;
        c->web.admin_token = admin ? TOKEN : NULL;
        snprintf(c->web.csrf, sizeof(c->web.csrf), "%s", CSRF);
        snprintf(c->web.producer_path, sizeof(c->web.producer_path), "/nonexistent");
        pthread_mutex_init(&c->web.lock, NULL);
        c->http =
            jt_http_start_requests("127.0.0.1:0", "--listen", NULL, jt_web_handle, &c->web, &err);
        if (!c->http)
                fail_msg("jt_http_start_requests: %s", err.message);
        c->web.port = jt_http_port(c->http);
        snprintf(c->host, sizeof(c->host), "127.0.0.1:%d", c->web.port);
}

static void console_stop(console_t *c) {
        jt_http_stop(c->http);
        pthread_mutex_destroy(&c->web.lock);
}

/* The whole answer (status line, headers, body) to a request of method on target with the
 * extra header lines (each ending "\r\n"); Host is the console's unless headers give one. */
static char *ask(const console_t *c, const char *method, const char *target, const char *headers) {
        struct sockaddr_in dst = {.sin_family = AF_INET};
        char req[2048];
        size_t cap = 1 << 20, len = 0;
        char *out = calloc(1, cap);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        ssize_t n;

        inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
        dst.sin_port = htons((uint16_t)c->web.port);
        if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0)
                fail_msg("cannot connect to the console on port %d", c->web.port);
        snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\n%s%s%s\r\nConnection: close\r\n\r\n", method,
                 target, headers,
                 strstr(headers, "Host:") ? "" : "Host: ", strstr(headers, "Host:") ? "" : c->host);
        if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
                fail_msg("send to the console failed");
        while (len + 1 < cap && (n = recv(fd, out + len, cap - len - 1, 0)) > 0)
                len += (size_t)n;
        close(fd);
        return out;
}

static void expect_status(const char *answer, int status, const char *what) {
        int got = 0;

        sscanf(answer, "HTTP/1.1 %d", &got);
        if (got != status)
                fail_msg("%s: expected HTTP %d, actual %d\n%.600s", what, status, got, answer);
}

static void page_escapes_and_has_csp(void **state) {
        console_t c;
        char *a;

        (void)state;
        console_start(&c, true);
        a = ask(&c, "GET", "/job?id=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", "");
        expect_status(a, 200, "the job page");
        if (!strstr(a, "&lt;img src=x onerror=alert(1)&gt;") || strstr(a, "<img"))
                fail_msg("the job id: expected it HTML-escaped, actual:\n%.2000s", a);
        if (!strstr(a, "Content-Security-Policy: default-src 'none'; script-src 'nonce-") ||
            !strstr(a, "X-Content-Type-Options: nosniff"))
                fail_msg("the headers: expected the nonce CSP and nosniff, actual:\n%.800s", a);
        if (!strstr(a, "<meta name=\"csrf-token\" content=\"" CSRF "\">"))
                fail_msg("the admin page: expected the CSRF token, actual:\n%.800s", a);
        free(a);
        a = ask(&c, "GET", "/", "Host: rebound.example:80\r\n");
        expect_status(a, 421, "a page through another Host");
        free(a);
        a = ask(&c, "PUT", "/", "");
        expect_status(a, 405, "a PUT");
        if (!strstr(a, "Allow: GET, HEAD, POST\r\n"))
                fail_msg("a PUT: expected Allow: GET, HEAD, POST, actual:\n%.600s", a);
        free(a);
        console_stop(&c);
}

static void read_only_has_no_action(void **state) {
        static const char *const paths[] = {"/api/action", "/api/action/replay?job=j",
                                            "/api/action/discard?partition=0&offset=1", NULL};
        console_t c;
        char headers[512], *a;

        (void)state;
        console_start(&c, false);
        snprintf(headers, sizeof(headers),
                 "X-Admin-Token: " TOKEN "\r\nX-CSRF-Token: " CSRF "\r\nOrigin: http://%s\r\n",
                 c.host);
        for (int i = 0; paths[i]; i++) {
                a = ask(&c, "POST", paths[i], headers);
                expect_status(a, 404, paths[i]);
                free(a);
        }
        a = ask(&c, "GET", "/", "");
        if (strstr(a, "<meta name=\"csrf-token\"") || strstr(a, "data-admin=\"1\""))
                fail_msg("the read-only page: expected no CSRF token and no admin, actual:\n%.800s",
                         a);
        free(a);
        console_stop(&c);
}

static void admin_actions_refused(void **state) {
        console_t c;
        char origin[128], h[6][512];
        struct {
                const char *method, *target, *headers;
                int status;
                const char *what;
        } cases[] = {
            {"POST", "/api/action/replay?job=j", h[0], 403, "no admin token"},
            {"POST", "/api/action/replay?job=j", h[1], 403, "a wrong admin token"},
            {"POST", "/api/action/replay?job=j", h[2], 403, "no CSRF token"},
            {"POST", "/api/action/replay?job=j", h[3], 403, "another Origin"},
            {"POST", "/api/action/replay?job=a%20b", h[4], 400, "a job id with a space"},
            {"POST", "/api/action/discard?partition=x&offset=1", h[4], 400, "a bad partition"},
            {"GET", "/api/action/replay?job=j", h[4], 405, "a GET"},
            {"POST", "/api/action/nothing", h[4], 404, "an unknown action"},
        };
        char *a;

        (void)state;
        console_start(&c, true);
        snprintf(origin, sizeof(origin), "Origin: http://%s\r\n", c.host);
        snprintf(h[0], sizeof(h[0]), "X-CSRF-Token: " CSRF "\r\n%s", origin);
        snprintf(h[1], sizeof(h[1]), "X-Admin-Token: wrong\r\nX-CSRF-Token: " CSRF "\r\n%s",
                 origin);
        snprintf(h[2], sizeof(h[2]), "X-Admin-Token: " TOKEN "\r\n%s", origin);
        snprintf(h[3], sizeof(h[3]),
                 "X-Admin-Token: " TOKEN "\r\nX-CSRF-Token: " CSRF "\r\nOrigin: http://evil\r\n");
        snprintf(h[4], sizeof(h[4]), "X-Admin-Token: " TOKEN "\r\nX-CSRF-Token: " CSRF "\r\n%s",
                 origin);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                a = ask(&c, cases[i].method, cases[i].target, cases[i].headers);
                expect_status(a, cases[i].status, cases[i].what);
                free(a);
        }
        a = ask(&c, "GET", "/api/action/replay?job=j", "");
        if (!strstr(a, "Allow: POST\r\n"))
                fail_msg("a GET of an action: expected Allow: POST, actual:\n%.600s", a);
        free(a);
        a = ask(&c, "GET", "/api/action", "");
        expect_status(a, 200, "the action state");
        if (!strstr(a, "\"started\":false"))
                fail_msg("the action state: expected nothing started, actual:\n%.800s", a);
        free(a);
        console_stop(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(page_escapes_and_has_csp),
            cmocka_unit_test(read_only_has_no_action),
            cmocka_unit_test(admin_actions_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
