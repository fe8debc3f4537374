/* `joytify-notifier serve`: the operator's web console. The state its request handlers share,
 * and the modules that answer: pages (web_page.c), JSON under /api/ (web_api.c), the admin
 * actions (web_action.c), the data read from the ledger, the broker and the DLQ (web_data.c). */
#ifndef JT_NOTIFIER_WEB_H
#define JT_NOTIFIER_WEB_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "jt_config.h"
#include "jt_http.h"

#define JT_WEB_TOKEN_SIZE 33 /* 32 hex digits and a NUL, as jt_jobs_new_nonce makes */
#define JT_WEB_OUTPUT_MAX 16384
/* producer/replay.h's JT_REPLAY_DLQ_GROUP: what the console reads of replay --dlq's place. */
#define JT_WEB_REPLAY_GROUP "joytify-dlq-replay"

/* The one admin action that may run at a time (replay and discard run a joytify-producer). */
typedef struct {
        bool started;  /* one was started since the server started */
        bool running;  /* it has not ended yet */
        char kind[16]; /* "replay" or "discard" */
        char target[512];
        int exit_code;
        int64_t started_ms, ended_ms;
        char output[JT_WEB_OUTPUT_MAX];
} jt_web_action_t;

typedef struct {
        const jt_config_t *cfg;
        mongoc_client_pool_t *pool;
        const char *db;
        const char *posts_group;  /* the notifier group whose notifier_posts are shown */
        const char *replay_group; /* where replay --dlq records what it handled */
        rd_kafka_t *rk;           /* for the brokers' metadata, groups and offsets */
        int port;                 /* the port served, for the Host check */
        bool loopback;            /* bound to a loopback address: Host must name one */
        char csrf[JT_WEB_TOKEN_SIZE];
        char *admin_token; /* NULL: read-only, no action exists */
        char producer_path[4096];
        pthread_mutex_t lock; /* action */
        jt_web_action_t action;
        pthread_t action_thread;
        bool action_thread_started;
} jt_web_t;

/* The request handler of jt_http_start_requests: routes to the pages, the API, the actions. */
bool jt_web_handle(void *opaque, const jt_http_request_t *req, jt_http_reply_t *reply);

/* Whether the request's Host header names this server (always true when not on loopback). */
bool jt_web_host_ok(const jt_web_t *web, const jt_http_request_t *req);

/* Fills reply with body (taken over: freed by the server) and the security headers; a page's
 * script and style carry nonce (NULL for a reply without any). False when memory ran out. */
bool jt_web_reply(jt_http_reply_t *reply, unsigned int status, const char *type, char *body,
                  size_t len, const char *nonce);

/* A JSON reply of doc (a reference taken over), or {"error": message} with status. */
bool jt_web_reply_json(jt_http_reply_t *reply, unsigned int status, json_t *doc);
bool jt_web_reply_error(jt_http_reply_t *reply, unsigned int status, const char *message);

/* Writes text to out with &, <, >, " and ' escaped (NULL writes nothing). */
void jt_web_page_escape(FILE *out, const char *text);

/* The HTML of a page ("jobs", "job", "workers", "dlq"); id is the job's (shown escaped) or NULL.
 * False when the page is unknown (404) or memory ran out (*oom). */
bool jt_web_page_render(const jt_web_t *web, const char *page, const char *id,
                        jt_http_reply_t *reply, bool *oom);

/* GET /api/...: false when path is not an API path. */
bool jt_web_api_answer(jt_web_t *web, const jt_http_request_t *req, jt_http_reply_t *reply,
                       bool *ok);

/* POST /api/action/...: the replay and discard actions, and GET /api/action (the last one's
 * state). False when path is not one of them. */
bool jt_web_action_answer(jt_web_t *web, const jt_http_request_t *req, jt_http_reply_t *reply,
                          bool *ok);

/* Waits for a running action to end (at stop). */
void jt_web_action_join(jt_web_t *web);

#endif
