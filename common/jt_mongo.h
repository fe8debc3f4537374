/* MongoDB access shared by the programs: one client pool per process from --mongo-uri and a
 * reachability check with a bounded wait. The connection string itself (parsing, redaction,
 * its secrets) is jt_mongo_uri.h. */
#ifndef JT_MONGO_H
#define JT_MONGO_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "jt_config.h"
#include "jt_error.h"
#include "jt_mongo_uri.h" /* jt_mongo_uri_redact */

/* The write concern of every write through a pool: an effect whose Kafka offset is stored
 * must survive a primary failover, so writes wait for a majority (or w nodes) within a bound. */
typedef struct {
        int32_t w;           /* nodes, or MONGOC_WRITE_CONCERN_W_MAJORITY */
        int32_t wtimeout_ms; /* how long the server may wait for them; > 0 */
} jt_mongo_write_concern_t;

#define JT_MONGO_WRITE_CONCERN_DEFAULT                                                             \
        ((jt_mongo_write_concern_t){MONGOC_WRITE_CONCERN_W_MAJORITY, 10000})

/* Reads --write-concern text ("majority" or a number of nodes 1..50) and --write-timeout
 * (milliseconds, 1..600000) into wc; JT_ERR_CONFIG naming the option and the value otherwise. */
bool jt_mongo_write_concern_parse(const char *w_text, long long wtimeout_ms,
                                  jt_mongo_write_concern_t *wc, jt_error_t *err);

/* A client pool for uri (mongoc_init is done once per process). Server selection and
 * connection waits are bounded by timeout_ms unless the URI sets its own. Every write uses
 * JT_MONGO_WRITE_CONCERN_DEFAULT. The URI's secrets are added to the process's (jt_secret), so
 * no later log line or error shows them; the error never contains them. app_name shows in the
 * server's logs. */
mongoc_client_pool_t *jt_mongo_pool_new(const char *uri, const char *app_name, int timeout_ms,
                                        jt_error_t *err);

/* The socket timeout of long_ops pools: 6 hours, far beyond any single operation of ours. */
#define JT_MONGO_LONG_OPS_TIMEOUT_MS (6 * 3600 * 1000)

/* Same, reading --mongo-uri, --mongo-timeout, --write-concern and --write-timeout from a config
 * built with jt_opts_mongo. The two write options take the place of any w= or wtimeoutMS= in
 * the URI (a warning says so; the URI's journal= stays). With long_ops, a socket timeout of
 * JT_MONGO_LONG_OPS_TIMEOUT_MS (unless the URI sets one): for single operations that may run
 * for more than the driver's default 5 minutes. A bad write option is a JT_ERR_CONFIG error. */
mongoc_client_pool_t *jt_mongo_pool_from_config(const jt_config_t *cfg, const char *app_name,
                                                bool long_ops, jt_error_t *err);

/* Runs `ping` on the server (bounded by the pool's timeout); the error names the redacted
 * address. */
bool jt_mongo_ping(mongoc_client_pool_t *pool, const char *uri, jt_error_t *err);

/* mongoc_client_pool_destroy that accepts NULL. */
void jt_mongo_pool_destroy(mongoc_client_pool_t *pool);

/* error->message scrubbed (jt_secret_scrub) into buf, returned, for a command that prints a
 * driver error itself rather than through jt_error or jt_log (which scrub on their own). */
const char *jt_mongo_error_text(const bson_error_t *error, char *buf, size_t size);

/* True for errors worth retrying: network, server selection, timeouts, not-primary. */
bool jt_mongo_error_is_transient(const bson_error_t *error);

#endif
