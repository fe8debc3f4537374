/* Metrics endpoint: real HTTP requests (libcurl) to a server on an ephemeral port, exact sample
 * lines after updates, label limits, concurrent updates while scraping, address errors.
 * `test_metrics --dump FILE` writes a populated /metrics body for the promtool check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_metrics.h"
#include "jt_test.h"

/* --- HTTP client ----------------------------------------------------------------------- */

typedef struct {
        long status;
        char *body;
        size_t len;
        char content_type[128];
        char allow[64];
} reply_t;

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        reply_t *r = userdata;
        size_t n = size * nmemb;
        char *grown = realloc(r->body, r->len + n + 1);

        if (!grown)
                return 0;
        memcpy(grown + r->len, data, n);
        r->len += n;
        grown[r->len] = '\0';
        r->body = grown;
        return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata) {
        reply_t *r = userdata;
        size_t n = size * nmemb;

        if (n > 6 && strncasecmp(data, "Allow:", 6) == 0) {
                size_t len = n - 6;
                const char *v = data + 6;
                while (len > 0 && *v == ' ')
                        v++, len--;
                while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n'))
                        len--;
                snprintf(r->allow, sizeof(r->allow), "%.*s", (int)len, v);
        }
        return n;
}

/* One request into *r; false with the reason in why if no HTTP reply came. method "HEAD"
 * sends no body, "POST" a small form body. Safe in any thread (never fails the test itself). */
static bool http_try(int port, const char *method, const char *path, reply_t *r, char *why,
                     size_t why_size) {
        char url[256];
        char *ct = NULL;
        CURL *curl = curl_easy_init();
        CURLcode rc;

        memset(r, 0, sizeof(*r));
        if (!curl) {
                snprintf(why, why_size, "curl_easy_init failed");
                return false;
        }
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
        if (strcmp(method, "HEAD") == 0)
                curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
        else if (strcmp(method, "POST") == 0)
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "a=<script>&b=%0a");
        else if (strcmp(method, "GET") != 0)
                curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        rc = curl_easy_perform(curl);
        if (rc != CURLE_OK) {
                snprintf(why, why_size, "%s %s: expected an HTTP reply, got curl error: %s", method,
                         url, curl_easy_strerror(rc));
                curl_easy_cleanup(curl);
                free(r->body);
                r->body = NULL;
                return false;
        }
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
        curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(r->content_type, sizeof(r->content_type), "%s", ct ? ct : "");
        curl_easy_cleanup(curl);
        if (!r->body)
                r->body = calloc(1, 1);
        return true;
}

/* The same in the test's own thread, failing the test when no reply came. */
static reply_t http(int port, const char *method, const char *path) {
        reply_t r;
        char why[512];

        if (!http_try(port, method, path, &r, why, sizeof(why)))
                fail_msg("%s", why);
        return r;
}

static void reply_free(reply_t *r) {
        free(r->body);
        r->body = NULL;
}

/* --- exposition helpers ---------------------------------------------------------------- */

/* The value of the sample whose name and labels are exactly `series`, or NULL. Copied into
 * out. */
static const char *sample(const char *body, const char *series, char *out, size_t size) {
        size_t n = strlen(series);

        for (const char *line = body; line && *line;) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t)(eol - line) : strlen(line);

                if (len > n && strncmp(line, series, n) == 0 && line[n] == ' ') {
                        snprintf(out, size, "%.*s", (int)(len - n - 1), line + n + 1);
                        return out;
                }
                line = eol ? eol + 1 : NULL;
        }
        return NULL;
}

#define expect_sample(body, series, expected)                                                      \
        do {                                                                                       \
                char got_[128];                                                                    \
                const char *v_ = sample((body), (series), got_, sizeof(got_));                     \
                if (!v_ || strcmp(v_, (expected)) != 0)                                            \
                        fail_msg("%s: expected %s, got %s\n--- body ---\n%s", (series),            \
                                 (expected), v_ ? v_ : "(no such series)", (body));                \
        } while (0)

#define expect_no_sample(body, series)                                                             \
        do {                                                                                       \
                char got_[128];                                                                    \
                const char *v_ = sample((body), (series), got_, sizeof(got_));                     \
                if (v_)                                                                            \
                        fail_msg("%s: expected no such series, got value %s\n--- body ---\n%s",    \
                                 (series), v_, (body));                                            \
        } while (0)

#define expect_str(what, expected, actual)                                                         \
        do {                                                                                       \
                if (strcmp((expected), (actual)) != 0)                                             \
                        fail_msg("%s: expected \"%s\", got \"%s\"", (what), (expected), (actual)); \
        } while (0)

#define expect_long(what, expected, actual)                                                        \
        do {                                                                                       \
                long long e_ = (long long)(expected), a_ = (long long)(actual);                    \
                if (e_ != a_)                                                                      \
                        fail_msg("%s: expected %lld, got %lld", (what), e_, a_);                   \
        } while (0)

static int count_prefix(const char *body, const char *prefix) {
        int n = 0;
        size_t len = strlen(prefix);

        for (const char *line = body; line && *line;) {
                if (strncmp(line, prefix, len) == 0)
                        n++;
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        return n;
}

static jt_metrics_t *serving(void) {
        jt_error_t err = {0};
        jt_metrics_t *m = jt_metrics_new("worker", &err);

        if (!m)
                fail_msg("jt_metrics_new: %s", err.message);
        assert_ok(jt_metrics_serve(m, "127.0.0.1:0", &err), err);
        if (jt_metrics_port(m) <= 0)
                fail_msg("jt_metrics_port: expected a port > 0, got %d", jt_metrics_port(m));
        return m;
}

static char *scrape(jt_metrics_t *m) {
        reply_t r = http(jt_metrics_port(m), "GET", "/metrics");

        expect_long("GET /metrics status", 200, r.status);
        return r.body;
}

/* --- tests ----------------------------------------------------------------------------- */

static void routes_and_methods(void **state) {
        jt_metrics_t *m = serving();
        int port = jt_metrics_port(m);
        reply_t r;

        r = http(port, "GET", "/metrics");
        expect_long("GET /metrics status", 200, r.status);
        expect_str("GET /metrics content type", "text/plain; version=0.0.4; charset=utf-8",
                   r.content_type);
        expect_sample(r.body, "joytify_up", "1");
        expect_sample(r.body, "joytify_build_info{program=\"worker\",version=\"" JT_VERSION "\"}",
                      "1");
        if (!strstr(r.body, "# TYPE joytify_tasks_total counter\n"))
                fail_msg("expected a TYPE line for joytify_tasks_total, got:\n%s", r.body);
        reply_free(&r);

        r = http(port, "GET", "/metrics?format=anything");
        expect_long("GET /metrics?query status", 200, r.status);
        reply_free(&r);

        r = http(port, "HEAD", "/metrics");
        expect_long("HEAD /metrics status", 200, r.status);
        expect_long("HEAD /metrics body length", 0, r.len);
        reply_free(&r);

        r = http(port, "GET", "/healthz");
        expect_long("GET /healthz status while healthy", 200, r.status);
        expect_str("GET /healthz body while healthy", "ok\n", r.body);
        reply_free(&r);

        jt_metrics_set_health(m, false, "mongo unreachable:\nconnection refused");
        r = http(port, "GET", "/healthz");
        expect_long("GET /healthz status when unhealthy", 503, r.status);
        expect_str("GET /healthz body when unhealthy", "mongo unreachable: connection refused\n",
                   r.body);
        reply_free(&r);

        jt_metrics_set_health(m, false, NULL);
        r = http(port, "GET", "/healthz");
        expect_long("GET /healthz status, no reason", 503, r.status);
        expect_str("GET /healthz body, no reason", "unhealthy\n", r.body);
        reply_free(&r);

        jt_metrics_set_health(m, true, NULL);
        r = http(port, "GET", "/healthz");
        expect_long("GET /healthz status after recovery", 200, r.status);
        expect_str("GET /healthz body after recovery", "ok\n", r.body);
        reply_free(&r);

        /* Unknown paths and methods answer from fixed texts: nothing of the request comes
         * back, so there is nothing to inject through. */
        r = http(port, "GET", "/nope%3Cscript%3E?x=%3Cb%3E");
        expect_long("GET /nope status", 404, r.status);
        expect_str("GET /nope body", "not found\n", r.body);
        reply_free(&r);

        r = http(port, "GET", "/metrics/");
        expect_long("GET /metrics/ status", 404, r.status);
        reply_free(&r);

        r = http(port, "POST", "/metrics");
        expect_long("POST /metrics status", 405, r.status);
        expect_str("POST /metrics body", "method not allowed\n", r.body);
        expect_str("POST /metrics Allow header", "GET, HEAD", r.allow);
        reply_free(&r);

        r = http(port, "DELETE", "/healthz");
        expect_long("DELETE /healthz status", 405, r.status);
        reply_free(&r);

        /* The server still answers after the requests above. */
        r = http(port, "GET", "/healthz");
        expect_long("GET /healthz status at the end", 200, r.status);
        reply_free(&r);
        jt_metrics_destroy(m);
}

static void exact_samples(void **state) {
        jt_metrics_t *m = serving();
        char *body;
        char expected_sum[64];
        static const double observations[] = {0.00390625, 0.005, 0.2, 3, 100};
        double sum = 0;

        body = scrape(m);
        /* Every fixed series exists from the start, at 0, so rate() works from the first
         * scrape. */
        expect_sample(body, "joytify_tasks_total{kind=\"stats\",outcome=\"done\"}", "0");
        expect_sample(body, "joytify_documents_total{op=\"deleted\"}", "0");
        expect_sample(body, "joytify_batch_duration_seconds_count", "0");
        expect_sample(body, "joytify_batch_duration_seconds_sum", "0");
        expect_sample(body, "joytify_db_requests_total{command=\"find\"}", "0");
        expect_sample(body, "joytify_users_read_total", "0");
        expect_long("lag series before any update", 0, count_prefix(body, "joytify_consumer_lag{"));
        free(body);

        for (int i = 0; i < 3; i++)
                jt_metrics_task(m, "cleanup", "done");
        jt_metrics_task(m, "stats", "dead_lettered");
        jt_metrics_task(m, "stats", "bogus");     /* unknown outcome -> other */
        jt_metrics_task(m, "evil\"}", "stopped"); /* unknown kind -> other */
        jt_metrics_task(m, NULL, NULL);           /* both unknown */
        jt_metrics_documents(m, "read", 10);
        jt_metrics_documents(m, "read", 5);
        jt_metrics_documents(m, "deleted", 7);
        jt_metrics_documents(m, "deleted", 0);  /* ignored */
        jt_metrics_documents(m, "deleted", -4); /* ignored: counters never go down */
        jt_metrics_documents(m, "upserted", 2); /* unknown op -> other */
        for (size_t i = 0; i < sizeof(observations) / sizeof(observations[0]); i++) {
                jt_metrics_batch(m, observations[i]);
                sum += observations[i];
        }
        jt_metrics_batch(m, -1);        /* ignored */
        jt_metrics_batch(m, 0.0 / 0.0); /* ignored */
        jt_metrics_db_request(m, "find");
        jt_metrics_db_request(m, "find");
        jt_metrics_db_request(m, "delete");
        jt_metrics_db_request(m, "aggregate");
        jt_metrics_db_request(m, "getMore");
        jt_metrics_db_request(m, "saslStart\"}"); /* unknown command -> other */
        jt_metrics_db_request(m, NULL);
        jt_metrics_users_read(m, 1000);
        jt_metrics_users_read(m, 24);
        jt_metrics_users_read(m, -3); /* ignored */
        jt_metrics_set_lag(m, "joytify.tasks.stats", 3, 42);
        jt_metrics_set_lag(m, "joytify.tasks.cleanup", 0, 7);
        jt_metrics_set_lag(m, "joytify.tasks.stats", 3, 40);
        jt_metrics_set_lag(m, "we\"ird\\topic\nname", 1, 5);

        body = scrape(m);
        expect_sample(body, "joytify_tasks_total{kind=\"cleanup\",outcome=\"done\"}", "3");
        expect_sample(body, "joytify_tasks_total{kind=\"stats\",outcome=\"dead_lettered\"}", "1");
        expect_sample(body, "joytify_tasks_total{kind=\"stats\",outcome=\"other\"}", "1");
        expect_sample(body, "joytify_tasks_total{kind=\"other\",outcome=\"stopped\"}", "1");
        expect_sample(body, "joytify_tasks_total{kind=\"other\",outcome=\"other\"}", "1");
        expect_sample(body, "joytify_tasks_total{kind=\"stats\",outcome=\"done\"}", "0");
        expect_long("joytify_tasks_total series (3 kinds x 6 outcomes)", 18,
                    count_prefix(body, "joytify_tasks_total{"));
        if (strstr(body, "evil") || strstr(body, "bogus") || strstr(body, "upserted"))
                fail_msg("expected unknown label values to be counted as \"other\", got them "
                         "in the body:\n%s",
                         body);
        expect_sample(body, "joytify_documents_total{op=\"read\"}", "15");
        expect_sample(body, "joytify_documents_total{op=\"deleted\"}", "7");
        expect_sample(body, "joytify_documents_total{op=\"written\"}", "0");
        expect_sample(body, "joytify_documents_total{op=\"other\"}", "2");
        expect_sample(body, "joytify_db_requests_total{command=\"find\"}", "2");
        expect_sample(body, "joytify_db_requests_total{command=\"delete\"}", "1");
        expect_sample(body, "joytify_db_requests_total{command=\"aggregate\"}", "1");
        expect_sample(body, "joytify_db_requests_total{command=\"getMore\"}", "1");
        expect_sample(body, "joytify_db_requests_total{command=\"count\"}", "0");
        expect_sample(body, "joytify_db_requests_total{command=\"other\"}", "2");
        expect_long("joytify_db_requests_total series (20 commands + other)", 21,
                    count_prefix(body, "joytify_db_requests_total{"));
        if (strstr(body, "saslStart"))
                fail_msg("expected an unknown command to be counted as \"other\", got it in the "
                         "body:\n%s",
                         body);
        expect_sample(body, "joytify_users_read_total", "1024");

        /* Buckets are cumulative and le is inclusive (0.005 falls in le="0.005"). */
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"0.005\"}", "2");
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"0.01\"}", "2");
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"0.1\"}", "2");
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"0.25\"}", "3");
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"2.5\"}", "3");
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"5\"}", "4");
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"10\"}", "4");
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"+Inf\"}", "5");
        expect_sample(body, "joytify_batch_duration_seconds_count", "5");
        snprintf(expected_sum, sizeof(expected_sum), "%.15g", sum);
        if (strtod(expected_sum, NULL) != sum)
                snprintf(expected_sum, sizeof(expected_sum), "%.17g", sum);
        expect_sample(body, "joytify_batch_duration_seconds_sum", expected_sum);
        expect_long("histogram bucket lines (11 bounds + +Inf)", 12,
                    count_prefix(body, "joytify_batch_duration_seconds_bucket{"));

        expect_sample(body, "joytify_consumer_lag{topic=\"joytify.tasks.stats\",partition=\"3\"}",
                      "40");
        expect_sample(body, "joytify_consumer_lag{topic=\"joytify.tasks.cleanup\",partition=\"0\"}",
                      "7");
        expect_sample(
            body, "joytify_consumer_lag{topic=\"we\\\"ird\\\\topic\\nname\",partition=\"1\"}", "5");
        free(body);

        /* A revoked partition's series disappears; removing an unknown one changes nothing. */
        jt_metrics_set_lag(m, "joytify.tasks.cleanup", 0, -1);
        jt_metrics_set_lag(m, "joytify.tasks.cleanup", 9, -1);
        body = scrape(m);
        expect_no_sample(body,
                         "joytify_consumer_lag{topic=\"joytify.tasks.cleanup\",partition=\"0\"}");
        expect_sample(body, "joytify_consumer_lag{topic=\"joytify.tasks.stats\",partition=\"3\"}",
                      "40");
        expect_long("lag series after removal", 2, count_prefix(body, "joytify_consumer_lag{"));
        free(body);
        jt_metrics_destroy(m);
}

static void lag_table_is_bounded(void **state) {
        jt_metrics_t *m = serving();
        char *body;

        for (int p = 0; p < JT_METRICS_LAG_MAX + 10; p++)
                jt_metrics_set_lag(m, "t", p, p);
        body = scrape(m);
        expect_long("lag series when more partitions than the table holds", JT_METRICS_LAG_MAX,
                    count_prefix(body, "joytify_consumer_lag{"));
        expect_no_sample(body, "joytify_consumer_lag{topic=\"t\",partition=\"1024\"}");
        free(body);

        /* A removal makes room again. */
        jt_metrics_set_lag(m, "t", 0, -1);
        jt_metrics_set_lag(m, "t", 2000, 1);
        body = scrape(m);
        expect_sample(body, "joytify_consumer_lag{topic=\"t\",partition=\"2000\"}", "1");
        expect_long("lag series after a removal and an add", JT_METRICS_LAG_MAX,
                    count_prefix(body, "joytify_consumer_lag{"));
        free(body);
        jt_metrics_destroy(m);
}

/* --- concurrency ----------------------------------------------------------------------- */

#define UPDATES 100000

typedef struct {
        jt_metrics_t *m;
        int id;
} updater_t;

static void *updater(void *arg) {
        updater_t *u = arg;

        for (int i = 0; i < UPDATES; i++) {
                jt_metrics_task(u->m, "cleanup", "done");
                jt_metrics_documents(u->m, "deleted", 2);
                jt_metrics_batch(u->m, (i % 2) ? 0.5 : 0.001);
                jt_metrics_set_lag(u->m, "joytify.tasks.cleanup", u->id, i);
                if (i % 1000 == 0)
                        jt_metrics_set_health(u->m, i % 2000 == 0, "busy");
        }
        return NULL;
}

typedef struct {
        jt_metrics_t *m;
        volatile int stop;
        int scrapes;
        char failure[256];
} scraper_t;

static void *scraper(void *arg) {
        scraper_t *s = arg;
        int port = jt_metrics_port(s->m);

        while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
                char count[64] = "", inf[64] = "";
                reply_t r;

                if (!http_try(port, "GET", "/metrics", &r, s->failure, sizeof(s->failure)))
                        return NULL;
                /* The histogram is read under one lock: _count always equals the +Inf bucket. */
                if (r.status != 200 ||
                    !sample(r.body, "joytify_batch_duration_seconds_count", count, sizeof(count)) ||
                    !sample(r.body, "joytify_batch_duration_seconds_bucket{le=\"+Inf\"}", inf,
                            sizeof(inf)) ||
                    strcmp(count, inf) != 0) {
                        snprintf(s->failure, sizeof(s->failure),
                                 "scrape %d: status %ld, expected _count == +Inf bucket, got "
                                 "%.60s vs %.60s",
                                 s->scrapes, r.status, count, inf);
                        reply_free(&r);
                        return NULL;
                }
                reply_free(&r);
                if (!http_try(port, "GET", "/healthz", &r, s->failure, sizeof(s->failure)))
                        return NULL;
                reply_free(&r);
                s->scrapes++;
        }
        return NULL;
}

static void concurrent_updates_while_scraping(void **state) {
        jt_metrics_t *m = serving();
        updater_t u[2] = {{m, 0}, {m, 1}};
        scraper_t s = {.m = m};
        pthread_t threads[2], scrape_thread;
        char *body;
        char expected[64];

        pthread_create(&scrape_thread, NULL, scraper, &s);
        for (int i = 0; i < 2; i++)
                pthread_create(&threads[i], NULL, updater, &u[i]);
        for (int i = 0; i < 2; i++)
                pthread_join(threads[i], NULL);
        __atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
        pthread_join(scrape_thread, NULL);
        if (s.failure[0])
                fail_msg("%s", s.failure);
        if (s.scrapes < 1)
                fail_msg("expected at least 1 scrape during the updates, got %d", s.scrapes);
        print_message("%d scrapes during %d updates\n", s.scrapes, 2 * UPDATES);

        body = scrape(m);
        snprintf(expected, sizeof(expected), "%d", 2 * UPDATES);
        expect_sample(body, "joytify_tasks_total{kind=\"cleanup\",outcome=\"done\"}", expected);
        expect_sample(body, "joytify_batch_duration_seconds_count", expected);
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"+Inf\"}", expected);
        snprintf(expected, sizeof(expected), "%d", UPDATES);
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"0.005\"}", expected);
        snprintf(expected, sizeof(expected), "%d", 4 * UPDATES);
        expect_sample(body, "joytify_documents_total{op=\"deleted\"}", expected);
        snprintf(expected, sizeof(expected), "%d", UPDATES - 1);
        expect_sample(body, "joytify_consumer_lag{topic=\"joytify.tasks.cleanup\",partition=\"0\"}",
                      expected);
        expect_sample(body, "joytify_consumer_lag{topic=\"joytify.tasks.cleanup\",partition=\"1\"}",
                      expected);
        free(body);
        jt_metrics_destroy(m);
}

/* --- addresses ------------------------------------------------------------------------- */

static void bad_addresses(void **state) {
        static const struct {
                const char *addr;
                const char *says; /* besides --metrics-addr and the value */
        } cases[] = {
            {"nope", "HOST:PORT"},           {"", "HOST:PORT"},
            {"127.0.0.1:99999", "0..65535"}, {"127.0.0.1:", "HOST:PORT"},
            {"127.0.0.1:http", "HOST:PORT"}, {"127.0.0.1:94x", "0..65535"},
            {"127.0.0.1:-1", "HOST:PORT"},   {":9464", "HOST:PORT"},
            {"::1:9464", "brackets"},        {"[::1", "HOST:PORT"},
            {"[::1]9464", "HOST:PORT"},      {"[127.0.0.1]:9464", "not an IP address"},
        };
        jt_metrics_t *m = jt_metrics_new("worker", NULL);

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                jt_error_t err = {0};
                char quoted[128];

                snprintf(quoted, sizeof(quoted), "\"%s\"", cases[i].addr);
                if (jt_metrics_serve(m, cases[i].addr, &err))
                        fail_msg("serve(\"%s\"): expected an error, got success on port %d",
                                 cases[i].addr, jt_metrics_port(m));
                expect_long("error domain (JT_ERR_CONFIG)", JT_ERR_CONFIG, err.domain);
                if (!strstr(err.message, "--metrics-addr") || !strstr(err.message, quoted) ||
                    !strstr(err.message, cases[i].says))
                        fail_msg("serve(\"%s\"): expected an error naming --metrics-addr, %s and "
                                 "saying \"%s\", got \"%s\"",
                                 cases[i].addr, quoted, cases[i].says, err.message);
                expect_long("port after a failed serve", -1, jt_metrics_port(m));
        }
        jt_metrics_destroy(m);
}

static void port_in_use(void **state) {
        jt_metrics_t *first = serving();
        jt_metrics_t *second = jt_metrics_new("worker", NULL);
        jt_error_t err = {0};
        char addr[64], quoted[80];
        reply_t r;

        snprintf(addr, sizeof(addr), "127.0.0.1:%d", jt_metrics_port(first));
        snprintf(quoted, sizeof(quoted), "\"%s\"", addr);
        if (jt_metrics_serve(second, addr, &err))
                fail_msg("serve(\"%s\") with the port in use: expected an error, got success",
                         addr);
        expect_long("error domain (JT_ERR_CONFIG)", JT_ERR_CONFIG, err.domain);
        if (!strstr(err.message, "--metrics-addr") || !strstr(err.message, quoted) ||
            !strstr(err.message, "in use"))
                fail_msg("expected an error naming --metrics-addr, %s and \"in use\", got \"%s\"",
                         quoted, err.message);
        print_message("port in use: %s\n", err.message);

        /* Bound to 127.0.0.1 only: the same port on another loopback address is free. */
        snprintf(addr, sizeof(addr), "127.0.0.2:%d", jt_metrics_port(first));
        assert_ok(jt_metrics_serve(second, addr, &err), err);
        expect_long("port on 127.0.0.2", jt_metrics_port(first), jt_metrics_port(second));

        /* Serving twice from one registry is refused; the first server keeps working. */
        if (jt_metrics_serve(first, "127.0.0.1:0", &err))
                fail_msg("second serve on one registry: expected an error, got success");
        r = http(jt_metrics_port(first), "GET", "/healthz");
        expect_long("GET /healthz on the first server", 200, r.status);
        reply_free(&r);
        jt_metrics_destroy(second);
        jt_metrics_destroy(first);
}

static void ipv6_loopback(void **state) {
        jt_error_t err = {0};
        jt_metrics_t *m = jt_metrics_new("worker", &err);
        char url[64];
        CURL *curl;
        long status = 0;

        if (!jt_metrics_serve(m, "[::1]:0", &err)) {
                /* Containers without IPv6 cannot bind ::1: nothing to test there. */
                print_message("skipped: %s\n", err.message);
                jt_metrics_destroy(m);
                skip();
        }
        snprintf(url, sizeof(url), "http://[::1]:%d/healthz", jt_metrics_port(m));
        curl = curl_easy_init();
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
        if (curl_easy_perform(curl) != CURLE_OK)
                fail_msg("GET %s: expected a reply, got a curl error", url);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(curl);
        expect_long("GET /healthz over IPv6", 200, status);
        jt_metrics_destroy(m);
}

/* The notifier's held-event series: rendered for the notifier only, the counter once per event,
 * the gauge as set (never negative). */
static void notifier_series(void **state) {
        jt_metrics_t *worker = jt_metrics_new("worker", NULL),
                     *m = jt_metrics_new("notifier", NULL);
        char *text;
        (void)state;

        jt_metrics_unknown_schema(m);
        jt_metrics_unknown_schema(m);
        jt_metrics_set_held_partitions(m, 2);
        text = jt_metrics_render(m, NULL);
        if (!strstr(text, "\njoytify_notifier_unknown_schema_events_total 2\n") ||
            !strstr(text, "\njoytify_notifier_held_partitions 2\n"))
                fail_msg("expected the notifier's series at 2 and 2, actual\n%s", text);
        free(text);
        jt_metrics_set_held_partitions(m, -5);
        text = jt_metrics_render(m, NULL);
        if (!strstr(text, "\njoytify_notifier_held_partitions 0\n"))
                fail_msg("expected the gauge at 0 after a negative value, actual\n%s", text);
        free(text);
        text = jt_metrics_render(worker, NULL);
        if (strstr(text, "joytify_notifier_"))
                fail_msg("expected no notifier series from a worker, actual\n%s", text);
        free(text);
        jt_metrics_destroy(worker);
        jt_metrics_destroy(m);
}

static void null_is_harmless(void **state) {
        jt_metrics_destroy(NULL);
        jt_metrics_task(NULL, "stats", "done");
        jt_metrics_documents(NULL, "read", 1);
        jt_metrics_batch(NULL, 1);
        jt_metrics_db_request(NULL, "find");
        jt_metrics_users_read(NULL, 1);
        jt_metrics_set_lag(NULL, "t", 0, 1);
        jt_metrics_set_health(NULL, false, "x");
        jt_metrics_unknown_schema(NULL);
        jt_metrics_set_held_partitions(NULL, 1);
        expect_long("jt_metrics_port(NULL)", -1, jt_metrics_port(NULL));
        assert_null(jt_metrics_render(NULL, NULL));
}

/* --- promtool input -------------------------------------------------------------------- */

/* Every metric populated, including an escaped label and a removed series, fetched over HTTP
 * as Prometheus would, then written to path for `promtool check metrics`. */
static int dump(const char *path) {
        jt_error_t err = {0};
        jt_metrics_t *m = jt_metrics_new("worker", &err);
        reply_t r;
        FILE *f;

        if (!m || !jt_metrics_serve(m, "127.0.0.1:0", &err)) {
                fprintf(stderr, "metrics dump: %s\n", err.message);
                return 1;
        }
        jt_metrics_task(m, "stats", "done");
        jt_metrics_db_request(m, "find");
        jt_metrics_users_read(m, 3);
        jt_metrics_task(m, "cleanup", "retried");
        jt_metrics_task(m, "nonsense", "nonsense");
        jt_metrics_documents(m, "read", 1200);
        jt_metrics_documents(m, "written", 40);
        jt_metrics_documents(m, "deleted", 10000);
        jt_metrics_batch(m, 0.042);
        jt_metrics_batch(m, 1.5);
        jt_metrics_batch(m, 30);
        jt_metrics_set_lag(m, "joytify.tasks.stats", 0, 12);
        jt_metrics_set_lag(m, "joytify.tasks.cleanup", 11, 0);
        jt_metrics_set_lag(m, "odd\"topic\\name\n", 2, 3);
        jt_metrics_set_lag(m, "joytify.tasks.cleanup", 5, 9);
        jt_metrics_set_lag(m, "joytify.tasks.cleanup", 5, -1);
        r = http(jt_metrics_port(m), "GET", "/metrics");
        jt_metrics_destroy(m);
        if (r.status != 200) {
                fprintf(stderr, "metrics dump: GET /metrics: expected 200, got %ld\n", r.status);
                reply_free(&r);
                return 1;
        }
        f = fopen(path, "w");
        if (!f || fwrite(r.body, 1, r.len, f) != r.len || fclose(f) != 0) {
                fprintf(stderr, "metrics dump: cannot write %s\n", path);
                reply_free(&r);
                return 1;
        }
        printf("metrics dump: %zu bytes in %s\n", r.len, path);
        reply_free(&r);
        return 0;
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(routes_and_methods),
            cmocka_unit_test(exact_samples),
            cmocka_unit_test(lag_table_is_bounded),
            cmocka_unit_test(concurrent_updates_while_scraping),
            cmocka_unit_test(bad_addresses),
            cmocka_unit_test(port_in_use),
            cmocka_unit_test(ipv6_loopback),
            cmocka_unit_test(null_is_harmless),
            cmocka_unit_test(notifier_series),
        };
        int rc;

        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (argc == 3 && strcmp(argv[1], "--dump") == 0)
                rc = dump(argv[2]);
        else
                rc = cmocka_run_group_tests(tests, NULL, NULL);
        curl_global_cleanup();
        return rc;
}
