/* MongoDB credentials never leak: jt_mongo_uri_redact on the named cases and on 1,000,000
 * generated connection strings (users, passwords and secret options with every reserved
 * character, raw or percent-encoded, IPv6 hosts, several hosts, mongodb+srv), the scrubber on
 * synthetic driver messages built from them, and the process-wide paths (jt_error, jt_log, the
 * driver's log handler). Every check looks for each secret as meant, as written and as the
 * driver decodes it, and for every 6-character piece of it. */
#define _GNU_SOURCE /* strcasestr */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jt_error.h"
#include "jt_log.h"
#include "jt_mongo.h"
#include "jt_secret.h"

#define N(a)      (sizeof(a) / sizeof((a)[0]))
#define FUZZ_URIS 1000000
#ifndef SCRUB_EVERY
#define SCRUB_EVERY 16
#endif
#define PIECE       6 /* a piece of a secret this long showing is a leak */
#define SECRET_MAX  40
#define MAX_SECRETS 6

/* --- the named cases --------------------------------------------------------------------- */

static const struct {
        const char *uri;
        const char *expected;
        const char *secrets[3];
} named[] = {
    /* issue 15: '/' in the password printed it whole */
    {"mongodb://app:S3cr/et@host", "mongodb://***@host", {"S3cr/et", "S3cr", "et@host"}},
    /* '@' in the password printed its tail as a host */
    {"mongodb://app:p@ssw0rd@host:27017/db",
     "mongodb://***@host:27017/<redacted>",
     {"p@ssw0rd", "ssw0rd", NULL}},
    {"mongodb://host/?tlsCertificateKeyFilePassword=hunter22&tls=true",
     "mongodb://host:27017/?tlscertificatekeyfilepassword=***&tls=true",
     {"hunter22", NULL, NULL}},
    {"mongodb://host/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:"
     "FQoGZXIvYXdzEJr",
     "mongodb://host:27017/?authmechanism=MONGODB-AWS&authmechanismproperties=***",
     {"FQoGZXIvYXdzEJr", NULL, NULL}},
    {"mongodb://app:p%40ss%2Fw@[::1]:27018,h2/db?sslClientCertificateKeyPassword=xyzw1",
     "mongodb://***@[::1]:27018,h2:27017/db?tlscertificatekeyfilepassword=***",
     {"p@ss/w", "p%40ss%2Fw", "xyzw1"}},
    {"mongodb+srv://user1:pw9876@cluster0.example.com/db",
     "mongodb+srv://***@cluster0.example.com/db?tls=true",
     {"user1", "pw9876", NULL}},
    {"mongodb://app:p:w0rd@host", "mongodb://***@host", {"p:w0rd", "w0rd@host", NULL}},
    {"mongodb://user1@host", "mongodb://***@host:27017", {"user1", NULL, NULL}},
    {"mongodb://user1:1234/?a=b@host", "mongodb://<redacted>", {"1234/?a=b", "user1", NULL}},
    {"mongodb://host/?tlsCertificateKeyFilePassword=a&bcdef=gh", /* '&' in the password */
     "mongodb://host:27017/?tlscertificatekeyfilepassword=***",
     {"bcdef", NULL, NULL}},
    {"mongodb://h/?tlsCertificateKeyFilePassword=sec%zzret",
     "mongodb://h/<redacted>",
     {"sec%zzret", "ret", NULL}},
    {"postgres://u:pw12@h", "<redacted>", {"pw12", NULL, NULL}},
    {"", "<redacted>", {NULL, NULL, NULL}},
    {"mongodb://db.example.net", "mongodb://db.example.net:27017", {NULL, NULL, NULL}},
};

static void test_named_cases(void **state) {
        char out[512];

        for (size_t i = 0; i < N(named); i++) {
                jt_mongo_uri_redact(named[i].uri, out, sizeof(out));
                if (strcmp(out, named[i].expected) != 0)
                        fail_msg("redact(%s): expected \"%s\", got \"%s\"", named[i].uri,
                                 named[i].expected, out);
                for (size_t k = 0; k < 3 && named[i].secrets[k]; k++)
                        if (strstr(out, named[i].secrets[k]))
                                fail_msg("redact(%s) = \"%s\" shows the secret \"%s\"",
                                         named[i].uri, out, named[i].secrets[k]);
        }
        /* a short buffer cuts, it never overflows */
        jt_mongo_uri_redact("mongodb://u:pw@host/?tls=true", out, 8);
        assert_string_equal(out, "mongodb");
}

/* --- generated connection strings ---------------------------------------------------------- */

/* Each string i is drawn from a generator seeded with i: the same million strings on every run,
 * whichever thread draws which. */
static __thread uint64_t rng_state;

static void seed(uint64_t i) { /* splitmix64 */
        uint64_t z = 0x9E3779B97F4A7C15ull * (i + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        rng_state = (z ^ (z >> 31)) | 1;
}

static uint64_t rnd(void) { /* xorshift64* */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 2685821657736338717ull;
}

static unsigned pick(unsigned n) {
        return (unsigned)(rnd() % n);
}

static const char reserved[] = ":/?#[]@!$&'()*+,;=%";
static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";

typedef struct {
        char meant[SECRET_MAX + 1];       /* what the user means */
        char written[3 * SECRET_MAX + 1]; /* what the URI holds */
        char decoded[3 * SECRET_MAX + 1]; /* written, percent-decoded as the driver does */
} secret_t;

static size_t decode(const char *s, char *out) {
        size_t o = 0, n = strlen(s);
        static const char hex[] = "0123456789abcdef0123456789ABCDEF";

        for (size_t i = 0; i < n; i++) {
                const char *h1 = i + 2 < n ? memchr(hex, s[i + 1], 32) : NULL;
                const char *h2 = h1 ? memchr(hex, s[i + 2], 32) : NULL;
                if (s[i] == '%' && h1 && h2 && s[i + 1] && s[i + 2]) {
                        out[o++] = (char)(((h1 - hex) % 16) * 16 + (h2 - hex) % 16);
                        i += 2;
                } else {
                        out[o++] = s[i];
                }
        }
        out[o] = '\0';
        return o;
}

/* A string with reserved characters in about a third of its places, written in one of four
 * ways: reserved ones percent-encoded (a correct URI), all raw (a careless one), each at random,
 * or every character encoded in upper or lower case hex. */
static void make_secret(secret_t *s, unsigned min_len, unsigned max_len, bool option_value) {
        unsigned len = min_len + pick(max_len - min_len + 1);
        unsigned mode = pick(4);
        bool after_raw_amp = false;
        size_t w = 0;

        for (unsigned i = 0; i < len; i++) {
                /* In an option value, a raw '&' followed by "name=" of a known option is a new
                 * option to anyone reading the string, the driver included: after a raw '&'
                 * comes a character no option name starts with. */
                char c = pick(3) == 0 || after_raw_amp ? reserved[pick(sizeof(reserved) - 1)]
                                                       : plain[pick(sizeof(plain) - 1)];
                bool is_reserved = strchr(reserved, c) != NULL;
                bool encode = mode == 0   ? is_reserved
                              : mode == 1 ? false
                              : mode == 2 ? pick(2) == 0
                                          : true;

                s->meant[i] = c;
                after_raw_amp = option_value && c == '&' && !encode;
                if (encode) {
                        const char *digits = pick(2) ? "0123456789ABCDEF" : "0123456789abcdef";
                        s->written[w++] = '%';
                        s->written[w++] = digits[(unsigned char)c >> 4];
                        s->written[w++] = digits[(unsigned char)c & 15];
                } else {
                        s->written[w++] = c;
                }
        }
        s->meant[len] = '\0';
        s->written[w] = '\0';
        decode(s->written, s->decoded);
}

static const char *hosts[] = {"db0.example.net", "10.1.2.3",         "[::1]",
                              "[fe80::1:2]",     "mongo-1.internal", "localhost"};
static const char *srv_hosts[] = {"cluster0.abcde.mongodb.net", "rs.example.org"};
static const char *plain_options[] = {"tls=true",
                                      "replicaSet=rs0",
                                      "appname=joytify",
                                      "connectTimeoutMS=2000",
                                      "authSource=admin",
                                      "retryWrites=false",
                                      "readPreference=secondaryPreferred",
                                      "w=majority",
                                      "compressors=zlib",
                                      "serverSelectionTimeoutMS=1500"};

typedef struct {
        char uri[1024];
        secret_t user;
        bool has_user;
        bool has_password;             /* then secrets[0] */
        secret_t secrets[MAX_SECRETS]; /* password and secret option values */
        int n_secrets;
        const char *first_host;
} generated_t;

static void generate(generated_t *g) {
        bool srv = pick(10) == 0;
        size_t n = 0;
        unsigned userinfo = pick(10); /* 0: none, 1: user only, else user:password */
        unsigned n_opts = pick(6);
        char uri[sizeof(g->uri)];

        memset(g, 0, sizeof(*g));
        n += (size_t)sprintf(uri, "%s", srv ? "mongodb+srv://" : "mongodb://");
        if (userinfo > 0) {
                g->has_user = true;
                make_secret(&g->user, 4, 12, false);
                n += (size_t)sprintf(uri + n, "%s", g->user.written);
                if (userinfo > 1) {
                        g->has_password = true;
                        secret_t *pw = &g->secrets[g->n_secrets++];
                        make_secret(pw, 4, 24, false);
                        n += (size_t)sprintf(uri + n, ":%s", pw->written);
                }
                uri[n++] = '@';
        }
        if (srv) {
                g->first_host = srv_hosts[pick(N(srv_hosts))];
                n += (size_t)sprintf(uri + n, "%s", g->first_host);
        } else {
                unsigned n_hosts = 1 + pick(3);
                for (unsigned i = 0; i < n_hosts; i++) {
                        const char *h = hosts[pick(N(hosts))];
                        if (i == 0)
                                g->first_host = h;
                        n += (size_t)sprintf(uri + n, "%s%s", i ? "," : "", h);
                        if (pick(2))
                                n += (size_t)sprintf(uri + n, ":%u", 1 + pick(65535));
                }
        }
        if (n_opts > 0 || pick(2)) {
                static const char *dbs[] = {"", "admin", "joytify", "test_db"};
                n += (size_t)sprintf(uri + n, "/%s", dbs[pick(N(dbs))]);
        }
        for (unsigned i = 0; i < n_opts; i++) {
                const char *sep = i == 0 ? "?" : "&";
                unsigned kind = pick(8);

                if (kind < 5 || g->n_secrets == MAX_SECRETS) {
                        n += (size_t)sprintf(uri + n, "%s%s", sep,
                                             plain_options[pick(N(plain_options))]);
                        continue;
                }
                secret_t *s = &g->secrets[g->n_secrets++];
                make_secret(s, 4, 24, true);
                switch (kind) {
                case 5:
                        n += (size_t)sprintf(uri + n, "%stlsCertificateKeyFilePassword=%s", sep,
                                             s->written);
                        break;
                case 6:
                        n += (size_t)sprintf(uri + n, "%ssslClientCertificateKeyPassword=%s", sep,
                                             s->written);
                        break;
                default:
                        n += (size_t)sprintf(uri + n,
                                             "%sauthMechanism=MONGODB-AWS&authMechanismProperties="
                                             "%sAWS_SESSION_TOKEN:%s",
                                             sep, pick(2) ? "SERVICE_NAME:mongodb," : "",
                                             s->written);
                        break;
                }
        }
        uri[n] = '\0';
        memcpy(g->uri, uri, n + 1);
}

/* The PIECE-character pieces of a text, in a small open-addressing set: looking up every piece
 * of every secret stays cheap over a million strings. */
#define GRAM_SLOTS 4096
typedef struct {
        uint64_t slot[GRAM_SLOTS];
        uint32_t stamp[GRAM_SLOTS];
        uint32_t now;
} grams_t;

static uint64_t gram_of(const char *p) {
        uint64_t g = 1; /* never 0: a leading 1 bit above the PIECE bytes */
        for (int i = 0; i < PIECE; i++)
                g = (g << 8) | (unsigned char)p[i];
        return g;
}

static void grams_fill(grams_t *gs, const char *text) {
        const uint64_t mask = (1ull << (8 * PIECE)) - 1;
        uint64_t g = 0;

        gs->now++;
        for (size_t i = 0; text[i]; i++) {
                g = ((g << 8) | (unsigned char)text[i]) & mask; /* rolling: gram_of(text+i-5) */
                if (i + 1 < PIECE)
                        continue;
                g |= 1ull << (8 * PIECE);
                size_t h = (size_t)((g * 0x9E3779B97F4A7C15ull) >> 52) % GRAM_SLOTS;

                while (gs->stamp[h] == gs->now && gs->slot[h] != g)
                        h = (h + 1) % GRAM_SLOTS;
                gs->slot[h] = g;
                gs->stamp[h] = gs->now;
                g &= mask;
        }
}

static bool grams_has(const grams_t *gs, const char *p) {
        uint64_t g = gram_of(p);
        size_t h = (size_t)((g * 0x9E3779B97F4A7C15ull) >> 52) % GRAM_SLOTS;

        while (gs->stamp[h] == gs->now) {
                if (gs->slot[h] == g)
                        return true;
                h = (h + 1) % GRAM_SLOTS;
        }
        return false;
}

/* Every fixed word a redacted string can show: a short secret that happens to be one of them
 * ("tify" in "joytify") is not a leak. */
static const char vocabulary[] =
    "mongodb+srv:// mongodb:// <redacted> *** db0.example.net 10.1.2.3 [::1] [fe80::1:2] "
    "mongo-1.internal localhost cluster0.abcde.mongodb.net rs.example.org admin joytify test_db "
    "tls=true replicaSet=rs0 appname=joytify connectTimeoutMS=2000 authSource=admin "
    "retryWrites=false readPreference=secondaryPreferred w=majority compressors=zlib "
    "serverSelectionTimeoutMS=1500 authMechanism=MONGODB-AWS authMechanismProperties "
    "tlsCertificateKeyFilePassword :27017";

/* NULL, or the form of the secret (or a piece of it of PIECE characters) found in text. A
 * "%XX" counts as one character: "%29%5D" is two, and two random secrets often share two. */
static const char *leak_of(const char *text, const grams_t *gs, const char *form) {
        static __thread char found[3 * SECRET_MAX + 1];
        size_t starts[3 * SECRET_MAX + 2], n = 0, len = strlen(form);

        for (size_t i = 0; i < len; n++) {
                starts[n] = i;
                i += form[i] == '%' && i + 2 < len + 0 && form[i + 1] && form[i + 2] ? 3 : 1;
        }
        starts[n] = len;
        if (len >= 4 && n < PIECE && strstr(text, form) && !strcasestr(vocabulary, form))
                return form;
        for (size_t t = 0; t + PIECE <= n; t++) {
                size_t from = starts[t], to = starts[t + PIECE];

                /* the first PIECE bytes through the set, then the whole piece */
                if (!grams_has(gs, form + from))
                        continue;
                memcpy(found, form + from, to - from);
                found[to - from] = '\0';
                if (strstr(text, found))
                        return found;
        }
        return NULL;
}

static const char *leak_of_secret(const char *text, const grams_t *gs, const secret_t *s) {
        const char *found;

        if ((found = leak_of(text, gs, s->meant)) || (found = leak_of(text, gs, s->written)) ||
            (found = leak_of(text, gs, s->decoded)))
                return found;
        return NULL;
}

/* What the driver says (or could say) about a connection string, with its parts in it. */
static int driver_messages(const generated_t *g, char msgs[][768]) {
        int n = 0;
        const char *pw = g->has_password ? g->secrets[0].written : "";
        const char *pw_dec = g->has_password ? g->secrets[0].decoded : "";
        const char *at = strchr(pw, '@');

        snprintf(msgs[n++], 768,
                 "No suitable servers found: [connection refused calling hello on "
                 "'%s:27017'] for %s",
                 g->first_host, g->uri);
        snprintf(msgs[n++], 768, "Password \"%s\" must not have unescaped chars. Percent-encode",
                 pw);
        snprintf(msgs[n++], 768, "Authentication failed for %s with password %s.", g->first_host,
                 pw_dec);
        if (at)
                snprintf(msgs[n++], 768, "[Failed to resolve '%s@%s']", at + 1, g->first_host);
        for (int i = 0; i < g->n_secrets; i++) {
                snprintf(msgs[n++], 768,
                         "Unsupported value for \"authmechanismproperties\": \"%s\"",
                         g->secrets[i].decoded);
                snprintf(msgs[n++], 768,
                         "Deprecated option 'sslclientcertificatekeypassword=%s' conflicts with "
                         "canonical name 'tlscertificatekeyfilepassword=%s'",
                         g->secrets[i].decoded, g->secrets[i].written);
                snprintf(msgs[n++], 768, "{ \"tlscertificatekeyfilepassword\" : \"%s\" }",
                         g->secrets[i].decoded);
        }
        return n;
}

/* One thread's share of the strings; the first leak stops it and is reported by the test. */
typedef struct {
        unsigned long from, to;
        unsigned long parsed_form, fail_safe, secrets_checked, messages;
        bool failed;
        char failure[4096];
} share_t;

#define FAIL_SHARE(sh, ...)                                                                        \
        do {                                                                                       \
                snprintf((sh)->failure, sizeof((sh)->failure), __VA_ARGS__);                       \
                (sh)->failed = true;                                                               \
                goto done;                                                                         \
        } while (0)

static void *fuzz_share(void *arg) {
        share_t *sh = arg;
        generated_t *g = malloc(sizeof(*g));
        grams_t *gs = calloc(1, sizeof(*gs));
        char out[1024], msgs[4 + 3 * MAX_SECRETS][768], scrubbed[1024];

        for (unsigned long i = sh->from; i < sh->to; i++) {
                const char *leak;

                seed(i);
                generate(g);
                jt_mongo_uri_redact(g->uri, out, sizeof(out));
                grams_fill(gs, out);
                for (int k = 0; k < g->n_secrets; k++, sh->secrets_checked++)
                        if ((leak = leak_of_secret(out, gs, &g->secrets[k])))
                                FAIL_SHARE(sh,
                                           "URI %lu \"%s\": redacted to \"%s\", which shows "
                                           "\"%s\" of the secret \"%s\" (expected none of it)",
                                           i, g->uri, out, leak, g->secrets[k].meant);
                if (g->has_user && (strstr(out, g->user.meant) || strstr(out, g->user.written)))
                        FAIL_SHARE(sh,
                                   "URI %lu \"%s\": redacted to \"%s\", which shows the user "
                                   "name \"%s\"",
                                   i, g->uri, out, g->user.meant);
                if (strstr(out, "<redacted>")) {
                        sh->fail_safe++;
                } else {
                        sh->parsed_form++;
                        if (!strstr(out, g->first_host)) /* a URI the driver reads names it */
                                FAIL_SHARE(sh,
                                           "URI %lu \"%s\": redacted to \"%s\", expected the "
                                           "host %s in it",
                                           i, g->uri, out, g->first_host);
                }
                /* The scrubber on every SCRUB_EVERY-th (each costs another parse). */
                if (i % SCRUB_EVERY == 0) {
                        jt_secret_set_t *set = jt_secret_set_new();
                        int n_msgs = driver_messages(g, msgs);

                        jt_mongo_uri_secrets(g->uri, set);
                        for (int m = 0; m < n_msgs; m++, sh->messages++) {
                                jt_secret_set_scrub(set, msgs[m], scrubbed, sizeof(scrubbed));
                                grams_fill(gs, scrubbed);
                                for (int k = 0; k < g->n_secrets; k++) {
                                        const secret_t *sc = &g->secrets[k];
                                        /* The driver only ever has the secret as written
                                         * and decoded. */
                                        if ((leak = leak_of(scrubbed, gs, sc->written)) ||
                                            (leak = leak_of(scrubbed, gs, sc->decoded))) {
                                                jt_secret_set_destroy(set);
                                                FAIL_SHARE(sh,
                                                           "URI %lu: a message scrubbed shows "
                                                           "\"%s\" of the secret \"%s\" "
                                                           "(expected none of it): \"%s\" from "
                                                           "\"%s\"; URI \"%s\"",
                                                           i, leak, sc->meant, scrubbed, msgs[m],
                                                           g->uri);
                                        }
                                }
                        }
                        jt_secret_set_destroy(set);
                }
        }
done:
        free(g);
        free(gs);
        return NULL;
}

/* In FUZZ_THREADS threads: jt_mongo_uri_redact is for any thread, and the driver's parser is
 * slow enough (about 10 us a string, 3 times that under ASan) that one core would take most of
 * a minute. */
#define FUZZ_THREADS 4

static void test_fuzz_million(void **state) {
        share_t shares[FUZZ_THREADS] = {0};
        pthread_t threads[FUZZ_THREADS];
        share_t sum = {0};

        jt_mongo_uri_init();
        for (int t = 0; t < FUZZ_THREADS; t++) {
                shares[t].from = (unsigned long)FUZZ_URIS * t / FUZZ_THREADS;
                shares[t].to = (unsigned long)FUZZ_URIS * (t + 1) / FUZZ_THREADS;
                assert_int_equal(pthread_create(&threads[t], NULL, fuzz_share, &shares[t]), 0);
        }
        for (int t = 0; t < FUZZ_THREADS; t++) {
                pthread_join(threads[t], NULL);
                sum.parsed_form += shares[t].parsed_form;
                sum.fail_safe += shares[t].fail_safe;
                sum.secrets_checked += shares[t].secrets_checked;
                sum.messages += shares[t].messages;
        }
        for (int t = 0; t < FUZZ_THREADS; t++)
                if (shares[t].failed)
                        fail_msg("%s", shares[t].failure);
        assert_int_equal(sum.parsed_form + sum.fail_safe, FUZZ_URIS);
        printf("fuzz: %d URIs redacted (%lu shown from the driver's parse, %lu fail-safe), "
               "%lu secrets checked, %lu driver messages scrubbed: 0 leaks\n",
               FUZZ_URIS, sum.parsed_form, sum.fail_safe, sum.secrets_checked, sum.messages);
}

/* --- the scrubber's own shapes ------------------------------------------------------------ */

static void test_scrub_patterns(void **state) {
        static const struct {
                const char *in, *expected;
        } cases[] = {
            {"connecting to mongodb://app:S3cr/et@host failed",
             "connecting to mongodb://***@host failed"},
            {"x mongodb://u:p@ss@host:1/db y", "x mongodb://***@host:1/db y"},
            {"opts tlsCertificateKeyFilePassword=abc&tls=true",
             "opts tlsCertificateKeyFilePassword=***&tls=true"},
            {"{ \"tlscertificatekeyfilepassword\" : \"abc\" }",
             "{ \"tlscertificatekeyfilepassword\" : \"***\" }"},
            {"authMechanismProperties=SERVICE_NAME:m,AWS_SESSION_TOKEN:tok end",
             "authMechanismProperties=*** end"},
            {"{ \"AWS_SESSION_TOKEN\" : \"tok\" }", "{ \"AWS_SESSION_TOKEN\" : \"***\" }"},
            {"at mongodb://h:1/?authmechanismproperties=***: refused",
             "at mongodb://h:1/?authmechanismproperties=***: refused"},
            {"https://discord.com/api/webhooks/1/x posted",
             "https://discord.com/api/webhooks/1/x posted"},
        };
        char out[256];

        for (size_t i = 0; i < N(cases); i++) {
                jt_secret_set_scrub(NULL, cases[i].in, out, sizeof(out));
                if (strcmp(out, cases[i].expected) != 0)
                        fail_msg("scrub(\"%s\"): expected \"%s\", got \"%s\"", cases[i].in,
                                 cases[i].expected, out);
        }
}

/* --- the process-wide paths ---------------------------------------------------------------- */

/* stderr into a file for the duration of fn, returned (caller frees). */
static char *stderr_of(void (*fn)(void)) {
        FILE *tmp = tmpfile();
        int saved = dup(2);
        long len;
        char *text;

        assert_non_null(tmp);
        fflush(stderr);
        dup2(fileno(tmp), 2);
        fn();
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        len = ftell(tmp);
        text = calloc(1, (size_t)len + 1);
        rewind(tmp);
        assert_int_equal(fread(text, 1, (size_t)len, tmp), (size_t)len);
        fclose(tmp);
        return text;
}

static const char *const process_uri =
    "mongodb://app:Pr0c%2Fess@127.0.0.1:1/?tlsCertificateKeyFilePassword=TlsPw%26x&"
    "authMechanismProperties=AWS_SESSION_TOKEN:SessTok4242";
static const char *const process_secrets[] = {"Pr0c/ess", "Pr0c%2Fess", "TlsPw&x", "TlsPw%26x",
                                              "SessTok4242"};

static void log_the_driver_text(void) {
        jt_log_error("driver said: %s / %s / %s", "Pr0c/ess", "TlsPw&x", "SessTok4242");
        /* the driver's own log line, through the handler jt_mongo_uri_init installs */
        mongoc_log(MONGOC_LOG_LEVEL_WARNING, "cluster", "auth with Pr0c%%2Fess for %s failed",
                   "mongodb://app:Pr0c/ess@127.0.0.1:1");
}

static void test_process_paths(void **state) {
        jt_error_t err;
        char *logged;

        jt_secret_reset();
        jt_log_init("test", JT_LOG_DEBUG);
        jt_mongo_uri_init();
        jt_mongo_uri_secrets(process_uri, NULL);
        jt_error_set(&err, JT_ERR_MONGO, 1, "failed: %s %s %s", "Pr0c/ess", "TlsPw&x",
                     "SessTok4242");
        jt_error_prefix(&err, "with %s", "Pr0c%2Fess");
        logged = stderr_of(log_the_driver_text);
        for (size_t i = 0; i < N(process_secrets); i++) {
                if (strstr(err.message, process_secrets[i]))
                        fail_msg("jt_error message \"%s\" shows \"%s\"", err.message,
                                 process_secrets[i]);
                if (strstr(logged, process_secrets[i]))
                        fail_msg("logged \"%s\" shows \"%s\"", logged, process_secrets[i]);
        }
        if (!strstr(logged, "driver said: ***") || !strstr(logged, "mongoc cluster: auth with"))
                fail_msg("expected both lines logged, scrubbed; got \"%s\"", logged);
        printf("jt_error: \"%s\"\nlogged: %s", err.message, logged);
        free(logged);
        jt_secret_reset();
}

/* A message longer than the error buffer is scrubbed before it is cut: no secret's start is
 * left at the cut. */
static void test_scrub_before_cut(void **state) {
        char pad[600];
        jt_error_t err;

        jt_secret_reset();
        jt_secret_add("CutHereSecret", 13);
        for (size_t n = JT_ERROR_MSG_MAX - 20; n < JT_ERROR_MSG_MAX; n++) {
                memset(pad, 'x', n);
                pad[n] = '\0';
                jt_error_set(&err, JT_ERR_MONGO, 0, "%sCutHereSecret", pad);
                if (strstr(err.message, "CutH"))
                        fail_msg("padding %zu: message ends \"%s\"", n,
                                 err.message + strlen(err.message) - 12);
        }
        jt_secret_reset();
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_named_cases),   cmocka_unit_test(test_scrub_patterns),
            cmocka_unit_test(test_process_paths), cmocka_unit_test(test_scrub_before_cut),
            cmocka_unit_test(test_fuzz_million),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
