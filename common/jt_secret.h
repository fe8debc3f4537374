/* Secrets never printed: the strings a process must not show (the MongoDB password and secret
 * URI options) and the scrubber that every log line and error message goes through. */
#ifndef JT_SECRET_H
#define JT_SECRET_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* What a secret is replaced by. */
#define JT_SECRET_MASK "***"

/* A set of secret strings (copies). */
typedef struct jt_secret_set_s jt_secret_set_t;

jt_secret_set_t *jt_secret_set_new(void);
void jt_secret_set_destroy(jt_secret_set_t *set); /* NULL is a no-op */

/* Adds the len bytes at secret (a copy). Empty strings and strings already in the set are
 * ignored. */
void jt_secret_set_add(jt_secret_set_t *set, const char *secret, size_t len);

size_t jt_secret_set_count(const jt_secret_set_t *set);

/* Writes text into out (out_size bytes, always NUL-terminated, cut when too long) with
 * JT_SECRET_MASK in place of: every string of set (may be NULL), the user info of every URI
 * (all between "://" and the URI's last '@'), and the value of every secret option written
 * as key=value or key: value (tlsCertificateKeyFilePassword, sslClientCertificateKeyPassword,
 * authMechanismProperties, AWS_SESSION_TOKEN, password; any case). The whole text is scrubbed
 * before it is cut, so a cut never leaves the start of a secret. */
void jt_secret_set_scrub(const jt_secret_set_t *set, const char *text, char *out, size_t out_size);

/* True when the URI option or client setting `key` (any case) holds a secret value. */
bool jt_secret_option_is_secret(const char *key, size_t len);

/* The process's secrets: added once at start-up (jt_mongo_pool_new adds the --mongo-uri ones),
 * read by jt_log and jt_error on every line and message. Like the logger, this is process
 * state on purpose: a secret must be out of every output path, including the ones that never
 * see the configuration. Thread-safe. */
void jt_secret_add(const char *secret, size_t len);

/* jt_secret_set_scrub with the process's secrets. text and out may be the same buffer. */
void jt_secret_scrub(const char *text, char *out, size_t out_size);

/* Formats fmt/ap whole, then scrubs it into out with the process's secrets: what jt_log and
 * jt_error use, so that no cut happens before the scrub. */
void jt_secret_vformat(char *out, size_t out_size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Forgets the process's secrets (tests). */
void jt_secret_reset(void);

#endif
