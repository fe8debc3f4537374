/* The scrubber: known secrets first, then the shapes a secret takes in a URI or
 * in the driver's words, for the secrets nobody registered. Replacing is done on the whole text
 * into a growing buffer, and only the result is cut to the caller's size. */
#include "jt_secret.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct jt_secret_set_s {
        char **items;
        size_t *lens;
        size_t count;
        size_t cap;
};

/* Option names whose value is secret. AWS_SESSION_TOKEN is a key inside authMechanismProperties
 * (and inside the driver's dump of it); its value ends at the next property. */
static const struct {
        const char *key;
        bool comma_ends;
} secret_options[] = {
    {"tlsCertificateKeyFilePassword", false},
    {"sslClientCertificateKeyPassword", false},
    {"authMechanismProperties", false},
    {"AWS_SESSION_TOKEN", true},
    {"password", false},
};

#define N_SECRET_OPTIONS (sizeof(secret_options) / sizeof(secret_options[0]))

typedef struct {
        char *buf;
        size_t len;
        size_t cap;
        bool failed; /* out of memory: the caller prints nothing of the text */
} sb_t;

static void sb_put(sb_t *sb, const char *s, size_t n) {
        if (sb->failed)
                return;
        if (sb->len + n + 1 > sb->cap) {
                size_t cap = sb->cap ? sb->cap : 256;
                char *grown;

                while (cap < sb->len + n + 1)
                        cap *= 2;
                grown = realloc(sb->buf, cap);
                if (!grown) {
                        sb->failed = true;
                        return;
                }
                sb->buf = grown;
                sb->cap = cap;
        }
        memcpy(sb->buf + sb->len, s, n);
        sb->len += n;
        sb->buf[sb->len] = '\0';
}

jt_secret_set_t *jt_secret_set_new(void) {
        return calloc(1, sizeof(jt_secret_set_t));
}

void jt_secret_set_destroy(jt_secret_set_t *set) {
        if (!set)
                return;
        for (size_t i = 0; i < set->count; i++)
                free(set->items[i]);
        free(set->items);
        free(set->lens);
        free(set);
}

size_t jt_secret_set_count(const jt_secret_set_t *set) {
        return set ? set->count : 0;
}

void jt_secret_set_add(jt_secret_set_t *set, const char *secret, size_t len) {
        char *copy;

        if (!set || !secret)
                return;
        len = strnlen(secret, len); /* matched as a C string */
        if (len == 0)
                return;
        for (size_t i = 0; i < set->count; i++)
                if (set->lens[i] == len && memcmp(set->items[i], secret, len) == 0)
                        return;
        if (set->count == set->cap) {
                size_t cap = set->cap ? set->cap * 2 : 8;
                char **items = realloc(set->items, cap * sizeof(*items));
                size_t *lens;

                if (!items)
                        return;
                set->items = items;
                lens = realloc(set->lens, cap * sizeof(*lens));
                if (!lens)
                        return;
                set->lens = lens;
                set->cap = cap;
        }
        if (!(copy = malloc(len + 1)))
                return;
        memcpy(copy, secret, len);
        copy[len] = '\0';
        set->items[set->count] = copy;
        set->lens[set->count] = len;
        set->count++;
}

/* One pass of known secrets; true when something was replaced. Every place any secret covers
 * is found first and each run of covered places becomes one mask: replacing one secret at a
 * time would let a long one that overlaps a shorter one leave the shorter one's tail. */
static bool scrub_known(const jt_secret_set_t *set, const char *in, size_t n, sb_t *out) {
        bool *covered = calloc(n + 1, sizeof(bool));
        bool replaced = false;

        if (!covered) {
                out->failed = true;
                return false;
        }
        for (size_t k = 0; k < set->count; k++)
                for (const char *hit = strstr(in, set->items[k]); hit;
                     hit = strstr(hit + 1, set->items[k])) {
                        memset(covered + (hit - in), 1, set->lens[k]);
                        replaced = true;
                }
        for (size_t i = 0; i < n;) {
                size_t run = i;

                while (run < n && !covered[run])
                        run++;
                sb_put(out, in + i, run - i);
                if (run == n)
                        break;
                sb_put(out, JT_SECRET_MASK, strlen(JT_SECRET_MASK));
                for (i = run; i < n && covered[i]; i++)
                        ;
        }
        free(covered);
        return replaced;
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Where a URI in running text ends: the driver and our messages quote or space-separate them. */
static bool ends_uri(char c) {
        return c == '\0' || is_space(c) || c == '"' || c == '\'' || c == '<' || c == '>' ||
               c == '`';
}

/* A URI loses all between "://" and its last '@': the last one, so that a password with an
 * unescaped '@' leaves no tail. */
static void scrub_userinfo(const char *in, size_t n, sb_t *out) {
        size_t i = 0;

        while (i < n) {
                const char *sep = strstr(in + i, "://"); /* in[n] is the NUL of a C string */
                size_t start, end, at = 0;
                bool has_at = false;

                if (!sep) {
                        sb_put(out, in + i, n - i);
                        return;
                }
                start = (size_t)(sep - in) + 3;
                for (end = start; end < n && !ends_uri(in[end]); end++)
                        if (in[end] == '@') {
                                at = end;
                                has_at = true;
                        }
                sb_put(out, in + i, start - i);
                if (has_at) {
                        sb_put(out, JT_SECRET_MASK, strlen(JT_SECRET_MASK));
                        sb_put(out, in + at, end - at);
                } else {
                        sb_put(out, in + start, end - start);
                }
                i = end;
        }
}

/* A value already masked, followed at most by the punctuation of the sentence around it. */
static bool is_masked(const char *v, size_t len) {
        size_t m = strlen(JT_SECRET_MASK);

        if (len < m || memcmp(v, JT_SECRET_MASK, m) != 0)
                return false;
        for (size_t i = m; i < len; i++)
                if (!strchr(":;,.)]}", v[i]))
                        return false;
        return true;
}

/* key=value, key:value, "key" : "value" for the secret options, any case. */
static void scrub_options(const char *in, size_t n, sb_t *out) {
        size_t i = 0, copied = 0; /* in[copied..i) is still to be copied out */

        while (i < n) {
                size_t k, j = 0, v, e;

                for (k = 0; k < N_SECRET_OPTIONS; k++) {
                        size_t klen = strlen(secret_options[k].key);

                        if (tolower((unsigned char)in[i]) !=
                                tolower((unsigned char)secret_options[k].key[0]) ||
                            klen > n - i || strncasecmp(in + i, secret_options[k].key, klen) != 0)
                                continue;
                        if (i > 0 && (isalnum((unsigned char)in[i - 1]) || in[i - 1] == '_'))
                                continue;
                        j = i + klen;
                        while (j < n && (is_space(in[j]) || in[j] == '"' || in[j] == '\''))
                                j++;
                        if (j < n && (in[j] == '=' || in[j] == ':'))
                                break;
                }
                if (k == N_SECRET_OPTIONS) {
                        i++;
                        continue;
                }
                v = j + 1;
                while (v < n && (is_space(in[v]) || in[v] == '"' || in[v] == '\''))
                        v++;
                for (e = v; e < n; e++) {
                        char c = in[e];

                        if (c == '&' || c == '"' || c == '\'' || is_space(c) ||
                            (c == ',' && secret_options[k].comma_ends))
                                break;
                }
                sb_put(out, in + copied, v - copied);
                if (is_masked(in + v, e - v)) {
                        sb_put(out, in + v, e - v); /* "key=***: text" stays as it is */
                } else if (e > v) {
                        sb_put(out, JT_SECRET_MASK, strlen(JT_SECRET_MASK));
                }
                i = copied = e;
        }
        sb_put(out, in + copied, n - copied);
}

void jt_secret_set_scrub(const jt_secret_set_t *set, const char *text, char *out, size_t out_size) {
        sb_t a = {0}, b = {0};
        size_t n;

        if (out_size == 0)
                return;
        sb_put(&a, text ? text : "", text ? strlen(text) : 0);
        /* Again while something was replaced: a secret holding '*' can reappear around a
         * mask. A few rounds are plenty; a text that still changes after them is withheld. */
        for (int round = 0; set && set->count > 0; round++) {
                sb_t swap;
                bool replaced;

                b.len = 0;
                sb_put(&b, "", 0);
                replaced = scrub_known(set, a.buf, a.len, &b);
                swap = a;
                a = b;
                b = swap;
                if (!replaced || a.failed)
                        break;
                if (round == 8) {
                        a.failed = true;
                        break;
                }
        }
        b.len = 0;
        sb_put(&b, "", 0);
        if (!a.failed)
                scrub_options(a.buf, a.len, &b);
        a.len = 0;
        sb_put(&a, "", 0);
        if (!b.failed)
                scrub_userinfo(b.buf, b.len, &a);
        if (a.failed || b.failed) {
                snprintf(out, out_size, "%s", "<text withheld: out of memory while scrubbing>");
        } else {
                n = a.len < out_size - 1 ? a.len : out_size - 1;
                memmove(out, a.buf, n);
                out[n] = '\0';
        }
        free(a.buf);
        free(b.buf);
}

bool jt_secret_option_is_secret(const char *key, size_t len) {
        for (size_t k = 0; k < N_SECRET_OPTIONS; k++)
                if (strlen(secret_options[k].key) == len &&
                    strncasecmp(key, secret_options[k].key, len) == 0)
                        return true;
        return false;
}

static pthread_mutex_t process_lock = PTHREAD_MUTEX_INITIALIZER;
static jt_secret_set_t *process_set;

void jt_secret_add(const char *secret, size_t len) {
        pthread_mutex_lock(&process_lock);
        if (!process_set)
                process_set = jt_secret_set_new();
        jt_secret_set_add(process_set, secret, len);
        pthread_mutex_unlock(&process_lock);
}

void jt_secret_scrub(const char *text, char *out, size_t out_size) {
        pthread_mutex_lock(&process_lock);
        jt_secret_set_scrub(process_set, text, out, out_size);
        pthread_mutex_unlock(&process_lock);
}

void jt_secret_vformat(char *out, size_t out_size, const char *fmt, va_list ap) {
        char small[1024];
        char *full = small;
        va_list again;
        int n;

        va_copy(again, ap);
        n = vsnprintf(small, sizeof(small), fmt, ap);
        if (n >= (int)sizeof(small)) {
                full = malloc((size_t)n + 1);
                if (full)
                        vsnprintf(full, (size_t)n + 1, fmt, again);
        }
        va_end(again);
        if (n < 0 || !full)
                snprintf(out, out_size, "%s", "<text withheld: it could not be formatted>");
        else
                jt_secret_scrub(full, out, out_size);
        if (full != small)
                free(full);
}

void jt_secret_reset(void) {
        pthread_mutex_lock(&process_lock);
        jt_secret_set_destroy(process_set);
        process_set = NULL;
        pthread_mutex_unlock(&process_lock);
}
