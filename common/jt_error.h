/* Error reporting shared by every module: a domain, a code and a message that says what was
 * wrong and what was expected (mongo-c's bson_error_t, in our own words). */
#ifndef JT_ERROR_H
#define JT_ERROR_H

#include <stdbool.h>
#include <stddef.h>

#define JT_ERROR_MSG_MAX 512

typedef enum {
        JT_ERR_NONE = 0,
        JT_ERR_CONFIG, /* bad option, bad config value: exit code 2 */
        JT_ERR_INPUT,  /* bad bytes from a topic, the database or HTTP: permanent */
        JT_ERR_SCHEMA, /* unknown fingerprint, schema that does not resolve */
        JT_ERR_KAFKA,  /* broker or client error */
        JT_ERR_MONGO,  /* database error */
        JT_ERR_HTTP,   /* webhook / HTTP error */
        JT_ERR_SYSTEM, /* errno-style failures: files, memory, clocks */
} jt_error_domain_t;

typedef struct {
        jt_error_domain_t domain;
        int code;       /* domain-specific; 0 when none applies */
        bool transient; /* true when retrying the same call may succeed */
        char message[JT_ERROR_MSG_MAX];
} jt_error_t;

/* Fills err (if not NULL) with a printf-formatted message. Always returns false, so that
 * `return jt_error_set(err, ...);` reads as a failure return. */
bool jt_error_set(jt_error_t *err, jt_error_domain_t domain, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Same, marking the error as transient (worth retrying). */
bool jt_error_set_transient(jt_error_t *err, jt_error_domain_t domain, int code, const char *fmt,
                            ...) __attribute__((format(printf, 4, 5)));

/* Prepends "what: " to an existing message, to add context on the way up. */
bool jt_error_prefix(jt_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets err to "no error". */
void jt_error_clear(jt_error_t *err);

/* A short name for the domain, for logs: "config", "kafka", ... */
const char *jt_error_domain_name(jt_error_domain_t domain);

#endif
