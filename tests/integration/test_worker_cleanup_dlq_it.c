/* joytify-worker given bad cleanup tasks on the real stack (wc_kit.h): garbage bytes, a forged
 * fingerprint, a range inside the retention window and an inverted range go to the DLQ with
 * the header contract, nothing is deleted, and the worker goes on with a real job.
 * Usage: test_worker_cleanup_dlq_it [BUILD-DIR]  (default $JT_BUILD_DIR) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it_env.h"
#include "it_expect.h"
#include "it_kafka.h"
#include "jt_avro_zigzag.h"
#include "jt_dlq.h"
#include "jt_kafka.h"
#include "jt_kafka_admin.h"
#include "jt_time.h"
#include "wc_kit.h"

/* ---------------------------------------------------------------------------------------- */
/* Dead letters read back whole (headers too). */

/* Messages of mark's topic since the mark, kept whole (headers too); caller destroys them. */
typedef struct {
        rd_kafka_message_t *msgs[64];
        size_t count;
} raw_msgs_t;

static void raw_read_since(const it_mark_t *mark, raw_msgs_t *out) {
        int parts = it_topic_partitions(wc_clients.reader, mark->topic);
        rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new(parts + 1);
        int64_t end[IT_MAX_PARTITIONS], deadline = jt_time_mono_ms() + 30000;
        size_t wanted = 0;

        out->count = 0;
        for (int p = 0; p < parts; p++) {
                int64_t low = 0, start;
                it_watermarks(wc_clients.reader, mark->topic, p, &low, &end[p]);
                start = p < mark->partitions ? mark->end[p] : 0;
                if (start < low)
                        start = low;
                if (end[p] > start) {
                        wanted += (size_t)(end[p] - start);
                        rd_kafka_topic_partition_list_add(assignment, mark->topic, p)->offset =
                            start;
                }
        }
        if (wanted > 64)
                fail_msg("%s: expected at most 64 new messages, actual %zu", mark->topic, wanted);
        if (wanted && rd_kafka_assign(wc_clients.reader, assignment))
                fail_msg("assigning the partitions of %s", mark->topic);
        rd_kafka_topic_partition_list_destroy(assignment);
        while (out->count < wanted) {
                rd_kafka_message_t *msg;
                if (jt_time_mono_ms() > deadline)
                        fail_msg("reading %s: %zu of %zu messages within 30 s", mark->topic,
                                 out->count, wanted);
                msg = rd_kafka_consumer_poll(wc_clients.reader, 200);
                if (!msg)
                        continue;
                if (msg->err || strcmp(rd_kafka_topic_name(msg->rkt), mark->topic) != 0 ||
                    msg->partition >= parts || msg->offset >= end[msg->partition]) {
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                out->msgs[out->count++] = msg;
        }
        if (wanted)
                rd_kafka_assign(wc_clients.reader, NULL);
}

static void raw_free(raw_msgs_t *r) {
        for (size_t i = 0; i < r->count; i++)
                rd_kafka_message_destroy(r->msgs[i]);
        r->count = 0;
}

/* The last value of a header as a string ("" when absent). */
static const char *header(rd_kafka_message_t *msg, const char *name, char *buf, size_t size) {
        rd_kafka_headers_t *hdrs = NULL;
        const void *v = NULL;
        size_t len = 0;

        buf[0] = '\0';
        if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(hdrs, name, &v, &len) == RD_KAFKA_RESP_ERR_NO_ERROR && v) {
                if (len >= size)
                        len = size - 1;
                memcpy(buf, v, len);
                buf[len] = '\0';
        }
        return buf;
}

/* ---------------------------------------------------------------------------------------- */
/* 3. Bad input: DLQ with the header contract, nothing deleted, the worker keeps going. */

static void count_dr_errors(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        (void)rk;
        if (m->err)
                (*(int *)opaque)++;
}

/* Produces the messages in order to partition 0 of topic, each acknowledged before the next. */
static void produce_raw(const char *topic, const char *const *keys, void *const *values,
                        const size_t *lens, size_t n) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512];
        int errors = 0;
        rd_kafka_t *rk;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", it_env("JT_KAFKA_BROKERS"), errstr,
                              sizeof(errstr)))
                fail_msg("test producer configuration: %s", errstr);
        rd_kafka_conf_set_dr_msg_cb(conf, count_dr_errors);
        rd_kafka_conf_set_opaque(conf, &errors);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk)
                fail_msg("test producer: %s", errstr);
        for (size_t i = 0; i < n; i++) {
                rd_kafka_resp_err_t rc = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                    RD_KAFKA_V_KEY(keys[i], strlen(keys[i])), RD_KAFKA_V_VALUE(values[i], lens[i]),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                if (rc)
                        fail_msg("producing %s to %s: %s", keys[i], topic, rd_kafka_err2str(rc));
                if (rd_kafka_flush(rk, IT_KAFKA_TIMEOUT_MS) || errors)
                        fail_msg("producing %s to %s: expected delivered, actual not delivered",
                                 keys[i], topic);
        }
        rd_kafka_destroy(rk);
}

/* Where pattern occurs in buf: exactly once, or the test fails. */
static size_t find_once(const uint8_t *buf, size_t len, const uint8_t *pat, size_t plen,
                        const char *what) {
        size_t at = SIZE_MAX, hits = 0;

        for (size_t i = 0; i + plen <= len; i++)
                if (memcmp(buf + i, pat, plen) == 0) {
                        at = i;
                        hits++;
                }
        if (hits != 1)
                fail_msg("crafting the inverted task: %s expected once in the encoding, actual "
                         "%zu times",
                         what, hits);
        return at;
}

static jt_cleanup_task_t forged_task(const char *job_id, char *task_id, int64_t start, int64_t end,
                                     int64_t cutoff) {
        jt_cleanup_task_t t = {.job_id = (char *)job_id,
                               .task_id = task_id,
                               .range_start_ms = start,
                               .range_end_ms = end,
                               .cutoff_ms = cutoff,
                               .retention_days = RETENTION,
                               .batch_size = 100,
                               .batch_delay_ms = 0,
                               .time_budget_s = 60,
                               .triggered_by = "manual",
                               .created_at_ms = jt_time_wall_ms()};
        return t;
}

static void encode_task(const jt_cleanup_task_t *t, void **buf, size_t *len) {
        jt_error_t err;
        jt_error_clear(&err);
        if (!jt_cleanup_task_encode(wc_clients.reg, t, buf, len, &err))
                fail_msg("encoding %s: %s", t->task_id, err.message);
}

/* The bytes must not decode, with `reason` in the error (what the worker's DLQ says). */
static void expect_refused(const void *buf, size_t len, const char *reason, const char *what) {
        jt_cleanup_task_t t;
        jt_error_t err;

        jt_error_clear(&err);
        memset(&t, 0, sizeof(t));
        if (jt_cleanup_task_decode(wc_clients.reg, buf, len, &t, &err)) {
                jt_cleanup_task_clear(&t);
                fail_msg("%s: expected to be refused by the codec, actual decoded", what);
        }
        it_expect_contains(what, err.message, reason);
}

static int64_t count_jobs(const wc_ctx_t *c) {
        mongoc_collection_t *coll = it_fixture_collection(&wc_clients, &c->fx, "jobs");
        bson_t filter = BSON_INITIALIZER;
        bson_error_t error;
        int64_t n = mongoc_collection_count_documents(coll, &filter, NULL, NULL, NULL, &error);

        if (n < 0)
                fail_msg("counting %s.jobs: %s", c->fx.db, error.message);
        bson_destroy(&filter);
        mongoc_collection_destroy(coll);
        return n;
}

enum { BAD_GARBAGE, BAD_FINGERPRINT, BAD_RETENTION, BAD_INVERTED, BAD_COUNT };

static void bad_tasks_go_to_the_dlq_and_the_worker_keeps_going(void **state) {
        wc_ctx_t *c = *state;
        const int64_t cutoff = wc_cutoff_ms();
        const int64_t now = jt_time_wall_ms() / 60000 * 60000;
        const int64_t guard_from = now - 20 * DAY_MS, guard_to = now - 10 * DAY_MS;
        const size_t n_old = 200, n_guard = 50;
        int64_t *old = wc_spread(n_old, cutoff - 2 * DAY_MS, 2 * DAY_MS / (int64_t)n_old);
        int64_t *guarded = wc_spread(n_guard, guard_from, 10 * DAY_MS / (int64_t)n_guard);
        static const char garbage[] = "\x00\xffthis is not an Avro message";
        const char *keys[BAD_COUNT] = {"garbage-key", "cleanup-forged-fingerprint/20260901T0000",
                                       "cleanup-forged-retention/guard",
                                       "cleanup-forged-inverted/20260831T0000"};
        const char *reasons[BAD_COUNT][2] = {
            {"not an Avro single-object message", NULL},
            {"unknown schema fingerprint", NULL},
            {"inside the 60-day retention window", "nothing deleted"},
            {"range_start must be before range_end", NULL}};
        void *values[BAD_COUNT] = {NULL};
        size_t lens[BAD_COUNT] = {0};
        int64_t offsets[BAD_COUNT];
        const char *topics[IT_T_COUNT];
        jt_cleanup_task_t t;
        char task_ids[BAD_COUNT][128];
        uint8_t s_enc[10], e_enc[10], tmp[10];
        size_t s_len, e_len, s_at, e_at;
        it_msgs_t back;
        raw_msgs_t dlq;
        wc_events_t ev;
        jt_error_t err;
        int w, per_worker[MAX_WORKERS];
        int64_t deadline;
        wc_tasks_t job_tasks = {0};

        wc_insert_playbacks(c, old, n_old, NULL);
        wc_insert_playbacks(c, guarded, n_guard, NULL);
        /* One partition: the bad messages and the job after them are in one line. */
        snprintf(c->partitions, sizeof(c->partitions), "1");
        for (int i = 0; i < IT_T_COUNT; i++)
                topics[i] = c->fx.topic[i];
        jt_error_clear(&err);
        if (!jt_kafka_admin_ensure_topics(wc_clients.reader, topics, IT_T_COUNT, 1, 1,
                                          IT_KAFKA_TIMEOUT_MS, &err))
                fail_msg("creating the test's topics: %s", err.message);
        it_wait_topics_ready(wc_clients.reader, topics, IT_T_COUNT);
        it_fixture_mark_all(&wc_clients, &c->fx);

        /* Garbage bytes. */
        lens[BAD_GARBAGE] = sizeof(garbage) - 1;
        values[BAD_GARBAGE] = malloc(lens[BAD_GARBAGE]);
        memcpy(values[BAD_GARBAGE], garbage, lens[BAD_GARBAGE]);
        /* A valid task of old playbacks (it would delete them) with one fingerprint byte
         * flipped. */
        snprintf(task_ids[BAD_FINGERPRINT], sizeof(task_ids[0]), "%s", keys[BAD_FINGERPRINT]);
        t = forged_task("cleanup-forged-fingerprint", task_ids[BAD_FINGERPRINT],
                        cutoff - 2 * DAY_MS, cutoff, cutoff);
        encode_task(&t, &values[BAD_FINGERPRINT], &lens[BAD_FINGERPRINT]);
        ((uint8_t *)values[BAD_FINGERPRINT])[5] ^= 0x40;
        /* A valid task whose range reaches inside the retention window by the worker's clock:
         * the codec lets it through, the worker must refuse it. */
        snprintf(task_ids[BAD_RETENTION], sizeof(task_ids[0]), "%s", keys[BAD_RETENTION]);
        t = forged_task("cleanup-forged-retention", task_ids[BAD_RETENTION], guard_from, guard_to,
                        guard_to);
        encode_task(&t, &values[BAD_RETENTION], &lens[BAD_RETENTION]);
        /* An inverted range: the codec refuses to encode one, so a valid task's range_start
         * and range_end are swapped in its bytes. */
        snprintf(task_ids[BAD_INVERTED], sizeof(task_ids[0]), "%s", keys[BAD_INVERTED]);
        t = forged_task("cleanup-forged-inverted", task_ids[BAD_INVERTED], cutoff - 3 * DAY_MS,
                        cutoff - 2 * DAY_MS, cutoff);
        encode_task(&t, &values[BAD_INVERTED], &lens[BAD_INVERTED]);
        s_len = jt_avro_zigzag_encode(t.range_start_ms, s_enc);
        e_len = jt_avro_zigzag_encode(t.range_end_ms, e_enc);
        it_expect_int("encoded lengths of range_start and range_end (swappable)", (int64_t)s_len,
                      (int64_t)e_len);
        s_at = find_once(values[BAD_INVERTED], lens[BAD_INVERTED], s_enc, s_len, "range_start");
        e_at = find_once(values[BAD_INVERTED], lens[BAD_INVERTED], e_enc, e_len, "range_end");
        memcpy(tmp, (uint8_t *)values[BAD_INVERTED] + s_at, s_len);
        memcpy((uint8_t *)values[BAD_INVERTED] + s_at, (uint8_t *)values[BAD_INVERTED] + e_at,
               s_len);
        memcpy((uint8_t *)values[BAD_INVERTED] + e_at, tmp, s_len);
        /* The crafted bytes are what they claim to be. */
        expect_refused(values[BAD_GARBAGE], lens[BAD_GARBAGE], reasons[BAD_GARBAGE][0],
                       "garbage bytes");
        expect_refused(values[BAD_FINGERPRINT], lens[BAD_FINGERPRINT], reasons[BAD_FINGERPRINT][0],
                       "task with a flipped fingerprint byte");
        expect_refused(values[BAD_INVERTED], lens[BAD_INVERTED], reasons[BAD_INVERTED][0],
                       "task with an inverted range");

        produce_raw(c->fx.topic[IT_T_CLEANUP], keys, values, lens, BAD_COUNT);
        it_read_since(wc_clients.reader, &c->fx.mark[IT_T_CLEANUP], &back);
        it_expect_int("bad messages on the cleanup topic", BAD_COUNT, (int64_t)back.count);
        for (int i = 0; i < BAD_COUNT; i++) {
                it_expect_str("key of a bad message read back", keys[i], back.msgs[i].key);
                offsets[i] = back.msgs[i].offset;
        }
        it_msgs_free(&back);

        w = wc_worker_start(c);
        deadline = jt_time_mono_ms() + 60000;
        while (it_new_message_count(wc_clients.reader, &c->fx.mark[IT_T_DLQ]) < BAD_COUNT) {
                wc_expect_workers_alive(c);
                if (jt_time_mono_ms() > deadline)
                        wc_fail_with_logs(
                            c, "DLQ messages: expected %d within 60 s, actual %" PRId64, BAD_COUNT,
                            it_new_message_count(wc_clients.reader, &c->fx.mark[IT_T_DLQ]));
                it_sleep_ms(250);
        }
        raw_read_since(&c->fx.mark[IT_T_DLQ], &dlq);
        it_expect_int("DLQ messages", BAD_COUNT, (int64_t)dlq.count);
        for (size_t k = 0; k < dlq.count; k++) {
                rd_kafka_message_t *m = dlq.msgs[k];
                char h[2048], what[300], num[32];
                int i = -1;
                for (int j = 0; j < BAD_COUNT; j++)
                        if (m->key_len == strlen(keys[j]) &&
                            memcmp(m->key, keys[j], m->key_len) == 0)
                                i = j;
                if (i < 0)
                        fail_msg("DLQ message %zu key: expected one of the bad messages' keys, "
                                 "actual \"%.*s\"",
                                 k, (int)m->key_len, (const char *)m->key);
                snprintf(what, sizeof(what), "DLQ copy of %s: value length", keys[i]);
                it_expect_int(what, (int64_t)lens[i], (int64_t)m->len);
                snprintf(what, sizeof(what), "DLQ copy of %s: value bytes equal (1 = yes)",
                         keys[i]);
                it_expect_int(what, 1, memcmp(m->payload, values[i], lens[i]) == 0);
                snprintf(what, sizeof(what), "DLQ copy of %s: header %s", keys[i],
                         JT_DLQ_HDR_TOPIC);
                it_expect_str(what, c->fx.topic[IT_T_CLEANUP],
                              header(m, JT_DLQ_HDR_TOPIC, h, sizeof(h)));
                snprintf(what, sizeof(what), "DLQ copy of %s: header %s", keys[i],
                         JT_DLQ_HDR_PARTITION);
                it_expect_str(what, "0", header(m, JT_DLQ_HDR_PARTITION, h, sizeof(h)));
                snprintf(what, sizeof(what), "DLQ copy of %s: header %s", keys[i],
                         JT_DLQ_HDR_OFFSET);
                snprintf(num, sizeof(num), "%" PRId64, offsets[i]);
                it_expect_str(what, num, header(m, JT_DLQ_HDR_OFFSET, h, sizeof(h)));
                snprintf(what, sizeof(what), "DLQ copy of %s: header %s", keys[i],
                         JT_DLQ_HDR_ATTEMPTS);
                it_expect_str(what, "1", header(m, JT_DLQ_HDR_ATTEMPTS, h, sizeof(h)));
                snprintf(what, sizeof(what), "DLQ copy of %s: header %s", keys[i],
                         JT_DLQ_HDR_ERROR);
                header(m, JT_DLQ_HDR_ERROR, h, sizeof(h));
                for (int r = 0; r < 2; r++)
                        if (reasons[i][r])
                                it_expect_contains(what, h, reasons[i][r]);
                printf("DLQ %s: %s\n", keys[i], h);
        }
        raw_free(&dlq);
        it_expect_int("old playbacks after the bad tasks (nothing deleted)", (int64_t)n_old,
                      wc_count_playbacks(c, INT64_MIN, cutoff));
        it_expect_int("playbacks in the refused range inside the retention window",
                      (int64_t)n_guard, wc_count_playbacks(c, guard_from, guard_to));
        it_expect_int("ledger entries after the bad tasks (none written)", 0, count_jobs(c));

        /* The worker goes on: a real job produced after the bad messages completes. */
        it_mark_capture(wc_clients.reader, c->fx.topic[IT_T_STATUS], &c->fx.mark[IT_T_STATUS]);
        it_mark_capture(wc_clients.reader, c->fx.topic[IT_T_DLQ], &c->fx.mark[IT_T_DLQ]);
        it_mark_capture(wc_clients.reader, c->fx.topic[IT_T_CLEANUP], &c->fx.mark[IT_T_CLEANUP]);
        wc_producer_cleanup(c, (const char *const[]){"--range-hours", "24", NULL});
        wc_wait_job_state(c, JOB_ID, "finished", WAIT_JOB_MS);
        wc_events_read(c, JOB_ID, &ev);
        wc_expect_job_finished(c, &ev, (int64_t)n_old, (int64_t)n_old, "direct");
        wc_tasks_read(c, &job_tasks);
        wc_expect_range_results(c, &ev, &job_tasks, old, n_old, per_worker);
        it_expect_int("old playbacks after the job", 0, wc_count_playbacks(c, INT64_MIN, cutoff));
        it_expect_int("playbacks in the refused range after the job (all kept)", (int64_t)n_guard,
                      wc_count_playbacks(c, guard_from, guard_to));
        it_expect_int("new DLQ messages during the real job", 0,
                      it_new_message_count(wc_clients.reader, &c->fx.mark[IT_T_DLQ]));
        wc_worker_stop(c, w);
        wc_events_free(&ev);
        wc_tasks_free(&job_tasks);
        for (int i = 0; i < BAD_COUNT; i++)
                free(values[i]);
        free(old);
        free(guarded);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(bad_tasks_go_to_the_dlq_and_the_worker_keeps_going),
        };

        return wc_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
