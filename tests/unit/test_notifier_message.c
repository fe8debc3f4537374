/* The notifier's messages (notifier/format.c, message.c, progress.c, webhook.c redaction):
 * numbers, durations and zones; every outcome kind in both styles against golden files
 * (tests/golden/notifier/, events.json: NAME.md/.json embeds, NAME.original.md/.json the
 * original's content); Discord's limits on hostile texts; progress folded from events.
 * JT_UPDATE_GOLDEN=1 rewrites the golden files from the current code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "jt_avro.h"
#include "jt_test.h"
#include "message.h"
#include "original.h"
#include "progress.h"
#include "webhook.h"

static void test_thousands(void **state) {
        static const struct {
                int64_t n;
                const char *want;
        } cases[] = {{0, "0"},
                     {999, "999"},
                     {1000, "1,000"},
                     {-1234567, "-1,234,567"},
                     {2500000, "2,500,000"},
                     {INT64_MAX, "9,223,372,036,854,775,807"},
                     {INT64_MIN, "-9,223,372,036,854,775,808"}};
        char buf[JT_FORMAT_BUF];
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                assert_string_equal(jt_format_thousands(cases[i].n, buf, sizeof(buf)),
                                    cases[i].want);
}

static void test_duration_and_percent(void **state) {
        static const struct {
                int64_t ms;
                const char *want;
        } cases[] = {{0, "0s (0ms)"},
                     {999, "0s (999ms)"},
                     {59999, "59s (59999ms)"},
                     {123000, "2m 3s (123000ms)"},
                     {3723000, "1h 2m 3s (3723000ms)"},
                     {722072, "12m 2s (722072ms)"},
                     {90000000, "25h 0m 0s (90000000ms)"}};
        char buf[JT_FORMAT_BUF];
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                assert_string_equal(jt_format_duration(cases[i].ms, buf, sizeof(buf)),
                                    cases[i].want);
        assert_string_equal(jt_format_percent(100.0, buf, sizeof(buf)), "100");
        assert_string_equal(jt_format_percent(97.5, buf, sizeof(buf)), "97.5");
        assert_string_equal(jt_format_percent(77.02211, buf, sizeof(buf)), "77.02");
        assert_string_equal(jt_format_percent(0.0, buf, sizeof(buf)), "0");
}

static void test_zones(void **state) {
        jt_error_t err;
        char buf[JT_FORMAT_BUF];
        (void)state;
        jt_error_clear(&err);
        assert_false(jt_format_set_zone("Mars/Olympus_Mons", &err));
        assert_non_null(strstr(err.message, "Mars/Olympus_Mons"));
        assert_false(jt_format_set_zone("../../etc/passwd", &err));
        assert_false(jt_format_set_zone("", &err));
        assert_ok(jt_format_set_zone("Europe/Berlin", &err), err);
        /* Summer and winter time of the same zone. */
        assert_string_equal(jt_format_time(1790812800000, buf, sizeof(buf)),
                            "2026-10-01 02:00:00 CEST");
        assert_string_equal(jt_format_time(1793491200000, buf, sizeof(buf)),
                            "2026-11-01 01:00:00 CET");
        assert_ok(jt_format_set_zone("UTC", &err), err);
        assert_string_equal(jt_format_time(1793491200000, buf, sizeof(buf)),
                            "2026-11-01 00:00:00 UTC");
        assert_string_equal(jt_format_iso_utc(1793505725042, buf, sizeof(buf)),
                            "2026-11-01T04:02:05.042Z");
}

static size_t chars(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                n += ((unsigned char)*s & 0xC0) != 0x80;
        return n;
}

static void test_cut(void **state) {
        char *c;
        (void)state;
        c = jt_message_cut("abc", 3);
        assert_string_equal(c, "abc");
        free(c);
        c = jt_message_cut("abcd", 3);
        assert_string_equal(c, "ab\xE2\x80\xA6");
        free(c);
        /* Never inside a multi-byte character. */
        c = jt_message_cut("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 3);
        assert_string_equal(c, "\xC3\xA9\xC3\xA9\xE2\x80\xA6");
        free(c);
        /* Invalid UTF-8 becomes '?', so the payload stays valid JSON text. */
        c = jt_message_cut("a\xFF\xC3-b", 10);
        assert_string_equal(c, "a?"
                               "?-b");
        free(c);
}

/* A status event from its JSON form, through the real encoder and decoder. */
static void event_from_json(const jt_avro_registry_t *reg, json_t *doc, jt_status_event_t *ev) {
        avro_value_t value;
        void *buf = NULL;
        size_t len = 0;
        jt_error_t err;

        jt_error_clear(&err);
        assert_ok(jt_avro_value_new(reg, JT_AVRO_STATUS_EVENT, &value, &err), err);
        assert_ok(jt_avro_value_from_json(&value, doc, JT_AVRO_JSON_PLAIN, &err), err);
        assert_ok(jt_avro_encode(reg, JT_AVRO_STATUS_EVENT, &value, &buf, &len, &err), err);
        assert_ok(jt_status_event_decode(reg, buf, len, ev, &err), err);
        avro_value_decref(&value);
        free(buf);
}

static char *read_file(const char *path) {
        FILE *f = fopen(path, "rb");
        char *text = NULL;
        long len;

        if (!f)
                return NULL;
        if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
            (text = calloc(1, (size_t)len + 1)) != NULL &&
            fread(text, 1, (size_t)len, f) != (size_t)len) {
                free(text);
                text = NULL;
        }
        fclose(f);
        return text;
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        fclose(f);
}

static void check_golden(const char *name, const char *ext, const char *actual) {
        char path[1024];
        char *want;

        snprintf(path, sizeof(path), "%s/%s.%s", JT_GOLDEN_DIR, name, ext);
        if (getenv("JT_UPDATE_GOLDEN")) {
                write_file(path, actual);
                return;
        }
        want = read_file(path);
        if (!want)
                fail_msg("%s: golden file missing (JT_UPDATE_GOLDEN=1 writes it)", path);
        if (strcmp(want, actual) != 0)
                fail_msg("%s: expected (golden)\n%s\nactual\n%s", path, want, actual);
        free(want);
}

/* The message of a golden entry: an outcome event or foreign JSON, in the embed or the
 * original style. */
static void golden_message(const jt_avro_registry_t *reg, json_t *item, bool original,
                           jt_message_t *msg) {
        jt_message_opts_t opts = {NULL};
        json_t *foreign = json_object_get(item, "foreign");

        if (foreign) {
                char *raw = json_dumps(foreign, JSON_COMPACT);
                int64_t received = json_integer_value(json_object_get(item, "received_ms"));
                jt_foreign_t doc;
                assert_non_null(raw);
                assert_true(jt_foreign_render(raw, strlen(raw), &doc));
                if (original)
                        jt_original_for_foreign(&doc, received, &opts, msg);
                else
                        jt_message_for_foreign(&doc, received, &opts, msg);
                jt_foreign_clear(&doc);
                free(raw);
        } else {
                jt_status_event_t ev = {0};
                event_from_json(reg, json_object_get(item, "event"), &ev);
                assert_true(original ? jt_original_for_outcome(&ev, &opts, msg)
                                     : jt_message_for_outcome(&ev, &opts, msg));
                jt_status_event_clear(&ev);
        }
}

/* Every entry in both styles: NAME.md and NAME.json (embed), NAME.original.md and
 * NAME.original.json (--message-style original). */
static void test_golden_messages(void **state) {
        char path[1024];
        json_error_t jerr;
        json_t *root, *events, *item;
        jt_avro_registry_t *reg;
        jt_error_t err;
        size_t i;
        (void)state;

        jt_error_clear(&err);
        snprintf(path, sizeof(path), "%s/events.json", JT_GOLDEN_DIR);
        root = json_load_file(path, 0, &jerr);
        if (!root)
                fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
        assert_ok(jt_format_set_zone(json_string_value(json_object_get(root, "timezone")), &err),
                  err);
        assert_non_null(reg = jt_avro_registry_new(&err));
        events = json_object_get(root, "events");
        assert_true(json_array_size(events) >= 8);
        json_array_foreach(events, i, item) {
                const char *name = json_string_value(json_object_get(item, "name"));
                for (int k = 0; k < 2; k++) {
                        bool original = k == 1;
                        jt_message_t msg;
                        json_t *payload;
                        char *md, *js;
                        golden_message(reg, item, original, &msg);
                        md = jt_message_markdown(&msg);
                        payload = jt_message_discord(&msg);
                        js = json_dumps(payload, JSON_INDENT(2) | JSON_SORT_KEYS);
                        check_golden(name, original ? "original.md" : "md", md);
                        check_golden(name, original ? "original.json" : "json", js);
                        free(js);
                        free(md);
                        json_decref(payload);
                        jt_message_clear(&msg);
                }
        }
        jt_avro_registry_destroy(reg);
        json_decref(root);
}

/* Progress and outcome-less events make no outcome message. */
static void test_not_an_outcome(void **state) {
        jt_status_event_t ev = {.job_id = "stats-2026-10", .type = JT_STATUS_TASK_PROGRESS};
        jt_message_t msg;
        (void)state;
        assert_false(jt_message_for_outcome(&ev, NULL, &msg));
        ev.type = JT_STATUS_JOB_STARTED;
        assert_false(jt_message_for_outcome(&ev, NULL, &msg));
}

/* An error message of 20,000 characters with mentions and code fences stays within Discord's
 * limits and pings nobody. */
static void test_discord_limits(void **state) {
        char *huge = malloc(20001);
        jt_status_event_t ev = {.job_id = "cleanup-2026-11-16T0400Z",
                                .type = JT_STATUS_JOB_FAILED,
                                .job_kind = JT_JOB_KIND_CLEANUP,
                                .timestamp_ms = 1795276800000};
        jt_message_t msg;
        json_t *payload, *embed;
        const char *desc;
        size_t total = 0;
        (void)state;

        for (int i = 0; i < 20000; i++)
                huge[i] = "@everyone ```x"[i % 14];
        huge[20000] = '\0';
        ev.error_message = huge;
        assert_true(jt_message_for_outcome(&ev, NULL, &msg));
        jt_message_add_field(&msg, "Huge", huge);
        payload = jt_message_discord(&msg);
        embed = json_array_get(json_object_get(payload, "embeds"), 0);
        desc = json_string_value(json_object_get(embed, "description"));
        assert_true(chars(desc) <= JT_DISCORD_DESCRIPTION_MAX);
        assert_null(strstr(desc, "`@everyone ```")); /* no code span closed early by the text */
        total += chars(json_string_value(json_object_get(embed, "title"))) + chars(desc);
        for (size_t i = 0; i < json_array_size(json_object_get(embed, "fields")); i++) {
                json_t *f = json_array_get(json_object_get(embed, "fields"), i);
                size_t v = chars(json_string_value(json_object_get(f, "value")));
                assert_true(v <= JT_DISCORD_FIELD_VALUE_MAX);
                total += v + chars(json_string_value(json_object_get(f, "name")));
        }
        assert_true(total <= JT_DISCORD_EMBED_TOTAL_MAX);
        assert_int_equal(
            json_array_size(json_object_get(json_object_get(payload, "allowed_mentions"), "parse")),
            0);
        json_decref(payload);
        jt_message_clear(&msg);
        free(huge);
}

static jt_status_event_t task_event(const char *job, const char *task, jt_status_type_t type,
                                    int64_t done, int64_t total, int64_t ts, const char *worker) {
        jt_status_event_t ev = {.job_id = (char *)job,
                                .task_id = (char *)task,
                                .type = type,
                                .job_kind = JT_JOB_KIND_CLEANUP,
                                .timestamp_ms = ts,
                                .worker_id = (char *)worker,
                                .progress_done = {true, done},
                                .progress_total = {true, total}};
        return ev;
}

static void test_progress(void **state) {
        jt_progress_t *p = jt_progress_new(2);
        jt_status_event_t ev = {.job_id = "cleanup-x",
                                .type = JT_STATUS_JOB_STARTED,
                                .job_kind = JT_JOB_KIND_CLEANUP,
                                .timestamp_ms = 1000,
                                .tasks_total = {true, 2}};
        jt_job_progress_t *job;
        jt_progress_summary_t s;
        char bar[64];
        (void)state;

        assert_non_null(job = jt_progress_apply(p, &ev));
        ev =
            task_event("cleanup-x", "cleanup-x/0000", JT_STATUS_TASK_PROGRESS, 50, 100, 2000, "w1");
        jt_progress_apply(p, &ev);
        /* A continuation (the worker names it "<range>+cN") counts as its range, and a redelivery
         * from 0 does not go back. */
        ev = task_event("cleanup-x", "cleanup-x/0000+c1", JT_STATUS_TASK_STARTED, 0, 100, 2500,
                        "w2");
        jt_progress_apply(p, &ev);
        ev = task_event("cleanup-x", "cleanup-x/0001", JT_STATUS_TASK_FINISHED, 40, 40, 3000, "w1");
        job = jt_progress_apply(p, &ev);
        jt_progress_summarize(job, 3000, &s);
        assert_int_equal(job->task_count, 2);
        assert_int_equal(job->worker_count, 2);
        assert_int_equal(s.tasks_done, 1);
        assert_int_equal(s.tasks_total, 2);
        assert_int_equal(s.items_done, 90);
        assert_int_equal(s.items_total, 140);
        assert_true(s.fraction > 0.749 && s.fraction < 0.751); /* (0.5 + 1) / 2 */
        assert_int_equal(job->state, JT_JOB_RUNNING);
        assert_true(s.eta_s > 0.66 && s.eta_s < 0.67); /* 2 s elapsed for 75 % */
        ev = task_event("cleanup-x", "cleanup-x/0000+c1", JT_STATUS_TASK_FINISHED, 100, 100, 4000,
                        "w2");
        job = jt_progress_apply(p, &ev);
        assert_int_equal(job->state, JT_JOB_FINALIZING);
        /* Older workers named continuations "<range>.cN": still their range. */
        ev = task_event("cleanup-x", "cleanup-x/0001.c1", JT_STATUS_TASK_PROGRESS, 40, 40, 4100,
                        "w1");
        job = jt_progress_apply(p, &ev);
        assert_int_equal(job->task_count, 2);
        ev = (jt_status_event_t){.job_id = "cleanup-x",
                                 .type = JT_STATUS_JOB_FINISHED,
                                 .job_kind = JT_JOB_KIND_CLEANUP,
                                 .timestamp_ms = 5000};
        job = jt_progress_apply(p, &ev);
        jt_progress_summarize(job, 99999, &s);
        assert_int_equal(job->state, JT_JOB_FINISHED);
        assert_true(s.fraction == 1.0);
        assert_int_equal(s.elapsed_ms, 4000);
        assert_true(s.eta_s < 0);
        assert_string_equal(jt_progress_bar(0.5, 4, bar, sizeof(bar)),
                            "\xE2\x96\x88\xE2\x96\x88\xE2\x96\x91\xE2\x96\x91");
        /* The same job id started again after it ended is a new run: counted from zero. */
        ev.type = JT_STATUS_JOB_STARTED;
        ev.timestamp_ms = 9000;
        ev.tasks_total = (jt_opt_long_t){true, 5};
        job = jt_progress_apply(p, &ev);
        jt_progress_summarize(job, 9000, &s);
        assert_int_equal(job->state, JT_JOB_RUNNING);
        assert_int_equal(s.tasks_total, 5);
        assert_int_equal(s.items_done, 0);
        assert_int_equal(job->worker_count, 0);
        ev.type = JT_STATUS_JOB_FINISHED;
        jt_progress_apply(p, &ev);
        /* Two jobs at most: a third forgets the ended one. */
        ev.job_id = "stats-y";
        ev.type = JT_STATUS_JOB_STARTED;
        jt_progress_apply(p, &ev);
        ev.job_id = "stats-z";
        jt_progress_apply(p, &ev);
        assert_int_equal(jt_progress_count(p), 2);
        assert_null(jt_progress_find(p, "cleanup-x"));
        jt_progress_destroy(p);
}

static void test_redact(void **state) {
        static const struct {
                const char *url, *want;
        } cases[] = {
            {"https://discord.com/api/webhooks/123456/SECRETtoken_abc",
             "https://discord.com/api/webhooks/123456/***"},
            {"https://discord.com/api/webhooks/123456/SECRETtoken_abc?thread_id=9",
             "https://discord.com/api/webhooks/123456/***"},
            {"http://127.0.0.1:8080/hooks/SECRETtoken_abc", "http://127.0.0.1:8080/***"},
            {"not a url SECRETtoken_abc", "***"},
        };
        char out[256];
        jt_error_t err;
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                jt_webhook_redact(cases[i].url, out, sizeof(out));
                assert_string_equal(out, cases[i].want);
        }
        jt_error_clear(&err);
        assert_null(jt_webhook_new("ftp://x/SECRETtoken_abc", 1000, &err));
        assert_null(strstr(err.message, "SECRETtoken_abc"));
        assert_null(jt_webhook_new("https://discord.com", 1000, &err));
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_thousands),       cmocka_unit_test(test_duration_and_percent),
            cmocka_unit_test(test_zones),           cmocka_unit_test(test_cut),
            cmocka_unit_test(test_golden_messages), cmocka_unit_test(test_not_an_outcome),
            cmocka_unit_test(test_discord_limits),  cmocka_unit_test(test_progress),
            cmocka_unit_test(test_redact),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
