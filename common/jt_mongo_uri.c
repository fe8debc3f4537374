/* The connection string and its secrets. Redaction is built from what the driver parsed, never
 * by cutting the text, because the text is ambiguous exactly when it matters: an unescaped '/'
 * or '@' in a password moves the driver's idea of where the hosts start. */
#include "jt_mongo_uri.h"

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jt_hex.h"
#include "jt_log.h"

/* --- the driver's log lines ------------------------------------------------------------------ */

/* While this thread parses a connection string, the driver's lines are kept here instead of
 * printed: they quote parts of the string (an unknown option's name can be the tail of a
 * password). jt_mongo_uri_parse prints them afterwards with quoted text withheld; the parses
 * made only to redact drop them (they were printed once, when the pool was made). */
#define CAPTURE_LINES 8
typedef struct {
        int n;
        struct {
                mongoc_log_level_t level;
                char text[512];
        } lines[CAPTURE_LINES];
} capture_t;

static __thread capture_t *capture;
static pthread_once_t mongo_once = PTHREAD_ONCE_INIT;

static jt_log_level_t log_level_of(mongoc_log_level_t level) {
        return level <= MONGOC_LOG_LEVEL_ERROR     ? JT_LOG_ERROR
               : level == MONGOC_LOG_LEVEL_WARNING ? JT_LOG_WARN
                                                   : JT_LOG_DEBUG;
}

/* The driver's own log lines go through our logger, so there is one format on stderr and the
 * scrubber sees them. */
static void mongo_log_handler(mongoc_log_level_t level, const char *domain, const char *message,
                              void *data) {
        jt_log_level_t lvl = log_level_of(level);

        if (capture) {
                if (capture->n < CAPTURE_LINES) {
                        capture->lines[capture->n].level = level;
                        snprintf(capture->lines[capture->n].text,
                                 sizeof(capture->lines[capture->n].text), "%s", message);
                        capture->n++;
                }
                return;
        }
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

void jt_mongo_uri_init(void) {
        pthread_once(&mongo_once, mongo_init_once);
}

static mongoc_uri_t *parse_captured(const char *uri, capture_t *cap, bson_error_t *error) {
        mongoc_uri_t *parsed;

        memset(cap, 0, sizeof(*cap));
        memset(error, 0, sizeof(*error));
        capture = cap;
        parsed = mongoc_uri_new_with_error(uri, error);
        capture = NULL;
        return parsed;
}

/* --- option names -------------------------------------------------------------------------- */

static bool option_name_is_known(const char *name, size_t len) {
        static const char *others[] = {
            MONGOC_URI_AUTHMECHANISM,
            MONGOC_URI_AUTHMECHANISMPROPERTIES,
            MONGOC_URI_AUTHSOURCE,
            MONGOC_URI_GSSAPISERVICENAME,
            MONGOC_URI_READCONCERNLEVEL,
            MONGOC_URI_READPREFERENCE,
            MONGOC_URI_READPREFERENCETAGS,
            MONGOC_URI_COMPRESSORS,
            MONGOC_URI_W,
            MONGOC_URI_JOURNAL,
            MONGOC_URI_MAXSTALENESSSECONDS,
            MONGOC_URI_SRVSERVICENAME,
        };
        char key[64];

        if (len == 0 || len >= sizeof(key))
                return false;
        memcpy(key, name, len);
        key[len] = '\0';
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char)key[i]))
                        return false;
        if (mongoc_uri_option_is_int32(key) || mongoc_uri_option_is_int64(key) ||
            mongoc_uri_option_is_bool(key) || mongoc_uri_option_is_utf8(key))
                return true;
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
                if (strcasecmp(key, others[i]) == 0)
                        return true;
        return false;
}

/* Quoted words the driver's parse messages use that are no part of the user's string. */
static bool quoted_is_fixed(const char *s, size_t len) {
        static const char *fixed[] = {"mongodb://", "mongodb+srv://", "/", "=", "$external"};

        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
                if (strlen(fixed[i]) == len && memcmp(fixed[i], s, len) == 0)
                        return true;
        return false;
}

/* The driver's words about a string it parsed, with every quoted part ("...", '...') that is
 * not an option name withheld, and the value in "[name=value]" withheld: that is where its
 * messages put the user's text. */
static void withhold_quoted(const char *in, char *out, size_t out_size) {
        size_t o = 0;

#define PUT(c)                                                                                     \
        do {                                                                                       \
                if (o + 1 < out_size)                                                              \
                        out[o++] = (c);                                                            \
        } while (0)
#define PUT_MASK()                                                                                 \
        do {                                                                                       \
                for (const char *m_ = JT_SECRET_MASK; *m_; m_++)                                   \
                        PUT(*m_);                                                                  \
        } while (0)
        for (size_t i = 0; in[i];) {
                const char *word = in + i + 1;
                const char *close = strchr(word, in[i]);
                const char *eq;

                if (in[i] == '"' || in[i] == '\'') {
                        size_t len = close ? (size_t)(close - word) : strlen(word);

                        PUT(in[i]);
                        if (option_name_is_known(word, len) || quoted_is_fixed(word, len)) {
                                for (size_t k = 0; k < len; k++)
                                        PUT(word[k]);
                        } else {
                                PUT_MASK();
                        }
                        if (!close)
                                break;
                        PUT(in[i]);
                        i = (size_t)(close - in) + 1;
                        continue;
                }
                close = in[i] == '[' ? strchr(word, ']') : NULL;
                eq = close ? memchr(word, '=', (size_t)(close - word)) : NULL;
                if (eq) { /* "[readPreference=value]" */
                        for (const char *p = in + i; p <= eq; p++)
                                PUT(*p);
                        PUT_MASK();
                        i = (size_t)(close - in);
                        continue;
                }
                PUT(in[i]);
                i++;
        }
#undef PUT_MASK
#undef PUT
        if (out_size)
                out[o < out_size ? o : out_size - 1] = '\0';
}

/* --- the string as written ----------------------------------------------------------------- */

/* Where the parts are in the text, found the way libmongoc 1.x finds them: the hosts end at
 * the first '/', the user info at the first '@' before it, the options start at the first
 * '?' after it and are split on '&'. */
typedef struct {
        const char *scheme_end;  /* just after "://", or NULL */
        const char *auth_end;    /* the first '/' after it, or the end */
        const char *userinfo_at; /* the first '@' before auth_end, or NULL */
        const char *query;       /* just after the '?' of the options, or NULL */
} layout_t;

static layout_t layout_of(const char *uri) {
        layout_t l = {0};
        const char *sep = strstr(uri, "://");

        if (!sep)
                return l;
        l.scheme_end = sep + 3;
        l.auth_end = strchr(l.scheme_end, '/');
        if (!l.auth_end)
                l.auth_end = l.scheme_end + strlen(l.scheme_end);
        l.userinfo_at = memchr(l.scheme_end, '@', (size_t)(l.auth_end - l.scheme_end));
        if (*l.auth_end == '/') {
                const char *q = strchr(l.auth_end, '?');
                l.query = q ? q + 1 : NULL;
        }
        return l;
}

/* Percent-decodes len bytes of s into out (at least len + 1 bytes); a bad escape stays. */
static size_t percent_decode(const char *s, size_t len, char *out) {
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                if (s[i] == '%' && i + 2 < len && jt_hex_value(s[i + 1]) >= 0 &&
                    jt_hex_value(s[i + 2]) >= 0) {
                        out[o++] = (char)(jt_hex_value(s[i + 1]) * 16 + jt_hex_value(s[i + 2]));
                        i += 2;
                } else {
                        out[o++] = s[i];
                }
        }
        out[o] = '\0';
        return o;
}

/* How far the guesses at what the user meant go (a count of '@', ':', options). */
#define HEURISTIC_MAX 32

typedef struct {
        jt_secret_set_t *set; /* NULL: the process's */
} sink_t;

static void add_one(const sink_t *sink, const char *s, size_t len) {
        if (len < JT_MONGO_SECRET_MIN || len > JT_MONGO_SECRET_MAX)
                return;
        if (sink->set)
                jt_secret_set_add(sink->set, s, len);
        else
                jt_secret_add(s, len);
}

/* A secret as written, and percent-decoded when that differs. */
static void add_secret(const sink_t *sink, const char *s, size_t len) {
        char decoded[1024];

        if (len == 0)
                return;
        add_one(sink, s, len);
        if (len < sizeof(decoded))
                add_one(sink, decoded, percent_decode(s, len, decoded));
}

/* Each text after a ':' of [start, end): the password, wherever the user name ends. */
static void add_after_colons(const sink_t *sink, const char *start, const char *end) {
        int colons = 0;

        for (const char *p = start; p < end && colons < HEURISTIC_MAX; p++)
                if (*p == ':') {
                        add_secret(sink, p + 1, (size_t)(end - p - 1));
                        colons++;
                }
}

/* Keys of authMechanismProperties whose values are settings, not secrets. */
static bool mechanism_property_is_setting(const char *key, size_t len) {
        static const char *settings[] = {"SERVICE_NAME",  "CANONICALIZE_HOST_NAME",
                                         "SERVICE_REALM", "SERVICE_HOST",
                                         "ENVIRONMENT",   "TOKEN_RESOURCE"};

        for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
                if (strlen(settings[i]) == len && strncasecmp(settings[i], key, len) == 0)
                        return true;
        return false;
}

/* "KEY:value,KEY:value": each value of a key that is not a known setting. */
static void add_mechanism_properties(const sink_t *sink, const char *s, size_t len) {
        const char *end = s + len;

        while (s < end) {
                const char *comma = memchr(s, ',', (size_t)(end - s));
                const char *item_end = comma ? comma : end;
                const char *colon = memchr(s, ':', (size_t)(item_end - s));

                /* to the next property, and to the end for a token that holds a ',' */
                if (colon && !mechanism_property_is_setting(s, (size_t)(colon - s))) {
                        add_secret(sink, colon + 1, (size_t)(item_end - colon - 1));
                        add_secret(sink, colon + 1, (size_t)(end - colon - 1));
                }
                s = comma ? comma + 1 : end;
        }
}

/* The end of the option item starting at p: the next '&', or the end. */
static const char *item_end_of(const char *p) {
        const char *amp = strchr(p, '&');
        return amp ? amp : p + strlen(p);
}

/* True when the item at p reads as an option of its own: "knownname=...". */
static bool item_is_option(const char *p) {
        const char *end = item_end_of(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        return eq && option_name_is_known(p, (size_t)(eq - p));
}

/* The value of a secret option at the start of text ("key=value&..."), as the driver reads it
 * (up to the next '&') and as the user meant it when it holds a raw '&' (up to the next item
 * that reads as an option). */
static void add_secret_option(const sink_t *sink, const char *text) {
        const char *end = item_end_of(text);
        const char *eq = memchr(text, '=', (size_t)(end - text));
        const char *meant_end = end;
        char decoded[1024];

        if (!eq || !jt_secret_option_is_secret(text, (size_t)(eq - text)))
                return;
        for (int items = 0;
             *meant_end == '&' && !item_is_option(meant_end + 1) && items < HEURISTIC_MAX; items++)
                meant_end = item_end_of(meant_end + 1);
        for (const char *e = end;; e = item_end_of(e + 1)) {
                size_t vlen = (size_t)(e - eq - 1);

                add_secret(sink, eq + 1, vlen);
                if (strncasecmp(text, MONGOC_URI_AUTHMECHANISMPROPERTIES, (size_t)(eq - text)) ==
                    0) {
                        add_mechanism_properties(sink, eq + 1, vlen);
                        if (vlen < sizeof(decoded))
                                add_mechanism_properties(sink, decoded,
                                                         percent_decode(eq + 1, vlen, decoded));
                }
                if (e >= meant_end)
                        break;
        }
}

void jt_mongo_uri_secrets(const char *uri, jt_secret_set_t *set) {
        sink_t sink = {set};
        layout_t l;
        capture_t cap;
        bson_error_t error;
        mongoc_uri_t *parsed;

        if (!uri)
                return;
        jt_mongo_uri_init();
        l = layout_of(uri);
        if (l.scheme_end) {
                /* The password as the driver reads it (after the first ':' before the first
                 * '@' before the first '/') and as the user may have meant it when a user name
                 * or password holds a raw '@', '/' or ':': the text between any ':' and any
                 * later '@', and between two '@' (the tail the driver would take for a host,
                 * "p@ss@host": "ss"). Long odd strings that never match harm nothing. */
                int ats = 0, starts = 0;

                if (l.userinfo_at)
                        add_after_colons(&sink, l.scheme_end, l.userinfo_at);
                /* (a bounded number of '@' and option starts: no real string has more, and a
                 * hostile one must not cost a quadratic time) */
                for (const char *at = strchr(l.scheme_end, '@'); at && ats < HEURISTIC_MAX;
                     at = strchr(at + 1, '@'), ats++) {
                        int pairs = 0;

                        add_after_colons(&sink, l.scheme_end, at);
                        for (const char *before = strchr(l.scheme_end, '@');
                             before < at && pairs < HEURISTIC_MAX;
                             before = strchr(before + 1, '@'), pairs++)
                                add_secret(&sink, before + 1, (size_t)(at - before - 1));
                }
                /* Secret options wherever a '?' or '&' starts one: the driver may have read the
                 * query from elsewhere than the user meant. */
                for (const char *p = l.scheme_end; *p && starts < 4 * HEURISTIC_MAX; p++)
                        if (*p == '?' || *p == '&') {
                                add_secret_option(&sink, p + 1);
                                starts++;
                        }
        }
        parsed = parse_captured(uri, &cap, &error);
        if (parsed) {
                const char *password = mongoc_uri_get_password(parsed);
                const bson_t *options = mongoc_uri_get_options(parsed);
                bson_t props;
                bson_iter_t it;

                if (password)
                        add_secret(&sink, password, strlen(password));
                if (bson_iter_init(&it, options))
                        while (bson_iter_next(&it))
                                if (BSON_ITER_HOLDS_UTF8(&it) &&
                                    jt_secret_option_is_secret(bson_iter_key(&it),
                                                               strlen(bson_iter_key(&it)))) {
                                        uint32_t len;
                                        const char *v = bson_iter_utf8(&it, &len);
                                        add_secret(&sink, v, len);
                                }
                if (mongoc_uri_get_mechanism_properties(parsed, &props)) {
                        if (bson_iter_init(&it, &props))
                                while (bson_iter_next(&it))
                                        if (BSON_ITER_HOLDS_UTF8(&it) &&
                                            !mechanism_property_is_setting(
                                                bson_iter_key(&it), strlen(bson_iter_key(&it)))) {
                                                uint32_t len;
                                                const char *v = bson_iter_utf8(&it, &len);
                                                add_secret(&sink, v, len);
                                        }
                        bson_destroy(&props);
                }
                mongoc_uri_destroy(parsed);
        }
}

/* --- redaction ------------------------------------------------------------------------------ */

/* An '@' the driver did not take as the end of the user info: a second one among the hosts (a
 * password with '@'), or any after the first '/' (a password with '/', which moves the hosts
 * and the options into it). The driver would then show pieces of the password as a host, the
 * database or an option's value, in its errors and in ours. In an option value '@' must be
 * written %40 too: "...?w=x@host" cannot be told from a password "pw/?w=x" before "@host". */
static bool ambiguous(const char *uri, const mongoc_uri_t *parsed) {
        layout_t l = layout_of(uri);

        for (const mongoc_host_list_t *h = mongoc_uri_get_hosts(parsed); h; h = h->next)
                if (strchr(h->host_and_port, '@'))
                        return true;
        if (!l.scheme_end)
                return true;
        /* the driver's host parser may drop the rest of a host ("h:9'pw@host" reads as h:9),
         * so the parsed hosts do not always show a second '@' */
        if (l.userinfo_at &&
            memchr(l.userinfo_at + 1, '@', (size_t)(l.auth_end - l.userinfo_at - 1)))
                return true;
        return strchr(l.auth_end, '@') != NULL;
}

typedef struct {
        char *out;
        size_t size;
        size_t len;
} out_t;

static void put(out_t *o, const char *s, size_t n) {
        for (size_t i = 0; i < n && o->len + 1 < o->size; i++)
                o->out[o->len++] = s[i];
        o->out[o->len] = '\0';
}

static void puts_(out_t *o, const char *s) {
        put(o, s, strlen(s));
}

/* A host list as a host can be written: names, IPv4, [IPv6], each with an optional numeric
 * port. Anything else may be a piece of a password. */
static bool looks_like_hosts(const char *s, size_t len) {
        size_t i = 0;

        if (len == 0)
                return false;
        while (i < len) {
                size_t start = i;

                if (s[i] == '[') {
                        for (i++; i < len &&
                                  (isxdigit((unsigned char)s[i]) || s[i] == ':' || s[i] == '.');
                             i++)
                                ;
                        if (i >= len || s[i] != ']' || i == start + 1)
                                return false;
                        i++;
                } else {
                        for (; i < len && (isalnum((unsigned char)s[i]) || s[i] == '.' ||
                                           s[i] == '-' || s[i] == '_');
                             i++)
                                ;
                        if (i == start)
                                return false;
                }
                if (i < len && s[i] == ':') {
                        size_t digits = 0;
                        for (i++; i < len && isdigit((unsigned char)s[i]); i++)
                                digits++;
                        if (digits == 0 || digits > 5)
                                return false;
                }
                if (i < len && s[i] != ',')
                        return false;
                if (i < len)
                        i++;
        }
        return true;
}

/* For a string the driver refused or reads ambiguously: the scheme, and the host when it
 * follows the last '@' with no option ('=', '&') before it, so that it cannot be the tail of a
 * password or of a secret option's value. */
static void redact_unparsed(const char *uri, out_t *o) {
        layout_t l = layout_of(uri);
        const char *host, *host_end, *last_at;
        size_t scheme_len;

        if (!l.scheme_end) {
                puts_(o, "<redacted>");
                return;
        }
        scheme_len = (size_t)(l.scheme_end - uri);
        if (!((scheme_len == 10 && strncasecmp(uri, "mongodb://", 10) == 0) ||
              (scheme_len == 14 && strncasecmp(uri, "mongodb+srv://", 14) == 0))) {
                puts_(o, "<redacted>");
                return;
        }
        put(o, uri, scheme_len);
        last_at = strrchr(l.scheme_end, '@');
        host = last_at ? last_at + 1 : l.scheme_end;
        if (last_at && (memchr(l.scheme_end, '=', (size_t)(last_at - l.scheme_end)) ||
                        memchr(l.scheme_end, '&', (size_t)(last_at - l.scheme_end)))) {
                puts_(o, "<redacted>");
                return;
        }
        host_end = host + strcspn(host, "/?");
        if (!looks_like_hosts(host, (size_t)(host_end - host))) {
                puts_(o, "<redacted>");
                return;
        }
        if (last_at)
                puts_(o, JT_SECRET_MASK "@");
        put(o, host, (size_t)(host_end - host));
        if (*host_end)
                puts_(o, "/<redacted>");
}

static void put_option(out_t *o, bool *first, const char *key, const bson_iter_t *it) {
        char num[32];

        puts_(o, *first ? "?" : "&");
        *first = false;
        puts_(o, key);
        puts_(o, "=");
        if (jt_secret_option_is_secret(key, strlen(key)) || BSON_ITER_HOLDS_DOCUMENT(it)) {
                puts_(o, JT_SECRET_MASK);
        } else if (BSON_ITER_HOLDS_UTF8(it)) {
                puts_(o, bson_iter_utf8(it, NULL));
        } else if (BSON_ITER_HOLDS_BOOL(it)) {
                puts_(o, bson_iter_bool(it) ? "true" : "false");
        } else if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it)) {
                snprintf(num, sizeof(num), "%" PRId64, bson_iter_as_int64(it));
                puts_(o, num);
        } else {
                puts_(o, "?");
        }
}

static void redact_parsed(const mongoc_uri_t *parsed, out_t *o) {
        const char *srv = mongoc_uri_get_srv_hostname(parsed);
        const char *db = mongoc_uri_get_database(parsed);
        bool first = true;
        bson_iter_t it;

        puts_(o, srv ? "mongodb+srv://" : "mongodb://");
        if (mongoc_uri_get_username(parsed) || mongoc_uri_get_password(parsed))
                puts_(o, JT_SECRET_MASK "@");
        if (srv) {
                puts_(o, srv);
        } else {
                for (const mongoc_host_list_t *h = mongoc_uri_get_hosts(parsed); h; h = h->next) {
                        puts_(o, h->host_and_port);
                        if (h->next)
                                puts_(o, ",");
                }
        }
        if (db || !bson_empty(mongoc_uri_get_credentials(parsed)) ||
            !bson_empty(mongoc_uri_get_options(parsed)))
                puts_(o, "/");
        if (db)
                puts_(o, db);
        if (bson_iter_init(&it, mongoc_uri_get_credentials(parsed)))
                while (bson_iter_next(&it))
                        put_option(o, &first, bson_iter_key(&it), &it);
        if (bson_iter_init(&it, mongoc_uri_get_options(parsed)))
                while (bson_iter_next(&it))
                        put_option(o, &first, bson_iter_key(&it), &it);
}

void jt_mongo_uri_redact(const char *uri, char *out, size_t out_size) {
        out_t o = {out, out_size, 0};
        mongoc_uri_t *parsed;
        capture_t cap;
        bson_error_t error;

        if (!out || out_size == 0)
                return;
        out[0] = '\0';
        if (!uri)
                uri = "";
        jt_mongo_uri_init();
        /* The driver's notes on this parse were printed when the pool was made. */
        parsed = parse_captured(uri, &cap, &error);
        if (parsed && !ambiguous(uri, parsed))
                redact_parsed(parsed, &o);
        else
                redact_unparsed(uri, &o);
        mongoc_uri_destroy(parsed);
}

mongoc_uri_t *jt_mongo_uri_parse(const char *uri, jt_error_t *err) {
        char shown[512], why[512];
        mongoc_uri_t *parsed;
        capture_t cap;
        bson_error_t error;

        jt_mongo_uri_init();
        jt_mongo_uri_secrets(uri, NULL);
        parsed = parse_captured(uri ? uri : "", &cap, &error);
        for (int i = 0; i < cap.n; i++) {
                withhold_quoted(cap.lines[i].text, why, sizeof(why));
                jt_log(log_level_of(cap.lines[i].level), "mongoc: --mongo-uri: %s", why);
        }
        if (!parsed) {
                jt_mongo_uri_redact(uri, shown, sizeof(shown));
                withhold_quoted(error.message, why, sizeof(why));
                jt_error_set(err, JT_ERR_CONFIG, (int)error.code,
                             "--mongo-uri is not a valid MongoDB connection string: %s (got %s)",
                             why, shown);
                return NULL;
        }
        if (ambiguous(uri, parsed)) {
                mongoc_uri_destroy(parsed);
                jt_mongo_uri_redact(uri, shown, sizeof(shown));
                jt_error_set(err, JT_ERR_CONFIG, 0,
                             "--mongo-uri has an '@' after the one that ends the user name and "
                             "password, where the driver would read part of a password as a host "
                             "or an option; percent-encode '@' as %%40, '/' as %%2F and ':' as "
                             "%%3A in the user name, the password and option values (got %s)",
                             shown);
                return NULL;
        }
        return parsed;
}
