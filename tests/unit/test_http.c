/* The monitoring HTTP server's connection policy (common/jt_http.c) with small limits: the
 * absolute deadline cuts a client that keeps sending, the per-client limit cuts the oldest idle
 * connections past their grace (and only those), a prober from another address or the same one
 * is answered meanwhile, and bad limits are refused. Real sockets on 127.0.0.x. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "jt_http.h"
#include "jt_test.h"
#include "jt_time.h"

static bool answer(void *opaque, const char *path, jt_http_reply_t *reply) {
        (void)opaque;
        return jt_http_reply_text(reply, strcmp(path, "/ok") == 0 ? 200 : 404, "ok\n");
}

static jt_http_t *start(int per_client, int total, int grace_ms, int deadline_ms) {
        jt_http_limits_t limits = {per_client, total, grace_ms, deadline_ms};
        jt_error_t err = {0};
        jt_http_t *h = jt_http_start("127.0.0.1:0", "--test-addr", &limits, answer, NULL, &err);

        if (!h)
                fail_msg("jt_http_start: %s", err.message);
        return h;
}

/* A connection to 127.0.0.1:port from source address `from`, having sent `text`. */
static int open_from(const char *from, int port, const char *text) {
        struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        inet_pton(AF_INET, from, &src.sin_addr);
        inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
        dst.sin_port = htons((uint16_t)port);
        if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
            connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 ||
            send(fd, text, strlen(text), MSG_NOSIGNAL) < 0)
                fail_msg("connection from %s to port %d: %s", from, port, strerror(errno));
        return fd;
}

/* Whether the server has closed fd (EOF or reset), without waiting. */
static bool closed(int fd) {
        char buf[256];
        ssize_t n;

        while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
                ; /* an answer's bytes: read past them */
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* The status of one whole request from `from`, or -1 when no answer came within 3 s. */
static int probe(const char *from, int port) {
        int fd = open_from(from, port, "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        char buf[512];
        size_t got = 0;
        int status = -1;

        while (got < sizeof(buf) - 1 && poll(&pfd, 1, 3000) == 1) {
                ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        buf[got] = '\0';
        close(fd);
        if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
                return -1;
        return status;
}

static void sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* A client that sends a header line every 100 ms is cut at the 600 ms deadline all the same
 * (libmicrohttpd's own timeout, reset by every byte, would keep it for ever). */
static void deadline_is_absolute(void **state) {
        jt_http_t *h = start(8, 16, 100, 600);
        int fd = open_from("127.0.0.1", jt_http_port(h), "GET /ok HTTP/1.1\r\n");
        int64_t t0 = jt_time_mono_ms(), lived = -1;
        jt_http_counters_t cuts;

        while (jt_time_mono_ms() - t0 < 5000) {
                if (closed(fd)) {
                        lived = jt_time_mono_ms() - t0;
                        break;
                }
                send(fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
                sleep_ms(100);
        }
        close(fd);
        jt_http_counters(h, &cuts);
        print_message("slow client cut after %lld ms (deadline 600 ms)\n", (long long)lived);
        if (lived < 0)
                fail_msg("a client sending a header line every 100 ms: expected cut at the 600 ms "
                         "deadline, still open after 5 s");
        if (lived < 500)
                fail_msg("expected the slow client kept until its 600 ms deadline, cut after %lld "
                         "ms",
                         (long long)lived);
        if (cuts.deadline != 1)
                fail_msg("deadline cuts: expected 1, got %llu", (unsigned long long)cuts.deadline);
        jt_http_stop(h);
}

/* Five idle connections from 127.0.0.2 with a limit of 2: the three oldest are cut once past
 * their 100 ms grace, the two newest stay; probes from 127.0.0.1 and from 127.0.0.2 itself are
 * answered, and a kept connection that completes its request is answered too. */
static void per_client_limit_cuts_oldest_idle(void **state) {
        jt_http_t *h = start(2, 16, 100, 5000);
        int port = jt_http_port(h), fds[5], status;
        jt_http_counters_t cuts;

        for (int i = 0; i < 5; i++) {
                fds[i] = open_from("127.0.0.2", port, "GET /ok HTTP/1.1\r\n");
                sleep_ms(20); /* an order of age */
        }
        sleep_ms(500);
        for (int i = 0; i < 5; i++) {
                bool want = i < 3;
                if (closed(fds[i]) != want)
                        fail_msg("connection %d of 5 from one address (limit 2): expected %s, got "
                                 "%s",
                                 i + 1, want ? "cut" : "open", want ? "open" : "cut");
        }
        jt_http_counters(h, &cuts);
        if (cuts.per_client != 3 || cuts.deadline != 0 || cuts.total != 0)
                fail_msg("cuts: expected per_client 3, deadline 0, total 0; got %llu, %llu, %llu",
                         (unsigned long long)cuts.per_client, (unsigned long long)cuts.deadline,
                         (unsigned long long)cuts.total);
        if ((status = probe("127.0.0.1", port)) != 200)
                fail_msg("probe from another address: expected 200, got %d", status);
        if ((status = probe("127.0.0.2", port)) != 200)
                fail_msg("probe from the limited address: expected 200, got %d", status);
        send(fds[4], "\r\n", 2, MSG_NOSIGNAL);
        {
                struct pollfd pfd = {.fd = fds[4], .events = POLLIN};
                char buf[64] = "";
                if (poll(&pfd, 1, 3000) != 1 || recv(fds[4], buf, sizeof(buf) - 1, 0) <= 0 ||
                    strncmp(buf, "HTTP/1.1 200", 12) != 0)
                        fail_msg("a kept connection completing its request: expected \"HTTP/1.1 "
                                 "200\", got \"%.20s\"",
                                 buf);
        }
        for (int i = 0; i < 5; i++)
                close(fds[i]);
        jt_http_stop(h);
}

/* Over the total limit, idle connections past their grace are cut whatever their address; the
 * connections in the table come back to the limit and a probe is answered. */
static void total_limit(void **state) {
        jt_http_t *h = start(4, 4, 100, 5000);
        int port = jt_http_port(h), fds[6], open_count = 0, status;
        char from[32];
        jt_http_counters_t cuts;

        for (int i = 0; i < 6; i++) {
                snprintf(from, sizeof(from), "127.0.0.%d", 10 + i);
                fds[i] = open_from(from, port, "GET /ok HTTP/1.1\r\n");
        }
        sleep_ms(500);
        for (int i = 0; i < 6; i++)
                open_count += !closed(fds[i]);
        jt_http_counters(h, &cuts);
        if (open_count != 4 || cuts.total != 2)
                fail_msg("6 idle connections from 6 addresses, total limit 4: expected 4 open and "
                         "2 cut, got %d open and %llu cut",
                         open_count, (unsigned long long)cuts.total);
        if ((status = probe("127.0.0.1", port)) != 200)
                fail_msg("probe over the total limit: expected 200, got %d", status);
        for (int i = 0; i < 6; i++)
                close(fds[i]);
        jt_http_stop(h);
}

static void bad_limits_refused(void **state) {
        static const jt_http_limits_t bad[] = {
            {0, 8, 100, 1000}, {9, 8, 100, 1000},  {1, 2000, 100, 1000},
            {1, 8, 0, 1000},   {1, 8, 2000, 1000},
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                jt_error_t err = {0};
                jt_http_t *h =
                    jt_http_start("127.0.0.1:0", "--test-addr", &bad[i], answer, NULL, &err);
                if (h || err.domain != JT_ERR_CONFIG || !strstr(err.message, "--test-addr"))
                        fail_msg("limits %d/%d/%d/%d: expected a config error naming --test-addr, "
                                 "got %s \"%s\"",
                                 bad[i].per_client, bad[i].total, bad[i].grace_ms,
                                 bad[i].deadline_ms, h ? "a server" : "error", err.message);
        }
        jt_http_stop(NULL); /* a no-op */
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(deadline_is_absolute),
            cmocka_unit_test(per_client_limit_cuts_oldest_idle),
            cmocka_unit_test(total_limit),
            cmocka_unit_test(bad_limits_refused),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
