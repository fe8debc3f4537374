/* Reading a worker's Prometheus counters (bench_scrape.h). */
#include "bench_scrape.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jt_time.h"

#define SCRAPE_TIMEOUT_MS 5000
#define SCRAPE_MAX_BYTES  (4 << 20)

int jt_bench_scrape_port(const char *log_path) {
        FILE *f = fopen(log_path, "r");
        char line[4096];
        int port = -1;

        if (!f)
                return -1;
        while (port < 0 && fgets(line, sizeof(line), f)) {
                const char *p;
                if (strstr(line, "serving /metrics") && (p = strstr(line, "(port ")))
                        port = atoi(p + 6) > 0 ? atoi(p + 6) : -1;
        }
        fclose(f);
        return port;
}

char *jt_bench_scrape_get(int port) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        size_t len = 0, cap = 65536;
        char *buf = NULL, *body = NULL;
        int64_t deadline = jt_time_mono_ms() + SCRAPE_TIMEOUT_MS;
        int fd = -1;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (port <= 0 || (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
            connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1) || !(buf = malloc(cap)))
                goto done;
        for (;;) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                int64_t left = deadline - jt_time_mono_ms();
                ssize_t n;
                if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
                        goto done;
                if (len + 1 >= cap) {
                        char *bigger;
                        if (cap >= SCRAPE_MAX_BYTES || !(bigger = realloc(buf, cap * 2)))
                                goto done;
                        buf = bigger;
                        cap *= 2;
                }
                if ((n = read(fd, buf + len, cap - len - 1)) < 0)
                        goto done;
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        /* HTTP/1.0: the body follows the blank line; only a 200 answer has the metrics. */
        if (strncmp(buf, "HTTP/1.", 7) == 0 && strstr(buf, " 200 ") == buf + 8) {
                char *start = strstr(buf, "\r\n\r\n");
                if (start)
                        body = strdup(start + 4);
        }
done:
        if (fd >= 0)
                close(fd);
        free(buf);
        return body;
}

bool jt_bench_scrape_sum(const char *body, const char *name, double *sum) {
        size_t nlen = strlen(name);
        bool found = false;

        *sum = 0;
        for (const char *line = body; line && *line;) {
                const char *end = strchr(line, '\n');
                if (line[0] != '#' && strncmp(line, name, nlen) == 0 &&
                    (line[nlen] == ' ' || line[nlen] == '{')) {
                        const char *v = line + nlen;
                        /* Label values may hold spaces and braces: the value follows the
                         * line's last '}'. */
                        if (*v == '{') {
                                const char *stop = end ? end : v + strlen(v), *brace = NULL;
                                for (const char *c = v; c < stop; c++)
                                        if (*c == '}')
                                                brace = c;
                                v = brace;
                        }
                        if (v) {
                                char *after;
                                double x = strtod(v + 1, &after);
                                if (after != v + 1) {
                                        *sum += x;
                                        found = true;
                                }
                        }
                }
                line = end ? end + 1 : NULL;
        }
        return found;
}
