/* Metrics registry and its HTTP endpoint: fixed-label counters as atomics (the hot path is one
 * relaxed add), the histogram, lag table and health behind one short lock, libmicrohttpd for
 * serving them in the Prometheus text format. */
#include "jt_metrics.h"

#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "jt_log.h"

#ifndef JT_VERSION
#define JT_VERSION "unknown"
#endif

#define ADDR_OPT             "--metrics-addr"
#define TOPIC_MAX            255 /* Kafka allows 249 characters */
#define REASON_MAX           256
#define CONNECTION_LIMIT     32
#define CONNECTION_TIMEOUT_S 10

/* The label values each counter may carry; the last one, "other", takes anything unknown so
 * that a caller's typo cannot grow the series without bound. */
static const char *const kinds[] = {"stats", "cleanup", "other"};
static const char *const outcomes[] = {"done",    "retried", "dead_lettered",
                                       "stopped", "failed",  "other"};
static const char *const ops[] = {"read", "written", "deleted", "other"};
/* The commands the programs send (and the driver's own, such as endSessions); handshakes and
 * server monitoring are no command events. */
static const char *const commands[] = {
    "find",        "getMore",         "insert",   "update",    "delete",        "findAndModify",
    "aggregate",   "count",           "distinct", "bulkWrite", "createIndexes", "dropIndexes",
    "listIndexes", "listCollections", "ping",     "hello",     "isMaster",      "buildInfo",
    "killCursors", "endSessions",     "other"};

#define N_KINDS    (sizeof(kinds) / sizeof(kinds[0]))
#define N_OUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))
#define N_OPS      (sizeof(ops) / sizeof(ops[0]))
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Delete batches take milliseconds on a quiet server and seconds on a loaded one. */
static const double bucket_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define N_BUCKETS (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

typedef struct {
        char topic[TOPIC_MAX + 1];
        int32_t partition;
        int64_t lag;
} lag_series_t;

struct jt_metrics_s {
        char *program;
        _Atomic uint64_t tasks[N_KINDS][N_OUTCOMES];
        _Atomic uint64_t documents[N_OPS];
        _Atomic uint64_t db_requests[N_COMMANDS];
        _Atomic uint64_t users_read;
        _Atomic uint64_t unknown_schema_events; /* the notifier's */
        _Atomic int64_t held_partitions;

        pthread_mutex_t lock;            /* guards every field below */
        uint64_t buckets[N_BUCKETS + 1]; /* per bucket, the last is +Inf; rendered cumulative */
        uint64_t batch_count;
        double batch_sum;
        lag_series_t *lag; /* unordered; removal moves the last series into the hole */
        size_t lag_count, lag_cap;
        bool lag_full_logged;
        bool healthy;
        char reason[REASON_MAX];
        bool skew_known; /* joytify_clock_skew_seconds is rendered once measured */
        double skew_s;
        bool serving;        /* after MHD_start_daemon returned: MHD messages go to the log */
        char mhd_error[256]; /* MHD's last message while starting, for the error */

        /* Touched only by the owner's thread. */
        struct MHD_Daemon *daemon;
        int port;
};

/* --- text buffer ----------------------------------------------------------------------- */

typedef struct {
        char *data;
        size_t len, cap;
        bool failed; /* out of memory: further appends are dropped, the render returns NULL */
} buf_t;

static bool buf_reserve(buf_t *b, size_t extra) {
        size_t cap;
        char *data;

        if (b->failed)
                return false;
        if (b->len + extra + 1 <= b->cap)
                return true;
        cap = b->cap ? b->cap : 4096;
        while (cap < b->len + extra + 1)
                cap *= 2;
        data = realloc(b->data, cap);
        if (!data) {
                b->failed = true;
                return false;
        }
        b->data = data;
        b->cap = cap;
        return true;
}

static void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(buf_t *b, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0 || !buf_reserve(b, (size_t)n))
                return;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

/* A label value as the exposition format wants it: backslash, quote and newline escaped. */
static void buf_label_value(buf_t *b, const char *value) {
        for (const char *p = value; *p; p++) {
                if (!buf_reserve(b, 2))
                        return;
                if (*p == '\\' || *p == '"') {
                        b->data[b->len++] = '\\';
                        b->data[b->len++] = *p;
                } else if (*p == '\n') {
                        b->data[b->len++] = '\\';
                        b->data[b->len++] = 'n';
                } else {
                        b->data[b->len++] = *p;
                }
        }
        b->data[b->len] = '\0';
}

/* The shortest text that reads back as the same double, in the format's spelling of the
 * infinities, so that le="0.1" and sums print as people expect. */
static void format_double(char *out, size_t size, double v) {
        if (isnan(v)) {
                snprintf(out, size, "NaN");
                return;
        }
        if (isinf(v)) {
                snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        snprintf(out, size, "%.15g", v);
        if (strtod(out, NULL) != v)
                snprintf(out, size, "%.17g", v);
}

static void buf_header(buf_t *b, const char *name, const char *type, const char *help) {
        buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* --- registry -------------------------------------------------------------------------- */

jt_metrics_t *jt_metrics_new(const char *program, jt_error_t *err) {
        jt_metrics_t *m = calloc(1, sizeof(*m));

        if (!m) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "metrics: out of memory");
                return NULL;
        }
        m->program = strdup(program && *program ? program : "joytify");
        if (!m->program) {
                free(m);
                jt_error_set(err, JT_ERR_SYSTEM, 0, "metrics: out of memory");
                return NULL;
        }
        for (size_t k = 0; k < N_KINDS; k++)
                for (size_t o = 0; o < N_OUTCOMES; o++)
                        atomic_init(&m->tasks[k][o], 0);
        for (size_t o = 0; o < N_OPS; o++)
                atomic_init(&m->documents[o], 0);
        for (size_t c = 0; c < N_COMMANDS; c++)
                atomic_init(&m->db_requests[c], 0);
        atomic_init(&m->users_read, 0);
        pthread_mutex_init(&m->lock, NULL);
        m->healthy = true;
        m->port = -1;
        return m;
}

void jt_metrics_destroy(jt_metrics_t *m) {
        if (!m)
                return;
        /* Stopping joins the HTTP thread, so nothing reads the registry after this. */
        if (m->daemon)
                MHD_stop_daemon(m->daemon);
        pthread_mutex_destroy(&m->lock);
        free(m->lag);
        free(m->program);
        free(m);
}

static size_t label_index(const char *const *values, size_t count, const char *value) {
        for (size_t i = 0; value && i + 1 < count; i++)
                if (strcmp(values[i], value) == 0)
                        return i;
        return count - 1;
}

void jt_metrics_task(jt_metrics_t *m, const char *kind, const char *outcome) {
        size_t k = label_index(kinds, N_KINDS, kind);
        size_t o = label_index(outcomes, N_OUTCOMES, outcome);

        if (m)
                atomic_fetch_add_explicit(&m->tasks[k][o], 1, memory_order_relaxed);
}

void jt_metrics_documents(jt_metrics_t *m, const char *op, int64_t n) {
        if (!m || n <= 0)
                return;
        atomic_fetch_add_explicit(&m->documents[label_index(ops, N_OPS, op)], (uint64_t)n,
                                  memory_order_relaxed);
}

void jt_metrics_db_request(jt_metrics_t *m, const char *command) {
        if (m)
                atomic_fetch_add_explicit(
                    &m->db_requests[label_index(commands, N_COMMANDS, command)], 1,
                    memory_order_relaxed);
}

void jt_metrics_users_read(jt_metrics_t *m, int64_t n) {
        if (m && n > 0)
                atomic_fetch_add_explicit(&m->users_read, (uint64_t)n, memory_order_relaxed);
}

void jt_metrics_batch(jt_metrics_t *m, double seconds) {
        size_t i = 0;

        if (!m || !isfinite(seconds) || seconds < 0)
                return;
        while (i < N_BUCKETS && seconds > bucket_bounds[i])
                i++;
        /* One lock rather than atomics, so that a scrape never sees _count and the buckets
         * disagree. */
        pthread_mutex_lock(&m->lock);
        m->buckets[i]++;
        m->batch_count++;
        m->batch_sum += seconds;
        pthread_mutex_unlock(&m->lock);
}

void jt_metrics_set_lag(jt_metrics_t *m, const char *topic, int32_t partition, int64_t lag) {
        bool full = false;
        size_t i;

        if (!m || !topic || partition < 0 || strlen(topic) > TOPIC_MAX)
                return;
        pthread_mutex_lock(&m->lock);
        for (i = 0; i < m->lag_count; i++)
                if (m->lag[i].partition == partition && strcmp(m->lag[i].topic, topic) == 0)
                        break;
        if (lag < 0) {
                if (i < m->lag_count)
                        m->lag[i] = m->lag[--m->lag_count];
                goto done;
        }
        if (i == m->lag_count) {
                if (m->lag_count == JT_METRICS_LAG_MAX) {
                        full = !m->lag_full_logged;
                        m->lag_full_logged = true;
                        goto done;
                }
                if (m->lag_count == m->lag_cap) {
                        size_t cap = m->lag_cap ? m->lag_cap * 2 : 16;
                        lag_series_t *grown = realloc(m->lag, cap * sizeof(*grown));

                        if (!grown)
                                goto done; /* a missing lag series is better than a crash */
                        m->lag = grown;
                        m->lag_cap = cap;
                }
                snprintf(m->lag[i].topic, sizeof(m->lag[i].topic), "%s", topic);
                m->lag[i].partition = partition;
                m->lag_count++;
        }
        m->lag[i].lag = lag;
done:
        pthread_mutex_unlock(&m->lock);
        if (full)
                jt_log_warn("metrics: more than %d consumer-lag series; %s [%d] and further "
                            "partitions are not reported",
                            JT_METRICS_LAG_MAX, topic, (int)partition);
}

void jt_metrics_unknown_schema(jt_metrics_t *m) {
        if (m)
                atomic_fetch_add_explicit(&m->unknown_schema_events, 1, memory_order_relaxed);
}

void jt_metrics_set_held_partitions(jt_metrics_t *m, int64_t n) {
        if (m)
                atomic_store_explicit(&m->held_partitions, n < 0 ? 0 : n, memory_order_relaxed);
}

void jt_metrics_set_clock_skew(jt_metrics_t *m, double seconds) {
        if (!m || !isfinite(seconds))
                return;
        pthread_mutex_lock(&m->lock);
        m->skew_known = true;
        m->skew_s = seconds;
        pthread_mutex_unlock(&m->lock);
}

void jt_metrics_set_health(jt_metrics_t *m, bool healthy, const char *reason) {
        size_t i = 0;

        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        m->healthy = healthy;
        if (!reason || !*reason)
                reason = healthy ? "ok" : "unhealthy";
        /* One line, whatever the caller passed: /healthz prints it followed by a newline. */
        for (; reason[i] && i < sizeof(m->reason) - 1; i++) {
                unsigned char c = (unsigned char)reason[i];
                m->reason[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
        }
        m->reason[i] = '\0';
        pthread_mutex_unlock(&m->lock);
}

char *jt_metrics_render(jt_metrics_t *m, size_t *len) {
        buf_t b = {0};
        char num[64];
        uint64_t cumulative = 0;

        if (len)
                *len = 0;
        if (!m)
                return NULL;

        buf_header(&b, "joytify_up", "gauge", "1 while the program runs and serves metrics.");
        buf_printf(&b, "joytify_up 1\n");
        buf_header(&b, "joytify_build_info", "gauge", "The running build; the value is always 1.");
        buf_printf(&b, "joytify_build_info{program=\"");
        buf_label_value(&b, m->program);
        buf_printf(&b, "\",version=\"");
        buf_label_value(&b, JT_VERSION);
        buf_printf(&b, "\"} 1\n");

        buf_header(&b, "joytify_tasks_total", "counter", "Tasks finished, by kind and outcome.");
        for (size_t k = 0; k < N_KINDS; k++)
                for (size_t o = 0; o < N_OUTCOMES; o++)
                        buf_printf(&b,
                                   "joytify_tasks_total{kind=\"%s\",outcome=\"%s\"} %" PRIu64 "\n",
                                   kinds[k], outcomes[o],
                                   atomic_load_explicit(&m->tasks[k][o], memory_order_relaxed));

        buf_header(&b, "joytify_documents_total", "counter",
                   "MongoDB documents read, written or deleted by tasks.");
        for (size_t o = 0; o < N_OPS; o++)
                buf_printf(&b, "joytify_documents_total{op=\"%s\"} %" PRIu64 "\n", ops[o],
                           atomic_load_explicit(&m->documents[o], memory_order_relaxed));

        buf_header(&b, "joytify_db_requests_total", "counter",
                   "Database commands sent, by command name (find, getMore, delete, aggregate, "
                   "...).");
        for (size_t c = 0; c < N_COMMANDS; c++)
                buf_printf(&b, "joytify_db_requests_total{command=\"%s\"} %" PRIu64 "\n",
                           commands[c],
                           atomic_load_explicit(&m->db_requests[c], memory_order_relaxed));

        buf_header(&b, "joytify_users_read_total", "counter",
                   "Documents read from the users collection.");
        buf_printf(&b, "joytify_users_read_total %" PRIu64 "\n",
                   atomic_load_explicit(&m->users_read, memory_order_relaxed));

        if (strcmp(m->program, "notifier") == 0) {
                buf_header(&b, "joytify_notifier_unknown_schema_events_total", "counter",
                           "Status events of a schema this notifier does not know (a newer "
                           "version's), held with their partition instead of skipped.");
                buf_printf(&b, "joytify_notifier_unknown_schema_events_total %" PRIu64 "\n",
                           atomic_load_explicit(&m->unknown_schema_events, memory_order_relaxed));
                buf_header(&b, "joytify_notifier_held_partitions", "gauge",
                           "Status partitions waiting at an event of an unknown schema (their "
                           "offset is not stored).");
                buf_printf(&b, "joytify_notifier_held_partitions %" PRId64 "\n",
                           atomic_load_explicit(&m->held_partitions, memory_order_relaxed));
        }

        pthread_mutex_lock(&m->lock);
        buf_header(&b, "joytify_batch_duration_seconds", "histogram",
                   "Duration of cleanup delete batches.");
        for (size_t i = 0; i <= N_BUCKETS; i++) {
                cumulative += m->buckets[i];
                if (i < N_BUCKETS)
                        format_double(num, sizeof(num), bucket_bounds[i]);
                else
                        snprintf(num, sizeof(num), "+Inf");
                buf_printf(&b, "joytify_batch_duration_seconds_bucket{le=\"%s\"} %" PRIu64 "\n",
                           num, cumulative);
        }
        format_double(num, sizeof(num), m->batch_sum);
        buf_printf(&b, "joytify_batch_duration_seconds_sum %s\n", num);
        buf_printf(&b, "joytify_batch_duration_seconds_count %" PRIu64 "\n", m->batch_count);

        buf_header(&b, "joytify_consumer_lag", "gauge",
                   "Messages between the committed offset and the end of each assigned partition.");
        for (size_t i = 0; i < m->lag_count; i++) {
                buf_printf(&b, "joytify_consumer_lag{topic=\"");
                buf_label_value(&b, m->lag[i].topic);
                buf_printf(&b, "\",partition=\"%d\"} %" PRId64 "\n", (int)m->lag[i].partition,
                           m->lag[i].lag);
        }
        if (m->skew_known) {
                buf_header(&b, "joytify_clock_skew_seconds", "gauge",
                           "This host's clock minus the database server's, at the last check.");
                format_double(num, sizeof(num), m->skew_s);
                buf_printf(&b, "joytify_clock_skew_seconds %s\n", num);
        }
        pthread_mutex_unlock(&m->lock);

        if (b.failed || !b.data) {
                free(b.data);
                return NULL;
        }
        if (len)
                *len = b.len;
        return b.data;
}

/* --- HTTP ------------------------------------------------------------------------------ */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status, char *body,
                               size_t len, enum MHD_ResponseMemoryMode mode,
                               const char *content_type) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
        enum MHD_Result ret;

        if (!resp) {
                if (mode == MHD_RESPMEM_MUST_FREE)
                        free(body);
                return MHD_NO; /* MHD closes the connection */
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result respond_static(struct MHD_Connection *conn, unsigned int status,
                                      const char *body) {
        return respond(conn, status, (char *)body, strlen(body), MHD_RESPMEM_PERSISTENT,
                       "text/plain; charset=utf-8");
}

/* Answers from fixed texts and our own state only: nothing of the request is echoed back. */
static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
        jt_metrics_t *m = cls;

        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return respond_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
        if (strcmp(url, "/metrics") == 0) {
                size_t len;
                char *body = jt_metrics_render(m, &len);

                if (!body)
                        return respond_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                              "out of memory\n");
                return respond(conn, MHD_HTTP_OK, body, len, MHD_RESPMEM_MUST_FREE,
                               "text/plain; version=0.0.4; charset=utf-8");
        }
        if (strcmp(url, "/healthz") == 0) {
                char body[REASON_MAX + 1];
                bool healthy;

                pthread_mutex_lock(&m->lock);
                healthy = m->healthy;
                snprintf(body, sizeof(body), "%s\n", m->reason);
                pthread_mutex_unlock(&m->lock);
                if (healthy)
                        return respond_static(conn, MHD_HTTP_OK, "ok\n");
                return respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE, body, strlen(body),
                               MHD_RESPMEM_MUST_COPY, "text/plain; charset=utf-8");
        }
        return respond_static(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* While the daemon starts, MHD's message is kept for jt_metrics_serve's error ("Failed to bind
 * to port 9464: Address already in use"); afterwards messages go to the log. */
static void mhd_logger(void *cls, const char *fmt, va_list ap) {
        jt_metrics_t *m = cls;
        char msg[256];
        size_t n;
        bool serving;

        vsnprintf(msg, sizeof(msg), fmt, ap);
        n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == '.'))
                msg[--n] = '\0';
        pthread_mutex_lock(&m->lock);
        serving = m->serving;
        if (!serving)
                snprintf(m->mhd_error, sizeof(m->mhd_error), "%s", msg);
        pthread_mutex_unlock(&m->lock);
        if (serving)
                jt_log_warn("metrics http: %s", msg);
}

/* "HOST:PORT" or "[IPV6]:PORT" into a socket address; every error names the option and the
 * value. */
static bool parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *ss_len,
                       jt_error_t *err) {
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
                                    ADDR_OPT " must be HOST:PORT, e.g. 127.0.0.1:9464 (got \"\")");
        hints.ai_socktype = SOCK_STREAM;
        if (addr[0] == '[') {
                const char *rbracket = strchr(addr, ']');

                if (!rbracket || rbracket[1] != ':')
                        goto malformed;
                host_start = addr + 1;
                host_len = (size_t)(rbracket - host_start);
                colon = rbracket + 1;
                hints.ai_family = AF_INET6;
                hints.ai_flags = AI_NUMERICHOST;
        } else {
                colon = strrchr(addr, ':');
                if (!colon)
                        goto malformed;
                host_len = (size_t)(colon - addr);
                if (memchr(addr, ':', host_len))
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            ADDR_OPT " must put an IPv6 address in brackets, "
                                                     "e.g. [::1]:9464 (got \"%.200s\")",
                                            addr);
        }
        if (host_len == 0 || host_len >= sizeof(host))
                goto malformed;
        memcpy(host, host_start, host_len);
        host[host_len] = '\0';

        port_text = colon + 1;
        if (*port_text < '0' || *port_text > '9')
                goto malformed;
        port = strtol(port_text, &end, 10);
        if (*end != '\0' || port > 65535 || end - port_text > 5)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    ADDR_OPT " port must be 0..65535 (got \"%.200s\")", addr);

        rc = getaddrinfo(host, NULL, &hints, &res);
        if (rc != 0 || !res)
                return jt_error_set(err, JT_ERR_CONFIG, rc,
                                    ADDR_OPT " host \"%s\" is not an IP address or known host "
                                             "name (got \"%.200s\"): %s",
                                    host, addr, rc ? gai_strerror(rc) : "no address");
        memcpy(ss, res->ai_addr, res->ai_addrlen);
        *ss_len = res->ai_addrlen;
        freeaddrinfo(res);
        if (ss->ss_family == AF_INET6)
                ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
        else if (ss->ss_family == AF_INET)
                ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
        else
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    ADDR_OPT " host must be an IPv4 or IPv6 address (got "
                                             "\"%.200s\")",
                                    addr);
        return true;
malformed:
        return jt_error_set(err, JT_ERR_CONFIG, 0,
                            ADDR_OPT " must be HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464 "
                                     "(got \"%.200s\")",
                            addr);
}

/* Only for MHD's messages: with MHD_OPTION_SOCK_ADDR it binds to ss, but names this port. */
static uint16_t port_of(const struct sockaddr_storage *ss) {
        if (ss->ss_family == AF_INET6)
                return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

bool jt_metrics_serve(jt_metrics_t *m, const char *addr, jt_error_t *err) {
        struct sockaddr_storage ss;
        socklen_t ss_len;
        unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
        const union MHD_DaemonInfo *info;
        struct MHD_Daemon *daemon;

        if (!m)
                return jt_error_set(err, JT_ERR_CONFIG, 0, "metrics: no registry to serve");
        if (m->daemon)
                return jt_error_set(err, JT_ERR_CONFIG, 0, "metrics: already serving on port %d",
                                    m->port);
        if (!parse_addr(addr, &ss, &ss_len, err))
                return false;
        if (ss.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6; /* without MHD_USE_DUAL_STACK: IPV6_V6ONLY, this host only */

        pthread_mutex_lock(&m->lock);
        m->mhd_error[0] = '\0';
        pthread_mutex_unlock(&m->lock);
        daemon = MHD_start_daemon(flags, port_of(&ss), NULL, NULL, handle_request, m,
                                  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
                                  MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, m, MHD_OPTION_END);
        if (!daemon) {
                char reason[sizeof(m->mhd_error)];

                pthread_mutex_lock(&m->lock);
                snprintf(reason, sizeof(reason), "%s",
                         m->mhd_error[0] ? m->mhd_error : "libmicrohttpd could not start");
                pthread_mutex_unlock(&m->lock);
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    ADDR_OPT " cannot listen on \"%.200s\": %s", addr, reason);
        }
        pthread_mutex_lock(&m->lock);
        m->serving = true;
        pthread_mutex_unlock(&m->lock);
        m->daemon = daemon;
        info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
        m->port = info ? (int)info->port : -1;
        jt_log_info("metrics: serving /metrics and /healthz on %s (port %d)", addr, m->port);
        return true;
}

int jt_metrics_port(const jt_metrics_t *m) {
        return m && m->daemon ? m->port : -1;
}
