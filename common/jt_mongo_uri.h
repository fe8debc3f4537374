/* The --mongo-uri connection string: parsed without the driver echoing its parts, shown
 * redacted from the driver's own parse, and its secrets handed to the scrubber (jt_secret). */
#ifndef JT_MONGO_URI_H
#define JT_MONGO_URI_H

#include <mongoc/mongoc.h>
#include <stddef.h>

#include "jt_error.h"
#include "jt_secret.h"

/* mongoc_init once per process, with the driver's log lines going through jt_log (and so
 * through the scrubber). Every function here and in jt_mongo.h calls it. */
void jt_mongo_uri_init(void);

/* Writes uri into out (out_size bytes, NUL-terminated) for logs and errors, from the driver's
 * parse: the scheme, "***@" when there is a user name or password, the hosts, the database and
 * the options, "***" for the value of every secret option. A URI the driver refuses, or in
 * which an '@' is not where the driver ends the user info, shows as "mongodb://<redacted>"
 * (with "***@host" when the host can be told apart from the rest). Never any part of the user
 * name, password or a secret option's value, whatever the input. Any thread. */
void jt_mongo_uri_redact(const char *uri, char *out, size_t out_size);

/* Adds the secrets of uri to set, or to the process's secrets (jt_secret_add) when set is NULL:
 * the password and the value of every secret option, as written and percent-decoded, as the
 * driver reads them and as the user probably meant them when the driver reads them otherwise.
 * Strings shorter than JT_MONGO_SECRET_MIN are left out (scrubbing every "1" from the logs
 * would hide everything else; the redaction never shows them either), and so are guesses longer
 * than JT_MONGO_SECRET_MAX (only a string no one writes makes them, and every line would pay
 * for them). */
#define JT_MONGO_SECRET_MIN 4
#define JT_MONGO_SECRET_MAX 4096
void jt_mongo_uri_secrets(const char *uri, jt_secret_set_t *set);

/* Parses uri with the driver after adding its secrets to the process's. The driver's notes
 * made while parsing are logged afterwards with any quoted text that is not an option name
 * withheld. NULL and a JT_ERR_CONFIG error (the driver's reason, quoted text withheld, and the
 * redacted URI) when the driver refuses uri or when an '@' is not where the driver ends the
 * user info (a password with an unescaped '@' or '/': the driver would read part of it as a
 * host or a database name and repeat it in every connection error). */
mongoc_uri_t *jt_mongo_uri_parse(const char *uri, jt_error_t *err);

#endif
