/* The monitoring HTTP server: libmicrohttpd driven by our own thread (MHD_run_wait), so that the
 * connection policy below runs on the thread that owns the connections, with no race against
 * libmicrohttpd closing them.
 *
 * Why a policy of our own: libmicrohttpd's connection timeout is an idle timeout, reset by every
 * byte, and its limits refuse the newest connection. 32 clients sending one header line every
 * 5 s therefore held every connection for as long as they liked, and the kubelet's probe was
 * refused (issue 15, item 3). Here:
 * - a request must be answered within limits.deadline_ms of its connection's accept (or of the
 *   previous answer on a kept-alive connection), however busy its client keeps it;
 * - a new connection is always accepted (up to twice limits.total, libmicrohttpd's own cap);
 *   while a client address holds more than limits.per_client connections, or all clients more
 *   than limits.total, the idle connections older than limits.grace_ms are cut, oldest first.
 *   Idle: no complete request yet. A prober sends its request at once and is answered within
 *   milliseconds, so a limit never cuts it: slow clients, even from the prober's own address,
 *   lose their places instead. Cutting the oldest idle connection at once on accept (tried
 *   first) let a burst of slow clients accepted in the same round make the prober's connection
 *   the oldest before its request was read: 1 probe in 24 got no answer. */
#include "jt_http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "jt_log.h"
#include "jt_time.h"

#define RUN_WAIT_MS    100  /* the longest the thread waits before it looks at the deadlines */
#define MEMORY_LIMIT   8192 /* per connection: a request line and headers, not the body */
#define LOG_EVERY_MS   10000
#define MHD_ERROR_SIZE 256

/* One connection libmicrohttpd holds, as the policy sees it. */
typedef struct {
        struct MHD_Connection *conn; /* NULL: a free slot */
        MHD_socket fd;
        int family;
        unsigned char addr[16]; /* the client's address; an IPv4-mapped IPv6 one as IPv4 */
        int64_t since_ms;       /* accept, or the end of the previous answer */
        bool busy;              /* a request is in and its answer is not sent yet */
        bool cut;               /* shut down by us, for libmicrohttpd to close */
} conn_t;

struct jt_http_s {
        struct MHD_Daemon *daemon;
        pthread_t thread;
        bool thread_started;
        atomic_bool quit;
        int port;
        jt_http_limits_t limits;
        jt_http_handler_t handler;
        jt_http_request_handler_t req_handler; /* instead of handler, when set */
        void *opaque;
        const char *opt;

        /* Touched by the server's thread only (and by jt_http_stop once it has ended). */
        conn_t *conns;
        size_t conn_cap;

        atomic_uint_fast64_t cut_deadline, cut_per_client, cut_total;

        pthread_mutex_t log_lock; /* the fields below: libmicrohttpd logs from any thread */
        bool serving;             /* started: messages go to the log, at most one per 10 s */
        char mhd_error[MHD_ERROR_SIZE];
        int64_t last_log_ms;
        unsigned long suppressed;
};

/* --- replies --------------------------------------------------------------------------- */

bool jt_http_reply_text(jt_http_reply_t *reply, unsigned int status, const char *text) {
        reply->status = status;
        reply->content_type = "text/plain; charset=utf-8";
        reply->len = strlen(text);
        reply->body = malloc(reply->len + 1);
        if (!reply->body)
                return false;
        memcpy(reply->body, text, reply->len + 1);
        return true;
}

static void add_headers(struct MHD_Response *resp, char *lines);

/* headers: the reply's extra lines, or NULL (freed here either way). */
static enum MHD_Result queue_with(struct MHD_Connection *conn, unsigned int status, char *body,
                                  size_t len, enum MHD_ResponseMemoryMode mode, const char *type,
                                  char *headers) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
        enum MHD_Result ret;

        if (!resp) {
                if (mode == MHD_RESPMEM_MUST_FREE)
                        free(body);
                free(headers);
                return MHD_NO; /* MHD closes the connection */
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED && !(headers && strstr(headers, "Allow:")))
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        if (headers)
                add_headers(resp, headers);
        free(headers);
        ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* Adds the reply's "Name: value\r\n" lines; a malformed line is dropped. */
static void add_headers(struct MHD_Response *resp, char *lines) {
        char *line, *save = NULL;

        for (line = strtok_r(lines, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
                char *colon = strchr(line, ':');
                if (!colon || colon == line)
                        continue;
                *colon++ = '\0';
                while (*colon == ' ')
                        colon++;
                MHD_add_response_header(resp, line, colon);
        }
}

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned int status, char *body,
                             size_t len, enum MHD_ResponseMemoryMode mode, const char *type) {
        return queue_with(conn, status, body, len, mode, type, NULL);
}

static enum MHD_Result queue_static(struct MHD_Connection *conn, unsigned int status,
                                    const char *text) {
        return queue(conn, status, (char *)text, strlen(text), MHD_RESPMEM_PERSISTENT,
                     "text/plain; charset=utf-8");
}

/* --- the connection policy ------------------------------------------------------------- */

static conn_t *conn_of(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        return info ? info->socket_context : NULL;
}

static void set_addr(conn_t *c, const struct sockaddr *sa) {
        static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

        memset(c->addr, 0, sizeof(c->addr));
        c->family = sa ? sa->sa_family : AF_UNSPEC;
        if (c->family == AF_INET) {
                memcpy(c->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        } else if (c->family == AF_INET6) {
                const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
                if (memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0) {
                        c->family = AF_INET;
                        memcpy(c->addr, a + 12, 4);
                } else {
                        memcpy(c->addr, a, 16);
                }
        }
}

static bool same_client(const conn_t *a, const conn_t *b) {
        return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* Shuts the socket down: libmicrohttpd reads its end at the next round and closes it, calling
 * back CLOSED. The fd stays open until then, so it cannot be another file's meanwhile. */
static void cut(conn_t *c, atomic_uint_fast64_t *counter) {
        shutdown(c->fd, SHUT_RDWR);
        c->cut = true;
        atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

/* The live connections (of client's address; NULL: of all). */
static int count(const jt_http_t *h, const conn_t *client) {
        int n = 0;

        for (size_t i = 0; i < h->conn_cap; i++) {
                const conn_t *c = &h->conns[i];
                n += c->conn && !c->cut && (!client || same_client(c, client));
        }
        return n;
}

/* The oldest idle connection past its grace (of client's address; NULL: of all), or NULL. */
static conn_t *oldest_idle(jt_http_t *h, const conn_t *client, int64_t now) {
        conn_t *oldest = NULL;

        for (size_t i = 0; i < h->conn_cap; i++) {
                conn_t *c = &h->conns[i];
                if (!c->conn || c->cut || c->busy || now - c->since_ms < h->limits.grace_ms ||
                    (client && !same_client(c, client)))
                        continue;
                if (!oldest || c->since_ms < oldest->since_ms)
                        oldest = c;
        }
        return oldest;
}

/* Brings client's address (NULL: all clients) back within its limit, as far as idle
 * connections past their grace allow. */
static void enforce(jt_http_t *h, const conn_t *client, int64_t now) {
        int limit = client ? h->limits.per_client : h->limits.total;
        atomic_uint_fast64_t *counter = client ? &h->cut_per_client : &h->cut_total;
        conn_t *c;

        for (int n = count(h, client); n > limit && (c = oldest_idle(h, client, now)); n--)
                cut(c, counter);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
        jt_http_t *h = cls;
        const union MHD_ConnectionInfo *info;
        conn_t *c = NULL;

        if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
                if (*socket_context)
                        memset(*socket_context, 0, sizeof(conn_t));
                *socket_context = NULL;
                return;
        }
        for (size_t i = 0; i < h->conn_cap && !c; i++)
                if (!h->conns[i].conn)
                        c = &h->conns[i];
        info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!c || !info) {
                /* Cannot happen: libmicrohttpd's own limit is the table's size. */
                if (info)
                        shutdown(info->connect_fd, SHUT_RDWR);
                *socket_context = NULL;
                return;
        }
        c->conn = conn;
        c->fd = info->connect_fd;
        info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        set_addr(c, info ? info->client_addr : NULL);
        c->since_ms = jt_time_mono_ms();
        c->busy = c->cut = false;
        *socket_context = c;
}

/* An answer is sent (or given up): the connection is idle again, its next request's deadline
 * counted from now. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        conn_t *c = conn_of(conn);

        (void)cls, (void)con_cls, (void)toe;
        if (c) {
                c->busy = false;
                c->since_ms = jt_time_mono_ms();
        }
}

/* After each round: the deadline, then the limits (per client, then in all). */
static void police(jt_http_t *h) {
        int64_t now = jt_time_mono_ms();

        for (size_t i = 0; i < h->conn_cap; i++) {
                conn_t *c = &h->conns[i];
                if (c->conn && !c->cut && now - c->since_ms > h->limits.deadline_ms)
                        cut(c, &h->cut_deadline);
        }
        for (size_t i = 0; i < h->conn_cap; i++) {
                const conn_t *c = &h->conns[i];
                bool first = c->conn && !c->cut;

                /* Once per address: at its first live connection in the table. */
                for (size_t j = 0; first && j < i; j++)
                        first =
                            !(h->conns[j].conn && !h->conns[j].cut && same_client(&h->conns[j], c));
                if (first)
                        enforce(h, c, now);
        }
        enforce(h, NULL, now);
}

/* --- requests -------------------------------------------------------------------------- */

struct jt_http_request_s {
        struct MHD_Connection *conn;
        const char *method;
        const char *path;
};

const char *jt_http_request_method(const jt_http_request_t *req) {
        return req->method;
}

const char *jt_http_request_path(const jt_http_request_t *req) {
        return req->path;
}

const char *jt_http_request_header(const jt_http_request_t *req, const char *name) {
        return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *jt_http_request_arg(const jt_http_request_t *req, const char *name) {
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result answer(struct MHD_Connection *conn, bool ok, jt_http_reply_t *reply) {
        if (!ok) {
                free(reply->body);
                free(reply->headers);
                return queue_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        }
        return queue_with(conn, reply->status, reply->body, reply->len, MHD_RESPMEM_MUST_FREE,
                          reply->content_type ? reply->content_type : "text/plain; charset=utf-8",
                          reply->headers);
}

/* An application's request (jt_http_start_requests): GET, HEAD and POST, answered on the first
 * call, before any body (the connection is closed after an answer to a POST with a body). */
static enum MHD_Result on_app_request(jt_http_t *h, struct MHD_Connection *conn, const char *url,
                                      const char *method) {
        jt_http_request_t req = {conn, method, url};
        jt_http_reply_t reply = {0};

        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0 &&
            strcmp(method, MHD_HTTP_METHOD_POST) != 0)
                return queue_with(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", 19,
                                  MHD_RESPMEM_PERSISTENT, "text/plain; charset=utf-8",
                                  strdup("Allow: GET, HEAD, POST\r\n"));
        return answer(conn, h->req_handler(h->opaque, &req, &reply), &reply);
}

/* Answers from the handler's reply only: nothing of the request is echoed back. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        jt_http_t *h = cls;
        jt_http_reply_t reply = {0};
        conn_t *c = conn_of(conn);

        (void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
        if (c)
                c->busy = true;
        if (h->req_handler)
                return on_app_request(h, conn, url, method);
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return queue_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
        return answer(conn, h->handler(h->opaque, url, &reply), &reply);
}

/* While the daemon starts, MHD's message is kept for jt_http_start's error ("Failed to bind to
 * port 9464: Address already in use"); afterwards messages go to the log, one per 10 s at most:
 * they are about clients, which must not be able to flood the log. */
static void mhd_logger(void *cls, const char *fmt, va_list ap) {
        jt_http_t *h = cls;
        char msg[MHD_ERROR_SIZE];
        unsigned long suppressed = 0;
        bool log = false;
        int64_t now = jt_time_mono_ms();
        size_t n;

        vsnprintf(msg, sizeof(msg), fmt, ap);
        n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == '.'))
                msg[--n] = '\0';
        pthread_mutex_lock(&h->log_lock);
        if (!h->serving) {
                snprintf(h->mhd_error, sizeof(h->mhd_error), "%s", msg);
        } else if (h->last_log_ms == 0 || now - h->last_log_ms >= LOG_EVERY_MS) {
                log = true;
                suppressed = h->suppressed;
                h->suppressed = 0;
                h->last_log_ms = now;
        } else {
                h->suppressed++;
        }
        pthread_mutex_unlock(&h->log_lock);
        if (log && suppressed)
                jt_log_warn("%s http: %s (%lu more messages in the last %d s not logged)", h->opt,
                            msg, suppressed, LOG_EVERY_MS / 1000);
        else if (log)
                jt_log_warn("%s http: %s", h->opt, msg);
}

static void *serve(void *arg) {
        jt_http_t *h = arg;

        while (!atomic_load(&h->quit)) {
                if (MHD_run_wait(h->daemon, RUN_WAIT_MS) != MHD_YES) {
                        struct timespec ts = {0, RUN_WAIT_MS * 1000000L};
                        nanosleep(&ts, NULL); /* never a busy loop, whatever failed */
                }
                police(h);
        }
        return NULL;
}

/* --- addresses ------------------------------------------------------------------------- */

/* "HOST:PORT", "[IPV6]:PORT", "PORT" or ":PORT" into a socket address; every error names the
 * option and the value. */
static bool parse_addr(const char *opt, const char *addr, struct sockaddr_storage *ss,
                       socklen_t *ss_len, jt_error_t *err) {
        char host[256];
        const char *colon, *port_text, *host_start = addr;
        size_t host_len;
        char *end;
        long port;
        struct addrinfo hints = {0}, *res = NULL;
        int rc;

        memset(ss, 0, sizeof(*ss));
        *ss_len = 0;
        if (!addr || !*addr)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "%s must be HOST:PORT, e.g. 127.0.0.1:9464 (got \"\")", opt);
        hints.ai_socktype = SOCK_STREAM;
        if (addr[0] == '[') {
                const char *rbracket = strchr(addr, ']');

                if (!rbracket || rbracket[1] != ':')
                        goto malformed;
                host_start = addr + 1;
                host_len = (size_t)(rbracket - host_start);
                port_text = rbracket + 2;
                hints.ai_family = AF_INET6;
                hints.ai_flags = AI_NUMERICHOST;
        } else if (strspn(addr + (addr[0] == ':'), "0123456789") ==
                   strlen(addr + (addr[0] == ':'))) {
                /* A port alone: the loopback address, never every interface by default. */
                host_start = "127.0.0.1";
                host_len = strlen(host_start);
                port_text = addr[0] == ':' ? addr + 1 : addr;
                hints.ai_family = AF_INET;
                hints.ai_flags = AI_NUMERICHOST;
        } else {
                colon = strrchr(addr, ':');
                if (!colon)
                        goto malformed;
                host_len = (size_t)(colon - addr);
                port_text = colon + 1;
                if (memchr(addr, ':', host_len))
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "%s must put an IPv6 address in brackets, e.g. "
                                            "[::1]:9464 (got \"%.200s\")",
                                            opt, addr);
        }
        if (host_len == 0 || host_len >= sizeof(host))
                goto malformed;
        memcpy(host, host_start, host_len);
        host[host_len] = '\0';

        if (*port_text < '0' || *port_text > '9')
                goto malformed;
        port = strtol(port_text, &end, 10);
        if (*end != '\0' || port > 65535 || end - port_text > 5)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "%s port must be 0..65535 (got \"%.200s\")", opt, addr);

        rc = getaddrinfo(host, NULL, &hints, &res);
        if (rc != 0 || !res)
                return jt_error_set(err, JT_ERR_CONFIG, rc,
                                    "%s host \"%s\" is not an IP address or known host name "
                                    "(got \"%.200s\"): %s",
                                    opt, host, addr, rc ? gai_strerror(rc) : "no address");
        memcpy(ss, res->ai_addr, res->ai_addrlen);
        *ss_len = res->ai_addrlen;
        freeaddrinfo(res);
        if (ss->ss_family == AF_INET6)
                ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
        else if (ss->ss_family == AF_INET)
                ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
        else
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "%s host must be an IPv4 or IPv6 address (got \"%.200s\")", opt,
                                    addr);
        return true;
malformed:
        return jt_error_set(err, JT_ERR_CONFIG, 0,
                            "%s must be HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464 (got "
                            "\"%.200s\")",
                            opt, addr);
}

/* Only for MHD's messages: with MHD_OPTION_SOCK_ADDR it binds to ss, but names this port. */
static uint16_t port_of(const struct sockaddr_storage *ss) {
        if (ss->ss_family == AF_INET6)
                return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* --- life cycle ------------------------------------------------------------------------ */

static bool limits_valid(const char *opt, const jt_http_limits_t *l, jt_error_t *err) {
        if (l->per_client < 1 || l->total < l->per_client || l->total > JT_HTTP_TOTAL_MAX ||
            l->grace_ms < 1 || l->deadline_ms < l->grace_ms)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "%s: connection limits must be 1 <= per client (%d) <= total "
                                    "(%d) <= %d and 1 <= grace (%d ms) <= deadline (%d ms)",
                                    opt, l->per_client, l->total, JT_HTTP_TOTAL_MAX, l->grace_ms,
                                    l->deadline_ms);
        return true;
}

static jt_http_t *start(const char *addr, const char *opt, const jt_http_limits_t *limits,
                        jt_http_handler_t handler, jt_http_request_handler_t req_handler,
                        void *opaque, jt_error_t *err) {
        static const jt_http_limits_t defaults = JT_HTTP_LIMITS_DEFAULT;
        struct sockaddr_storage ss;
        socklen_t ss_len;
        unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
        const union MHD_DaemonInfo *info;
        jt_http_t *h;
        sigset_t block, old_mask;
        int rc;

        opt = opt ? opt : "--http-addr";
        limits = limits ? limits : &defaults;
        if (!limits_valid(opt, limits, err) || !parse_addr(opt, addr, &ss, &ss_len, err))
                return NULL;
        if (!(h = calloc(1, sizeof(*h))) ||
            !(h->conns = calloc((size_t)limits->total * 2, sizeof(conn_t)))) {
                free(h);
                jt_error_set(err, JT_ERR_SYSTEM, 0, "%s: out of memory", opt);
                return NULL;
        }
        h->conn_cap = (size_t)limits->total * 2;
        h->limits = *limits;
        h->handler = handler;
        h->req_handler = req_handler;
        h->opaque = opaque;
        h->opt = opt;
        h->port = -1;
        atomic_init(&h->quit, false);
        atomic_init(&h->cut_deadline, 0);
        atomic_init(&h->cut_per_client, 0);
        atomic_init(&h->cut_total, 0);
        pthread_mutex_init(&h->log_lock, NULL);
        if (ss.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6; /* without MHD_USE_DUAL_STACK: IPV6_V6ONLY, this host only */

        h->daemon = MHD_start_daemon(
            flags, port_of(&ss), NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)h->conn_cap,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)(limits->deadline_ms + 999) / 1000,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MEMORY_LIMIT, MHD_OPTION_NOTIFY_CONNECTION,
            on_connection, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
            MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h, MHD_OPTION_END);
        if (!h->daemon) {
                jt_error_set(err, JT_ERR_CONFIG, 0, "%s cannot listen on \"%.200s\": %s", opt, addr,
                             h->mhd_error[0] ? h->mhd_error : "libmicrohttpd could not start");
                jt_http_stop(h);
                return NULL;
        }
        info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
        h->port = info ? (int)info->port : -1;
        pthread_mutex_lock(&h->log_lock);
        h->serving = true;
        pthread_mutex_unlock(&h->log_lock);
        /* SIGTERM and SIGINT stay with the program's main thread, which acts on them. */
        sigfillset(&block);
        pthread_sigmask(SIG_BLOCK, &block, &old_mask);
        rc = pthread_create(&h->thread, NULL, serve, h);
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
        if (rc != 0) {
                jt_error_set(err, JT_ERR_SYSTEM, rc, "%s: cannot start the server's thread: %s",
                             opt, strerror(rc));
                jt_http_stop(h);
                return NULL;
        }
        h->thread_started = true;
        return h;
}

jt_http_t *jt_http_start(const char *addr, const char *opt, const jt_http_limits_t *limits,
                         jt_http_handler_t handler, void *opaque, jt_error_t *err) {
        return start(addr, opt, limits, handler, NULL, opaque, err);
}

jt_http_t *jt_http_start_requests(const char *addr, const char *opt, const jt_http_limits_t *limits,
                                  jt_http_request_handler_t handler, void *opaque,
                                  jt_error_t *err) {
        return start(addr, opt, limits, NULL, handler, opaque, err);
}

int jt_http_port(const jt_http_t *h) {
        return h ? h->port : -1;
}

void jt_http_counters(const jt_http_t *h, jt_http_counters_t *out) {
        memset(out, 0, sizeof(*out));
        if (!h)
                return;
        out->deadline = atomic_load_explicit(&h->cut_deadline, memory_order_relaxed);
        out->per_client = atomic_load_explicit(&h->cut_per_client, memory_order_relaxed);
        out->total = atomic_load_explicit(&h->cut_total, memory_order_relaxed);
}

void jt_http_stop(jt_http_t *h) {
        if (!h)
                return;
        atomic_store(&h->quit, true);
        if (h->thread_started)
                pthread_join(h->thread, NULL);
        /* After the thread: the CLOSED callbacks of the stop touch the table on this thread. */
        if (h->daemon)
                MHD_stop_daemon(h->daemon);
        pthread_mutex_destroy(&h->log_lock);
        free(h->conns);
        free(h);
}
