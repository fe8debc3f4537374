/* Metrics registry and its HTTP endpoint: fixed-label counters as atomics (the hot path is one
 * relaxed add), the histogram, lag table and readiness behind one short lock, the heartbeat an
 * atomic, served by jt_http (which keeps slow clients from starving the probes) in the
 * Prometheus text format. */
#include "jt_metrics.h"

#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_http.h"
#include "jt_log.h"
#include "jt_time.h"

#ifndef JT_VERSION
#define JT_VERSION "unknown"
#endif

#define ADDR_OPT   "--metrics-addr"
#define TOPIC_MAX  255 /* Kafka allows 249 characters */
#define REASON_MAX 256

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

/* Delete batches take milliseconds on a quiet server and seconds on a loaded one; the bounds go
 * up to an hour so that a database stalling for minutes shows in the quantiles (an alert on
 * p99 > 10 s needs finite buckets above 10 s: deploy/prometheus). */
static const double bucket_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,    2.5,
                                       5,     10,   30,    60,   120, 300,  600, 1800, 3600};
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
        bool ready;
        char ready_reason[REASON_MAX];
        int64_t ready_at_ms, ready_valid_ms; /* monotonic; valid 0: until the next call */
        bool skew_known; /* joytify_clock_skew_seconds is rendered once measured */
        double skew_s;

        _Atomic int64_t beat_ms; /* monotonic: the owner's loop's last round */
        _Atomic int liveness_timeout_s;

        jt_http_t *http; /* set under the lock (render reads it), by the owner's thread */
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
        snprintf(m->ready_reason, sizeof(m->ready_reason), "starting");
        atomic_init(&m->beat_ms, jt_time_mono_ms());
        atomic_init(&m->liveness_timeout_s, JT_METRICS_LIVENESS_TIMEOUT_S);
        return m;
}

void jt_metrics_destroy(jt_metrics_t *m) {
        if (!m)
                return;
        /* Stopping joins the HTTP thread, so nothing reads the registry after this. */
        jt_http_stop(m->http);
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

void jt_metrics_beat(jt_metrics_t *m) {
        if (m)
                atomic_store_explicit(&m->beat_ms, jt_time_mono_ms(), memory_order_relaxed);
}

void jt_metrics_set_liveness_timeout(jt_metrics_t *m, int seconds) {
        if (m && seconds >= 1 && seconds <= 86400)
                atomic_store_explicit(&m->liveness_timeout_s, seconds, memory_order_relaxed);
}

int jt_metrics_liveness_for(int64_t longest_wait_s) {
        if (longest_wait_s > 86400 / 4)
                return 86400;
        return longest_wait_s * 4 > JT_METRICS_LIVENESS_TIMEOUT_S ? (int)(longest_wait_s * 4)
                                                                  : JT_METRICS_LIVENESS_TIMEOUT_S;
}

void jt_metrics_set_ready(jt_metrics_t *m, bool ready, const char *reason, int64_t valid_ms) {
        size_t i = 0;

        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        m->ready = ready;
        m->ready_at_ms = jt_time_mono_ms();
        m->ready_valid_ms = valid_ms > 0 ? valid_ms : 0;
        if (!reason || !*reason)
                reason = ready ? "ok" : "not ready";
        /* One line, whatever the caller passed: /readyz prints it followed by a newline. */
        for (; reason[i] && i < sizeof(m->ready_reason) - 1; i++) {
                unsigned char c = (unsigned char)reason[i];
                m->ready_reason[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
        }
        m->ready_reason[i] = '\0';
        pthread_mutex_unlock(&m->lock);
}

/* The counters and gauges kept as atomics: read without the lock. */
static void render_atomics(buf_t *b, jt_metrics_t *m) {
        buf_header(b, "joytify_up", "gauge", "1 while the program runs and serves metrics.");
        buf_printf(b, "joytify_up 1\n");
        buf_header(b, "joytify_build_info", "gauge", "The running build; the value is always 1.");
        buf_printf(b, "joytify_build_info{program=\"");
        buf_label_value(b, m->program);
        buf_printf(b, "\",version=\"");
        buf_label_value(b, JT_VERSION);
        buf_printf(b, "\"} 1\n");

        buf_header(b, "joytify_tasks_total", "counter", "Tasks finished, by kind and outcome.");
        for (size_t k = 0; k < N_KINDS; k++)
                for (size_t o = 0; o < N_OUTCOMES; o++)
                        buf_printf(b,
                                   "joytify_tasks_total{kind=\"%s\",outcome=\"%s\"} %" PRIu64 "\n",
                                   kinds[k], outcomes[o],
                                   atomic_load_explicit(&m->tasks[k][o], memory_order_relaxed));

        buf_header(b, "joytify_documents_total", "counter",
                   "MongoDB documents read, written or deleted by tasks.");
        for (size_t o = 0; o < N_OPS; o++)
                buf_printf(b, "joytify_documents_total{op=\"%s\"} %" PRIu64 "\n", ops[o],
                           atomic_load_explicit(&m->documents[o], memory_order_relaxed));

        buf_header(b, "joytify_db_requests_total", "counter",
                   "Database commands sent, by command name (find, getMore, delete, aggregate, "
                   "...).");
        for (size_t c = 0; c < N_COMMANDS; c++)
                buf_printf(b, "joytify_db_requests_total{command=\"%s\"} %" PRIu64 "\n",
                           commands[c],
                           atomic_load_explicit(&m->db_requests[c], memory_order_relaxed));

        buf_header(b, "joytify_users_read_total", "counter",
                   "Documents read from the users collection.");
        buf_printf(b, "joytify_users_read_total %" PRIu64 "\n",
                   atomic_load_explicit(&m->users_read, memory_order_relaxed));

        if (strcmp(m->program, "notifier") == 0) {
                buf_header(b, "joytify_notifier_unknown_schema_events_total", "counter",
                           "Status events of a schema this notifier does not know (a newer "
                           "version's), held with their partition instead of skipped.");
                buf_printf(b, "joytify_notifier_unknown_schema_events_total %" PRIu64 "\n",
                           atomic_load_explicit(&m->unknown_schema_events, memory_order_relaxed));
                buf_header(b, "joytify_notifier_held_partitions", "gauge",
                           "Status partitions waiting at an event of an unknown schema (their "
                           "offset is not stored).");
                buf_printf(b, "joytify_notifier_held_partitions %" PRId64 "\n",
                           atomic_load_explicit(&m->held_partitions, memory_order_relaxed));
        }
}

/* The series behind the lock (the caller holds it): histogram, lag, clock skew, HTTP cuts. */
static void render_locked(buf_t *b, jt_metrics_t *m) {
        char num[64];
        uint64_t cumulative = 0;

        buf_header(b, "joytify_batch_duration_seconds", "histogram",
                   "Duration of cleanup delete batches.");
        for (size_t i = 0; i <= N_BUCKETS; i++) {
                cumulative += m->buckets[i];
                if (i < N_BUCKETS)
                        format_double(num, sizeof(num), bucket_bounds[i]);
                else
                        snprintf(num, sizeof(num), "+Inf");
                buf_printf(b, "joytify_batch_duration_seconds_bucket{le=\"%s\"} %" PRIu64 "\n", num,
                           cumulative);
        }
        format_double(num, sizeof(num), m->batch_sum);
        buf_printf(b, "joytify_batch_duration_seconds_sum %s\n", num);
        buf_printf(b, "joytify_batch_duration_seconds_count %" PRIu64 "\n", m->batch_count);

        buf_header(b, "joytify_consumer_lag", "gauge",
                   "Messages between the committed offset and the end of each assigned partition.");
        for (size_t i = 0; i < m->lag_count; i++) {
                buf_printf(b, "joytify_consumer_lag{topic=\"");
                buf_label_value(b, m->lag[i].topic);
                buf_printf(b, "\",partition=\"%d\"} %" PRId64 "\n", (int)m->lag[i].partition,
                           m->lag[i].lag);
        }
        if (m->skew_known) {
                buf_header(b, "joytify_clock_skew_seconds", "gauge",
                           "This host's clock minus the database server's, at the last check.");
                format_double(num, sizeof(num), m->skew_s);
                buf_printf(b, "joytify_clock_skew_seconds %s\n", num);
        }
        if (m->http) {
                jt_http_counters_t cuts;

                jt_http_counters(m->http, &cuts);
                buf_header(b, "joytify_http_connections_cut_total", "counter",
                           "Connections to this endpoint cut: a request not answered within the "
                           "deadline, or a place taken over the per-client or total limit.");
                buf_printf(b,
                           "joytify_http_connections_cut_total{reason=\"deadline\"} %" PRIu64 "\n"
                           "joytify_http_connections_cut_total{reason=\"per_client\"} %" PRIu64 "\n"
                           "joytify_http_connections_cut_total{reason=\"total\"} %" PRIu64 "\n",
                           cuts.deadline, cuts.per_client, cuts.total);
        }
}

char *jt_metrics_render(jt_metrics_t *m, size_t *len) {
        buf_t b = {0};

        if (len)
                *len = 0;
        if (!m)
                return NULL;
        render_atomics(&b, m);
        pthread_mutex_lock(&m->lock);
        render_locked(&b, m);
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

static bool answer_live(jt_metrics_t *m, jt_http_reply_t *reply) {
        int64_t age_ms =
            jt_time_mono_ms() - atomic_load_explicit(&m->beat_ms, memory_order_relaxed);
        int timeout_s = atomic_load_explicit(&m->liveness_timeout_s, memory_order_relaxed);
        char body[160];

        if (age_ms <= (int64_t)timeout_s * 1000)
                return jt_http_reply_text(reply, MHD_HTTP_OK, "ok\n");
        snprintf(body, sizeof(body),
                 "main loop stuck: last round %" PRId64 " s ago (liveness timeout %d s)\n",
                 age_ms / 1000, timeout_s);
        return jt_http_reply_text(reply, MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

static bool answer_ready(jt_metrics_t *m, jt_http_reply_t *reply) {
        char body[REASON_MAX + 96];
        int64_t age_ms;
        bool ready;

        pthread_mutex_lock(&m->lock);
        age_ms = jt_time_mono_ms() - m->ready_at_ms;
        ready = m->ready;
        if (m->ready_valid_ms > 0 && age_ms > m->ready_valid_ms) {
                ready = false;
                snprintf(body, sizeof(body),
                         "readiness unknown: the servers were last checked %" PRId64 " s ago\n",
                         age_ms / 1000);
        } else {
                snprintf(body, sizeof(body), "%s\n", ready ? "ok" : m->ready_reason);
        }
        pthread_mutex_unlock(&m->lock);
        return jt_http_reply_text(reply, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

/* The routes. Answers come from fixed texts and our own state only, never from the request. */
static bool route(void *opaque, const char *path, jt_http_reply_t *reply) {
        jt_metrics_t *m = opaque;

        if (strcmp(path, "/metrics") == 0) {
                reply->status = MHD_HTTP_OK;
                reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
                reply->body = jt_metrics_render(m, &reply->len);
                return reply->body != NULL;
        }
        if (strcmp(path, "/livez") == 0 || strcmp(path, "/healthz") == 0)
                return answer_live(m, reply);
        if (strcmp(path, "/readyz") == 0)
                return answer_ready(m, reply);
        return jt_http_reply_text(reply, MHD_HTTP_NOT_FOUND, "not found\n");
}

bool jt_metrics_serve(jt_metrics_t *m, const char *addr, jt_error_t *err) {
        jt_http_t *http;

        if (!m)
                return jt_error_set(err, JT_ERR_CONFIG, 0, "metrics: no registry to serve");
        if (m->http)
                return jt_error_set(err, JT_ERR_CONFIG, 0, "metrics: already serving on port %d",
                                    jt_http_port(m->http));
        if (!(http = jt_http_start(addr, ADDR_OPT, NULL, route, m, err)))
                return false;
        pthread_mutex_lock(&m->lock);
        m->http = http;
        pthread_mutex_unlock(&m->lock);
        jt_log_info("metrics: serving /metrics, /livez, /readyz and /healthz on %s (port %d)", addr,
                    jt_http_port(http));
        return true;
}

int jt_metrics_port(const jt_metrics_t *m) {
        return m && m->http ? jt_http_port(m->http) : -1;
}
