/* Metrics endpoint: real HTTP requests (libcurl) to a server on an ephemeral port, exact sample
 * lines after updates, label limits, concurrent updates while scraping, address errors.
 * `test_metrics --dump FILE` writes a populated /metrics body for the promtool check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "jt_metrics.h"
#include "jt_test.h"
#include "jt_test_metrics.h"

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

static long http_timeout_s = 10; /* per request */

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
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, http_timeout_s);
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
        expect_long("GET /healthz status while alive", 200, r.status);
        expect_str("GET /healthz body while alive", "ok\n", r.body);
        reply_free(&r);

        r = http(port, "GET", "/livez");
        expect_long("GET /livez status while alive", 200, r.status);
        expect_str("GET /livez body while alive", "ok\n", r.body);
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

/* Readiness is what the program says (its checker), one line, and holds only as long as the
 * program says. */
static void readiness(void **state) {
        jt_metrics_t *m = serving();
        int port = jt_metrics_port(m);
        reply_t r;

        r = http(port, "GET", "/readyz");
        expect_long("GET /readyz status while starting", 503, r.status);
        expect_str("GET /readyz body while starting", "starting\n", r.body);
        reply_free(&r);

        jt_metrics_set_ready(m, true, NULL, 0);
        r = http(port, "GET", "/readyz");
        expect_long("GET /readyz status when ready", 200, r.status);
        expect_str("GET /readyz body when ready", "ok\n", r.body);
        reply_free(&r);

        jt_metrics_set_ready(m, false, "MongoDB unreachable:\nconnection refused\x1b[2J", 0);
        r = http(port, "GET", "/readyz");
        expect_long("GET /readyz status when a server is away", 503, r.status);
        expect_str("GET /readyz body when a server is away",
                   "MongoDB unreachable: connection refused [2J\n", r.body);
        reply_free(&r);

        jt_metrics_set_ready(m, false, NULL, 0);
        r = http(port, "GET", "/readyz");
        expect_long("GET /readyz status, no reason", 503, r.status);
        expect_str("GET /readyz body, no reason", "not ready\n", r.body);
        reply_free(&r);

        /* An answer valid for 300 ms: ready at once, unknown (503) once its checker is late. */
        jt_metrics_set_ready(m, true, NULL, 300);
        r = http(port, "GET", "/readyz");
        expect_long("GET /readyz status within the validity", 200, r.status);
        reply_free(&r);
        usleep(600 * 1000);
        r = http(port, "GET", "/readyz");
        expect_long("GET /readyz status after the validity", 503, r.status);
        if (strncmp(r.body, "readiness unknown: the servers were last checked ", 49) != 0)
                fail_msg("GET /readyz body after the validity: expected \"readiness unknown: the "
                         "servers were last checked N s ago\", got \"%s\"",
                         r.body);
        reply_free(&r);

        /* Liveness does not depend on readiness. */
        r = http(port, "GET", "/livez");
        expect_long("GET /livez status while not ready", 200, r.status);
        reply_free(&r);
        jt_metrics_destroy(m);
}

/* Liveness is the age of the last heartbeat against the timeout; /healthz is its old name. */
static void liveness(void **state) {
        jt_metrics_t *m = serving();
        int port = jt_metrics_port(m);
        static const char *const paths[] = {"/livez", "/healthz"};
        reply_t r;

        jt_metrics_set_liveness_timeout(m, 0); /* out of range: ignored */
        jt_metrics_set_liveness_timeout(m, 1);
        jt_metrics_beat(m);
        for (size_t i = 0; i < 2; i++) {
                r = http(port, "GET", paths[i]);
                expect_long("status right after a beat", 200, r.status);
                reply_free(&r);
        }
        usleep(2100 * 1000); /* no beat for more than the 1 s timeout */
        for (size_t i = 0; i < 2; i++) {
                r = http(port, "GET", paths[i]);
                if (r.status != 503 || strncmp(r.body, "main loop stuck: last round 2 s ago", 35))
                        fail_msg("GET %s 2.1 s after the last beat (timeout 1 s): expected 503 "
                                 "\"main loop stuck: last round 2 s ago ...\", got %ld \"%s\"",
                                 paths[i], r.status, r.body);
                reply_free(&r);
        }
        jt_metrics_beat(m);
        r = http(port, "GET", "/livez");
        expect_long("GET /livez status after the loop beats again", 200, r.status);
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
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"60\"}", "4");
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"120\"}", "5");
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"3600\"}", "5");
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"+Inf\"}", "5");
        expect_sample(body, "joytify_batch_duration_seconds_count", "5");
        snprintf(expected_sum, sizeof(expected_sum), "%.15g", sum);
        if (strtod(expected_sum, NULL) != sum)
                snprintf(expected_sum, sizeof(expected_sum), "%.17g", sum);
        expect_sample(body, "joytify_batch_duration_seconds_sum", expected_sum);
        expect_long("histogram bucket lines (18 bounds + +Inf)", 19,
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
        const int *scrapes; /* the scraper's count: updates go on until it has scraped twice */
        long done;          /* updates made */
} updater_t;

static void *updater(void *arg) {
        updater_t *u = arg;

        /* UPDATES, and on until two scrapes ran while this thread updated (a loaded machine may
         * schedule the scraper late; bounded by 100 x UPDATES, the counts are checked after). */
        for (int i = 0; i < UPDATES ||
                        (i < 100 * UPDATES && __atomic_load_n(u->scrapes, __ATOMIC_ACQUIRE) < 2);
             i++) {
                jt_metrics_task(u->m, "cleanup", "done");
                jt_metrics_documents(u->m, "deleted", 2);
                jt_metrics_batch(u->m, (i % 2) ? 0.5 : 0.001);
                jt_metrics_set_lag(u->m, "joytify.tasks.cleanup", u->id, i);
                if (i % 1000 == 0) {
                        jt_metrics_set_ready(u->m, i % 2000 == 0, "busy", 0);
                        jt_metrics_beat(u->m);
                }
                u->done = i + 1;
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
                __atomic_fetch_add(&s->scrapes, 1, __ATOMIC_RELEASE);
        }
        return NULL;
}

static void concurrent_updates_while_scraping(void **state) {
        jt_metrics_t *m = serving();
        scraper_t s = {.m = m};
        updater_t u[2] = {{m, 0, &s.scrapes, 0}, {m, 1, &s.scrapes, 0}};
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
        print_message("%d scrapes during %ld updates\n", s.scrapes, u[0].done + u[1].done);

        body = scrape(m);
        snprintf(expected, sizeof(expected), "%ld", u[0].done + u[1].done);
        expect_sample(body, "joytify_tasks_total{kind=\"cleanup\",outcome=\"done\"}", expected);
        expect_sample(body, "joytify_batch_duration_seconds_count", expected);
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"+Inf\"}", expected);
        /* even i: 0.001 s, in the 0.005 bucket */
        snprintf(expected, sizeof(expected), "%ld", (u[0].done + 1) / 2 + (u[1].done + 1) / 2);
        expect_sample(body, "joytify_batch_duration_seconds_bucket{le=\"0.005\"}", expected);
        snprintf(expected, sizeof(expected), "%ld", 2 * (u[0].done + u[1].done));
        expect_sample(body, "joytify_documents_total{op=\"deleted\"}", expected);
        for (int i = 0; i < 2; i++) {
                char name[96];
                snprintf(expected, sizeof(expected), "%ld", u[i].done - 1);
                snprintf(name, sizeof(name),
                         "joytify_consumer_lag{topic=\"joytify.tasks.cleanup\",partition=\"%d\"}",
                         i);
                expect_sample(body, name, expected);
        }
        free(body);
        jt_metrics_destroy(m);
}

/* The worker's and the notifier's liveness from their servers' timeouts. */
static void liveness_from_timeouts(void **state) {
        static const struct {
                int64_t longest;
                int want;
        } cases[] = {{0, 60}, {15, 60}, {16, 64}, {600, 2400}, {21600, 86400}, {100000, 86400}};
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                if (jt_metrics_liveness_for(cases[i].longest) != cases[i].want)
                        fail_msg("longest wait %lld s: expected liveness %d s, actual %d",
                                 (long long)cases[i].longest, cases[i].want,
                                 jt_metrics_liveness_for(cases[i].longest));
}

/* --- addresses ------------------------------------------------------------------------- */

static void bad_addresses(void **state) {
        static const struct {
                const char *addr;
                const char *says; /* besides --metrics-addr and the value */
        } cases[] = {
            {"nope", "HOST:PORT"},
            {"", "HOST:PORT"},
            {"127.0.0.1:99999", "0..65535"},
            {"127.0.0.1:", "HOST:PORT"},
            {"127.0.0.1:http", "HOST:PORT"},
            {"127.0.0.1:94x", "0..65535"},
            {"127.0.0.1:-1", "HOST:PORT"},
            {":94x", "HOST:PORT"},
            {"70000", "0..65535"},
            {"::1:9464", "brackets"},
            {"[::1", "HOST:PORT"},
            {"[::1]9464", "HOST:PORT"},
            {"[127.0.0.1]:9464", "not an IP address"},
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

/* Whether a TCP connection to host:port is accepted. */
static bool connects(const char *host, int port) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        bool ok;

        inet_pton(AF_INET, host, &sa.sin_addr);
        ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (fd >= 0)
                close(fd);
        return ok;
}

/* A port alone binds the loopback address, never every interface: 127.0.0.2 (also this host,
 * but another address) is refused. */
static void port_alone_binds_loopback(void **state) {
        static const char *const addrs[] = {"0", ":0"};

        for (size_t i = 0; i < 2; i++) {
                jt_error_t err = {0};
                jt_metrics_t *m = jt_metrics_new("worker", &err);
                reply_t r;

                assert_ok(jt_metrics_serve(m, addrs[i], &err), err);
                r = http(jt_metrics_port(m), "GET", "/livez");
                expect_long("GET /livez on 127.0.0.1 status", 200, r.status);
                reply_free(&r);
                if (connects("127.0.0.2", jt_metrics_port(m)))
                        fail_msg("serve(\"%s\"): expected 127.0.0.2:%d refused (bound to 127.0.0.1 "
                                 "only), got a connection",
                                 addrs[i], jt_metrics_port(m));
                jt_metrics_destroy(m);
        }
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
        jt_metrics_set_ready(NULL, false, "x", 0);
        jt_metrics_beat(NULL);
        jt_metrics_set_liveness_timeout(NULL, 5);
        jt_metrics_unknown_schema(NULL);
        jt_metrics_set_held_partitions(NULL, 1);
        expect_long("jt_metrics_port(NULL)", -1, jt_metrics_port(NULL));
        assert_null(jt_metrics_render(NULL, NULL));
}

/* --- slow clients ---------------------------------------------------------------------- */

#define SLOW_CLIENTS 40 /* more than the old server's 32 connections */

/* Slow clients from 127.0.0.1, the prober's own address: each sends a request line, then one
 * header line a second and never the blank line that ends the request; one the server closes
 * connects again at once, as an attacker would. */
typedef struct {
        int port;
        volatile int stop;
        int fds[SLOW_CLIENTS];
        long connects;
} flood_t;

static int slow_connect(int port) {
        static const char line[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        if (fd < 0)
                return -1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            send(fd, line, sizeof(line) - 1, MSG_NOSIGNAL) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

static bool closed_by_server(int fd) {
        char c;
        ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void *flood(void *arg) {
        flood_t *f = arg;

        for (int tick = 0; !__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE); tick++) {
                for (int i = 0; i < SLOW_CLIENTS; i++) {
                        if (f->fds[i] >= 0 && closed_by_server(f->fds[i])) {
                                close(f->fds[i]);
                                f->fds[i] = -1;
                        }
                        if (f->fds[i] < 0 && (f->fds[i] = slow_connect(f->port)) >= 0)
                                f->connects++;
                        if (f->fds[i] >= 0 && tick % 10 == 0 &&
                            send(f->fds[i], "X-Slow: 1\r\n", 11, MSG_NOSIGNAL) < 0) {
                                close(f->fds[i]);
                                f->fds[i] = -1;
                        }
                }
                usleep(100 * 1000);
        }
        for (int i = 0; i < SLOW_CLIENTS; i++)
                if (f->fds[i] >= 0)
                        close(f->fds[i]);
        return NULL;
}

/* Issue 15 item 3: 32 slow clients took every connection and /healthz timed out for as long as
 * they stayed. Now every probe, from the slow clients' own address, is answered: they lose
 * their places to it. */
static void slow_clients_do_not_starve_probes(void **state) {
        jt_metrics_t *m = serving();
        flood_t f = {.port = jt_metrics_port(m)};
        pthread_t thread;
        int asked = 0, answered = 0;
        char first_failure[512] = "";
        char *body;

        for (int i = 0; i < SLOW_CLIENTS; i++)
                f.fds[i] = -1;
        pthread_create(&thread, NULL, flood, &f);
        usleep(1500 * 1000); /* every slow client connected */
        http_timeout_s = 3;  /* a probe's timeout, generous: the answer takes milliseconds */
        for (int i = 0; i < 24; i++, usleep(250 * 1000)) {
                reply_t r;
                char why[512];

                asked++;
                if (http_try(f.port, "GET", i % 2 ? "/healthz" : "/livez", &r, why, sizeof(why)) &&
                    r.status == 200)
                        answered++;
                else if (!first_failure[0])
                        snprintf(first_failure, sizeof(first_failure), "%s",
                                 why[0] ? why : "not 200");
                if (r.body)
                        reply_free(&r);
        }
        __atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
        pthread_join(thread, NULL);
        http_timeout_s = 10;
        print_message("%d slow clients (%ld connections): %d of %d probes answered\n", SLOW_CLIENTS,
                      f.connects, answered, asked);
        if (answered != asked)
                fail_msg("probes during the slow-client flood: expected %d answered, got %d (first "
                         "failure: %s)",
                         asked, answered, first_failure);
        body = scrape(m);
        {
                const char *series = "joytify_http_connections_cut_total{reason=\"per_client\"}";
                char cuts[64];

                if (!sample(body, series, cuts, sizeof(cuts)) || strtoull(cuts, NULL, 10) < 1)
                        fail_msg("%s after the flood: expected at least 1, got %s", series,
                                 sample(body, series, cuts, sizeof(cuts)) ? cuts : "no sample");
        }
        free(body);
        jt_metrics_destroy(m);
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
            cmocka_unit_test(readiness),
            cmocka_unit_test(liveness),
            cmocka_unit_test(exact_samples),
            cmocka_unit_test(lag_table_is_bounded),
            cmocka_unit_test(concurrent_updates_while_scraping),
            cmocka_unit_test(bad_addresses),
            cmocka_unit_test(port_alone_binds_loopback),
            cmocka_unit_test(port_in_use),
            cmocka_unit_test(ipv6_loopback),
            cmocka_unit_test(null_is_harmless),
            cmocka_unit_test(slow_clients_do_not_starve_probes),
            cmocka_unit_test(notifier_series),
            cmocka_unit_test(liveness_from_timeouts),
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
