/* The app push after a statistics job (app_push.h): the users read in _id order in bounded
 * batches, one POST per batch with libcurl, retried with backoff, each acknowledged batch
 * recorded in the ledger (jt_jobs_push.h) before the next one is read. */
#include "app_push.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jt_backoff.h"
#include "jt_log.h"
#include "jt_time.h"
#include "jt_mongo.h"
#include "jt_secret.h"
#include "jt_url.h"

#define PUSH_BATCH_MAX       10000
#define PUSH_TIMEOUT_MS      15000 /* one request, connection included */
#define PUSH_CONNECT_MS      5000
#define PUSH_RETRY_AFTER_MAX (5 * 60 * 1000) /* a longer Retry-After is cut to this */
#define PUSH_KEY_MAX         4096
#define BODY_QUOTE_MAX       120 /* bytes of an error answer quoted in the log */
/* Read of an answer, scrubbed of the key as a whole before it is cut to BODY_QUOTE_MAX: cut
 * first, a key quoted across the cut would leave its first part unscrubbed. */
#define BODY_CAPTURE_MAX 8192

const jt_opt_t jt_app_push_opts[] = {
    {"app-api-url", 0, JT_OPT_STRING, NULL, 0, 0, "JT_APP_API_URL", false, "URL",
     "the app's notification push endpoint: once a statistics job has given its users the "
     "month's notification, it is POSTed there for them in batches, with the key of "
     "JT_APP_API_KEY in X-API-Key (https; http only to a loopback address); unset: no push"},
    {"app-api-key", 0, JT_OPT_ENV, NULL, 0, 0, "JT_APP_API_KEY", true, NULL,
     "the app API's key for --app-api-url"},
    {"app-push-batch", 0, JT_OPT_INT, "500", 1, PUSH_BATCH_MAX, NULL, false, "N",
     "users per push request"},
    {"app-push-retry-for", 0, JT_OPT_INT, "300", 1, 3600, NULL, false, "SECONDS",
     "how long one batch is retried at most, whatever --app-push-attempts allows: a FINALIZE is "
     "not held for hours by an app that does not answer (then the push fails, reported)"},
    {"app-push-attempts", 0, JT_OPT_INT, "5", 1, 100, NULL, false, "N",
     "tries of a push request answered 5xx, 408 or 429 or not at all (backoff of "
     "--retry-backoff-ms doubling to --retry-backoff-max-ms, or the answer's Retry-After) "
     "before the push gives up: the users left are reported as not pushed"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

struct jt_app_push_s {
        char *url;
        char *key_header; /* "X-API-Key: ..." */
        char scheme[16];  /* the only protocol a request may use */
        char origin[300]; /* scheme://host, for logs */
        int batch;
        int attempts;
        int64_t retry_for_ms; /* --app-push-retry-for: one batch's retries at most */
        int64_t backoff_base_ms, backoff_max_ms;
};

bool jt_app_push_new(const jt_config_t *cfg, jt_app_push_t **push, jt_error_t *err) {
        const char *url = jt_config_str(cfg, "app-api-url");
        const char *key = jt_config_str(cfg, "app-api-key");
        char scheme[16], host[256];
        jt_app_push_t *p;
        size_t klen;

        *push = NULL;
        if (!url || !*url)
                return true;
        if (!jt_url_secret_may_go(url, scheme, sizeof(scheme), host, sizeof(host))) {
                if (!*host)
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "--app-api-url must be an https URL with a host, like "
                                            "https://app.example.com/api/notifications/socket "
                                            "(got something that is not one; not shown)");
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--app-api-url must be https (got %s://%s): its requests carry "
                                    "the app's API key, which %s would send %s; http is accepted "
                                    "only to a loopback address (127.0.0.0/8, ::1, localhost), for "
                                    "tests",
                                    scheme, host, scheme,
                                    strcmp(scheme, "http") == 0 ? "in clear text"
                                                                : "where it does not belong");
        }
        if (strpbrk(url, " \t\r\n"))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--app-api-url must not hold blanks (got %s://%s...)", scheme,
                                    host);
        if (!key || !*key)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--app-api-url is set but JT_APP_API_KEY is not: the app's API "
                                    "needs its key, read from the environment only");
        klen = strlen(key);
        for (size_t i = 0; i < klen; i++)
                if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "JT_APP_API_KEY must be printable ASCII without blanks "
                                            "(character %zu of %zu is not; the key is not shown)",
                                            i + 1, klen);
        if (klen > PUSH_KEY_MAX)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "JT_APP_API_KEY must be at most %d characters (got %zu)",
                                    PUSH_KEY_MAX, klen);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (!(p = calloc(1, sizeof(*p))) || !(p->url = strdup(url)) ||
            !(p->key_header = malloc(klen + 16))) {
                jt_app_push_destroy(p);
                return jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
        }
        snprintf(p->key_header, klen + 16, "X-API-Key: %s", key);
        snprintf(p->scheme, sizeof(p->scheme), "%s", scheme);
        snprintf(p->origin, sizeof(p->origin), "%s://%s", scheme, host);
        p->batch = (int)jt_config_int(cfg, "app-push-batch");
        p->attempts = (int)jt_config_int(cfg, "app-push-attempts");
        p->retry_for_ms = jt_config_int(cfg, "app-push-retry-for") * 1000;
        p->backoff_base_ms = jt_config_int(cfg, "retry-backoff-ms");
        p->backoff_max_ms = jt_config_int(cfg, "retry-backoff-max-ms");
        *push = p;
        return true;
}

void jt_app_push_destroy(jt_app_push_t *p) {
        if (!p)
                return;
        free(p->url);
        if (p->key_header) /* the key leaves no copy behind in freed memory */
                memset(p->key_header, 0, strlen(p->key_header));
        free(p->key_header);
        free(p);
}

/* --- the pieces ------------------------------------------------------------------------------ */

jt_app_push_answer_t jt_app_push_classify(long http) {
        if (http >= 200 && http < 300)
                return JT_APP_PUSH_OK;
        if (http == 0 || http >= 500 || http == 408 || http == 429)
                return JT_APP_PUSH_RETRY;
        return JT_APP_PUSH_FAIL; /* 1xx as a final answer, 3xx, 4xx */
}

int64_t jt_app_push_retry_after_ms(const char *v, size_t len, int64_t max_ms) {
        char buf[32], *end;
        double s;

        while (len && (*v == ' ' || *v == '\t'))
                v++, len--;
        while (len && strchr(" \t\r\n", v[len - 1]))
                len--;
        if (len == 0 || len >= sizeof(buf) || v[0] == '.')
                return -1;
        for (size_t i = 0; i < len; i++) /* v is not NUL-terminated: no strspn */
                if ((v[i] < '0' || v[i] > '9') && v[i] != '.')
                        return -1;
        memcpy(buf, v, len);
        buf[len] = '\0';
        s = strtod(buf, &end);
        if (*end || !isfinite(s) || s < 0)
                return -1;
        /* Compared before any conversion: a huge number is no integer. */
        return s * 1000.0 >= (double)max_ms ? max_ms : (int64_t)ceil(s * 1000.0);
}

char *jt_app_push_body(const char *nid, const char *const *ids, size_t n, const char *month) {
        json_t *doc = json_object(), *users = json_array();
        char *text = NULL;
        bool ok = doc && users;

        for (size_t i = 0; ok && i < n; i++)
                ok = json_array_append_new(users, json_string(ids[i])) == 0;
        if (ok && json_object_set_new(doc, "notificationId", json_string(nid)) == 0 &&
            json_object_set(doc, "userIds", users) == 0 &&
            json_object_set_new(doc, "type", json_string("monthlyStatistic")) == 0 &&
            json_object_set_new(doc, "month", json_string(month)) == 0)
                text = json_dumps(doc, JSON_COMPACT);
        json_decref(users);
        json_decref(doc);
        return text;
}

/* --- one request ------------------------------------------------------------------------------ */

typedef struct {
        char body[BODY_CAPTURE_MAX + 1];
        size_t len;
        int64_t retry_after_ms; /* -1: none */
} answer_t;

static size_t on_body(char *ptr, size_t size, size_t n, void *ud) {
        answer_t *a = ud;
        size_t len = size * n, take = BODY_CAPTURE_MAX - a->len;

        if (take > len)
                take = len;
        memcpy(a->body + a->len, ptr, take);
        a->len += take;
        a->body[a->len] = '\0';
        return len;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud) {
        answer_t *a = ud;
        size_t len = size * n;

        if (len > 12 && strncasecmp(line, "retry-after:", 12) == 0)
                a->retry_after_ms =
                    jt_app_push_retry_after_ms(line + 12, len - 12, PUSH_RETRY_AFTER_MAX);
        return len;
}

/* A stop request aborts a request in flight: SIGTERM does not wait for a slow app. */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
        (void)dt, (void)dn, (void)ut, (void)un;
        return *(volatile sig_atomic_t *)ud ? 1 : 0;
}

typedef struct {
        jt_app_push_answer_t answer;
        long http;
        bool stopped;
        int64_t retry_after_ms;
        char detail[300]; /* for logs: never the key (the process's secrets scrub it too) */
} post_result_t;

/* JSON answers may escape '/' as "\/" (PHP's default), which would hide a quoted key from the
 * scrubbing: undone in place before it. */
static void unescape_slashes(char *text) {
        char *out = text;
        for (const char *in = text; *in; in++) {
                if (in[0] == '\\' && in[1] == '/')
                        in++;
                *out++ = *in;
        }
        *out = '\0';
}

/* idem_header: "Idempotency-Key: ...", the same for every post of one batch, by whichever
 * worker: a batch in flight when its worker stops or dies is posted again by the next holder
 * of the job's finalize claim, and the app can drop the repeat. */
static void post(const jt_task_env_t *env, CURL *curl, const jt_app_push_t *p, const char *body,
                 const char *idem_header, post_result_t *res) {
        struct curl_slist *headers = NULL;
        char errbuf[CURL_ERROR_SIZE] = "";
        answer_t a = {.retry_after_ms = -1};
        CURLcode rc;

        memset(res, 0, sizeof(*res));
        headers = curl_slist_append(headers, "Content-Type: application/json");
        headers = curl_slist_append(headers, p->key_header);
        headers = curl_slist_append(headers, idem_header);
        curl_easy_reset(curl);
        curl_easy_setopt(curl, CURLOPT_URL, p->url);
        /* The key goes to the URL's host over its scheme and nowhere else: a 3xx is an answer,
         * never followed (jt_app_push_classify). */
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, p->scheme);
        curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 0L);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* a task thread: no SIGALRM */
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)PUSH_TIMEOUT_MS);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)PUSH_CONNECT_MS);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)env->stop);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        rc = curl_easy_perform(curl);
        curl_slist_free_all(headers);
        if (rc == CURLE_ABORTED_BY_CALLBACK) {
                res->stopped = true;
                snprintf(res->detail, sizeof(res->detail), "stopped");
                return;
        }
        if (rc != CURLE_OK) {
                res->answer = JT_APP_PUSH_RETRY;
                snprintf(res->detail, sizeof(res->detail), "no answer from %s: %s", p->origin,
                         errbuf[0] ? errbuf : curl_easy_strerror(rc));
                jt_secret_scrub(res->detail, res->detail, sizeof(res->detail));
                return;
        }
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->http);
        res->answer = jt_app_push_classify(res->http);
        res->retry_after_ms = a.retry_after_ms;
        for (size_t i = 0; i < a.len; i++)
                if ((unsigned char)a.body[i] < 0x20 || a.body[i] == 0x7f)
                        a.body[i] = ' ';
        unescape_slashes(a.body);
        jt_secret_scrub(a.body, a.body, sizeof(a.body));
        a.body[BODY_QUOTE_MAX] = '\0';
        a.len = strlen(a.body);
        snprintf(res->detail, sizeof(res->detail), "HTTP %ld from %s%s%s%s", res->http, p->origin,
                 res->http >= 300 && res->http < 400 ? " (a redirect, not followed: the URL is "
                                                       "not the push endpoint's address)"
                                                     : "",
                 a.len ? ": " : "", a.body);
        /* An answer may quote the key back; the detail also goes into the ledger, which the
         * logger's scrubbing does not see. */
        jt_secret_scrub(res->detail, res->detail, sizeof(res->detail));
}

/* --- the job's push ------------------------------------------------------------------------- */

typedef struct {
        const jt_task_env_t *env;
        const jt_app_push_t *p;
        mongoc_client_t *client;
        mongoc_collection_t *users;
        const jt_app_push_job_t *job;
        jt_push_progress_t prog; /* as recorded */
        int64_t renewed_mono;
        CURL *curl;
} push_run_t;

/* Another worker holds the job's finalize claim now (this one's lease lapsed): stop pushing.
 * A wait, not DONE, whatever the job's state: the FINALIZE comes back and finds the job
 * finished (a late duplicate, nothing done) or the claim held (waits again), and never sends a
 * second JOB_FINISHED from here. */
static jt_task_outcome_t lost(push_run_t *run, jt_error_t *err) {
        jt_error_set_transient(err, JT_ERR_MONGO, 0,
                               "job %s: the finalize claim moved to another worker during the "
                               "app push, which that worker resumes",
                               run->job->job_id);
        return JT_TASK_WAIT;
}

/* Records next (or renews the lease with next == the recorded progress). */
static jt_task_outcome_t record(push_run_t *run, const jt_push_progress_t *next, int64_t lease_ms,
                                jt_error_t *err) {
        bool held;

        if (!jt_jobs_push_record(run->client, run->env->db, run->job->job_id, run->env->worker_id,
                                 &run->prog, next, jt_time_wall_ms(), lease_ms, &held, err))
                return JT_TASK_RETRY;
        if (!held)
                return lost(run, err);
        run->prog = *next;
        run->renewed_mono = jt_time_mono_ms();
        return JT_TASK_DONE;
}

static jt_task_outcome_t renew_if_due(push_run_t *run, jt_error_t *err) {
        jt_push_progress_t same = run->prog;

        if (jt_time_mono_ms() - run->renewed_mono < run->job->lease_ms / 4)
                return JT_TASK_DONE;
        return record(run, &same, run->job->lease_ms, err);
}

/* Waits ms, renewing the claim's lease on the way; STOPPED on a stop request. */
static jt_task_outcome_t wait_renewing(push_run_t *run, int64_t ms, jt_error_t *err) {
        jt_task_outcome_t o;
        int64_t slice = run->job->lease_ms / 4;

        while (ms > 0) {
                int64_t now = ms < slice ? ms : slice;
                if (!jt_task_sleep(run->env, (int)now))
                        return JT_TASK_STOPPED;
                ms -= now;
                if ((o = renew_if_due(run, err)) != JT_TASK_DONE)
                        return o;
        }
        return JT_TASK_DONE;
}

/* The next batch's users after the recorded progress, as hex ids into ids (n of them). */
static jt_task_outcome_t next_batch(push_run_t *run, char (*ids)[25], size_t *n, jt_error_t *err) {
        bson_t filter = BSON_INITIALIZER;
        bson_t *opts;
        bson_oid_t after;
        const bson_t *doc;
        bson_error_t error;
        bson_iter_t it;
        mongoc_cursor_t *cur;
        jt_task_outcome_t outcome = JT_TASK_DONE;

        *n = 0;
        BSON_APPEND_OID(&filter, "notifications.id", run->job->notification_id);
        if (run->prog.after[0] && bson_oid_is_valid(run->prog.after, strlen(run->prog.after))) {
                bson_oid_init_from_string(&after, run->prog.after);
                BCON_APPEND(&filter, "_id", "{", "$gt", BCON_OID(&after), "}");
        }
        /* In _id order, by the _id index: the batches together read the users once. */
        opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "sort", "{", "_id",
                        BCON_INT32(1), "}", "limit", BCON_INT64(run->p->batch));
        cur = mongoc_collection_find_with_opts(run->users, &filter, opts, NULL);
        /* Users whose _id is no ObjectId are in no range of the job: none has the notification. */
        while (*n < (size_t)run->p->batch && mongoc_cursor_next(cur, &doc))
                if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it))
                        bson_oid_to_string(bson_iter_oid(&it), ids[(*n)++]);
        if (mongoc_cursor_error(cur, &error))
                outcome = jt_task_mongo_failed(&error, err, "reading the users to push to");
        mongoc_cursor_destroy(cur);
        bson_destroy(opts);
        bson_destroy(&filter);
        return outcome;
}

/* Users with the notification after the recorded progress: what a failed push leaves out. */
static int64_t users_left(push_run_t *run) {
        bson_t filter = BSON_INITIALIZER;
        bson_oid_t after;
        bson_error_t error;
        int64_t n;

        BSON_APPEND_OID(&filter, "notifications.id", run->job->notification_id);
        if (run->prog.after[0] && bson_oid_is_valid(run->prog.after, strlen(run->prog.after))) {
                bson_oid_init_from_string(&after, run->prog.after);
                BCON_APPEND(&filter, "_id", "{", "$gt", BCON_OID(&after), "}");
        }
        n = mongoc_collection_count_documents(run->users, &filter, NULL, NULL, NULL, &error);
        bson_destroy(&filter);
        return n < 0 ? 0 : n;
}

/* Posts one batch until it is acknowledged, refused, or its attempts or --app-push-retry-for
 * are spent (a wait that would end past that bound is not started). */
static jt_task_outcome_t post_batch(push_run_t *run, const char *body, const char *idem_header,
                                    post_result_t *res, jt_error_t *err) {
        int64_t started = jt_time_mono_ms();
        jt_task_outcome_t o;

        for (int attempt = 1;; attempt++) {
                if ((o = renew_if_due(run, err)) != JT_TASK_DONE)
                        return o;
                post(run->env, run->curl, run->p, body, idem_header, res);
                if (res->stopped)
                        return JT_TASK_STOPPED;
                if (res->answer != JT_APP_PUSH_RETRY || attempt >= run->p->attempts)
                        return JT_TASK_DONE;
                int64_t wait =
                    jt_backoff_ms(run->p->backoff_base_ms, run->p->backoff_max_ms, attempt);
                if (res->retry_after_ms > wait)
                        wait = res->retry_after_ms;
                if (jt_time_mono_ms() - started + wait > run->p->retry_for_ms) {
                        size_t used = strlen(res->detail);
                        snprintf(res->detail + used, sizeof(res->detail) - used,
                                 " (retries stopped after %" PRId64 " s, --app-push-retry-for)",
                                 (jt_time_mono_ms() - started) / 1000);
                        return JT_TASK_DONE;
                }
                jt_log_warn("job=%s app push: batch %" PRId64 " attempt %d of %d: %s; again in "
                            "%" PRId64 " ms",
                            run->job->job_id, run->prog.batches + 1, attempt, run->p->attempts,
                            res->detail, wait);
                if ((o = wait_renewing(run, wait, err)) != JT_TASK_DONE)
                        return o;
        }
}

static jt_task_outcome_t push_all(push_run_t *run, jt_error_t *err) {
        char nid[25], idem[128];
        char(*ids)[25] = calloc((size_t)run->p->batch, sizeof(*ids));
        const char **ptrs = calloc((size_t)run->p->batch, sizeof(*ptrs));
        jt_push_progress_t next;
        jt_task_outcome_t o = JT_TASK_DONE;
        post_result_t res;
        size_t n;
        char *body;

        if (!ids || !ptrs) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                o = JT_TASK_RETRY;
                goto done;
        }
        bson_oid_to_string(run->job->notification_id, nid);
        while (!run->prog.done) {
                if (*run->env->stop) {
                        o = JT_TASK_STOPPED;
                        break;
                }
                if ((o = next_batch(run, ids, &n, err)) != JT_TASK_DONE)
                        break;
                next = run->prog;
                if (n == 0) {
                        next.done = true;
                        if ((o = record(run, &next, run->job->lease_ms, err)) != JT_TASK_DONE)
                                break;
                        continue;
                }
                for (size_t i = 0; i < n; i++)
                        ptrs[i] = ids[i];
                if (!(body = jt_app_push_body(nid, ptrs, n, run->job->month))) {
                        jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
                        o = JT_TASK_RETRY;
                        break;
                }
                snprintf(idem, sizeof(idem), "Idempotency-Key: %s-%s-%s", nid, ids[0], ids[n - 1]);
                o = post_batch(run, body, idem, &res, err);
                free(body);
                if (o != JT_TASK_DONE)
                        break;
                next.batches++;
                if (res.answer == JT_APP_PUSH_OK) {
                        snprintf(next.after, sizeof(next.after), "%s", ids[n - 1]);
                        next.users += (int64_t)n;
                        jt_log_debug("job=%s app push: batch %" PRId64 " of %zu users "
                                     "acknowledged (%s)",
                                     run->job->job_id, next.batches, n, res.detail);
                } else {
                        /* Refused, or the app did not answer through every attempt: later
                         * batches would fare the same, so the push stops, and every user not
                         * pushed is counted. The job still finishes: the entries and the
                         * notifications are written. */
                        next.failed_batches++;
                        next.failed_users = users_left(run);
                        next.done = true;
                        snprintf(next.error, sizeof(next.error), "batch %" PRId64 ": %s",
                                 next.batches, res.detail);
                        jt_log_error("job=%s app push failed: %s; %" PRId64 " users not pushed "
                                     "(%" PRId64 " pushed before)",
                                     run->job->job_id, next.error, next.failed_users, next.users);
                }
                if ((o = record(run, &next, run->job->lease_ms, err)) != JT_TASK_DONE)
                        break;
        }
done:
        free(ids);
        free(ptrs);
        return o;
}

jt_task_outcome_t jt_app_push_run(const jt_task_env_t *env, mongoc_client_t *client,
                                  const jt_app_push_job_t *job, const bson_t *entry,
                                  jt_app_push_result_t *res, jt_error_t *err) {
        push_run_t run = {.env = env, .p = env->app_push, .client = client, .job = job};
        char name[64];
        jt_task_outcome_t o;

        memset(res, 0, sizeof(*res));
        if (!run.p) {
                jt_log_info("job=%s app push: not configured (--app-api-url), skipped",
                            job->job_id);
                return JT_TASK_DONE;
        }
        res->configured = true;
        jt_jobs_push_progress(entry, &run.prog);
        if (run.prog.done) {
                /* Posted by an earlier run of this FINALIZE: never again. */
                res->done = run.prog;
                return JT_TASK_DONE;
        }
        if (run.prog.batches > 0)
                jt_log_info("job=%s app push resumes after batch %" PRId64 " (%" PRId64
                            " users pushed)",
                            job->job_id, run.prog.batches, run.prog.users);
        snprintf(name, sizeof(name), "%susers", job->test_mode ? "test-" : "");
        run.users = mongoc_client_get_collection(client, env->db, name);
        run.renewed_mono = jt_time_mono_ms();
        if (!(run.curl = curl_easy_init())) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "cannot set up libcurl");
                o = JT_TASK_RETRY;
        } else {
                o = push_all(&run, err);
        }
        if (o == JT_TASK_STOPPED) {
                /* The claim is handed on at once: the next worker resumes after the last batch
                 * recorded instead of waiting out the lease. */
                jt_push_progress_t same = run.prog;
                jt_error_t ignored;
                jt_error_clear(&ignored);
                record(&run, &same, 0, &ignored);
        }
        if (o == JT_TASK_DONE) {
                res->done = run.prog;
                jt_log_info("job=%s app push: %" PRId64 " users pushed in %" PRId64
                            " batches, %" PRId64 " not pushed",
                            job->job_id, run.prog.users, run.prog.batches - run.prog.failed_batches,
                            run.prog.failed_users);
        }
        curl_easy_cleanup(run.curl);
        mongoc_collection_destroy(run.users);
        return o;
}
