/* A small HTTP server for monitoring endpoints (libmicrohttpd), built so that slow or numerous
 * clients cannot take it down: an absolute deadline per request, and per-client and total
 * connection limits enforced by cutting the slow (idle past a grace) connections, oldest first,
 * never a client that sends its request at once. */
#ifndef JT_HTTP_H
#define JT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"

typedef struct jt_http_s jt_http_t;

typedef struct {
        int per_client;  /* connections one client address holds at once, beyond their grace */
        int total;       /* connections held at once, beyond their grace (libmicrohttpd itself
                          * refuses any beyond twice this) */
        int grace_ms;    /* how long a connection over a limit may wait for its request */
        int deadline_ms; /* a request's whole exchange, counted from its connection's accept
                          * (or from the end of the previous answer on a kept-alive one) */
} jt_http_limits_t;

/* 8 per client, 64 in all, 1 s of grace, 5 s per request: see docs/health-and-metrics.md. */
#define JT_HTTP_LIMITS_DEFAULT                                                                     \
        { 8, 64, 1000, 5000 }

#define JT_HTTP_TOTAL_MAX 1024 /* limits.total at most */

/* What a handler answers. body is malloc'ed by the handler and freed by the server. */
typedef struct {
        unsigned int status;
        char *body;
        size_t len;
        const char *content_type; /* a static string */
        char *headers; /* NULL, or more header lines "Name: value\r\n" (malloc'ed, freed by the
                        * server) */
} jt_http_reply_t;

/* Called on the server's thread for each GET or HEAD, with the path of the request (no query
 * string); fills reply. False when memory ran out (the server answers 500). Other methods are
 * answered 405 without a call. */
typedef bool (*jt_http_handler_t)(void *opaque, const char *path, jt_http_reply_t *reply);

/* A request as a jt_http_request_handler_t sees it (valid during the call only). */
typedef struct jt_http_request_s jt_http_request_t;

const char *jt_http_request_method(const jt_http_request_t *req); /* "GET", "HEAD", "POST" */
const char *jt_http_request_path(const jt_http_request_t *req);   /* no query string */
/* A request header's value (name case-insensitive), or NULL when absent. */
const char *jt_http_request_header(const jt_http_request_t *req, const char *name);
/* A query-string argument's decoded value, or NULL when absent. */
const char *jt_http_request_arg(const jt_http_request_t *req, const char *name);

/* Called on the server's thread for each GET, HEAD or POST (a POST's body is not read: the
 * request line and headers say everything); other methods are answered 405 without a call. */
typedef bool (*jt_http_request_handler_t)(void *opaque, const jt_http_request_t *req,
                                          jt_http_reply_t *reply);

/* Fills reply with a copy of text as text/plain. False when memory runs out. */
bool jt_http_reply_text(jt_http_reply_t *reply, unsigned int status, const char *text);

/* Starts serving on addr: "HOST:PORT" ("127.0.0.1:9464", "0.0.0.0:9464", "[::1]:9464"), bound to
 * that host only, or "PORT" / ":PORT", which bind 127.0.0.1: never every interface unless an
 * address says so. Port 0 picks a free port (jt_http_port). opt names the option in errors
 * ("--metrics-addr"): a malformed address, an unknown host or a port in use is a JT_ERR_CONFIG
 * error naming it and the value. limits NULL: JT_HTTP_LIMITS_DEFAULT. */
jt_http_t *jt_http_start(const char *addr, const char *opt, const jt_http_limits_t *limits,
                         jt_http_handler_t handler, void *opaque, jt_error_t *err);

/* As jt_http_start, for an application that reads headers and arguments and takes POSTs. */
jt_http_t *jt_http_start_requests(const char *addr, const char *opt, const jt_http_limits_t *limits,
                                  jt_http_request_handler_t handler, void *opaque, jt_error_t *err);

/* The port the server listens on, or -1 for NULL. */
int jt_http_port(const jt_http_t *h);

/* Connections the server cut, by reason, since it started. */
typedef struct {
        uint64_t deadline;   /* a request not answered within the deadline */
        uint64_t per_client; /* idle past the grace while its client was over its limit */
        uint64_t total;      /* idle past the grace while all clients were over the total */
} jt_http_counters_t;

void jt_http_counters(const jt_http_t *h, jt_http_counters_t *out);

/* Stops serving (joins the server's thread, closes every connection) and frees h. NULL is a
 * no-op. */
void jt_http_stop(jt_http_t *h);

#endif
