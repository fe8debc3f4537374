/* Error struct helpers: formatting, context prefixes, domain names. */
#include "jt_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jt_secret.h"

static bool error_vset(jt_error_t *err, jt_error_domain_t domain, int code, bool transient,
                       const char *fmt, va_list ap) {
        if (!err)
                return false;
        err->domain = domain;
        err->code = code;
        err->transient = transient;
        /* Messages carry the driver's words and values from the configuration: scrubbed here
         * once, whole (before the cut to JT_ERROR_MSG_MAX), for every path they take later
         * (logs, the DLQ, status events, the notifier). */
        jt_secret_vformat(err->message, sizeof(err->message), fmt, ap);
        return false;
}

bool jt_error_set(jt_error_t *err, jt_error_domain_t domain, int code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        error_vset(err, domain, code, false, fmt, ap);
        va_end(ap);
        return false;
}

bool jt_error_set_transient(jt_error_t *err, jt_error_domain_t domain, int code, const char *fmt,
                            ...) {
        va_list ap;
        va_start(ap, fmt);
        error_vset(err, domain, code, true, fmt, ap);
        va_end(ap);
        return false;
}

bool jt_error_prefix(jt_error_t *err, const char *fmt, ...) {
        char prefix[JT_ERROR_MSG_MAX];
        char joined[JT_ERROR_MSG_MAX];
        va_list ap;

        if (!err)
                return false;
        va_start(ap, fmt);
        jt_secret_vformat(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        /* Both parts are scrubbed already; once more for a secret holding ": ". */
        snprintf(joined, sizeof(joined), "%s: %s", prefix, err->message);
        jt_secret_scrub(joined, err->message, sizeof(err->message));
        return false;
}

void jt_error_clear(jt_error_t *err) {
        if (err)
                memset(err, 0, sizeof(*err));
}

const char *jt_error_domain_name(jt_error_domain_t domain) {
        switch (domain) {
        case JT_ERR_NONE:
                return "none";
        case JT_ERR_CONFIG:
                return "config";
        case JT_ERR_INPUT:
                return "input";
        case JT_ERR_SCHEMA:
                return "schema";
        case JT_ERR_KAFKA:
                return "kafka";
        case JT_ERR_MONGO:
                return "mongo";
        case JT_ERR_HTTP:
                return "http";
        case JT_ERR_SYSTEM:
                return "system";
        }
        return "unknown";
}
