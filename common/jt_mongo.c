/* MongoDB client pool setup and the checks every program makes before it starts working. */
#include "jt_mongo.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "jt_log.h"

bool jt_mongo_write_concern_parse(const char *w_text, long long wtimeout_ms,
                                  jt_mongo_write_concern_t *wc, jt_error_t *err) {
        char *end = NULL;
        long w;

        *wc = JT_MONGO_WRITE_CONCERN_DEFAULT;
        if (!w_text || strcmp(w_text, "majority") != 0) {
                w = w_text ? strtol(w_text, &end, 10) : 0;
                /* w=0 is unacknowledged: an offset could move past a write the server lost. */
                if (!w_text || !*w_text || !end || *end || w < 1 || w > 50)
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "--write-concern must be \"majority\" or a number of "
                                            "nodes 1..50 (got \"%s\")",
                                            w_text ? w_text : "");
                wc->w = (int32_t)w;
        }
        if (wtimeout_ms < 1 || wtimeout_ms > 600000)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--write-timeout must be 1..600000 milliseconds (got %lld)",
                                    wtimeout_ms);
        wc->wtimeout_ms = (int32_t)wtimeout_ms;
        return true;
}

/* The options decide: a URI written for another tool (Atlas hands out "w=majority", scripts
 * "w=1") must not silently weaken what the fleet relies on. The URI's journal= stays. */
static void apply_write_concern(mongoc_uri_t *parsed, const jt_mongo_write_concern_t *want) {
        const mongoc_write_concern_t *from_uri = mongoc_uri_get_write_concern(parsed);
        mongoc_write_concern_t *wc = mongoc_write_concern_copy(from_uri);
        int32_t uri_w = mongoc_write_concern_get_w(from_uri);
        int64_t uri_wtimeout = mongoc_write_concern_get_wtimeout_int64(from_uri);

        if ((uri_w != MONGOC_WRITE_CONCERN_W_DEFAULT && uri_w != want->w) ||
            (uri_wtimeout != 0 && uri_wtimeout != want->wtimeout_ms))
                jt_log_warn("--mongo-uri sets a write concern (w=%d, wtimeoutMS=%" PRId64
                            "); --write-concern and --write-timeout take its place",
                            uri_w, uri_wtimeout);
        if (want->w == MONGOC_WRITE_CONCERN_W_MAJORITY)
                mongoc_write_concern_set_wmajority(wc, want->wtimeout_ms);
        else
                mongoc_write_concern_set_w(wc, want->w);
        mongoc_write_concern_set_wtimeout_int64(wc, want->wtimeout_ms);
        mongoc_uri_set_write_concern(parsed, wc);
        mongoc_write_concern_destroy(wc);
}

static mongoc_client_pool_t *pool_new(const char *uri, const char *app_name, int timeout_ms,
                                      bool long_ops, const jt_mongo_write_concern_t *wc,
                                      jt_error_t *err) {
        bson_error_t error;
        mongoc_uri_t *parsed;
        mongoc_client_pool_t *pool;
        char shown[512];

        /* Before anything can print: its secrets go to the scrubber, the driver's notes on the
         * string are withheld where they quote it, and an ambiguous '@' is refused. */
        if (!(parsed = jt_mongo_uri_parse(uri, err)))
                return NULL;
        jt_mongo_uri_redact(uri, shown, sizeof(shown));
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
        apply_write_concern(parsed, wc);
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
        jt_mongo_write_concern_t wc = JT_MONGO_WRITE_CONCERN_DEFAULT;

        return pool_new(uri, app_name, timeout_ms, false, &wc, err);
}

mongoc_client_pool_t *jt_mongo_pool_from_config(const jt_config_t *cfg, const char *app_name,
                                                bool long_ops, jt_error_t *err) {
        jt_mongo_write_concern_t wc;

        if (!jt_mongo_write_concern_parse(jt_config_str(cfg, "write-concern"),
                                          jt_config_int(cfg, "write-timeout"), &wc, err))
                return NULL;
        return pool_new(jt_config_str(cfg, "mongo-uri"), app_name,
                        (int)jt_config_int(cfg, "mongo-timeout") * 1000, long_ops, &wc, err);
}

bool jt_mongo_ping(mongoc_client_pool_t *pool, const char *uri, jt_error_t *err) {
        mongoc_client_t *client = mongoc_client_pool_pop(pool);
        bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
        bson_error_t error;
        char shown[512];
        bool ok;

        ok = mongoc_client_command_simple(client, "admin", cmd, NULL, NULL, &error);
        if (!ok) {
                jt_mongo_uri_redact(uri, shown, sizeof(shown));
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

const char *jt_mongo_error_text(const bson_error_t *error, char *buf, size_t size) {
        jt_secret_scrub(error->message, buf, size);
        return buf;
}

bool jt_mongo_error_is_transient(const bson_error_t *error) {
        if (error->domain == MONGOC_ERROR_STREAM || error->domain == MONGOC_ERROR_SERVER_SELECTION)
                return true;
        if (error->domain == MONGOC_ERROR_SERVER || error->domain == MONGOC_ERROR_WRITE_CONCERN) {
                switch (error->code) {
                case 6:     /* HostUnreachable */
                case 7:     /* HostNotFound */
                case 64:    /* WriteConcernFailed: applied, not yet on enough nodes; redo it */
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
