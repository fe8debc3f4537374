/* MongoDB client pool setup and the checks every program makes before it starts working. */
#include "jt_mongo.h"

#include <pthread.h>
#include <string.h>

#include "jt_log.h"

static pthread_once_t mongo_once = PTHREAD_ONCE_INIT;

/* The driver's own log lines go through our logger, so there is one format on stderr. */
static void mongo_log_handler(mongoc_log_level_t level, const char *domain, const char *message,
                              void *data) {
        jt_log_level_t lvl = level <= MONGOC_LOG_LEVEL_ERROR     ? JT_LOG_ERROR
                             : level == MONGOC_LOG_LEVEL_WARNING ? JT_LOG_WARN
                                                                 : JT_LOG_DEBUG;
        /* Servers without sessions (the local FerretDB) refuse the endSessions a pool sends
         * when it closes; that costs nothing, so it is not worth a warning on every exit. */
        if (lvl == JT_LOG_WARN && strstr(message, "endSessions"))
                lvl = JT_LOG_DEBUG;
        jt_log(lvl, "mongoc %s: %s", domain, message);
}

static void mongo_init_once(void) {
        mongoc_init();
        mongoc_log_set_handler(mongo_log_handler, NULL);
}

void jt_mongo_redact_uri(const char *uri, char *out, size_t out_size) {
        const char *scheme_end = strstr(uri, "://");
        const char *host_start;
        const char *at;
        const char *colon;

        if (!scheme_end) {
                snprintf(out, out_size, "%s", uri);
                return;
        }
        host_start = scheme_end + 3;
        at = strchr(host_start, '@');
        /* Only an '@' before the path can end the user info. */
        if (!at || (strchr(host_start, '/') && strchr(host_start, '/') < at)) {
                snprintf(out, out_size, "%s", uri);
                return;
        }
        colon = memchr(host_start, ':', (size_t)(at - host_start));
        if (!colon) { /* a user name alone is no secret */
                snprintf(out, out_size, "%s", uri);
                return;
        }
        snprintf(out, out_size, "%.*s***%s", (int)(colon - uri + 1), uri, at);
}

static mongoc_client_pool_t *pool_new(const char *uri, const char *app_name, int timeout_ms,
                                      bool long_ops, jt_error_t *err) {
        bson_error_t error;
        mongoc_uri_t *parsed;
        mongoc_client_pool_t *pool;
        char shown[512];

        pthread_once(&mongo_once, mongo_init_once);
        jt_mongo_redact_uri(uri, shown, sizeof(shown));
        parsed = mongoc_uri_new_with_error(uri, &error);
        if (!parsed) {
                /* The driver's message can quote the URI; give only our redacted copy. */
                jt_error_set(err, JT_ERR_CONFIG, (int)error.code,
                             "--mongo-uri is not a valid MongoDB connection string (got %s)",
                             shown);
                return NULL;
        }
        if (app_name)
                mongoc_uri_set_appname(parsed, app_name);
        /* Bound every wait for the server unless the URI chose its own bound. */
        if (!mongoc_uri_has_option(parsed, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
                mongoc_uri_set_option_as_int32(parsed, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                               timeout_ms);
        if (!mongoc_uri_has_option(parsed, MONGOC_URI_CONNECTTIMEOUTMS))
                mongoc_uri_set_option_as_int32(parsed, MONGOC_URI_CONNECTTIMEOUTMS, timeout_ms);
        /* The driver gives up on an answer after 5 minutes; one deleteMany of 1.75 million
         * playbacks on the local server takes longer. Not 0: libmongoc reads a 0 as "use the
         * default" (the 5 minutes), which a full-scale bench found the hard way. */
        if (long_ops && !mongoc_uri_has_option(parsed, MONGOC_URI_SOCKETTIMEOUTMS))
                mongoc_uri_set_option_as_int32(parsed, MONGOC_URI_SOCKETTIMEOUTMS,
                                               JT_MONGO_LONG_OPS_TIMEOUT_MS);
        pool = mongoc_client_pool_new_with_error(parsed, &error);
        mongoc_uri_destroy(parsed);
        if (!pool) {
                jt_error_set(err, JT_ERR_CONFIG, (int)error.code,
                             "cannot create a MongoDB client pool for %s", shown);
                return NULL;
        }
        mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
        return pool;
}

mongoc_client_pool_t *jt_mongo_pool_new(const char *uri, const char *app_name, int timeout_ms,
                                        jt_error_t *err) {
        return pool_new(uri, app_name, timeout_ms, false, err);
}

mongoc_client_pool_t *jt_mongo_pool_from_config(const jt_config_t *cfg, const char *app_name,
                                                bool long_ops, jt_error_t *err) {
        return pool_new(jt_config_str(cfg, "mongo-uri"), app_name,
                        (int)jt_config_int(cfg, "mongo-timeout") * 1000, long_ops, err);
}

bool jt_mongo_ping(mongoc_client_pool_t *pool, const char *uri, jt_error_t *err) {
        mongoc_client_t *client = mongoc_client_pool_pop(pool);
        bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
        bson_error_t error;
        char shown[512];
        bool ok;

        ok = mongoc_client_command_simple(client, "admin", cmd, NULL, NULL, &error);
        if (!ok) {
                jt_mongo_redact_uri(uri, shown, sizeof(shown));
                jt_error_set_transient(err, JT_ERR_MONGO, (int)error.code,
                                       "cannot reach MongoDB at %s: %s", shown, error.message);
        }
        bson_destroy(cmd);
        mongoc_client_pool_push(pool, client);
        return ok;
}

void jt_mongo_pool_destroy(mongoc_client_pool_t *pool) {
        if (pool)
                mongoc_client_pool_destroy(pool);
}

bool jt_mongo_error_is_transient(const bson_error_t *error) {
        if (error->domain == MONGOC_ERROR_STREAM || error->domain == MONGOC_ERROR_SERVER_SELECTION)
                return true;
        if (error->domain == MONGOC_ERROR_SERVER || error->domain == MONGOC_ERROR_WRITE_CONCERN) {
                switch (error->code) {
                case 6:     /* HostUnreachable */
                case 7:     /* HostNotFound */
                case 89:    /* NetworkTimeout */
                case 91:    /* ShutdownInProgress */
                case 189:   /* PrimarySteppedDown */
                case 262:   /* ExceededTimeLimit */
                case 9001:  /* SocketException */
                case 10107: /* NotWritablePrimary */
                case 11600: /* InterruptedAtShutdown */
                case 11602: /* InterruptedDueToReplStateChange */
                case 13435: /* NotPrimaryNoSecondaryOk */
                case 13436: /* NotPrimaryOrSecondary */
                        return true;
                default:
                        return false;
                }
        }
        return false;
}
