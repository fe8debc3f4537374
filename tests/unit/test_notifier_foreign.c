/* Foreign JSON made into bounded text (notifier/foreign.c): the hostile documents of issue 15
 * (a 20 KB array nested 2,000 deep, 64 KB nested, 1 MB flat and deep) come out as at most
 * JT_FOREIGN_TEXT_MAX characters of valid UTF-8 without control characters, the process's peak
 * memory stays far below the notifier's 64 MiB limit, a small document reads exactly as
 * jansson's pretty-printer writes it, and anything that is not an object or array is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foreign.h"
#include "message.h"

/* Peak resident memory of this process so far (VmHWM), in KiB. */
static long peak_rss_kib(void) {
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        long kib = -1;

        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
                        break;
        if (f)
                fclose(f);
        return kib;
}

/* Characters (code points) of valid UTF-8 text, or -1 when it is not valid UTF-8. */
static long utf8_chars(const char *s) {
        long n = 0;

        while (*s) {
                unsigned char c = (unsigned char)*s;
                int len = c < 0x80         ? 1
                          : (c >> 5) == 6  ? 2
                          : (c >> 4) == 14 ? 3
                          : (c >> 3) == 30 ? 4
                                           : 0;
                if (!len)
                        return -1;
                for (int i = 1; i < len; i++)
                        if (((unsigned char)s[i] & 0xC0) != 0x80)
                                return -1;
                s += len;
                n++;
        }
        return n;
}

/* The invariants of every rendered text: bounded, valid UTF-8, no control character but '\n'. */
static void check_bounded(const char *what, const char *text) {
        long chars = utf8_chars(text);

        if (chars < 0 || chars > JT_FOREIGN_TEXT_MAX)
                fail_msg("%s: expected valid UTF-8 of at most %d characters, actual %ld (-1: "
                         "invalid UTF-8)",
                         what, JT_FOREIGN_TEXT_MAX, chars);
        for (const char *p = text; *p; p++)
                if (((unsigned char)*p < 0x20 && *p != '\n') || *p == 0x7f)
                        fail_msg("%s: expected no control character but line breaks, actual byte "
                                 "0x%02x at %zu",
                                 what, (unsigned char)*p, (size_t)(p - text));
}

/* "[[[...]]]" nested depth deep, padded with "0," items to about size bytes. */
static char *nested(size_t depth, size_t size, size_t *len) {
        size_t pad = size > depth * 2 ? (size - depth * 2) / 2 : 0, n = 0;
        char *s = malloc(depth * 2 + pad * 2 + 2);

        for (size_t i = 0; i < depth; i++)
                s[n++] = '[';
        for (size_t i = 0; i < pad; i++) {
                s[n++] = '0';
                s[n++] = ',';
        }
        if (pad)
                s[n++] = '0';
        for (size_t i = 0; i < depth; i++)
                s[n++] = ']';
        s[n] = '\0';
        *len = n;
        return s;
}

static void render_hostile(const char *what, char *doc, size_t len, size_t depth, bool parsed) {
        jt_foreign_t f;
        long before = peak_rss_kib(), after;

        if (!jt_foreign_render(doc, len, &f))
                fail_msg("%s (%zu bytes): expected it rendered as JSON, actual refused", what, len);
        after = peak_rss_kib();
        print_message("%s: %zu bytes, depth %zu (expected %zu), parsed %d, %zu bytes of text, "
                      "peak RSS %ld -> %ld KiB\n",
                      what, len, f.depth, depth, f.parsed, strlen(f.text), before, after);
        if (f.depth != depth || f.parsed != parsed)
                fail_msg("%s: expected depth %zu, parsed %d, actual %zu, %d", what, depth, parsed,
                         f.depth, f.parsed);
        check_bounded(what, f.text);
        /* The test process with its libraries takes a few MiB; the notifier's limit is 64 MiB.
         * Pretty-printing the whole tree took 80 MB for the first of these and 254 MB for the
         * second. */
#ifndef __SANITIZE_ADDRESS__ /* ASan's shadow memory and quarantine count in RSS */
        if (after > 16 * 1024)
                fail_msg("%s: expected a peak RSS under 16 MiB, actual %ld KiB", what, after);
#endif
        jt_foreign_clear(&f);
        free(doc);
}

static void test_hostile_documents(void **state) {
        size_t len;
        char *doc;
        (void)state;

        doc = nested(2000, 20 * 1024, &len);
        render_hostile("20 KB array nested 2,000 deep", doc, len, 2000, false);
        doc = nested(2000, 64 * 1024, &len);
        render_hostile("64 KB array nested 2,000 deep", doc, len, 2000, false);
        /* The largest document that is parsed: the deepest parsed, full of small values. */
        doc = nested(JT_FOREIGN_PARSE_MAX_DEPTH, JT_FOREIGN_PARSE_MAX_BYTES - 1, &len);
        render_hostile("64 KiB array nested 32 deep (parsed)", doc, len, JT_FOREIGN_PARSE_MAX_DEPTH,
                       true);
        /* The costliest values for jansson: empty objects (a hash table each). */
        doc = malloc(JT_FOREIGN_PARSE_MAX_BYTES + 1);
        len = 0;
        doc[len++] = '[';
        while (len + 4 < JT_FOREIGN_PARSE_MAX_BYTES) {
                memcpy(doc + len, "{},", 3);
                len += 3;
        }
        memcpy(doc + len, "{}]", 4);
        len += 3;
        render_hostile("64 KiB array of empty objects (parsed)", doc, len, 2, true);
        doc = nested(32000, 64 * 1024, &len);
        render_hostile("64 KB array nested 32,000 deep", doc, len, 32000, false);
        doc = nested(2000, 1000 * 1000, &len);
        render_hostile("1 MB array nested 2,000 deep", doc, len, 2000, false);
        doc = nested(1, 1024 * 1024, &len);
        render_hostile("1 MiB flat array", doc, len, 1, false);
        doc = nested(500000, 1024 * 1024, &len);
        render_hostile("1 MiB array nested 500,000 deep", doc, len, 500000, false);
        doc = nested(2, 1048576 - 100, &len);
        render_hostile("the topic's largest message", doc, len, 2, false);
}

/* A small shallow document reads exactly as jansson pretty-prints it (the golden messages). */
static void test_small_is_jansson(void **state) {
        const char *raw = "{\"AlarmName\":\"a\\u001b[2J\",\"NewStateValue\":\"ALARM\",\"n\":[1,2.5,"
                          "{},[],{\"x\":null}],\"é\":\"ü\"}";
        json_t *doc = json_loads(raw, 0, NULL);
        char *want = json_dumps(doc, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        jt_foreign_t f;
        (void)state;

        assert_true(jt_foreign_render(raw, strlen(raw), &f));
        assert_true(f.parsed);
        assert_string_equal(f.text, want);
        assert_string_equal(f.alarm, "a\x1b[2J");
        check_bounded("small", f.text);
        jt_foreign_clear(&f);
        free(want);
        json_decref(doc);
}

/* The re-indentation of a document too deep to parse lays it out as jansson would (up to the
 * indentation cap), so an alarm too large to parse still reads the same way. */
static void test_reindent_layout(void **state) {
        char raw[4096];
        size_t n = 0;
        jt_foreign_t f;
        const char *tail;
        (void)state;

        for (int i = 0; i < 40; i++)
                n += (size_t)snprintf(raw + n, sizeof(raw) - n, "{\"k\" : ");
        n += (size_t)snprintf(raw + n, sizeof(raw) - n, "[ 1 , \"a\\\"b\" , [], {} ]");
        for (int i = 0; i < 40; i++)
                raw[n++] = '}';
        raw[n] = '\0';
        assert_true(jt_foreign_render(raw, n, &f));
        assert_false(f.parsed);
        assert_int_equal(f.depth, 42); /* 40 objects, the array, the empty ones in it */
        assert_memory_equal(f.text, "{\n  \"k\": {\n    \"k\": {", 20);
        /* Levels past JT_FOREIGN_INDENT_MAX stay at its indentation. */
        tail = strstr(f.text, "[\n");
        assert_non_null(tail);
        assert_memory_equal(tail, "[\n                                1,\n", 37);
        assert_non_null(strstr(f.text, "\"a\\\"b\",\n                                [],\n"));
        check_bounded("deep layout", f.text);
        jt_foreign_clear(&f);
}

/* Raw control characters and invalid UTF-8 inside a large document's strings (not JSON, but
 * only parsed documents are checked for that) never reach the text. */
static void test_large_hostile_strings(void **state) {
        size_t len = 200 * 1024;
        char *raw = malloc(len + 1);
        jt_foreign_t f;
        (void)state;

        memset(raw, 'a', len);
        raw[0] = '[';
        raw[1] = '"';
        for (size_t i = 2; i < len - 2; i += 7) {
                raw[i] = '\x7f';
                raw[i + 1] = '\xff';
                raw[i + 2] = '\xc3';
        }
        raw[len - 2] = '"';
        raw[len - 1] = ']';
        raw[len] = '\0';
        assert_true(jt_foreign_render(raw, len, &f));
        assert_false(f.parsed);
        check_bounded("large hostile strings", f.text);
        assert_non_null(strstr(f.text, "\xE2\x80\xA6")); /* cut: ends with … */
        jt_foreign_clear(&f);
        free(raw);
}

static void test_not_json(void **state) {
        static const struct {
                const char *text;
                size_t len;
        } cases[] = {
            {"", 0},          {"hello", 5},     {"42", 2},     {"\"str\"", 5},
            {"[}", 2},        {"{]", 2},        {"[1", 2},     {"[\"a]", 4},
            {"{} x", 4},      {"[]]", 3},       {"[\"a\\", 4}, {"[\x01]", 3},
            {"[1,2] [3]", 9}, {"{\"a\" 1}", 7}, {"[1\0]", 4},  {"\xef\xbb\xbf[]", 5},
        };
        (void)state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *text = jt_foreign_format(cases[i].text, cases[i].len);
                if (text)
                        fail_msg("case %zu (%zu bytes): expected refused, actual rendered \"%s\"",
                                 i, cases[i].len, text);
        }
        assert_null(jt_foreign_format(NULL, 10));
}

/* Random mutations of a few documents, small and large: either refused, or bounded text. */
static void test_mutations(void **state) {
        static const char *seeds[] = {
            "{\"AlarmName\":\"x\",\"NewStateValue\":\"OK\",\"a\":[1,2,{\"b\":\"c\\n\"}]}",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
            "{\"\\u00e9\":\"\\ud83d\\ude00\",\"n\":-1.5e300}",
        };
        static const char alphabet[] = "[]{}\",:\\ 0aé\x1b\xff\n";
        char buf[256];
        (void)state;

        srand(15);
        for (int round = 0; round < 20000; round++) {
                const char *seed = seeds[round % 3];
                size_t len = strlen(seed);
                char *text;
                memcpy(buf, seed, len);
                for (int k = 0; k < 1 + rand() % 4; k++)
                        buf[rand() % len] = alphabet[rand() % (sizeof(alphabet) - 1)];
                if ((text = jt_foreign_format(buf, len)) != NULL) {
                        check_bounded("mutation", text);
                        free(text);
                }
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_hostile_documents), cmocka_unit_test(test_small_is_jansson),
            cmocka_unit_test(test_reindent_layout),   cmocka_unit_test(test_large_hostile_strings),
            cmocka_unit_test(test_not_json),          cmocka_unit_test(test_mutations),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
