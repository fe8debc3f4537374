/* Schema evolution: a v1 message read by a v2 reader (new fields get their defaults) and a v2
 * message read by a v1 reader (new fields dropped), with StatsTask v2 from
 * tests/unit/schemas/ (test-only, never published); and the changes that must not resolve
 * (field without default, reordered enum, changed type), which fail with a clear reason. */
#include "jt_avro.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define V2_FILE JT_TEST_SCHEMA_DIR "/stats_task.v9.avsc"

/* The fields every StatsTask version has, in v1's words (a macro: a literal format). */
#define V1_BODY                                                                                    \
        "{\"name\":\"job_id\",\"type\":\"string\"},{\"name\":\"task_id\",\"type\":\"string\"},"    \
        "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"StatsTaskKind\","               \
        "\"symbols\":[%s]}},"                                                                      \
        "{\"name\":\"shard\",\"type\":\"%s\"},{\"name\":\"shard_count\",\"type\":\"int\"},"        \
        "{\"name\":\"month\",\"type\":\"string\"},{\"name\":\"test_mode\",\"type\":\"boolean\"},"  \
        "{\"name\":\"run_id\",\"type\":[\"null\",\"string\"],\"default\":null},"                   \
        "{\"name\":\"created_at\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-"        \
        "millis\"}}"

/* A StatsTask schema: v1's fields (with the given kind symbols and shard type) plus extra. */
static char *stats_schema(const char *symbols, const char *shard_type, const char *extra) {
        static char body[2048], out[4096];

        snprintf(body, sizeof(body), V1_BODY, symbols, shard_type);
        snprintf(out, sizeof(out),
                 "{\"type\":\"record\",\"name\":\"StatsTask\",\"namespace\":\"io.joytify.fleet\","
                 "\"fields\":[%s%s]}",
                 body, extra);
        return out;
}

static jt_stats_task_t sample(void) {
        jt_stats_task_t t = {
            .job_id = "stats-2026-10",
            .task_id = "stats-2026-10/0003",
            .kind = JT_STATS_TASK_SHARD,
            .shard = 3,
            .shard_count = 8,
            .month = "2026-10",
            .test_mode = true,
            .run_id = "r7",
            .created_at_ms = INT64_C(1793491200000),
        };
        return t;
}

static void assert_same_task(const jt_stats_task_t *got, const jt_stats_task_t *want) {
        assert_string_equal(got->job_id, want->job_id);
        assert_string_equal(got->task_id, want->task_id);
        assert_int_equal(got->kind, want->kind);
        assert_int_equal(got->shard, want->shard);
        assert_int_equal(got->shard_count, want->shard_count);
        assert_string_equal(got->month, want->month);
        assert_int_equal(got->test_mode, want->test_mode);
        assert_string_equal(got->run_id, want->run_id);
        assert_int_equal(got->created_at_ms, want->created_at_ms);
}

static jt_avro_registry_t *registry_with(const char *v2_file, int reader_version) {
        jt_avro_registry_t *reg;
        jt_error_t err;

        jt_error_clear(&err);
        reg = jt_avro_registry_new(&err);
        if (!reg)
                fail_msg("registry: %s", err.message);
        if (v2_file && !jt_avro_registry_add_file(reg, v2_file, &err))
                fail_msg("add %s: %s", v2_file, err.message);
        if (reader_version &&
            !jt_avro_registry_set_reader(reg, JT_AVRO_STATS_TASK, reader_version, &err))
                fail_msg("set reader: %s", err.message);
        return reg;
}

static void test_v1_read_by_v2(void **state) {
        jt_avro_registry_t *v1 = registry_with(NULL, 1);
        jt_avro_registry_t *v2 = registry_with(V2_FILE, 0);
        jt_avro_schema_info_t info;
        jt_stats_task_t in = sample(), out;
        jt_error_t err;
        avro_value_t v;
        const char *s;
        int64_t priority;
        void *buf;
        size_t len;

        (void)state;
        jt_error_clear(&err);
        assert_true(jt_avro_registry_reader(v2, JT_AVRO_STATS_TASK, &info, &err));
        assert_int_equal(info.version, 9); /* the newest version reads */

        assert_true(jt_stats_task_encode(v1, &in, &buf, &len, &err));
        assert_true(jt_avro_peek(v2, buf, len, &info, &err));
        assert_int_equal(info.version, 1);

        if (!jt_avro_decode(v2, JT_AVRO_STATS_TASK, buf, len, &v, &err))
                fail_msg("v2 reading v1: %s", err.message);
        assert_true(jt_avro_value_get_long(&v, "priority", &priority, NULL, &err));
        assert_int_equal(priority, 5); /* the default, not avro-c's zero */
        assert_true(jt_avro_value_get_string(&v, "requested_by", &s, &err));
        assert_null(s);
        assert_true(jt_avro_value_get_string(&v, "run_id", &s, &err));
        assert_string_equal(s, "r7");
        avro_value_decref(&v);

        /* The typed reader of a v2 program sees the v1 fields unchanged. */
        if (!jt_stats_task_decode(v2, buf, len, &out, &err))
                fail_msg("typed v2 reading v1: %s", err.message);
        assert_same_task(&out, &in);
        jt_stats_task_clear(&out);
        free(buf);
        jt_avro_registry_destroy(v1);
        jt_avro_registry_destroy(v2);
}

static void test_v2_read_by_v1(void **state) {
        jt_avro_registry_t *v2 = registry_with(V2_FILE, 0);
        jt_avro_registry_t *v1_knows_v2 = registry_with(V2_FILE, 1);
        jt_avro_registry_t *v1_only = registry_with(NULL, 0);
        jt_avro_schema_info_t info;
        jt_stats_task_t in = sample(), out;
        jt_error_t err;
        avro_value_t v;
        int64_t l;
        void *buf;
        size_t len;

        (void)state;
        jt_error_clear(&err);
        /* A v2 program writes a task with the new fields set. */
        assert_true(jt_avro_value_new(v2, JT_AVRO_STATS_TASK, &v, &err));
        assert_true(jt_avro_value_get_long(&v, "priority", &l, NULL, &err));
        assert_int_equal(l, 5); /* new values start at their defaults */
        assert_true(jt_avro_value_set_string(&v, "job_id", in.job_id, &err));
        assert_true(jt_avro_value_set_string(&v, "task_id", in.task_id, &err));
        assert_true(jt_avro_value_set_enum(&v, "kind", "SHARD", &err));
        assert_true(jt_avro_value_set_long(&v, "shard", in.shard, &err));
        assert_true(jt_avro_value_set_long(&v, "shard_count", in.shard_count, &err));
        assert_true(jt_avro_value_set_string(&v, "month", in.month, &err));
        assert_true(jt_avro_value_set_bool(&v, "test_mode", in.test_mode, &err));
        assert_true(jt_avro_value_set_string(&v, "run_id", in.run_id, &err));
        assert_true(jt_avro_value_set_long(&v, "created_at", in.created_at_ms, &err));
        assert_true(jt_avro_value_set_long(&v, "priority", 9, &err));
        assert_true(jt_avro_value_set_string(&v, "requested_by", "ops", &err));
        if (!jt_avro_encode(v2, JT_AVRO_STATS_TASK, &v, &buf, &len, &err))
                fail_msg("encode v2: %s", err.message);
        avro_value_decref(&v);
        assert_true(jt_avro_peek(v2, buf, len, &info, &err));
        assert_int_equal(info.version, 9);

        /* A v1 program that knows the v2 writer schema reads it; the new fields are gone. */
        if (!jt_stats_task_decode(v1_knows_v2, buf, len, &out, &err))
                fail_msg("v1 reading v2: %s", err.message);
        assert_same_task(&out, &in);
        jt_stats_task_clear(&out);
        assert_true(jt_avro_decode(v1_knows_v2, JT_AVRO_STATS_TASK, buf, len, &v, &err));
        assert_false(jt_avro_value_get_long(&v, "priority", &l, NULL, &err));
        assert_string_equal(err.message, "record StatsTask has no field 'priority'");
        avro_value_decref(&v);

        /* One that has never seen v2 cannot know its fingerprint: a schema error, for the DLQ. */
        assert_false(jt_stats_task_decode(v1_only, buf, len, &out, &err));
        assert_int_equal(err.domain, JT_ERR_SCHEMA);
        assert_non_null(strstr(err.message, "unknown schema fingerprint"));
        free(buf);
        jt_avro_registry_destroy(v2);
        jt_avro_registry_destroy(v1_knows_v2);
        jt_avro_registry_destroy(v1_only);
}

/* Defaults of every kind a new field may have. */
static void test_defaults_of_all_kinds(void **state) {
        jt_avro_registry_t *reg = registry_with(NULL, 0);
        jt_stats_task_t in = sample();
        const char *schema =
            stats_schema("\"SHARD\",\"FINALIZE\"", "int",
                         ",{\"name\":\"note\",\"type\":\"string\",\"default\":\"n/a \\u00e9\"},"
                         "{\"name\":\"ratio\",\"type\":\"double\",\"default\":0.25},"
                         "{\"name\":\"big\",\"type\":\"long\",\"default\":-9007199254740993},"
                         "{\"name\":\"flag\",\"type\":\"boolean\",\"default\":true},"
                         "{\"name\":\"level\",\"type\":{\"type\":\"enum\",\"name\":\"Level\","
                         "\"symbols\":[\"LOW\",\"HIGH\"]},\"default\":\"HIGH\"},"
                         "{\"name\":\"tag\",\"type\":[\"string\",\"null\"],\"default\":\"t\"}");
        jt_error_t err;
        avro_value_t v;
        const char *s;
        double d;
        int64_t l;
        bool b;
        void *buf;
        size_t len;

        (void)state;
        jt_error_clear(&err);
        assert_true(jt_stats_task_encode(reg, &in, &buf, &len, &err));
        if (!jt_avro_registry_add(reg, JT_AVRO_STATS_TASK, 8, schema, strlen(schema), &err))
                fail_msg("add v3: %s", err.message);
        if (!jt_avro_decode(reg, JT_AVRO_STATS_TASK, buf, len, &v, &err))
                fail_msg("v3 reading v1: %s", err.message);
        assert_true(jt_avro_value_get_string(&v, "note", &s, &err));
        assert_string_equal(s, "n/a \xc3\xa9");
        assert_true(jt_avro_value_get_double(&v, "ratio", &d, NULL, &err));
        assert_true(d == 0.25);
        assert_true(jt_avro_value_get_long(&v, "big", &l, NULL, &err));
        assert_int_equal(l, INT64_C(-9007199254740993));
        assert_true(jt_avro_value_get_bool(&v, "flag", &b, NULL, &err));
        assert_true(b);
        assert_true(jt_avro_value_get_enum(&v, "level", &s, &err));
        assert_string_equal(s, "HIGH");
        assert_true(jt_avro_value_get_string(&v, "tag", &s, &err));
        assert_string_equal(s, "t");
        assert_true(jt_avro_value_get_string(&v, "month", &s, &err));
        assert_string_equal(s, "2026-10");
        avro_value_decref(&v);
        free(buf);
        jt_avro_registry_destroy(reg);
}

/* Changes that break compatibility resolve to a clear schema error, not to wrong values. */
static void test_incompatible_changes(void **state) {
        static const struct {
                const char *what;
                const char *symbols;
                const char *shard_type;
                const char *extra;
                const char *reason;
        } cases[] = {
            {"new field without a default", "\"SHARD\",\"FINALIZE\"", "int",
             ",{\"name\":\"owner\",\"type\":\"string\"}",
             "reader field 'owner' is not in the writer and has no default"},
            {"enum reordered", "\"FINALIZE\",\"SHARD\"", "int", "",
             "enum StatsTaskKind has 'SHARD' at position 0 in the writer but 'FINALIZE' in "
             "the reader"},
            {"field type changed", "\"SHARD\",\"FINALIZE\"", "string", "",
             "Field shard isn't compatible"},
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                jt_avro_registry_t *reg = registry_with(NULL, 0);
                jt_avro_schema_info_t v1;
                jt_stats_task_t in = sample(), out;
                const char *schema =
                    stats_schema(cases[i].symbols, cases[i].shard_type, cases[i].extra);
                jt_error_t err;
                void *buf;
                size_t len;

                print_message("case: %s\n", cases[i].what);
                jt_error_clear(&err);
                assert_true(jt_avro_registry_reader(reg, JT_AVRO_STATS_TASK, &v1, &err));
                assert_true(jt_stats_task_encode(reg, &in, &buf, &len, &err));
                if (!jt_avro_registry_add(reg, JT_AVRO_STATS_TASK, 8, schema, strlen(schema), &err))
                        fail_msg("add: %s", err.message);
                assert_false(jt_avro_registry_check(reg, v1.fingerprint, &err));
                assert_int_equal(err.domain, JT_ERR_SCHEMA);
                if (!strstr(err.message, cases[i].reason))
                        fail_msg("expected \"%s\" in \"%s\"", cases[i].reason, err.message);
                assert_non_null(strstr(err.message, "stats_task v3 does not resolve to v8"));
                assert_false(jt_stats_task_decode(reg, buf, len, &out, &err));
                assert_int_equal(err.domain, JT_ERR_SCHEMA);
                assert_null(out.job_id);
                free(buf);
                jt_avro_registry_destroy(reg);
        }
}

/* An enum that grew at its end: old symbols resolve, a new one read by an old reader is a
 * schema error (avro-c would hand over an index past the reader's symbols). */
static void test_enum_growth(void **state) {
        jt_avro_registry_t *reg = registry_with(NULL, 0);
        const char *schema = stats_schema("\"SHARD\",\"FINALIZE\",\"RANGE\",\"REPAIR\"", "int", "");
        jt_stats_task_t in = sample(), out;
        jt_error_t err;
        avro_value_t v;
        void *buf;
        size_t len;

        (void)state;
        jt_error_clear(&err);
        if (!jt_avro_registry_add(reg, JT_AVRO_STATS_TASK, 8, schema, strlen(schema), &err))
                fail_msg("add: %s", err.message);
        /* v8 writes REPAIR... */
        assert_true(jt_avro_value_new(reg, JT_AVRO_STATS_TASK, &v, &err));
        assert_true(jt_avro_value_set_string(&v, "job_id", in.job_id, &err));
        assert_true(jt_avro_value_set_string(&v, "task_id", in.task_id, &err));
        assert_true(jt_avro_value_set_enum(&v, "kind", "REPAIR", &err));
        assert_true(jt_avro_value_set_string(&v, "month", in.month, &err));
        assert_true(jt_avro_encode(reg, JT_AVRO_STATS_TASK, &v, &buf, &len, &err));
        avro_value_decref(&v);
        /* ...which the typed struct does not know... */
        assert_false(jt_stats_task_decode(reg, buf, len, &out, &err));
        assert_string_equal(err.message,
                            "stats_task message: field 'kind': this program does not know "
                            "'REPAIR'");
        /* ...and a v1 reader refuses instead of reading garbage. */
        assert_true(jt_avro_registry_set_reader(reg, JT_AVRO_STATS_TASK, 1, &err));
        assert_false(jt_avro_decode(reg, JT_AVRO_STATS_TASK, buf, len, &v, &err));
        assert_int_equal(err.domain, JT_ERR_SCHEMA);
        assert_string_equal(err.message, "stats_task v8 message: enum StatsTaskKind: symbol 3 "
                                         "of the writer is unknown to this reader");
        free(buf);

        /* v1 messages still read fine by v8. */
        assert_true(jt_avro_registry_set_reader(reg, JT_AVRO_STATS_TASK, 8, &err));
        in.kind = JT_STATS_TASK_FINALIZE;
        in.shard = -1;
        assert_true(jt_avro_registry_set_reader(reg, JT_AVRO_STATS_TASK, 1, &err));
        assert_true(jt_stats_task_encode(reg, &in, &buf, &len, &err));
        assert_true(jt_avro_registry_set_reader(reg, JT_AVRO_STATS_TASK, 8, &err));
        if (!jt_stats_task_decode(reg, buf, len, &out, &err))
                fail_msg("v8 reading v1: %s", err.message);
        assert_same_task(&out, &in);
        jt_stats_task_clear(&out);
        free(buf);
        jt_avro_registry_destroy(reg);
}

static void test_registry_add_errors(void **state) {
        jt_avro_registry_t *reg = registry_with(V2_FILE, 0);
        const char *v1_again = stats_schema("\"SHARD\",\"FINALIZE\"", "int", "");
        const char *not_record = "\"string\"";
        jt_error_t err;

        (void)state;
        jt_error_clear(&err);
        /* The same canonical form under another version number. */
        assert_false(
            jt_avro_registry_add(reg, JT_AVRO_STATS_TASK, 7, v1_again, strlen(v1_again), &err));
        assert_non_null(strstr(err.message, "same canonical form"));
        assert_false(jt_avro_registry_add_file(reg, V2_FILE, &err));
        assert_non_null(strstr(err.message, "same canonical form"));
        assert_false(
            jt_avro_registry_add(reg, JT_AVRO_STATS_TASK, 9, not_record, strlen(not_record), &err));
        assert_non_null(strstr(err.message, "must be a record"));
        assert_false(jt_avro_registry_add(reg, JT_AVRO_STATS_TASK, 9, "{", 1, &err));
        assert_int_equal(err.domain, JT_ERR_SCHEMA);
        assert_false(jt_avro_registry_add_file(reg, "/nonexistent/stats_task.v5.avsc", &err));
        assert_int_equal(err.domain, JT_ERR_SYSTEM);
        jt_avro_registry_destroy(reg);
}

/* Status event v2 (the app push's users_pushed and push_failures) against v1, both published:
 * a v1 event reads with both fields absent, a v2 event carries them, and a program pinned to v1
 * (an older notifier that knows the v2 writer) reads a v2 event without them. */
static void test_status_event_v2(void **state) {
        jt_avro_registry_t *reg;
        jt_status_event_t in = {.job_id = "stats-2026-10",
                                .type = JT_STATUS_JOB_FINISHED,
                                .job_kind = JT_JOB_KIND_STATS,
                                .timestamp_ms = 1793505725000,
                                .users_processed = {true, 5000},
                                .users_pushed = {true, 1234},
                                .push_failures = {true, 2}},
                          out;
        jt_avro_schema_info_t writer;
        jt_error_t err;
        void *buf = NULL;
        size_t len = 0;

        (void)state;
        jt_error_clear(&err);
        assert_non_null(reg = jt_avro_registry_new(&err));
        /* The newest writer: v2, both fields through. */
        assert_true(jt_status_event_encode(reg, &in, &buf, &len, &err));
        assert_true(jt_avro_peek(reg, buf, len, &writer, &err));
        assert_int_equal(writer.version, 2);
        if (!jt_status_event_decode(reg, buf, len, &out, &err))
                fail_msg("v2 reading v2: %s", err.message);
        assert_true(out.users_pushed.set && out.push_failures.set);
        assert_int_equal(out.users_pushed.value, 1234);
        assert_int_equal(out.push_failures.value, 2);
        assert_int_equal(out.users_processed.value, 5000);
        jt_status_event_clear(&out);
        /* Pinned to v1 (an older program that learnt the v2 writer): the v2 event reads, the
         * new fields dropped. */
        assert_true(jt_avro_registry_set_reader(reg, JT_AVRO_STATUS_EVENT, 1, &err));
        if (!jt_status_event_decode(reg, buf, len, &out, &err))
                fail_msg("v1 reading v2: %s", err.message);
        assert_false(out.users_pushed.set || out.push_failures.set);
        assert_int_equal(out.users_processed.value, 5000);
        jt_status_event_clear(&out);
        free(buf);
        /* A v1 writer (an older worker): the event, read by v2, has neither field. */
        assert_true(jt_status_event_encode(reg, &in, &buf, &len, &err));
        assert_true(jt_avro_peek(reg, buf, len, &writer, &err));
        assert_int_equal(writer.version, 1);
        assert_true(jt_avro_registry_set_reader(reg, JT_AVRO_STATUS_EVENT, 2, &err));
        if (!jt_status_event_decode(reg, buf, len, &out, &err))
                fail_msg("v2 reading v1: %s", err.message);
        assert_false(out.users_pushed.set || out.push_failures.set);
        assert_int_equal(out.users_processed.value, 5000);
        jt_status_event_clear(&out);
        free(buf);
        /* A negative figure is refused like any other count. */
        in.push_failures.value = -1;
        assert_false(jt_status_event_encode(reg, &in, &buf, &len, &err));
        assert_non_null(strstr(err.message, "push_failures"));
        jt_avro_registry_destroy(reg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_v1_read_by_v2),
            cmocka_unit_test(test_v2_read_by_v1),
            cmocka_unit_test(test_defaults_of_all_kinds),
            cmocka_unit_test(test_incompatible_changes),
            cmocka_unit_test(test_enum_growth),
            cmocka_unit_test(test_registry_add_errors),
            cmocka_unit_test(test_status_event_v2),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
