/* Parsing Canonical Form and CRC-64-AVRO: the Avro project's own test vectors, our own harder
 * cases, schema errors, and the fingerprints of the published schemas (which must never
 * change: a change to a published schema is a new version file). */
#include "jt_avro.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct {
        const char *input;
        const char *canonical;
        int64_t fingerprint; /* as Java's long */
        bool has_fingerprint;
} vector_t;

/* share/test/data/schema-tests.txt of apache/avro (Apache License 2.0), entries 000-033. The
 * Java implementation checks these fingerprints with a direct, slow algorithm. */
static const vector_t spec_vectors[] = {
    {"\"null\"", "\"null\"", INT64_C(7195948357588979594), true},
    {"{\"type\":\"null\"}", "\"null\"", 0, false},
    {"\"boolean\"", "\"boolean\"", INT64_C(-6970731678124411036), true},
    {"{\"type\":\"boolean\"}", "\"boolean\"", 0, false},
    {"\"int\"", "\"int\"", INT64_C(8247732601305521295), true},
    {"{\"type\":\"int\"}", "\"int\"", 0, false},
    {"\"long\"", "\"long\"", INT64_C(-3434872931120570953), true},
    {"{\"type\":\"long\"}", "\"long\"", 0, false},
    {"\"float\"", "\"float\"", INT64_C(5583340709985441680), true},
    {"{\"type\":\"float\"}", "\"float\"", 0, false},
    {"\"double\"", "\"double\"", INT64_C(-8181574048448539266), true},
    {"{\"type\":\"double\"}", "\"double\"", 0, false},
    {"\"bytes\"", "\"bytes\"", INT64_C(5746618253357095269), true},
    {"{\"type\":\"bytes\"}", "\"bytes\"", 0, false},
    {"\"string\"", "\"string\"", INT64_C(-8142146995180207161), true},
    {"{\"type\":\"string\"}", "\"string\"", 0, false},
    {"[  ]", "[]", INT64_C(-1241056759729112623), true},
    {"[ \"int\"  ]", "[\"int\"]", INT64_C(-5232228896498058493), true},
    {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]", INT64_C(5392556393470105090),
     true},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(-4824392279771201922), true},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(5916914534497305771),
     true},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(-4616218487480524110),
     true},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"Useful info\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(-4824392279771201922), true},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"aliases\":[\"foo\",\"bar\"]}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(-4824392279771201922), true},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"foo\", "
     "\"aliases\":[\"foo\",\"bar\"]}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(-4824392279771201922), true},
    {"{\"fields\":[{\"type\":{\"type\":\"boolean\"}, \"name\":\"f1\"}], \"type\":\"record\", "
     "\"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"}]}",
     INT64_C(7843277075252814651), true},
    {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", \"default\":true},\n   "
     "         {\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\",\"type\":\"int\"}],\n  "
     "\"type\":\"record\", \"name\":\"foo\"\n}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"},{"
     "\"name\":\"f2\",\"type\":\"int\"}]}",
     INT64_C(-4860222112080293046), true},
    {"{\"type\":\"enum\", \"name\":\"foo\", \"symbols\":[\"A1\"]}",
     "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}", INT64_C(-6342190197741309591),
     true},
    {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"symbols\":[\"A1\", \"A2\"]}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}",
     INT64_C(-4448647247586288245), true},
    {"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
     "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}", INT64_C(1756455273707447556), true},
    {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"size\":32}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}", INT64_C(-3064184465700546786),
     true},
    {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
     "{\"type\":\"array\",\"items\":\"null\"}", INT64_C(-589620603366471059), true},
    {"{ \"values\":\"string\", \"type\":\"map\"}", "{\"type\":\"map\",\"values\":\"string\"}",
     INT64_C(-8732877298790414990), true},
    {"  {\"name\":\"PigValue\",\"type\":\"record\",\n   \"fields\":[{\"name\":\"value\", "
     "\"type\":[\"null\", \"int\", \"long\", \"PigValue\"]}]}",
     "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\",\"type\":["
     "\"null\",\"int\",\"long\",\"PigValue\"]}]}",
     INT64_C(-1759257747318642341), true},
};

static void test_spec_vectors(void **state) {
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(spec_vectors) / sizeof(spec_vectors[0]); i++) {
                const vector_t *v = &spec_vectors[i];
                jt_error_t err;
                char *pcf = NULL;

                jt_error_clear(&err);
                print_message("vector %03zu: %s\n", i, v->input);
                if (!jt_avro_canonical_form(v->input, strlen(v->input), &pcf, &err))
                        fail_msg("vector %03zu: %s", i, err.message);
                assert_string_equal(pcf, v->canonical);
                if (v->has_fingerprint)
                        assert_int_equal((int64_t)jt_avro_fingerprint_crc64(pcf, strlen(pcf)),
                                         v->fingerprint);
                free(pcf);
        }
}

typedef struct {
        const char *name;
        const char *input;
        const char *canonical;
} case_t;

/* Namespaces, references and stripping the vectors above do not exercise. fastavro agrees
 * on each (tests/tools/avro_crosscheck.py runs the same kinds of schemas through it). */
static const case_t cases[] = {
    {"logical types strip to their primitive",
     "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}", "\"long\""},
    {"nested named types inherit the enclosing namespace",
     "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"fields\":["
     "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\"]}},"
     "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"c.F\",\"size\":4}},"
     "{\"name\":\"g\",\"type\":{\"type\":\"record\",\"name\":\"G\",\"namespace\":\"\","
     "\"fields\":[{\"name\":\"h\",\"type\":\"E2\"}]}}]}",
     NULL /* E2 is unknown: an error, see below */},
    {"references resolve against the enclosing namespace (G's is c, so F there is c.F)",
     "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"fields\":["
     "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y\"]}},"
     "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"c.F\",\"size\":4}},"
     "{\"name\":\"g\",\"type\":{\"type\":\"record\",\"name\":\"G\",\"namespace\":\"c\","
     "\"fields\":[{\"name\":\"h\",\"type\":\"a.b.E\"},{\"name\":\"i\",\"type\":\"F\"}]}},"
     "{\"name\":\"j\",\"type\":[\"null\",\"E\",{\"type\":\"array\",\"items\":\"c.G\"}]},"
     "{\"name\":\"k\",\"type\":{\"type\":\"map\",\"values\":{\"type\":\"c.F\"}}}]}",
     NULL},
    {"attributes in any order, doc/aliases/default/order stripped",
     "{\"fields\":[{\"default\":null,\"type\":[\"null\",{\"type\":\"string\","
     "\"avro.java.string\":\"String\"}],\"name\":\"s\",\"doc\":\"d\",\"order\":\"ignore\","
     "\"aliases\":[\"t\"]}],\"doc\":\"\\u00e9\",\"aliases\":[\"Q\"],\"name\":\"P\","
     "\"namespace\":\"n\",\"type\":\"record\",\"custom\":{\"x\":[1,2]}}",
     "{\"name\":\"n.P\",\"type\":\"record\",\"fields\":[{\"name\":\"s\",\"type\":[\"null\","
     "\"string\"]}]}"},
    {"error type is a record", "{\"type\":\"error\",\"name\":\"Oops\",\"fields\":[]}",
     "{\"name\":\"Oops\",\"type\":\"record\",\"fields\":[]}"},
    {"whitespace everywhere",
     " { \"type\" :\n\t\"array\" , \"items\" : [ \"int\" ,\r\n \"null\" ] } ",
     "{\"type\":\"array\",\"items\":[\"int\",\"null\"]}"},
};

static void test_cases(void **state) {
        /* The expected text of the reference case, built up from its parts to keep it readable. */
        static const char *refs_expected =
            "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":["
            "{\"name\":\"e\",\"type\":{\"name\":\"a.b.E\",\"type\":\"enum\",\"symbols\":[\"X\","
            "\"Y\"]}},"
            "{\"name\":\"f\",\"type\":{\"name\":\"c.F\",\"type\":\"fixed\",\"size\":4}},"
            "{\"name\":\"g\",\"type\":{\"name\":\"c.G\",\"type\":\"record\",\"fields\":["
            "{\"name\":\"h\",\"type\":\"a.b.E\"},{\"name\":\"i\",\"type\":\"c.F\"}]}},"
            "{\"name\":\"j\",\"type\":[\"null\",\"a.b.E\",{\"type\":\"array\",\"items\":\"c.G\"}]},"
            "{\"name\":\"k\",\"type\":{\"type\":\"map\",\"values\":\"c.F\"}}]}";
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                jt_error_t err;
                char *pcf = NULL;
                bool ok;

                jt_error_clear(&err);
                print_message("case: %s\n", cases[i].name);
                ok = jt_avro_canonical_form(cases[i].input, strlen(cases[i].input), &pcf, &err);
                if (i == 1) {
                        /* G is in the null namespace, so E2 there means "E2", never defined. */
                        assert_false(ok);
                        assert_null(pcf);
                        assert_int_equal(err.domain, JT_ERR_SCHEMA);
                        assert_non_null(strstr(err.message, "unknown type 'E2'"));
                        continue;
                }
                if (!ok)
                        fail_msg("%s: %s", cases[i].name, err.message);
                assert_string_equal(pcf, cases[i].canonical ? cases[i].canonical : refs_expected);
                free(pcf);
        }
}

static void test_schema_errors(void **state) {
        static const struct {
                const char *input;
                const char *message_part;
        } bad[] = {
            {"", "not valid JSON"},
            {"{\"type\":", "not valid JSON"},
            {"42", "must be a name, an array or an object"},
            {"\"nosuch\"", "unknown type 'nosuch'"},
            {"{\"fields\":[]}", "without a string \"type\""},
            {"{\"type\":\"record\",\"fields\":[]}", "without a string \"name\""},
            {"{\"type\":\"record\",\"name\":\"9x\",\"fields\":[]}", "invalid name '9x'"},
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":{}}", "must be an array"},
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\"}]}",
             "has no \"type\""},
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
             "{\"name\":\"a\",\"type\":\"int\"}]}",
             "appears twice"},
            {"[{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]},"
             "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"B\"]}]",
             "defined twice"},
            {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}", "unique name"},
            {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"a-b\"]}", "unique name"},
            {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":\"16\"}", "non-negative integer"},
            {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", "non-negative integer"},
            {"{\"type\":\"record\",\"name\":\"int\",\"fields\":[]}", "redefines a primitive"},
            {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a..b\",\"fields\":[]}",
             "invalid namespace"},
            {"{\"type\":\"array\"}", "without \"items\""},
            {"{\"type\":\"map\",\"values\":\"R\"}", "unknown type 'R'"},
            /* No fallback to the null namespace (fastavro agrees). */
            {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a\",\"fields\":["
             "{\"name\":\"g\",\"type\":{\"type\":\"record\",\"name\":\"G\",\"namespace\":\"\","
             "\"fields\":[]}},{\"name\":\"h\",\"type\":\"G\"}]}",
             "unknown type 'a.G'"},
        };
        char deep[4096];
        size_t i, n;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                jt_error_t err;
                char *pcf = (char *)"untouched";

                jt_error_clear(&err);
                print_message("bad schema: %s\n", bad[i].input);
                assert_false(
                    jt_avro_canonical_form(bad[i].input, strlen(bad[i].input), &pcf, &err));
                assert_null(pcf);
                assert_int_equal(err.domain, JT_ERR_SCHEMA);
                if (!strstr(err.message, bad[i].message_part))
                        fail_msg("expected a message with \"%s\", got \"%s\"", bad[i].message_part,
                                 err.message);
        }

        /* Nesting far past any real schema is refused, not a stack overflow. */
        for (n = 0; n < 1000; n++)
                deep[n] = '[';
        deep[n] = '\0';
        strcat(deep, "\"int\"");
        for (i = 0; i < 1000; i++)
                strcat(deep, "]");
        {
                jt_error_t err;
                char *pcf = NULL;
                jt_error_clear(&err);
                assert_false(jt_avro_canonical_form(deep, strlen(deep), &pcf, &err));
                assert_non_null(strstr(err.message, "nested deeper"));
        }
}

static void test_fingerprint_basics(void **state) {
        uint8_t le[8];
        const uint8_t expect[8] = {0x95, 0xa7, 0xd7, 0xa4, 0x3a, 0x21, 0x5d, 0xc1};

        (void)state;
        /* No bytes: the specification's EMPTY. */
        assert_int_equal(jt_avro_fingerprint_crc64("", 0), UINT64_C(0xc15d213aa4d7a795));
        jt_avro_fingerprint_to_le(UINT64_C(0xc15d213aa4d7a795), le);
        assert_memory_equal(le, expect, 8);
        assert_int_equal(jt_avro_fingerprint_from_le(le), UINT64_C(0xc15d213aa4d7a795));
}

/* The published schemas, with the fingerprints fastavro gives them. A failure here means a
 * published schema was edited: restore it and publish the change as a new version. Add a
 * line here for each new version. */
static void test_published_fingerprints(void **state) {
        static const struct {
                const char *file;
                const char *fingerprint; /* header bytes in hex */
        } published[] = {
            {"cleanup_task.v1.avsc", "ea8a2f77d3e52c90"},
            {"cleanup_task.v2.avsc", "b14ea9875e295492"},
            {"cleanup_task.v3.avsc", "cc8ec891b35c25cc"},
            {"stats_task.v1.avsc", "ece52af6fd5c8e8f"},
            {"stats_task.v2.avsc", "cf80ad68838299cc"},
            {"stats_task.v3.avsc", "053655da4402b2ef"},
            {"status_event.v1.avsc", "29a38f1da8b9da68"},
            {"status_event.v2.avsc", "cf9da44af2d2916f"},
        };
        const jt_avro_schema_file_t *files;
        size_t n, i, k;

        (void)state;
        files = jt_avro_schema_files(&n);
        assert_int_equal(n, sizeof(published) / sizeof(published[0]));
        for (i = 0; i < n; i++) {
                jt_error_t err;
                char *pcf = NULL, hex[17];
                uint8_t le[8];

                jt_error_clear(&err);
                assert_string_equal(files[i].file, published[i].file);
                assert_int_equal(strlen(files[i].text), files[i].len);
                if (!jt_avro_canonical_form(files[i].text, files[i].len, &pcf, &err))
                        fail_msg("%s: %s", files[i].file, err.message);
                jt_avro_fingerprint_to_le(jt_avro_fingerprint_crc64(pcf, strlen(pcf)), le);
                for (k = 0; k < 8; k++)
                        snprintf(hex + 2 * k, 3, "%02x", le[k]);
                assert_string_equal(hex, published[i].fingerprint);
                free(pcf);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_spec_vectors),
            cmocka_unit_test(test_cases),
            cmocka_unit_test(test_schema_errors),
            cmocka_unit_test(test_fingerprint_basics),
            cmocka_unit_test(test_published_fingerprints),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
