/* Fuzz target: MongoDB URI redaction for logs and errors (common/jt_mongo_uri.c). Whatever the
 * text, the redaction must not crash or overrun its buffer; and when the driver's own parser
 * (mongoc_uri_new_with_error) finds a password or a secret option in it, that secret must
 * not appear in the redacted text, nor, parsed or not, what a reader takes for the password
 * ("user:PASSWORD@host"). Input: the URI; out buffers of several sizes are tried. */
#define _GNU_SOURCE /* strcasestr */
#include <mongoc/mongoc.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jt_fuzz.h"
#include "jt_mongo.h"

/* Shorter secrets can occur in the redacted text by chance (a host named like the password). */
#define MIN_SECRET 4

static const size_t out_sizes[] = {1, 8, 64, 512, 8192};

/* The product call, in one place. */
static void redact(const char *uri, char *out, size_t size) {
        jt_mongo_uri_redact(uri, out, size);
}

static bool is_secret_option(const char *key) {
        return strcasecmp(key, MONGOC_URI_TLSCERTIFICATEKEYFILEPASSWORD) == 0 ||
               strcasecmp(key, MONGOC_URI_AUTHMECHANISMPROPERTIES) == 0;
}

/* What the redacted text may show: every part of the URI that is not a secret. A secret that
 * also occurs here is not reported (it cannot be told apart). */
static char *public_text(const mongoc_uri_t *uri) {
        const mongoc_host_list_t *h;
        const bson_t *opts = mongoc_uri_get_options(uri);
        /* The words of the redacted form itself, option names included (a password
         * "keyfile" is in "tlscertificatekeyfilepassword=***"). */
        char *text = bson_strdup_printf(
            "mongodb:// mongodb+srv:// <redacted> *** authmechanismproperties %s %s %s %s",
            mongoc_uri_get_username(uri) ?: "", mongoc_uri_get_database(uri) ?: "",
            mongoc_uri_get_auth_source(uri) ?: "", mongoc_uri_get_auth_mechanism(uri) ?: "");
        char *more;
        bson_iter_t it;

        for (h = mongoc_uri_get_hosts(uri); h; h = h->next) {
                more = bson_strdup_printf("%s %s", text, h->host_and_port);
                bson_free(text);
                text = more;
        }
        if (opts && bson_iter_init(&it, opts))
                while (bson_iter_next(&it)) {
                        if (is_secret_option(bson_iter_key(&it)))
                                more = bson_strdup_printf("%s %s=", text, bson_iter_key(&it));
                        else if (BSON_ITER_HOLDS_UTF8(&it))
                                more = bson_strdup_printf("%s %s=%s", text, bson_iter_key(&it),
                                                          bson_iter_utf8(&it, NULL));
                        else if (BSON_ITER_HOLDS_INT32(&it))
                                more = bson_strdup_printf("%s %s=%d", text, bson_iter_key(&it),
                                                          bson_iter_int32(&it));
                        else
                                more = bson_strdup_printf("%s %s", text, bson_iter_key(&it));
                        bson_free(text);
                        text = more;
                }
        return text;
}

static void check_secret(const char *id, const char *what, const char *secret, const char *pub,
                         const char *uri, const char *out) {
        if (!secret || strlen(secret) < MIN_SECRET || strstr(pub, secret))
                return;
        if (strstr(out, secret))
                jt_fuzz_finding(id, "the %s is in the redacted text: %s -> %s", what, uri, out);
}

static void quiet(mongoc_log_level_t level, const char *domain, const char *message, void *data) {
        (void)level;
        (void)domain;
        (void)message;
        (void)data;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void)argc;
        (void)argv;
        /* mongoc_init and the product's log handler, which jt_mongo_uri_redact would install
         * on its first call; replaced at once: the driver warns about unknown options on
         * stderr, not wanted per input. */
        jt_mongo_uri_init();
        mongoc_log_set_handler(quiet, NULL);
        return 0;
}

/* Whether or not the driver accepts the text (its error messages may repeat it), what stands
 * between "://user:" and the last '@' of the authority is a password as a reader sees it. */
static void check_userinfo(const char *text, const char *out) {
        const char *auth = strstr(text, "://"), *end, *at = NULL, *colon;
        char *password, *rest;

        if (!auth)
                return;
        auth += 3;
        end = auth + strcspn(auth, "?#");
        for (const char *p = auth; p < end; p++)
                if (*p == '@')
                        at = p;
        if (!at || !(colon = memchr(auth, ':', (size_t)(at - auth))) || at - colon - 1 < MIN_SECRET)
                return;
        password = strndup(colon + 1, (size_t)(at - colon - 1));
        rest = strndup(auth, (size_t)(colon - auth));
        /* The whole password, or what follows an '@' in it (a redaction that stops at the
         * first '@' shows the rest). */
        for (char *part = password; part && rest && strlen(part) >= MIN_SECRET;) {
                /* (any case: the driver lower-cases host names; the default port is added) */
                if (*part != '@' && /* "@etke" of "@@etke": "etke" is checked next */
                    !strcasestr(at + 1, part) && !strcasestr(rest, part) &&
                    !strstr("mongodb+srv:// mongodb://<redacted> mongodb://***@ :27017", part) &&
                    strstr(out, part))
                        jt_fuzz_finding("uri-userinfo",
                                        "the password part is in the redacted text: %s -> %s", text,
                                        out);
                part = strchr(part, '@');
                part = part ? part + 1 : NULL;
        }
        free(password);
        free(rest);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = jt_fuzz_cstr(data, size), out[8192];
        mongoc_uri_t *uri;
        bson_t props;

        for (size_t i = 0; i < sizeof(out_sizes) / sizeof(out_sizes[0]); i++) {
                /* A canary after the buffer the function is told about. */
                memset(out, 0x5A, sizeof(out));
                redact(text, out, out_sizes[i]);
                if (out_sizes[i] < sizeof(out) && out[out_sizes[i]] != 0x5A)
                        jt_fuzz_finding("uri-overrun", "wrote past %zu bytes", out_sizes[i]);
                if (!memchr(out, '\0', out_sizes[i]))
                        jt_fuzz_finding("uri-unterminated", "no NUL in %zu bytes", out_sizes[i]);
        }
        check_userinfo(text, out);
        if ((uri = mongoc_uri_new_with_error(text, NULL)) != NULL) {
                char *pub = public_text(uri);
                bson_iter_t it;

                /* out holds the 8192-byte redaction from the loop above. */
                check_secret("uri-password", "password", mongoc_uri_get_password(uri), pub, text,
                             out);
                check_secret("uri-tls-password", "tlsCertificateKeyFilePassword",
                             mongoc_uri_get_option_as_utf8(
                                 uri, MONGOC_URI_TLSCERTIFICATEKEYFILEPASSWORD, NULL),
                             pub, text, out);
                if (mongoc_uri_get_mechanism_properties(uri, &props)) {
                        if (bson_iter_init_find_case(&it, &props, "AWS_SESSION_TOKEN") &&
                            BSON_ITER_HOLDS_UTF8(&it))
                                check_secret("uri-aws-token", "AWS_SESSION_TOKEN",
                                             bson_iter_utf8(&it, NULL), pub, text, out);
                        bson_destroy(&props);
                }
                bson_free(pub);
                mongoc_uri_destroy(uri);
        }
        free(text);
        return 0;
}
