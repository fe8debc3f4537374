/* The single-object codec: typed round trips of the three messages, the field helpers, and
 * every kind of bad input (empty, truncated, bad magic, unknown fingerprint, corrupted datum,
 * trailing bytes, oversized, random byte flips over many seeds): each is a clear error with the
 * right domain, never a crash, an over-read or a huge allocation (run it under ASan). */
#include "jt_avro.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static jt_avro_registry_t *reg;

static int setup(void **state) {
        jt_error_t err;

        (void)state;
        jt_error_clear(&err);
        reg = jt_avro_registry_new(&err);
        if (!reg) {
                fprintf(stderr, "registry: %s\n", err.message);
                return -1;
        }
        return 0;
}

static int teardown(void **state) {
        (void)state;
        jt_avro_registry_destroy(reg);
        return 0;
}

static uint64_t fingerprint_of(jt_avro_type_t type) {
        jt_avro_schema_info_t info;
        jt_error_t err;

        assert_true(jt_avro_registry_reader(reg, type, &info, &err));
        return info.fingerprint;
}

/* ---- samples ----------------------------------------------------------------------------- */

static jt_stats_task_t sample_stats(void) {
        jt_stats_task_t t = {
            .job_id = "stats-2026-10",
            .task_id = "stats-2026-10/0007",
            .kind = JT_STATS_TASK_SHARD,
            .shard = 7,
            .shard_count = 16,
            .month = "2026-10",
            .test_mode = false,
            .run_id = NULL,
            .created_at_ms = INT64_C(1793491200000),
        };
        return t;
}

static jt_cleanup_task_t sample_cleanup(void) {
        jt_cleanup_task_t t = {
            .job_id = "cleanup-2026-11-23T0400Z",
            .task_id = "cleanup-2026-11-23T0400Z/0003.c1",
            .range_start_ms = INT64_C(1787443200000),
            .range_end_ms = INT64_C(1787529600000),
            .cutoff_ms = INT64_C(1788753600000),
            .retention_days = 60,
            .batch_size = 10000,
            .batch_delay_ms = 100,
            .time_budget_s = 60,
            .test_mode = true,
            .triggered_by = "monthly-stats",
            .parent_task_id = "cleanup-2026-11-23T0400Z/0003",
            .continuation_seq = 1,
            .resume_after_id = "65f1c0ffee0123456789abcd",
            .deleted_so_far = INT64_C(123456),
            .created_at_ms = INT64_C(1795407660000),
            .resume_from_ms = {true, INT64_C(1787450000000)},
            .found = INT64_C(200000),
        };
        return t;
}

static jt_status_event_t sample_event(void) {
        jt_status_event_t e = {
            .job_id = "stats-2026-10",
            .task_id = NULL,
            .type = JT_STATUS_JOB_FINISHED,
            .job_kind = JT_JOB_KIND_STATS,
            .timestamp_ms = INT64_C(1793494572000),
            .worker_id = "worker-\xc3\xa9\xf0\x9f\x8e\xb5", /* UTF-8 survives */
            .test_mode = false,
            .tasks_total = {true, 17},
            .tasks_done = {true, 17},
            .users_processed = {true, 5000},
            .users_updated = {true, 0}, /* set-to-zero differs from unset */
            .notification_id = "65f1c0ffee0123456789abcd",
            .month = "2026-10",
            .completion_percentage = {true, 41.67},
            .was_timeout_stopped = {true, false},
            .cutoff_date_ms = {true, INT64_C(-1)},
            .cleanup_triggered = {true, true},
            .execution_ms = {true, 3372},
            .error_stack = "line 1\nline \"2\"",
        };
        return e;
}

static void assert_str_or_null(const char *got, const char *want) {
        if (!want)
                assert_null(got);
        else
                assert_string_equal(got, want);
}

static void assert_opt_long(jt_opt_long_t got, jt_opt_long_t want) {
        assert_int_equal(got.set, want.set);
        if (want.set)
                assert_int_equal(got.value, want.value);
}

/* ---- round trips ------------------------------------------------------------------------- */

static void assert_header(const uint8_t *buf, size_t len, jt_avro_type_t type) {
        uint8_t le[8];

        assert_true(len > JT_AVRO_HEADER_BYTES);
        assert_int_equal(buf[0], 0xc3);
        assert_int_equal(buf[1], 0x01);
        jt_avro_fingerprint_to_le(fingerprint_of(type), le);
        assert_memory_equal(buf + 2, le, 8);
}

static void test_stats_roundtrip(void **state) {
        jt_stats_task_t in = sample_stats(), out;
        jt_error_t err;
        void *buf;
        size_t len;
        int k;

        (void)state;
        for (k = 0; k < 2; k++) {
                if (k == 1) { /* the finalize task, with a run id */
                        in.kind = JT_STATS_TASK_FINALIZE;
                        in.shard = -1;
                        in.task_id = "stats-2026-10/finalize";
                        in.run_id = "again";
                        in.test_mode = true;
                }
                jt_error_clear(&err);
                if (!jt_stats_task_encode(reg, &in, &buf, &len, &err))
                        fail_msg("encode: %s", err.message);
                assert_header(buf, len, JT_AVRO_STATS_TASK);
                if (!jt_stats_task_decode(reg, buf, len, &out, &err))
                        fail_msg("decode: %s", err.message);
                assert_string_equal(out.job_id, in.job_id);
                assert_string_equal(out.task_id, in.task_id);
                assert_int_equal(out.kind, in.kind);
                assert_int_equal(out.shard, in.shard);
                assert_int_equal(out.shard_count, in.shard_count);
                assert_string_equal(out.month, in.month);
                assert_int_equal(out.test_mode, in.test_mode);
                assert_str_or_null(out.run_id, in.run_id);
                assert_int_equal(out.created_at_ms, in.created_at_ms);
                jt_stats_task_clear(&out);
                assert_null(out.job_id);
                free(buf);
        }
        jt_stats_task_clear(NULL); /* no-op */
}

static void test_cleanup_roundtrip(void **state) {
        jt_cleanup_task_t in = sample_cleanup(), out;
        jt_error_t err;
        void *buf;
        size_t len;

        (void)state;
        jt_error_clear(&err);
        if (!jt_cleanup_task_encode(reg, &in, &buf, &len, &err))
                fail_msg("encode: %s", err.message);
        assert_header(buf, len, JT_AVRO_CLEANUP_TASK);
        if (!jt_cleanup_task_decode(reg, buf, len, &out, &err))
                fail_msg("decode: %s", err.message);
        assert_string_equal(out.job_id, in.job_id);
        assert_string_equal(out.task_id, in.task_id);
        assert_int_equal(out.range_start_ms, in.range_start_ms);
        assert_int_equal(out.range_end_ms, in.range_end_ms);
        assert_int_equal(out.cutoff_ms, in.cutoff_ms);
        assert_int_equal(out.retention_days, in.retention_days);
        assert_int_equal(out.batch_size, in.batch_size);
        assert_int_equal(out.batch_delay_ms, in.batch_delay_ms);
        assert_int_equal(out.time_budget_s, in.time_budget_s);
        assert_int_equal(out.test_mode, in.test_mode);
        assert_string_equal(out.triggered_by, in.triggered_by);
        assert_string_equal(out.parent_task_id, in.parent_task_id);
        assert_int_equal(out.continuation_seq, in.continuation_seq);
        assert_string_equal(out.resume_after_id, in.resume_after_id);
        assert_int_equal(out.deleted_so_far, in.deleted_so_far);
        assert_true(out.resume_from_ms.set);
        assert_int_equal(out.resume_from_ms.value, in.resume_from_ms.value);
        assert_int_equal(out.found, in.found);
        assert_int_equal(out.created_at_ms, in.created_at_ms);
        jt_cleanup_task_clear(&out);
        free(buf);
}

/* A v2 writer (a worker or producer not yet upgraded) lacks resume_from and found: written
 * without them, they read back as unset and -1 (unknown), so the v3 worker counts the range or
 * takes the ledger's figures instead of trusting a zero. */
static void test_cleanup_v2_writer(void **state) {
        jt_cleanup_task_t in = sample_cleanup(), out;
        jt_avro_registry_t *r;
        jt_error_t err;
        void *buf = NULL;
        size_t len;

        (void)state;
        jt_error_clear(&err);
        r = jt_avro_registry_new(&err);
        assert_non_null(r);
        if (!jt_avro_registry_set_reader(r, JT_AVRO_CLEANUP_TASK, 2, &err) ||
            !jt_cleanup_task_encode(r, &in, &buf, &len, &err) ||
            !jt_avro_registry_set_reader(r, JT_AVRO_CLEANUP_TASK, 3, &err) ||
            !jt_cleanup_task_decode(r, buf, len, &out, &err))
                fail_msg("v2 writer, v3 reader: %s", err.message);
        assert_false(out.resume_from_ms.set);
        assert_int_equal(out.found, -1);
        assert_int_equal(out.deleted_so_far, in.deleted_so_far);
        assert_string_equal(out.run_nonce ? out.run_nonce : "(null)", "(null)");
        jt_cleanup_task_clear(&out);
        free(buf);
        /* And a v2 reader takes a v3 task, found read as -1 (a v2 program knows no field). */
        buf = NULL;
        if (!jt_avro_registry_set_reader(r, JT_AVRO_CLEANUP_TASK, 3, &err) ||
            !jt_cleanup_task_encode(r, &in, &buf, &len, &err) ||
            !jt_avro_registry_set_reader(r, JT_AVRO_CLEANUP_TASK, 2, &err) ||
            !jt_cleanup_task_decode(r, buf, len, &out, &err))
                fail_msg("v3 writer, v2 reader: %s", err.message);
        assert_false(out.resume_from_ms.set);
        assert_int_equal(out.found, -1);
        jt_cleanup_task_clear(&out);
        free(buf);
        jt_avro_registry_destroy(r);
}

static void test_event_roundtrip(void **state) {
        jt_status_event_t in = sample_event(), out;
        jt_error_t err;
        void *buf;
        size_t len;

        (void)state;
        jt_error_clear(&err);
        if (!jt_status_event_encode(reg, &in, &buf, &len, &err))
                fail_msg("encode: %s", err.message);
        assert_header(buf, len, JT_AVRO_STATUS_EVENT);
        if (!jt_status_event_decode(reg, buf, len, &out, &err))
                fail_msg("decode: %s", err.message);
        assert_string_equal(out.job_id, in.job_id);
        assert_null(out.task_id);
        assert_int_equal(out.type, in.type);
        assert_int_equal(out.job_kind, in.job_kind);
        assert_int_equal(out.timestamp_ms, in.timestamp_ms);
        assert_string_equal(out.worker_id, in.worker_id);
        assert_opt_long(out.tasks_total, in.tasks_total);
        assert_opt_long(out.tasks_done, in.tasks_done);
        assert_opt_long(out.users_processed, in.users_processed);
        assert_opt_long(out.users_updated, in.users_updated);
        assert_opt_long(out.notifications_created, in.notifications_created);
        assert_opt_long(out.records_deleted, in.records_deleted);
        assert_opt_long(out.cutoff_date_ms, in.cutoff_date_ms);
        assert_opt_long(out.execution_ms, in.execution_ms);
        assert_opt_long(out.progress_total, in.progress_total);
        assert_string_equal(out.notification_id, in.notification_id);
        assert_string_equal(out.month, in.month);
        assert_true(out.completion_percentage.set);
        assert_true(out.completion_percentage.value == in.completion_percentage.value);
        assert_true(out.was_timeout_stopped.set);
        assert_false(out.was_timeout_stopped.value);
        assert_true(out.cleanup_triggered.set && out.cleanup_triggered.value);
        assert_null(out.processing_mode);
        assert_null(out.triggered_by);
        assert_null(out.error_message);
        assert_string_equal(out.error_stack, in.error_stack);
        jt_status_event_clear(&out);
        free(buf);
}

/* ---- validation hook --------------------------------------------------------------------- */

static void test_validation(void **state) {
        jt_stats_task_t s;
        jt_cleanup_task_t c;
        jt_status_event_t e;
        jt_error_t err;
        void *buf = (void *)1;
        size_t len = 1;

        (void)state;
        s = sample_stats();
        s.month = "2026-13";
        jt_error_clear(&err);
        assert_false(jt_stats_task_encode(reg, &s, &buf, &len, &err));
        assert_null(buf);
        assert_int_equal(len, 0);
        assert_int_equal(err.domain, JT_ERR_INPUT);
        assert_string_equal(err.message,
                            "stats task not sent: month must be YYYY-MM (got '2026-13')");

        s = sample_stats();
        s.shard = 16;
        assert_false(jt_stats_task_encode(reg, &s, &buf, &len, &err));
        assert_string_equal(err.message,
                            "stats task not sent: shard must be 0..15 for a SHARD task (got 16)");

        s = sample_stats();
        s.job_id = NULL;
        assert_false(jt_stats_task_encode(reg, &s, &buf, &len, &err));
        assert_string_equal(err.message, "stats task not sent: job_id must not be empty");

        c = sample_cleanup();
        c.range_end_ms = c.cutoff_ms + 1;
        assert_false(jt_cleanup_task_encode(reg, &c, &buf, &len, &err));
        assert_non_null(strstr(err.message, "range_end must not pass the cutoff"));

        c = sample_cleanup();
        c.parent_task_id = NULL;
        assert_false(jt_cleanup_task_encode(reg, &c, &buf, &len, &err));
        assert_non_null(strstr(err.message, "a continuation (continuation_seq 1) has a parent"));

        c = sample_cleanup();
        c.found = -2;
        assert_false(jt_cleanup_task_encode(reg, &c, &buf, &len, &err));
        assert_non_null(strstr(err.message, "found must be -1 (unknown) or a count >= 0 (got -2)"));

        c = sample_cleanup();
        c.resume_from_ms = (jt_opt_long_t){true, c.range_start_ms - 1};
        assert_false(jt_cleanup_task_encode(reg, &c, &buf, &len, &err));
        assert_non_null(strstr(err.message, "resume_from must lie in the range"));

        c = sample_cleanup();
        c.resume_after_id = "xyz";
        assert_false(jt_cleanup_task_encode(reg, &c, &buf, &len, &err));
        assert_non_null(strstr(err.message, "24-digit hex ObjectId (got 'xyz')"));

        e = sample_event();
        e.type = JT_STATUS_TASK_PROGRESS;
        assert_false(jt_status_event_encode(reg, &e, &buf, &len, &err));
        assert_string_equal(err.message,
                            "status event not sent: a TASK_PROGRESS event needs a task_id");

        e = sample_event();
        e.type = (jt_status_type_t)42;
        assert_false(jt_status_event_encode(reg, &e, &buf, &len, &err));
        assert_non_null(strstr(err.message, "unknown event type 42"));
}

/* A message that is well-formed Avro but breaks an invariant is refused on receipt too. */
static void test_invalid_on_receipt(void **state) {
        avro_value_t v;
        jt_stats_task_t t;
        jt_error_t err;
        void *buf;
        size_t len;

        (void)state;
        jt_error_clear(&err);
        assert_true(jt_avro_value_new(reg, JT_AVRO_STATS_TASK, &v, &err));
        assert_true(jt_avro_value_set_string(&v, "job_id", "stats-2026-10", &err));
        assert_true(jt_avro_value_set_string(&v, "task_id", "stats-2026-10/0001", &err));
        assert_true(jt_avro_value_set_enum(&v, "kind", "SHARD", &err));
        assert_true(jt_avro_value_set_long(&v, "shard", 1, &err));
        assert_true(jt_avro_value_set_long(&v, "shard_count", 4, &err));
        assert_true(jt_avro_value_set_string(&v, "month", "October", &err));
        assert_true(jt_avro_encode(reg, JT_AVRO_STATS_TASK, &v, &buf, &len, &err));
        avro_value_decref(&v);
        memset(&t, 0x55, sizeof(t));
        assert_false(jt_stats_task_decode(reg, buf, len, &t, &err));
        assert_int_equal(err.domain, JT_ERR_INPUT);
        assert_string_equal(err.message,
                            "invalid stats task: month must be YYYY-MM (got 'October')");
        assert_null(t.job_id); /* cleared, nothing leaks */
        free(buf);
}

/* ---- field helpers ----------------------------------------------------------------------- */

static void test_field_helpers(void **state) {
        avro_value_t v;
        jt_error_t err;
        const char *s;
        int64_t l;
        double d;
        bool b, present;
        json_t *json;
        char *text;

        (void)state;
        jt_error_clear(&err);
        assert_true(jt_avro_value_new(reg, JT_AVRO_STATUS_EVENT, &v, &err));

        /* Optional fields start at their default, null. */
        assert_true(jt_avro_value_get_string(&v, "task_id", &s, &err));
        assert_null(s);
        assert_true(jt_avro_value_get_long(&v, "tasks_total", &l, &present, &err));
        assert_false(present);
        assert_true(jt_avro_value_get_double(&v, "completion_percentage", &d, &present, &err));
        assert_false(present);

        assert_true(jt_avro_value_set_long(&v, "tasks_total", 12, &err));
        assert_true(jt_avro_value_get_long(&v, "tasks_total", &l, &present, &err));
        assert_true(present);
        assert_int_equal(l, 12);
        assert_true(jt_avro_value_set_null(&v, "tasks_total", &err));
        assert_true(jt_avro_value_get_long(&v, "tasks_total", &l, &present, &err));
        assert_false(present);
        assert_true(jt_avro_value_set_bool(&v, "was_timeout_stopped", true, &err));
        assert_true(jt_avro_value_get_bool(&v, "was_timeout_stopped", &b, &present, &err));
        assert_true(present && b);
        assert_true(jt_avro_value_set_double(&v, "completion_percentage", 99.5, &err));
        assert_true(jt_avro_value_get_double(&v, "completion_percentage", &d, &present, &err));
        assert_true(present && d == 99.5);
        assert_true(jt_avro_value_set_enum(&v, "type", "JOB_FAILED", &err));
        assert_true(jt_avro_value_get_enum(&v, "type", &s, &err));
        assert_string_equal(s, "JOB_FAILED");

        /* Errors name the field and what was wrong. */
        assert_false(jt_avro_value_get_long(&v, "nope", &l, NULL, &err));
        assert_int_equal(err.domain, JT_ERR_SCHEMA);
        assert_string_equal(err.message, "record StatusEvent has no field 'nope'");
        assert_false(jt_avro_value_set_long(&v, "tasks_total", INT64_C(1) << 40, &err));
        assert_string_equal(err.message, "field 'tasks_total' is an int: 1099511627776 is out "
                                         "of range");
        assert_false(jt_avro_value_set_enum(&v, "type", "JOB_EXPLODED", &err));
        assert_string_equal(err.message,
                            "field 'type': 'JOB_EXPLODED' is no symbol of StatusEventType");
        assert_false(jt_avro_value_set_string(&v, "tasks_total", "x", &err));
        assert_string_equal(err.message, "union field 'tasks_total' has no branch for this value");
        assert_false(jt_avro_value_set_null(&v, "job_id", &err));
        assert_string_equal(err.message, "cannot set null: field 'job_id' is a string, not a null");
        assert_false(jt_avro_value_get_long(&v, "task_id", &l, NULL, &err));
        assert_string_equal(err.message, "field 'task_id' is null but required");
        assert_false(jt_avro_value_get_bool(&v, "job_id", &b, NULL, &err));
        assert_string_equal(err.message, "field 'job_id' is a string, not a boolean");

        /* JSON view: unions unwrapped, enums as symbols. */
        assert_true(jt_avro_value_set_string(&v, "job_id", "j\"1", &err));
        assert_true(jt_avro_value_to_json(&v, &json, &err));
        text = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER);
        assert_non_null(strstr(text, "{\"job_id\":\"j\\\"1\",\"task_id\":null,\"type\":"
                                     "\"JOB_FAILED\",\"job_kind\":\"STATS\""));
        assert_non_null(strstr(text, "\"was_timeout_stopped\":true"));
        free(text);
        json_decref(json);
        avro_value_decref(&v);
}

static void test_encode_errors(void **state) {
        avro_value_t v;
        jt_error_t err;
        void *buf;
        size_t len;
        char *big;

        (void)state;
        jt_error_clear(&err);
        /* A value of another schema. */
        assert_true(jt_avro_value_new(reg, JT_AVRO_CLEANUP_TASK, &v, &err));
        assert_false(jt_avro_encode(reg, JT_AVRO_STATS_TASK, &v, &buf, &len, &err));
        assert_int_equal(err.domain, JT_ERR_SCHEMA);
        assert_string_equal(err.message,
                            "cannot encode a CleanupTask value as stats_task v3: another schema");
        avro_value_decref(&v);

        /* A string over the size cap. */
        assert_true(jt_avro_value_new(reg, JT_AVRO_STATS_TASK, &v, &err));
        big = malloc(JT_AVRO_MAX_MESSAGE_BYTES);
        memset(big, 'x', JT_AVRO_MAX_MESSAGE_BYTES - 1);
        big[JT_AVRO_MAX_MESSAGE_BYTES - 1] = '\0';
        assert_true(jt_avro_value_set_string(&v, "job_id", big, &err));
        assert_false(jt_avro_encode(reg, JT_AVRO_STATS_TASK, &v, &buf, &len, &err));
        assert_int_equal(err.domain, JT_ERR_INPUT);
        assert_non_null(strstr(err.message, "exceeds the 1048576-byte cap"));
        assert_null(buf);
        free(big);

        /* A string that is not UTF-8 never leaves. */
        assert_true(jt_avro_value_set_string(&v, "job_id", "caf\xe9", &err));
        assert_false(jt_avro_encode(reg, JT_AVRO_STATS_TASK, &v, &buf, &len, &err));
        assert_int_equal(err.domain, JT_ERR_INPUT);
        assert_non_null(strstr(err.message, "string is not UTF-8 without NUL"));
        avro_value_decref(&v);
}

/* ---- hostile input ----------------------------------------------------------------------- */

typedef struct {
        uint8_t b[256];
        size_t n;
} bytes_t;

static void put_byte(bytes_t *m, uint8_t c) {
        assert_true(m->n < sizeof(m->b));
        m->b[m->n++] = c;
}

static void put_long(bytes_t *m, int64_t v) {
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

        while (z > 0x7f) {
                put_byte(m, (uint8_t)(z | 0x80));
                z >>= 7;
        }
        put_byte(m, (uint8_t)z);
}

static void put_str(bytes_t *m, const char *s) {
        put_long(m, (int64_t)strlen(s));
        while (*s)
                put_byte(m, (uint8_t)*s++);
}

static void put_header(bytes_t *m, uint64_t fp) {
        m->n = 0;
        put_byte(m, 0xc3);
        put_byte(m, 0x01);
        jt_avro_fingerprint_to_le(fp, m->b + 2);
        m->n = 10;
}

/* A stats task v3 written field by field, so that each test can break one thing. */
typedef struct {
        const char *job_id;
        int64_t kind;
        int64_t shard;
        int64_t run_id_branch;
        int bool_byte;
} stats_parts_t;

static bytes_t stats_message(stats_parts_t p) {
        bytes_t m;

        put_header(&m, fingerprint_of(JT_AVRO_STATS_TASK));
        put_str(&m, p.job_id);
        put_str(&m, "stats-2026-10/0001");
        put_long(&m, p.kind);
        put_long(&m, p.shard);
        put_long(&m, 4);
        put_str(&m, "2026-10");
        put_byte(&m, (uint8_t)p.bool_byte);
        put_long(&m, p.run_id_branch);
        if (p.run_id_branch == 1)
                put_str(&m, "r1");
        put_long(&m, 0); /* run_nonce: null */
        /* v3: user_from, user_to, parent_task_id null; continuation_seq 0; resume_after_user
         * null; the four figures so far 0; time_budget_s 0 */
        for (int i = 0; i < 10; i++)
                put_long(&m, 0);
        put_long(&m, INT64_C(1793491200000));
        return m;
}

static const stats_parts_t good_parts = {"stats-2026-10", 0, 1, 0, 0};

static void expect_decode_error(const void *buf, size_t len, jt_error_domain_t domain,
                                const char *message_part) {
        avro_value_t v = {(void *)1, (void *)1};
        jt_stats_task_t t;
        jt_error_t err;

        jt_error_clear(&err);
        assert_false(jt_avro_decode(reg, JT_AVRO_STATS_TASK, buf, len, &v, &err));
        assert_null(v.self);
        assert_null(v.iface);
        assert_int_equal(err.domain, domain);
        if (!strstr(err.message, message_part))
                fail_msg("expected an error with \"%s\", got \"%s\"", message_part, err.message);
        /* The typed decoder says the same and leaves nothing allocated. */
        jt_error_clear(&err);
        assert_false(jt_stats_task_decode(reg, buf, len, &t, &err));
        assert_int_equal(err.domain, domain);
        assert_null(t.job_id);
}

static void test_bad_inputs(void **state) {
        bytes_t good = stats_message(good_parts), m;
        jt_stats_task_t t;
        jt_error_t err;
        stats_parts_t p;
        uint8_t *big;
        size_t i;

        (void)state;
        /* The hand-made message is right: otherwise the variants below prove nothing. */
        jt_error_clear(&err);
        if (!jt_stats_task_decode(reg, good.b, good.n, &t, &err))
                fail_msg("good message: %s", err.message);
        assert_string_equal(t.job_id, "stats-2026-10");
        jt_stats_task_clear(&t);

        expect_decode_error("", 0, JT_ERR_INPUT, "empty message");
        expect_decode_error("\xc3", 1, JT_ERR_INPUT, "truncated message: 1 bytes");
        expect_decode_error("{\"job_id\":1}", 12, JT_ERR_INPUT,
                            "not an Avro single-object message: starts with 7b 22, expected "
                            "c3 01");
        expect_decode_error("\xc3\x02zzzzzzzz", 10, JT_ERR_INPUT, "starts with c3 02");
        expect_decode_error(good.b, 9, JT_ERR_INPUT, "the header alone takes 10");

        m = good;
        m.b[5] ^= 0x40;
        expect_decode_error(m.b, m.n, JT_ERR_SCHEMA, "unknown schema fingerprint");

        /* The header alone: a datum with no bytes at all. */
        expect_decode_error(good.b, 10, JT_ERR_INPUT, "input ends inside a varint");

        /* Every truncation of a valid message fails, each at its own point. */
        for (i = 0; i < good.n; i++) {
                avro_value_t v;
                jt_error_clear(&err);
                assert_false(jt_avro_decode(reg, JT_AVRO_STATS_TASK, good.b, i, &v, &err));
                assert_true(err.message[0] != '\0');
        }

        m = good;
        put_byte(&m, 0);
        expect_decode_error(m.b, m.n, JT_ERR_INPUT, "1 trailing bytes after the datum");

        /* A message of another type. */
        {
                jt_cleanup_task_t c = sample_cleanup();
                void *buf;
                size_t len;
                assert_true(jt_cleanup_task_encode(reg, &c, &buf, &len, &err));
                expect_decode_error(buf, len, JT_ERR_SCHEMA,
                                    "message is a cleanup_task v3, expected a stats_task");
                free(buf);
        }

        /* Lengths avro-c would trust: huge (it would allocate 2^62 bytes), negative (it would
         * write before its buffer), longer than what is left. */
        m = good;
        m.n = 10;
        put_long(&m, INT64_C(1) << 62);
        expect_decode_error(m.b, m.n, JT_ERR_INPUT, "string of 4611686018427387904 bytes but");
        m.n = 10;
        put_long(&m, -1);
        expect_decode_error(m.b, m.n, JT_ERR_INPUT, "string with negative length -1");
        m.n = 10;
        put_long(&m, 200);
        put_str(&m, "abc");
        expect_decode_error(m.b, m.n, JT_ERR_INPUT, "string of 200 bytes but 4 left");

        /* Varints: too long, overflowing 64 bits, an int out of 32-bit range. */
        m.n = 10;
        for (i = 0; i < 9; i++)
                put_byte(&m, 0xff);
        put_byte(&m, 0x81); /* a valid 10th byte, but with the continuation bit */
        put_byte(&m, 0x01);
        expect_decode_error(m.b, m.n, JT_ERR_INPUT, "varint longer than 10 bytes");
        m.n = 10;
        for (i = 0; i < 9; i++)
                put_byte(&m, 0xff);
        put_byte(&m, 0x02);
        expect_decode_error(m.b, m.n, JT_ERR_INPUT, "varint overflows 64 bits");
        p = good_parts;
        p.shard = INT64_C(1) << 31;
        m = stats_message(p);
        expect_decode_error(m.b, m.n, JT_ERR_INPUT, "int out of 32-bit range");

        /* Enum, union and boolean out of range. */
        p = good_parts;
        p.kind = 3;
        m = stats_message(p);
        expect_decode_error(m.b, m.n, JT_ERR_INPUT, "enum StatsTaskKind index 3 not in 0..2");
        p = good_parts;
        p.kind = -1;
        m = stats_message(p);
        expect_decode_error(m.b, m.n, JT_ERR_INPUT, "index -1 not in 0..2");
        p = good_parts;
        p.run_id_branch = 2;
        m = stats_message(p);
        expect_decode_error(m.b, m.n, JT_ERR_INPUT, "union branch 2 not in 0..1");
        p = good_parts;
        p.bool_byte = 2;
        m = stats_message(p);
        expect_decode_error(m.b, m.n, JT_ERR_INPUT, "boolean byte is neither 0 nor 1");

        /* Strings: invalid UTF-8, an overlong encoding, a surrogate, a NUL. */
        {
                static const char *bad_strings[] = {"caf\xe9", "\xc0\xaf", "\xed\xa0\x80",
                                                    "\xf4\x90\x80\x80", "\xe2\x82"};
                for (i = 0; i < sizeof(bad_strings) / sizeof(bad_strings[0]); i++) {
                        p = good_parts;
                        p.job_id = bad_strings[i];
                        m = stats_message(p);
                        expect_decode_error(m.b, m.n, JT_ERR_INPUT,
                                            "string is not UTF-8 without NUL");
                }
                m.n = 10;
                put_long(&m, 3);
                put_byte(&m, 'a');
                put_byte(&m, 0);
                put_byte(&m, 'b');
                expect_decode_error(m.b, m.n, JT_ERR_INPUT, "string is not UTF-8 without NUL");
        }

        /* Over the size cap, whatever it holds. */
        big = calloc(1, JT_AVRO_MAX_MESSAGE_BYTES + 1);
        memcpy(big, good.b, good.n);
        expect_decode_error(big, JT_AVRO_MAX_MESSAGE_BYTES + 1, JT_ERR_INPUT,
                            "message of 1048577 bytes exceeds the 1048576-byte cap");
        free(big);
}

/* xorshift64*: deterministic, so a failure reproduces from its seed. */
static uint64_t rng_next(uint64_t *s) {
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * UINT64_C(2685821657736338717);
}

static void test_fuzz(void **state) {
        jt_stats_task_t st = sample_stats();
        jt_cleanup_task_t ct = sample_cleanup();
        jt_status_event_t ev = sample_event();
        void *msgs[3];
        size_t lens[3], k, i, flips;
        uint8_t buf[1024];
        unsigned seed, accepted = 0, rejected = 0;
        jt_error_t err;

        (void)state;
        jt_error_clear(&err);
        assert_true(jt_stats_task_encode(reg, &st, &msgs[0], &lens[0], &err));
        assert_true(jt_cleanup_task_encode(reg, &ct, &msgs[1], &lens[1], &err));
        assert_true(jt_status_event_encode(reg, &ev, &msgs[2], &lens[2], &err));

        for (seed = 1; seed <= 20000; seed++) {
                uint64_t s = UINT64_C(0x9e3779b97f4a7c15) * seed;
                size_t which = rng_next(&s) % 3, len = lens[which];
                bool ok;

                memcpy(buf, msgs[which], len);
                switch (rng_next(&s) % 4) {
                case 0: /* flip 1-4 bytes anywhere past the magic */
                case 1:
                        flips = 1 + rng_next(&s) % 4;
                        for (i = 0; i < flips; i++)
                                buf[2 + rng_next(&s) % (len - 2)] ^=
                                    (uint8_t)(1 + rng_next(&s) % 255);
                        break;
                case 2: /* random datum after a valid header */
                        len = JT_AVRO_HEADER_BYTES + rng_next(&s) % 200;
                        for (i = JT_AVRO_HEADER_BYTES; i < len; i++)
                                buf[i] = (uint8_t)rng_next(&s);
                        break;
                case 3: /* truncate, then maybe flip */
                        len = rng_next(&s) % len;
                        if (len > 2)
                                buf[2 + rng_next(&s) % (len - 2)] ^= 0x80;
                        break;
                }
                jt_error_clear(&err);
                switch (which) {
                case 0: {
                        jt_stats_task_t t;
                        ok = jt_stats_task_decode(reg, buf, len, &t, &err);
                        if (ok)
                                jt_stats_task_clear(&t);
                        else
                                assert_null(t.job_id);
                        break;
                }
                case 1: {
                        jt_cleanup_task_t t;
                        ok = jt_cleanup_task_decode(reg, buf, len, &t, &err);
                        if (ok)
                                jt_cleanup_task_clear(&t);
                        break;
                }
                default: {
                        jt_status_event_t t;
                        ok = jt_status_event_decode(reg, buf, len, &t, &err);
                        if (ok)
                                jt_status_event_clear(&t);
                        break;
                }
                }
                if (ok) {
                        accepted++;
                } else {
                        rejected++;
                        if (err.domain != JT_ERR_INPUT && err.domain != JT_ERR_SCHEMA)
                                fail_msg("seed %u: domain %s: %s", seed,
                                         jt_error_domain_name(err.domain), err.message);
                        if (!err.message[0])
                                fail_msg("seed %u: rejected without a message", seed);
                }
        }
        print_message("fuzz: %u accepted (harmless flips), %u rejected with a clear error\n",
                      accepted, rejected);
        assert_true(rejected > 10000);
        for (k = 0; k < 3; k++)
                free(msgs[k]);
}

/* The check runs on any schema shape, not just our flat records: arrays and maps with
 * blocks, fixed, nested records and recursion. */
static void test_datum_check_shapes(void **state) {
        static const char *schema_json =
            "{\"type\":\"record\",\"name\":\"N\",\"fields\":["
            "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"null\"}},"
            "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"int\"}},"
            "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}},"
            "{\"name\":\"next\",\"type\":[\"null\",\"N\"]}]}";
        avro_schema_t schema;
        jt_error_t err;
        bytes_t m;
        int depth;

        (void)state;
        assert_int_equal(avro_schema_from_json_length(schema_json, strlen(schema_json), &schema),
                         0);
        jt_error_clear(&err);

        /* a: one block of 3 nulls with its byte size (-3, 0); m: {"k": 7}; f; next: null */
        m.n = 0;
        put_long(&m, -3);
        put_long(&m, 0);
        put_long(&m, 0);
        put_long(&m, 1);
        put_str(&m, "k");
        put_long(&m, 7);
        put_long(&m, 0);
        put_byte(&m, 'x');
        put_byte(&m, 'y');
        put_long(&m, 0);
        if (!jt_avro_datum_check(schema, m.b, m.n, &err))
                fail_msg("valid datum: %s", err.message);

        /* 2^62 zero-byte items: refused at once instead of looping for ever. */
        m.n = 0;
        put_long(&m, INT64_C(1) << 62);
        assert_false(jt_avro_datum_check(schema, m.b, m.n, &err));
        assert_non_null(strstr(err.message, "more array or map items than"));

        /* Recursion deeper than any message: refused, no stack overflow. */
        m.n = 0;
        put_long(&m, 0);
        put_long(&m, 0);
        put_byte(&m, 'x');
        put_byte(&m, 'y');
        for (depth = 0; depth < 100 && m.n < 200; depth++) {
                put_long(&m, 1);
                put_long(&m, 0);
                put_long(&m, 0);
                put_byte(&m, 'x');
                put_byte(&m, 'y');
        }
        assert_false(jt_avro_datum_check(schema, m.b, m.n, &err));
        assert_non_null(strstr(err.message, "nested too deep"));
        avro_schema_decref(schema);
}

static void test_registry(void **state) {
        jt_avro_schema_info_t info;
        jt_avro_type_t type;
        jt_avro_registry_t *empty;
        jt_error_t err;
        int version, t;

        (void)state;
        jt_error_clear(&err);
        for (t = 0; t < JT_AVRO_TYPE_COUNT; t++) {
                assert_true(jt_avro_registry_reader(reg, (jt_avro_type_t)t, &info, &err));
                assert_int_equal(info.type, t);
                assert_true(info.version >= 1);
                assert_true(jt_avro_registry_lookup(reg, info.fingerprint, &info));
                assert_true(jt_avro_registry_check(reg, info.fingerprint, &err));
                assert_true(
                    jt_avro_type_from_name(jt_avro_type_name((jt_avro_type_t)t), &type, &err));
                assert_int_equal(type, t);
        }
        assert_false(jt_avro_registry_lookup(reg, 42, &info));
        assert_false(jt_avro_registry_check(reg, 42, &err));
        assert_string_equal(err.message, "unknown fingerprint 2a00000000000000");

        assert_true(
            jt_avro_parse_schema_file_name("/x/y/stats_task.v12.avsc", &type, &version, &err));
        assert_int_equal(type, JT_AVRO_STATS_TASK);
        assert_int_equal(version, 12);
        assert_false(jt_avro_parse_schema_file_name("stats_task.avsc", &type, &version, &err));
        assert_string_equal(err.message, "schema file name 'stats_task.avsc' is not TYPE.vN.avsc");
        assert_false(jt_avro_parse_schema_file_name("stats_task.v0.avsc", &type, &version, &err));
        assert_false(
            jt_avro_parse_schema_file_name("stats_task.v1.avsc.bak", &type, &version, &err));
        assert_false(jt_avro_parse_schema_file_name("playback.v1.avsc", &type, &version, &err));
        assert_non_null(strstr(err.message, "unknown message type 'playback'"));

        /* An empty registry refuses everything clearly. */
        empty = jt_avro_registry_new_empty(&err);
        assert_non_null(empty);
        {
                jt_stats_task_t st = sample_stats();
                void *buf;
                size_t len;
                assert_false(jt_stats_task_encode(empty, &st, &buf, &len, &err));
                assert_non_null(strstr(err.message, "no reader schema for stats_task"));
        }
        assert_false(jt_avro_registry_set_reader(empty, JT_AVRO_STATS_TASK, 1, &err));
        assert_string_equal(err.message, "no stats_task v1 in the registry");
        jt_avro_registry_destroy(empty);
        jt_avro_registry_destroy(NULL); /* no-op */
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_stats_roundtrip),    cmocka_unit_test(test_cleanup_roundtrip),
            cmocka_unit_test(test_cleanup_v2_writer),  cmocka_unit_test(test_event_roundtrip),
            cmocka_unit_test(test_validation),         cmocka_unit_test(test_invalid_on_receipt),
            cmocka_unit_test(test_field_helpers),      cmocka_unit_test(test_encode_errors),
            cmocka_unit_test(test_bad_inputs),         cmocka_unit_test(test_fuzz),
            cmocka_unit_test(test_datum_check_shapes), cmocka_unit_test(test_registry),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
