/* `joytify-producer replay` on the real broker, as an operator runs it: a group moved back to a
 * time re-reads exactly the messages after it, a dry run or a refused run changes nothing, bad
 * input exits 2, and DLQ messages go back to their original topic once, byte for byte.
 * Usage: test_replay_it [PATH-TO-joytify-producer]  (default $JT_BUILD_DIR/producer/...) */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "it_env.h"
#include "jt_test.h"
#include "jt_dlq.h"
#include "jt_kafka.h"
#include "jt_kafka_admin.h"

#define PARTS    3
#define BATCH1   9 /* three per partition */
#define BATCH2   6 /* two per partition */
#define MAX_MSGS 64
#define OUT_MAX  65536

static char producer_path[1024];

/* What the group setup made: one topic holding two batches, and a time between them. */
static struct {
        char topic[96];
        char between[32];
} fx;

/* Runs joytify-producer with args (NULL-terminated), stdout and stderr into out; returns the
 * exit code. The command and its output are echoed so a failed test shows what the user saw. */
static int run_producer(char *out, size_t size, const char *const *args) {
        const char *argv[32];
        int fds[2];
        size_t used = 0;
        int n = 0, status = 0;
        pid_t pid;

        argv[n++] = producer_path;
        for (const char *const *a = args; *a && n < 31; a++)
                argv[n++] = *a;
        argv[n] = NULL;
        if (pipe(fds) != 0)
                fail_msg("pipe failed");
        pid = fork();
        if (pid == 0) {
                dup2(fds[1], 1);
                dup2(fds[1], 2);
                close(fds[0]);
                close(fds[1]);
                execv(producer_path, (char *const *)argv);
                _exit(127);
        }
        close(fds[1]);
        for (;;) {
                ssize_t got = read(fds[0], out + used, size - 1 - used);
                if (got <= 0)
                        break;
                used += (size_t)got;
                if (used == size - 1)
                        break;
        }
        out[used] = '\0';
        close(fds[0]);
        waitpid(pid, &status, 0);
        printf("$ joytify-producer");
        for (int i = 1; i < n; i++)
                printf(" %s", argv[i]);
        printf("\n%s[exit %d]\n", out, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void expect_exit(int got, int expected, const char *what) {
        if (got != expected)
                fail_msg("%s: exit code expected %d, actual %d", what, expected, got);
}

static void expect_output(const char *out, const char *wanted, const char *what) {
        if (!strstr(out, wanted))
                fail_msg("%s: output expected to contain \"%s\", actual output:\n%s", what, wanted,
                         out);
}

static void produce(rd_kafka_t *rk, const char *topic, int32_t partition, const char *key,
                    const void *value, size_t len, rd_kafka_headers_t *hdrs) {
        rd_kafka_resp_err_t rc = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        if (rc)
                fail_msg("producing %s to %s: %s", key, topic, rd_kafka_err2str(rc));
}

/* The messages a consumer saw: keys, values and the replay headers. */
typedef struct {
        int count;
        char key[MAX_MSGS][64];
        char value[MAX_MSGS][64];
        size_t value_len[MAX_MSGS];
        char replayed_from[MAX_MSGS][256];
        char trace[MAX_MSGS][64];
        bool has_error_header[MAX_MSGS];
} seen_t;

/* librdkafka 2.0.2 closes a cooperative-sticky consumer without sending LeaveGroup, so the
 * member would stay in the group until its session times out: unsubscribing first (and polling
 * until the partitions are given up) makes it leave at once. */
static void leave_and_close(rd_kafka_t *rk) {
        rd_kafka_unsubscribe(rk);
        for (int i = 0; i < 50; i++) {
                rd_kafka_topic_partition_list_t *a = NULL;
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
                bool empty = true;
                if (msg)
                        rd_kafka_message_destroy(msg);
                if (rd_kafka_assignment(rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                        empty = a->cnt == 0;
                        rd_kafka_topic_partition_list_destroy(a);
                }
                if (empty && i > 0)
                        break;
        }
        jt_kafka_destroy(rk);
}

/* Waits (60 s at most) until the broker says group has no member, as after stopping workers. */
static void wait_group_empty(const char *group) {
        jt_kafka_opts_t opts = it_env_kafka_opts();
        const struct rd_kafka_group_list *groups = NULL;
        int members = -1;
        jt_error_t err;
        rd_kafka_t *rk;

        jt_error_clear(&err);
        rk = jt_kafka_producer_new(&opts, &err);
        assert_ok(rk, err);
        for (int i = 0; i < 120 && members != 0; i++) {
                if (i > 0)
                        usleep(500000);
                if (rd_kafka_list_groups(rk, group, &groups, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                        continue;
                members = groups->group_cnt == 1 ? groups->groups[0].member_cnt : 0;
                rd_kafka_group_list_destroy(groups);
        }
        jt_kafka_destroy(rk);
        if (members != 0)
                fail_msg("group %s: expected 0 members after its consumer closed, actual %d", group,
                         members);
}

/* Consumes topic in group until `expected` messages came and then 2 s more (to catch any extra
 * one), commits what it read, leaves the group. */
static void consume(const char *group, const char *topic, int expected, seen_t *seen) {
        jt_kafka_opts_t opts = it_env_kafka_opts();
        rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
        int64_t deadline = 0;
        jt_error_t err;
        rd_kafka_t *rk;

        memset(seen, 0, sizeof(*seen));
        jt_error_clear(&err);
        rk = jt_kafka_consumer_new(&opts, group, &err);
        assert_ok(rk, err);
        rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
        assert_int_equal(rd_kafka_subscribe(rk, subs), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(subs);
        for (int i = 0; i < 400; i++) { /* 40 s at most */
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
                if (seen->count >= expected && deadline == 0)
                        deadline = i + 20;
                if (deadline && i >= deadline) {
                        if (msg)
                                rd_kafka_message_destroy(msg);
                        break;
                }
                if (!msg)
                        continue;
                if (!msg->err && seen->count < MAX_MSGS) {
                        int k = seen->count++;
                        rd_kafka_topic_partition_list_t *store =
                            rd_kafka_topic_partition_list_new(1);
                        jt_error_t herr;
                        snprintf(seen->key[k], sizeof(seen->key[k]), "%.*s", (int)msg->key_len,
                                 (const char *)msg->key);
                        seen->value_len[k] = msg->len;
                        memcpy(seen->value[k], msg->payload,
                               msg->len < sizeof(seen->value[k]) ? msg->len
                                                                 : sizeof(seen->value[k]));
                        jt_dlq_header_str(msg, JT_DLQ_HDR_REPLAYED_FROM, seen->replayed_from[k],
                                          sizeof(seen->replayed_from[k]), &herr);
                        jt_dlq_header_str(msg, "trace-id", seen->trace[k], sizeof(seen->trace[k]),
                                          &herr);
                        seen->has_error_header[k] =
                            jt_dlq_header_str(msg, JT_DLQ_HDR_ERROR, (char[64]){0}, 64, &herr);
                        rd_kafka_topic_partition_list_add(store, rd_kafka_topic_name(msg->rkt),
                                                          msg->partition)
                            ->offset = msg->offset + 1;
                        rd_kafka_offsets_store(rk, store);
                        rd_kafka_topic_partition_list_destroy(store);
                }
                rd_kafka_message_destroy(msg);
        }
        rd_kafka_commit(rk, NULL, 0);
        leave_and_close(rk);
        wait_group_empty(group);
}

static bool seen_has(const seen_t *seen, const char *key) {
        for (int i = 0; i < seen->count; i++)
                if (strcmp(seen->key[i], key) == 0)
                        return true;
        return false;
}

/* Fails unless the consumer saw exactly the keys prefix1 0..n1-1 and prefix2 0..n2-1 (prefix2
 * may be NULL), each once. */
static void expect_keys(const seen_t *seen, const char *prefix1, int n1, const char *prefix2,
                        int n2, const char *what) {
        char key[64], list[4096] = "";
        int n = n1 + (prefix2 ? n2 : 0);

        for (int i = 0; i < seen->count; i++) {
                size_t used = strlen(list);
                snprintf(list + used, sizeof(list) - used, "%s%s", i ? " " : "", seen->key[i]);
        }
        printf("%s: expected %d message(s) %s0..%d%s%s%s, actual %d: %s\n", what, n, prefix1,
               n1 - 1, prefix2 ? " and " : "", prefix2 ? prefix2 : "", prefix2 ? "0.." : "",
               seen->count, list);
        if (seen->count != n)
                fail_msg("%s: expected %d messages, actual %d (%s)", what, n, seen->count, list);
        for (int i = 0; i < n; i++) {
                if (i < n1)
                        snprintf(key, sizeof(key), "%s%d", prefix1, i);
                else
                        snprintf(key, sizeof(key), "%s%d", prefix2, i - n1);
                if (!seen_has(seen, key))
                        fail_msg("%s: expected key %s among the messages, actual: %s", what, key,
                                 list);
        }
}

/* The group's committed offsets on the fixture topic (-1 for none). */
static void committed(const char *group, const char *topic, int parts, int64_t *offsets) {
        jt_kafka_opts_t opts = it_env_kafka_opts();
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(parts);
        jt_error_t err;
        rd_kafka_t *rk;

        jt_error_clear(&err);
        rk = jt_kafka_consumer_new(&opts, group, &err);
        assert_ok(rk, err);
        for (int p = 0; p < parts; p++)
                rd_kafka_topic_partition_list_add(list, topic, p);
        assert_int_equal(rd_kafka_committed(rk, list, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
        for (int p = 0; p < parts; p++)
                offsets[p] = list->elems[p].offset < 0 ? -1 : list->elems[p].offset;
        rd_kafka_topic_partition_list_destroy(list);
        jt_kafka_destroy(rk);
}

static void expect_offsets_equal(const int64_t *expected, const int64_t *actual, int parts,
                                 const char *what) {
        for (int p = 0; p < parts; p++) {
                printf("%s: partition %d expected %" PRId64 ", actual %" PRId64 "\n", what, p,
                       expected[p], actual[p]);
                if (expected[p] != actual[p])
                        fail_msg("%s: partition %d committed offset expected %" PRId64
                                 ", actual %" PRId64,
                                 what, p, expected[p], actual[p]);
        }
}

static int64_t topic_total(const char *topic, int parts) {
        jt_kafka_opts_t opts = it_env_kafka_opts();
        int64_t total = 0, low, high;
        jt_error_t err;
        rd_kafka_t *rk;

        jt_error_clear(&err);
        rk = jt_kafka_producer_new(&opts, &err);
        assert_ok(rk, err);
        for (int p = 0; p < parts; p++) {
                assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high, 10000),
                                 RD_KAFKA_RESP_ERR_NO_ERROR);
                total += high - low;
        }
        jt_kafka_destroy(rk);
        return total;
}

static void iso_time(time_t t, char *buf, size_t size) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A fresh topic with batch 1 (keys b1-0..8), then, strictly later in time, batch 2 (b2-0..5). */
static int make_two_batches(void **state) {
        jt_kafka_opts_t opts = it_env_kafka_opts();
        const char *topics[1] = {fx.topic};
        struct timespec now;
        time_t between;
        jt_error_t err;
        rd_kafka_t *rk;
        char key[32];

        snprintf(fx.topic, sizeof(fx.topic), "jt.it.replay.%d.tasks", (int)getpid());
        jt_error_clear(&err);
        rk = jt_kafka_producer_new(&opts, &err);
        assert_ok(rk, err);
        assert_ok(jt_kafka_admin_ensure_topics(rk, topics, 1, PARTS, 1, 10000, &err), err);
        for (int i = 0; i < BATCH1; i++) {
                snprintf(key, sizeof(key), "b1-%d", i);
                produce(rk, fx.topic, i % PARTS, key, key, strlen(key), NULL);
        }
        assert_ok(jt_kafka_flush(rk, 10000, &err), err);
        /* Every batch-1 timestamp is before the next whole second; batch 2 waits past it. */
        between = time(NULL) + 1;
        do {
                usleep(50000);
                clock_gettime(CLOCK_REALTIME, &now);
        } while (now.tv_sec < between || now.tv_nsec < 200000000L);
        iso_time(between, fx.between, sizeof(fx.between));
        for (int i = 0; i < BATCH2; i++) {
                snprintf(key, sizeof(key), "b2-%d", i);
                produce(rk, fx.topic, i % PARTS, key, key, strlen(key), NULL);
        }
        assert_ok(jt_kafka_flush(rk, 10000, &err), err);
        jt_kafka_destroy(rk);
        printf("topic %s: %d messages, then %d after %s\n", fx.topic, BATCH1, BATCH2, fx.between);
        return 0;
}

/* A group that has read and committed everything, as workers leave it. */
static void group_done_with_all(const char *group) {
        seen_t seen;
        consume(group, fx.topic, BATCH1 + BATCH2, &seen);
        assert_int_equal(seen.count, BATCH1 + BATCH2);
}

static void group_name(char *buf, size_t size, const char *what) {
        snprintf(buf, size, "jt-it-replay-%d-%s", (int)getpid(), what);
}

static void moving_to_a_time_rereads_exactly_the_later_batch(void **state) {
        char group[96], out[OUT_MAX];
        seen_t seen;

        group_name(group, sizeof(group), "time");
        group_done_with_all(group);
        const char *args[] = {"replay", "--topic",        fx.topic,   "--group",
                              group,    "--to-timestamp", fx.between, NULL};
        expect_exit(run_producer(out, sizeof(out), args), 0, "replay --to-timestamp");
        expect_output(out, "total over 3 partition(s): re-read 6, skip 0", "plan");
        expect_output(out, "committed offsets read back from the broker", "read back");
        consume(group, fx.topic, BATCH2, &seen);
        expect_keys(&seen, "b2-", BATCH2, NULL, 0, "re-read after --to-timestamp");
}

static void moving_to_the_beginning_rereads_everything(void **state) {
        char group[96], out[OUT_MAX];
        seen_t seen;

        group_name(group, sizeof(group), "begin");
        group_done_with_all(group);
        const char *args[] = {"replay", "--topic",     fx.topic,    "--group",
                              group,    "--to-offset", "beginning", NULL};
        expect_exit(run_producer(out, sizeof(out), args), 0, "replay --to-offset beginning");
        expect_output(out, "re-read 15", "plan");
        consume(group, fx.topic, BATCH1 + BATCH2, &seen);
        expect_keys(&seen, "b1-", BATCH1, "b2-", BATCH2, "re-read after --to-offset beginning");
}

static void dry_run_changes_nothing(void **state) {
        char group[96], out[OUT_MAX];
        int64_t before[PARTS], after[PARTS];

        group_name(group, sizeof(group), "dry");
        group_done_with_all(group);
        committed(group, fx.topic, PARTS, before);
        const char *args[] = {"replay",      "--topic",   fx.topic,    "--group", group,
                              "--to-offset", "beginning", "--dry-run", NULL};
        expect_exit(run_producer(out, sizeof(out), args), 0, "replay --dry-run");
        expect_output(out, "dry run: no offset changed", "dry run");
        expect_output(out, "re-read 15", "plan");
        committed(group, fx.topic, PARTS, after);
        expect_offsets_equal(before, after, PARTS, "after --dry-run");
        /* An offset past the end is clamped, and the plan says so. */
        const char *past[] = {"replay",      "--topic", fx.topic,    "--group", group,
                              "--to-offset", "1000000", "--dry-run", NULL};
        expect_exit(run_producer(out, sizeof(out), past), 0, "replay --to-offset 1000000");
        expect_output(out, "clamped down to the log end", "clamp");
        committed(group, fx.topic, PARTS, after);
        expect_offsets_equal(before, after, PARTS, "after the clamped --dry-run");
}

typedef struct {
        rd_kafka_t *rk;
        atomic_bool stop;
        atomic_bool assigned;
} member_t;

static void *member_poll(void *arg) {
        member_t *m = arg;

        while (!atomic_load(&m->stop)) {
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->rk, 100);
                rd_kafka_topic_partition_list_t *a = NULL;
                if (msg)
                        rd_kafka_message_destroy(msg);
                if (rd_kafka_assignment(m->rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                        if (a->cnt > 0)
                                atomic_store(&m->assigned, true);
                        rd_kafka_topic_partition_list_destroy(a);
                }
        }
        return NULL;
}

static void an_active_group_is_refused_and_left_alone(void **state) {
        jt_kafka_opts_t opts = it_env_kafka_opts();
        char group[96], out[OUT_MAX];
        int64_t before[PARTS], after[PARTS];
        rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
        member_t m = {0};
        pthread_t thread;
        jt_error_t err;

        group_name(group, sizeof(group), "active");
        group_done_with_all(group);
        committed(group, fx.topic, PARTS, before);
        jt_error_clear(&err);
        m.rk = jt_kafka_consumer_new(&opts, group, &err);
        assert_ok(m.rk, err);
        rd_kafka_topic_partition_list_add(subs, fx.topic, RD_KAFKA_PARTITION_UA);
        assert_int_equal(rd_kafka_subscribe(m.rk, subs), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(subs);
        assert_int_equal(pthread_create(&thread, NULL, member_poll, &m), 0);
        for (int i = 0; i < 300 && !atomic_load(&m.assigned); i++)
                usleep(100000);
        assert_true(atomic_load(&m.assigned));

        const char *args[] = {"replay", "--topic",     fx.topic,    "--group",
                              group,    "--to-offset", "beginning", NULL};
        expect_exit(run_producer(out, sizeof(out), args), 1, "replay with an active member");
        expect_output(out, "has active members (state Stable, 1 member(s)", "refusal");
        expect_output(out, "systemctl stop 'joytify-worker@*'", "how to stop the workers");
        expect_output(out, "no offset changed", "refusal");
        committed(group, fx.topic, PARTS, after);
        expect_offsets_equal(before, after, PARTS, "after the refusal");

        const char *forced[] = {"replay",      "--topic",   fx.topic,  "--group", group,
                                "--to-offset", "beginning", "--force", NULL};
        expect_exit(run_producer(out, sizeof(out), forced), 1, "replay --force, active member");
        expect_output(out, "REFUSED by the broker", "per-partition broker error");
        expect_output(out, "stop the consumers and retry", "advice");
        committed(group, fx.topic, PARTS, after);
        expect_offsets_equal(before, after, PARTS, "after the forced attempt");

        atomic_store(&m.stop, true);
        pthread_join(thread, NULL);
        jt_kafka_destroy(m.rk);
}

static void bad_input_exits_2_with_a_message(void **state) {
        char out[OUT_MAX];
        const struct {
                const char *args[12];
                const char *message;
        } cases[] = {
            {{"replay", "--topic", "jt.it.replay.no-such-topic", "--group", "g", "--to-offset",
              "end"},
             "topic jt.it.replay.no-such-topic does not exist on"},
            {{"replay", "--topic", fx.topic, "--group", "g", "--to-offset", "12x"},
             "--to-offset must be beginning, end or an offset 0.."},
            {{"replay", "--topic", fx.topic, "--group", "g", "--to-offset", "-1"}, "(got \"-1\")"},
            {{"replay", "--topic", fx.topic, "--group", "g", "--to-timestamp", "yesterday"},
             "--to-timestamp"},
            {{"replay", "--topic", fx.topic, "--group", "g", "--to-timestamp", "2026-02-30T00:00Z"},
             "--to-timestamp"},
            {{"replay", "--topic", fx.topic, "--group", "g", "--to-timestamp", fx.between,
              "--to-offset", "end"},
             "give exactly one of --to-timestamp TS or --to-offset"},
            {{"replay", "--topic", fx.topic, "--group", "g"}, "(got neither)"},
            {{"replay", "--group", "g", "--to-offset", "end"}, "--topic is required"},
            {{"replay", "--topic", fx.topic, "--to-offset", "end"}, "--group is required"},
            {{"replay", "--dlq", "--to-offset", "end"}, "--to-offset does not apply to --dlq"},
            {{"replay", "--topic", fx.topic, "--group", "g", "--to-offset", "end", "stray"},
             "unexpected argument \"stray\""},
            {{"replay", "--topic", fx.topic, "--group", "g", "--to-offset", "end", "--brokers",
              "127.0.0.1:1", "--kafka-timeout", "2"},
             "cannot reach Kafka at 127.0.0.1:1"},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                /* An unreachable broker is no bad input: 75, worth trying again later. */
                int want = strstr(cases[i].message, "cannot reach") ? 75 : 2;
                expect_exit(run_producer(out, sizeof(out), cases[i].args), want, cases[i].message);
                expect_output(out, cases[i].message, "bad input");
        }
}

/* DLQ: jobA's three tasks (one with a trace header), jobB's two, and one jobA message without
 * the original-topic header. Values carry NUL and 0xff bytes to prove byte identity. */
static void dlq_messages_go_back_once(void **state) {
        jt_kafka_opts_t opts = it_env_kafka_opts();
        char dlq[96], orig[96], job_a[48], job_b[48], key[96], out[OUT_MAX];
        const char *topics[2] = {dlq, orig};
        char values[3][16];
        rd_kafka_headers_t *h;
        seen_t seen;
        jt_error_t err;
        rd_kafka_t *rk;

        snprintf(dlq, sizeof(dlq), "jt.it.replay.%d.dlq", (int)getpid());
        snprintf(orig, sizeof(orig), "jt.it.replay.%d.orig", (int)getpid());
        snprintf(job_a, sizeof(job_a), "jobA-%d", (int)getpid());
        snprintf(job_b, sizeof(job_b), "jobB-%d", (int)getpid());
        jt_error_clear(&err);
        rk = jt_kafka_producer_new(&opts, &err);
        assert_ok(rk, err);
        assert_ok(jt_kafka_admin_ensure_topics(rk, topics, 2, 2, 1, 10000, &err), err);
        for (int i = 0; i < 3; i++) {
                memcpy(values[i], "v\0\xff-", 4);
                values[i][4] = (char)('0' + i);
                snprintf(key, sizeof(key), "%s/%d", job_a, i);
                h = jt_dlq_headers_new(orig, i % 2, 100 + i, "permanent: bad shard", 5);
                if (i == 1)
                        rd_kafka_header_add(h, "trace-id", -1, "t-1", -1);
                produce(rk, dlq, i % 2, key, values[i], 5, h);
        }
        for (int i = 0; i < 2; i++) {
                snprintf(key, sizeof(key), "%s/%d", job_b, i);
                produce(rk, dlq, i % 2, key, "b", 1, jt_dlq_headers_new(orig, 0, 7, "nope", 1));
        }
        snprintf(key, sizeof(key), "%s/headerless", job_a);
        h = rd_kafka_headers_new(1);
        rd_kafka_header_add(h, JT_DLQ_HDR_ERROR, -1, "lost its origin", -1);
        produce(rk, dlq, 1, key, "x", 1, h);
        assert_ok(jt_kafka_flush(rk, 10000, &err), err);
        jt_kafka_destroy(rk);

        const char *dry[] = {"replay",       "--dlq", "--dlq-topic", dlq,
                             "--filter-job", job_a,   "--dry-run",   NULL};
        expect_exit(run_producer(out, sizeof(out), dry), 0, "replay --dlq --dry-run");
        expect_output(out, "dry run: would re-send 3, skip 1, filter out 2 of other jobs",
                      "dry run summary");
        printf("original topic after the dry run: expected 0 messages, actual %" PRId64 "\n",
               topic_total(orig, 2));
        assert_int_equal(topic_total(orig, 2), 0);

        const char *run[] = {"replay", "--dlq", "--dlq-topic", dlq, "--filter-job", job_a, NULL};
        expect_exit(run_producer(out, sizeof(out), run), 0, "replay --dlq --filter-job");
        expect_output(out, "re-sent 3, skipped 1 (reported above), filtered out 2 of other jobs",
                      "summary");
        expect_output(out, "/headerless\"  (no jt-original-topic header)", "headerless reported");
        expect_output(out, "error=\"permanent: bad shard\"  attempts=5", "error header shown");

        consume("jt-it-replay-orig", orig, 3, &seen);
        snprintf(key, sizeof(key), "%s/", job_a);
        expect_keys(&seen, key, 3, NULL, 0, "original topic after the replay");
        for (int k = 0; k < seen.count; k++) {
                int i = seen.key[k][strlen(seen.key[k]) - 1] - '0';
                printf("%s: value %zu bytes (expected 5), replayed-from \"%s\" (expected %s/...), "
                       "trace-id \"%s\", jt-error header %s (expected absent)\n",
                       seen.key[k], seen.value_len[k], seen.replayed_from[k], dlq, seen.trace[k],
                       seen.has_error_header[k] ? "present" : "absent");
                assert_int_equal(seen.value_len[k], 5);
                assert_memory_equal(seen.value[k], values[i], 5);
                assert_int_equal(strncmp(seen.replayed_from[k], dlq, strlen(dlq)), 0);
                assert_string_equal(seen.trace[k], i == 1 ? "t-1" : "");
                assert_false(seen.has_error_header[k]);
        }

        expect_exit(run_producer(out, sizeof(out), run), 0, "second replay --dlq --filter-job");
        expect_output(out,
                      "re-sent 0, skipped 0, filtered out 0 of other jobs; nothing new to commit",
                      "second run summary");
        printf("original topic after the second run: expected 3 messages, actual %" PRId64 "\n",
               topic_total(orig, 2));
        assert_int_equal(topic_total(orig, 2), 3);

        /* An unfiltered run keeps its own place: jobB (and jobA, again) go back once. */
        const char *all[] = {"replay", "--dlq", "--dlq-topic", dlq, NULL};
        expect_exit(run_producer(out, sizeof(out), all), 0, "replay --dlq");
        expect_output(out, "re-sent 5, skipped 1 (reported above); DLQ offsets committed",
                      "unfiltered summary");
        expect_exit(run_producer(out, sizeof(out), all), 0, "second replay --dlq");
        expect_output(out, "re-sent 0, skipped 0; nothing new to commit",
                      "second unfiltered summary");
        printf("original topic at the end: expected 8 messages, actual %" PRId64 "\n",
               topic_total(orig, 2));
        assert_int_equal(topic_total(orig, 2), 8);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(moving_to_a_time_rereads_exactly_the_later_batch),
            cmocka_unit_test(moving_to_the_beginning_rereads_everything),
            cmocka_unit_test(dry_run_changes_nothing),
            cmocka_unit_test(an_active_group_is_refused_and_left_alone),
            cmocka_unit_test(bad_input_exits_2_with_a_message),
            cmocka_unit_test(dlq_messages_go_back_once),
        };
        const char *build = getenv("JT_BUILD_DIR");

        if (argc > 1)
                snprintf(producer_path, sizeof(producer_path), "%s", argv[1]);
        else
                snprintf(producer_path, sizeof(producer_path), "%s/producer/joytify-producer",
                         build ? build : ".");
        setvbuf(stdout, NULL, _IOLBF, 0);
        return cmocka_run_group_tests(tests, make_two_batches, NULL);
}
