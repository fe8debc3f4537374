/* The DLQ keeps a task's key byte for byte: a task whose Kafka key is 300 bytes with a NUL byte
 * inside, and whose value does not decode, is dead-lettered by the built joytify-worker with
 * that key, and `joytify-producer replay --dlq` sends it back to its topic with the same key.
 * Usage: test_dlq_key_it [PATH-TO-joytify-producer PATH-TO-joytify-worker]
 * (default $JT_BUILD_DIR/producer/..., $JT_BUILD_DIR/worker/...) */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "it_env.h"
#include "it_kafka.h"
#include "it_proc.h"
#include "jt_dlq.h"
#include "jt_time.h"

#define KEY_LEN  300
#define NUL_AT   24 /* where the key holds its NUL byte */
#define WAIT_MS  60000
#define LOG_TAIL 8192

static char producer_path[1024], worker_path[1024];

/* A key no C string can carry: "<job>/" then bytes 0x01..0xff cycling, a NUL at NUL_AT. */
static void make_key(unsigned char *key) {
        static const char job[] = "job-dlqkey/";

        for (size_t i = 0; i < KEY_LEN; i++)
                key[i] = (unsigned char)(1 + i % 255);
        memcpy(key, job, sizeof(job) - 1);
        key[NUL_AT] = '\0';
}

/* NULL when actual is the expected key; else how it differs: "24 bytes" or "first difference
 * at byte 24 (expected 0x00, actual 0x41)". */
static const char *key_diff(const unsigned char *expected, const void *actual, size_t len,
                            char *buf, size_t size) {
        const unsigned char *a = actual;

        if (len != KEY_LEN) {
                snprintf(buf, size, "%zu bytes", len);
                return buf;
        }
        for (size_t i = 0; i < len; i++)
                if (a[i] != expected[i]) {
                        snprintf(buf, size,
                                 "first difference at byte %zu (expected 0x%02x, "
                                 "actual 0x%02x)",
                                 i, expected[i], a[i]);
                        return buf;
                }
        return NULL;
}

static void produce_raw(const char *brokers, const char *topic, const unsigned char *key,
                        const void *value, size_t len) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512];
        rd_kafka_t *rk;
        rd_kafka_resp_err_t rc;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)))
                fail_msg("producer configuration: %s", errstr);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk)
                fail_msg("creating a producer: %s", errstr);
        rc = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                               RD_KAFKA_V_KEY((void *)key, KEY_LEN),
                               RD_KAFKA_V_VALUE((void *)value, len),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (rc || rd_kafka_flush(rk, IT_KAFKA_TIMEOUT_MS) || rd_kafka_outq_len(rk) > 0)
                fail_msg("producing the task to %s: %s", topic, rd_kafka_err2str(rc));
        rd_kafka_destroy(rk);
}

/* Prints the program's log, ends it, and fails with the message. */
static void fail_with_log(it_proc_t *p, const char *fmt, ...) {
        char tail[LOG_TAIL], what[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        printf("--- %s log ---\n%s\n", p->name, it_proc_log_tail(p, tail, sizeof(tail)));
        it_proc_cleanup(p);
        fail_msg("%s", what);
}

/* Waits until topic has at least n messages since mark; returns them. */
static void wait_messages(rd_kafka_t *reader, const it_mark_t *mark, size_t n, it_proc_t *worker,
                          it_msgs_t *got) {
        int64_t deadline = jt_time_mono_ms() + WAIT_MS;
        char what[256];

        for (;;) {
                it_read_since(reader, mark, got);
                if (got->count >= n)
                        return;
                it_msgs_free(got);
                if (jt_time_mono_ms() > deadline || (worker && !it_proc_running(worker))) {
                        snprintf(what, sizeof(what),
                                 "%s: expected %zu message(s) within %d s, actual fewer%s",
                                 mark->topic, n, WAIT_MS / 1000,
                                 worker && !it_proc_running(worker) ? " (the worker exited)" : "");
                        if (worker)
                                fail_with_log(worker, "%s", what);
                        fail_msg("%s", what);
                }
                it_sleep_ms(500);
        }
}

static void start_worker(it_proc_t *w, const char *base, const char *const *topics) {
        char group[160], db[160];

        snprintf(group, sizeof(group), "%s.workers", base);
        snprintf(db, sizeof(db), "jt_it_dlqkey_%d", (int)getpid());
        it_proc_start(w, "worker", worker_path,
                      (const char *const[]){"--group", group, "--topics", "cleanup", "--db", db,
                                            "--stats-topic", topics[0], "--cleanup-topic",
                                            topics[1], "--status-topic", topics[2], "--dlq-topic",
                                            topics[3], "--task-partitions", "1", NULL},
                      NULL);
        printf("started %s\n", w->line);
}

static void a_long_binary_key_survives_the_dlq_and_replay(void **state) {
        const char *brokers = it_env("JT_KAFKA_BROKERS");
        static const char garbage[] = "\x00\xffnot an Avro message";
        unsigned char key[KEY_LEN];
        char base[96], names[4][128], diff[160], tail[LOG_TAIL];
        const char *topics[4] = {names[0], names[1], names[2], names[3]};
        static const char *const roles[4] = {"stats", "cleanup", "status", "dlq"};
        rd_kafka_t *reader = it_kafka_new(brokers);
        it_mark_t dlq_mark, task_mark;
        it_msgs_t dlq = {0}, back = {0};
        it_proc_t worker = {0}, producer = {0};
        int64_t deadline;
        int rc;

        (void)state;
        make_key(key);
        snprintf(base, sizeof(base), "jt.it.dlqkey.%d", (int)getpid());
        for (int i = 0; i < 4; i++)
                snprintf(names[i], sizeof(names[i]), "%s.%s", base, roles[i]);

        /* The worker creates the topics at start-up. */
        start_worker(&worker, base, topics);
        deadline = jt_time_mono_ms() + WAIT_MS;
        while (it_topic_partitions(reader, topics[1]) == 0 ||
               it_topic_partitions(reader, topics[3]) == 0) {
                if (jt_time_mono_ms() > deadline || !it_proc_running(&worker))
                        fail_with_log(&worker, "the worker did not create its topics");
                it_sleep_ms(200);
        }
        it_mark_capture(reader, topics[1], &task_mark);
        it_mark_capture(reader, topics[3], &dlq_mark);
        produce_raw(brokers, topics[1], key, garbage, sizeof(garbage) - 1);

        wait_messages(reader, &dlq_mark, 1, &worker, &dlq);
        printf("DLQ copy: key of %zu bytes, value of %zu bytes\n", dlq.msgs[0].key_len,
               dlq.msgs[0].len);
        if (key_diff(key, dlq.msgs[0].key, dlq.msgs[0].key_len, diff, sizeof(diff)))
                fail_with_log(&worker, "DLQ copy key: expected the task's %d bytes, actual %s",
                              KEY_LEN, diff);
        if (it_proc_stop(&worker, SIGTERM, 30000, NULL) != 0)
                fail_with_log(&worker, "the worker: expected exit 0 after SIGTERM");
        it_proc_cleanup(&worker);

        it_proc_start(&producer, "joytify-producer replay --dlq", producer_path,
                      (const char *const[]){"replay", "--dlq", "--dlq-topic", topics[3], NULL},
                      NULL);
        if (!it_proc_wait(&producer, WAIT_MS))
                fail_with_log(&producer, "replay --dlq: still running after 60 s");
        rc = it_proc_exit_code(&producer);
        printf("$ %s\n%s[exit %d]\n", producer.line,
               it_proc_log_tail(&producer, tail, sizeof(tail)), rc);
        it_proc_cleanup(&producer);
        if (rc != 0)
                fail_msg("replay --dlq: exit code expected 0, actual %d", rc);

        /* The task topic now holds the task and its replayed copy. */
        wait_messages(reader, &task_mark, 2, NULL, &back);
        printf("replayed copy: key of %zu bytes, value of %zu bytes\n", back.msgs[1].key_len,
               back.msgs[1].len);
        if (key_diff(key, back.msgs[1].key, back.msgs[1].key_len, diff, sizeof(diff)))
                fail_msg("replayed task key: expected the task's %d bytes, actual %s", KEY_LEN,
                         diff);
        if (back.msgs[1].len != sizeof(garbage) - 1 ||
            memcmp(back.msgs[1].value, garbage, back.msgs[1].len) != 0)
                fail_msg("replayed task value: expected the task's %zu bytes, actual %zu bytes",
                         sizeof(garbage) - 1, back.msgs[1].len);
        it_msgs_free(&dlq);
        it_msgs_free(&back);
        it_delete_topics(reader, topics, 4);
        it_kafka_destroy(reader);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(a_long_binary_key_survives_the_dlq_and_replay),
        };
        const char *build = getenv("JT_BUILD_DIR");

        if (argc > 2) {
                snprintf(producer_path, sizeof(producer_path), "%s", argv[1]);
                snprintf(worker_path, sizeof(worker_path), "%s", argv[2]);
        } else {
                snprintf(producer_path, sizeof(producer_path), "%s/producer/joytify-producer",
                         build ? build : ".");
                snprintf(worker_path, sizeof(worker_path), "%s/worker/joytify-worker",
                         build ? build : ".");
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
