/* The main() of a fuzz target built without libFuzzer (gcc, under ASan/UBSan in build-asan):
 * replays every file of the corpus directories given, then a bounded number of deterministic
 * random mutations of them, and on a crash writes the input that caused it to a file. */
#include "jt_fuzz.h"
#include "jt_avro_zigzag.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

#define DEFAULT_MAX_LEN 4096

/* Optional in a target, as with libFuzzer. */
#pragma weak LLVMFuzzerInitialize
#define MAX_TOKENS 512

typedef struct {
        uint8_t *data;
        size_t len;
        char *name;
} input_t;

typedef struct {
        input_t *items;
        size_t count, cap;
} inputs_t;

/* What is running now, for the crash handlers (the only global state of the driver). */
static const char *target_name = "fuzz";
static const uint8_t *current_data;
static size_t current_len;
static const char *current_what;
static volatile sig_atomic_t dumped;

static void die(const char *what, const char *detail) {
        fprintf(stderr, "%s: %s%s%s\n", target_name, what, detail ? ": " : "",
                detail ? detail : "");
        exit(2);
}

/* Async-signal-safe: open, write, close only. */
static void dump_current(void) {
        char path[256], hex[3];
        size_t n = 0;
        int fd;

        if (dumped || !current_data)
                return;
        dumped = 1;
        snprintf(path, sizeof(path), "crash-%s-%ld", target_name, (long)getpid());
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
                if (write(fd, current_data, current_len) < 0)
                        n = 1;
                close(fd);
        }
        fprintf(stderr, "\n%s: failed on %s (%zu bytes), written to %s in the working directory\n",
                target_name, current_what ? current_what : "?", current_len, path);
        fputs("input (hex, first 256 bytes): ", stderr);
        for (n = 0; n < current_len && n < 256; n++) {
                snprintf(hex, sizeof(hex), "%02x", current_data[n]);
                fputs(hex, stderr);
        }
        fputc('\n', stderr);
}

static void on_fatal_signal(int sig) {
        dump_current();
        signal(sig, SIG_DFL);
        raise(sig);
}

static void add_input(inputs_t *in, uint8_t *data, size_t len, const char *name) {
        if (in->count == in->cap) {
                in->cap = in->cap ? in->cap * 2 : 64;
                if (!(in->items = realloc(in->items, in->cap * sizeof(*in->items))))
                        die("out of memory", NULL);
        }
        in->items[in->count].data = data;
        in->items[in->count].len = len;
        in->items[in->count].name = strdup(name);
        in->count++;
}

static uint8_t *read_file(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        uint8_t *buf = NULL;
        long size;

        if (!f)
                die("cannot open", path);
        if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
                die("cannot read", path);
        if (!(buf = malloc((size_t)size + 1)) || fread(buf, 1, (size_t)size, f) != (size_t)size)
                die("cannot read", path);
        fclose(f);
        *len = (size_t)size;
        return buf;
}

static int by_name(const void *a, const void *b) {
        return strcmp(((const input_t *)a)->name, ((const input_t *)b)->name);
}

/* Every regular file of dir (not recursive, dot files and README* skipped), by name. */
static void load_corpus(inputs_t *in, const char *path) {
        struct stat st;
        DIR *d;
        struct dirent *e;
        size_t first = in->count, len;
        char file[4096];

        if (stat(path, &st) != 0)
                die("no such corpus file or directory", path);
        if (S_ISREG(st.st_mode)) {
                uint8_t *data = read_file(path, &len);
                add_input(in, data, len, path);
                return;
        }
        if (!(d = opendir(path)))
                die("cannot open directory", path);
        while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
                        continue;
                snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
                if (stat(file, &st) != 0 || !S_ISREG(st.st_mode))
                        continue;
                uint8_t *data = read_file(file, &len);
                add_input(in, data, len, file);
        }
        closedir(d);
        qsort(in->items + first, in->count - first, sizeof(*in->items), by_name);
}

/* A libFuzzer dictionary: lines `"token"` or `name="token"`, \\ \" and \xNN escapes. */
static void load_dict(inputs_t *tokens, const char *path) {
        FILE *f = fopen(path, "r");
        char line[1024];

        if (!f)
                die("cannot open dictionary", path);
        while (fgets(line, sizeof(line), f) && tokens->count < MAX_TOKENS) {
                char *q = strchr(line, '"'), *end = strrchr(line, '"');
                uint8_t tok[512];
                size_t n = 0;

                if (line[0] == '#' || !q || end == q)
                        continue;
                for (char *p = q + 1; p < end && n < sizeof(tok); p++) {
                        unsigned v;
                        if (*p == '\\' && p[1] == 'x' && sscanf(p + 2, "%2x", &v) == 1) {
                                tok[n++] = (uint8_t)v;
                                p += 3;
                        } else if (*p == '\\' && p + 1 < end) {
                                tok[n++] = (uint8_t) * ++p;
                        } else {
                                tok[n++] = (uint8_t)*p;
                        }
                }
                uint8_t *copy = malloc(n + 1);
                if (!copy)
                        die("out of memory", NULL);
                memcpy(copy, tok, n);
                add_input(tokens, copy, n, "dict");
        }
        fclose(f);
}

/* xorshift64*: deterministic for a seed, so that a failure found by a seed is found again. */
static uint64_t rng_state;

static uint64_t rnd(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 2685821657736338717ULL;
}

static size_t below(size_t n) {
        return n ? (size_t)(rnd() % n) : 0;
}

static const int64_t interesting[] = {
    0,
    1,
    -1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x10000,
    INT32_MAX,
    INT32_MIN,
    UINT32_MAX,
    1LL << 32,
    INT64_MAX,
    INT64_MIN,
    INT64_MAX - 1,
    INT64_MIN + 1,
    1000,
    86400000,
    253402300799LL,
    -62167219200LL,
    1LL << 53,
    -(1LL << 53),
    1 << 20,
    (1 << 20) + 1,
    4096,
    65536,
};

static const char *const interesting_text[] = {
    "0",
    "-1",
    "1",
    "59",
    "60",
    "24",
    "31",
    "32",
    "12",
    "13",
    "2147483647",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999999",
    "1e300",
    "-1e300",
    "nan",
    "inf",
    "0x10",
    "1.5",
    "-0",
    "",
    "4294967296",
    "18446744073709551616",
};

/* Room for n more bytes at pos: moves the tail, returns false at max_len. */
static bool make_room(uint8_t *buf, size_t *len, size_t max_len, size_t pos, size_t n) {
        if (*len + n > max_len)
                return false;
        memmove(buf + pos + n, buf + pos, *len - pos);
        *len += n;
        return true;
}

static void put_bytes(uint8_t *buf, size_t *len, size_t max_len, const uint8_t *src, size_t n,
                      bool insert) {
        size_t pos = below(*len + 1);

        if (insert) {
                if (make_room(buf, len, max_len, pos, n))
                        memcpy(buf + pos, src, n);
        } else {
                if (pos + n > *len)
                        pos = *len >= n ? *len - n : 0;
                if (pos + n > *len && !make_room(buf, len, max_len, *len, pos + n - *len))
                        return;
                memcpy(buf + pos, src, n);
        }
}

static void mutate_once(uint8_t *buf, size_t *len, size_t max_len, const inputs_t *corpus,
                        const inputs_t *dict) {
        uint8_t tmp[16];
        size_t pos, n;
        int64_t v;

        switch (below(11)) {
        case 0: /* flip a bit */
                if (*len)
                        buf[below(*len)] ^= (uint8_t)(1u << below(8));
                break;
        case 1: /* set a byte */
                if (*len)
                        buf[below(*len)] =
                            below(2) ? (uint8_t)rnd() : (uint8_t)interesting[below(9)];
                break;
        case 2: /* insert random bytes */
                n = 1 + below(8);
                for (size_t i = 0; i < n; i++)
                        tmp[i] = (uint8_t)rnd();
                put_bytes(buf, len, max_len, tmp, n, true);
                break;
        case 3: /* delete a range */
                if (*len) {
                        pos = below(*len);
                        n = 1 + below(*len - pos < 16 ? *len - pos : 16);
                        memmove(buf + pos, buf + pos + n, *len - pos - n);
                        *len -= n;
                }
                break;
        case 4: /* copy a range of itself elsewhere */
                if (*len) {
                        pos = below(*len);
                        n = 1 + below(*len - pos < 64 ? *len - pos : 64);
                        uint8_t *chunk = malloc(n);
                        if (!chunk)
                                die("out of memory", NULL);
                        memcpy(chunk, buf + pos, n);
                        put_bytes(buf, len, max_len, chunk, n, below(2));
                        free(chunk);
                }
                break;
        case 5: { /* splice: a piece of another corpus entry */
                const input_t *o = corpus->count ? &corpus->items[below(corpus->count)] : NULL;
                if (o && o->len) {
                        pos = below(o->len);
                        n = 1 + below(o->len - pos);
                        if (below(2)) { /* our head, their tail */
                                size_t cut = below(*len + 1);
                                if (cut + n <= max_len) {
                                        memcpy(buf + cut, o->data + pos, n);
                                        *len = cut + n;
                                }
                        } else {
                                put_bytes(buf, len, max_len, o->data + pos, n, true);
                        }
                }
                break;
        }
        case 6: /* an interesting integer, little-endian, 1/2/4/8 bytes */
                v = interesting[below(sizeof(interesting) / sizeof(interesting[0]))];
                n = (size_t)1 << below(4);
                for (size_t i = 0; i < n; i++)
                        tmp[i] = (uint8_t)((uint64_t)v >> (8 * i));
                put_bytes(buf, len, max_len, tmp, n, below(2));
                break;
        case 7: /* an interesting integer as an Avro varint (lengths, counts, union indexes) */
                v = interesting[below(sizeof(interesting) / sizeof(interesting[0]))];
                if (below(4) == 0)
                        v = (int64_t)(0 - (uint64_t)v); /* INT64_MIN stays */
                n = jt_avro_zigzag_encode(v, tmp);      /* as Avro writes int and long */
                put_bytes(buf, len, max_len, tmp, n, below(2));
                break;
        case 8: /* a dictionary token */
                if (dict->count) {
                        const input_t *t = &dict->items[below(dict->count)];
                        put_bytes(buf, len, max_len, t->data, t->len, below(3) != 0);
                }
                break;
        case 9: { /* a run of digits replaced by an interesting number */
                const char *t =
                    interesting_text[below(sizeof(interesting_text) / sizeof(interesting_text[0]))];
                size_t tl = strlen(t), start, end;
                if (!*len)
                        break;
                start = below(*len);
                while (start < *len && (buf[start] < '0' || buf[start] > '9'))
                        start++;
                if (start == *len) {
                        put_bytes(buf, len, max_len, (const uint8_t *)t, tl, true);
                        break;
                }
                for (end = start; end < *len && buf[end] >= '0' && buf[end] <= '9'; end++)
                        ;
                if (*len - (end - start) + tl > max_len)
                        break;
                memmove(buf + start + tl, buf + end, *len - end);
                memcpy(buf + start, t, tl);
                *len = *len - (end - start) + tl;
                break;
        }
        default: /* truncate */
                if (*len)
                        *len = below(*len);
                break;
        }
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out) {
        fprintf(out,
                "usage: %s [--runs N] [--seed S] [--max-len N] [--dict FILE] CORPUS...\n"
                "Replays every file of each CORPUS directory (or file), then N random mutations\n"
                "of them (default 0), deterministic for a seed (default 1). On a crash or a\n"
                "sanitizer report the input is written to crash-<target>-<pid>.\n",
                target_name);
}

static void run_one(const uint8_t *data, size_t len, const char *what) {
        current_data = data;
        current_len = len;
        current_what = what;
        LLVMFuzzerTestOneInput(data, len);
        current_data = NULL;
}

int main(int argc, char **argv) {
        inputs_t corpus = {0}, dict = {0};
        unsigned long long runs = 0, seed = 1;
        size_t max_len = DEFAULT_MAX_LEN;
        const char *slash = strrchr(argv[0], '/');
        uint8_t *buf;
        double started;

        target_name = slash ? slash + 1 : argv[0];
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
                        runs = strtoull(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
                        seed = strtoull(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--max-len") == 0 && i + 1 < argc)
                        max_len = strtoull(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--dict") == 0 && i + 1 < argc)
                        load_dict(&dict, argv[++i]);
                else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        usage(stdout);
                        return 0;
                } else if (argv[i][0] == '-') {
                        usage(stderr);
                        return 2;
                } else
                        load_corpus(&corpus, argv[i]);
        }
        if (max_len == 0)
                max_len = 1;
#if defined(__SANITIZE_ADDRESS__)
        __sanitizer_set_death_callback(dump_current);
#endif
        signal(SIGABRT, on_fatal_signal);
        signal(SIGSEGV, on_fatal_signal);
        signal(SIGBUS, on_fatal_signal);
        signal(SIGFPE, on_fatal_signal);
        signal(SIGILL, on_fatal_signal);
        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);

        started = now_s();
        for (size_t i = 0; i < corpus.count; i++)
                run_one(corpus.items[i].data, corpus.items[i].len, corpus.items[i].name);

        rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
        for (size_t i = 0; i < corpus.count; i++)
                if (corpus.items[i].len > max_len)
                        max_len = corpus.items[i].len;
        if (!(buf = malloc(max_len + 1)))
                die("out of memory", NULL);
        for (unsigned long long r = 0; r < runs; r++) {
                const input_t *base = corpus.count ? &corpus.items[below(corpus.count)] : NULL;
                size_t len = base ? base->len : 0, stack = 1 + below(4);
                char what[64];

                if (base)
                        memcpy(buf, base->data, len);
                for (size_t s = 0; s < stack; s++)
                        mutate_once(buf, &len, max_len, &corpus, &dict);
                snprintf(what, sizeof(what), "mutation %llu of seed %llu", r, seed);
                run_one(buf, len, what);
        }
        printf("%s: %zu corpus inputs + %llu mutations = %llu inputs, 0 failures, "
               "%lu known findings, %.2f s (seed %llu)\n",
               target_name, corpus.count, runs, (unsigned long long)corpus.count + runs,
               jt_fuzz_known_count(), now_s() - started, seed);
        free(buf);
        for (size_t i = 0; i < corpus.count; i++) {
                free(corpus.items[i].data);
                free(corpus.items[i].name);
        }
        for (size_t i = 0; i < dict.count; i++) {
                free(dict.items[i].data);
                free(dict.items[i].name);
        }
        free(corpus.items);
        free(dict.items);
        return 0;
}
