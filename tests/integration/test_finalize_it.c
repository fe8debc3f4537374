/* The last steps of a job on the real stack: the ledger's finalize claim (one worker at a time,
 * its own claim taken again after a failure, another's only once its lease lapsed) and the
 * announcement of a finished job, which goes to Kafka once even when writing the "finished"
 * state fails and the step is retried. The failure is real: the state is written through a
 * client whose server does not answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <mongoc/mongoc.h>

#include "it_clients.h"
#include "it_env.h"
#include "jt_test.h"
#include "it_kafka.h"
#include "jt_jobs.h"
#include "jt_kafka.h"
#include "jt_kafka_admin.h"
#include "task.h"

#define LEASE_MS 60000
#define NOW_MS   1790000000000LL
/* Nothing listens on port 1; the short timeouts make the failing write quick. */
#define DOWN_URI "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"

static it_clients_t clients;

static int open_clients(void **state) {
        return it_clients_group_open(&clients, state);
}

static void fresh_db(char *db, size_t size, const char *what) {
        bson_error_t error;
        mongoc_database_t *d;

        snprintf(db, size, "jt_it_fin_%d_%s", (int)getpid(), what);
        d = mongoc_client_get_database(clients.mongo, db);
        mongoc_database_drop(d, &error);
        mongoc_database_destroy(d);
}

static void drop_db(const char *db) {
        bson_error_t error;
        mongoc_database_t *d = mongoc_client_get_database(clients.mongo, db);

        mongoc_database_drop(d, &error);
        mongoc_database_destroy(d);
}

static char job_nonce[JT_JOBS_NONCE_SIZE];

/* Records the result of job_id's one task (run job_nonce), which completes the job. */
static void complete_job(const char *db, const char *job_id) {
        char task_id[128];
        bson_t *result = BCON_NEW("deleted", BCON_INT64(0));
        bool now = false, complete = false;
        jt_error_t err;

        snprintf(task_id, sizeof(task_id), "%s/0000", job_id);
        jt_error_clear(&err);
        assert_ok(jt_jobs_record_result(clients.mongo, db, job_id, job_nonce, task_id, "0000",
                                        result, NOW_MS, &now, &complete, &err),
                  err);
        assert_true(now);
        assert_true(complete);
        bson_destroy(result);
}

/* A ledger entry for job_id with one task, as a producer writes it; its nonce in job_nonce. */
static void create_job(const char *db, const char *job_id) {
        char task_id[128];
        const char *task_ids[1] = {task_id};
        bson_t *params = BCON_NEW("range", "one");
        jt_job_spec_t spec = {.job_id = job_id,
                              .kind = "cleanup",
                              .params = params,
                              .task_ids = task_ids,
                              .task_count = 1,
                              .owner = "producer@it/1",
                              .now_ms = NOW_MS,
                              .lease_ms = LEASE_MS};
        jt_job_claim_t outcome;
        bson_t entry = BSON_INITIALIZER;
        jt_error_t err;

        snprintf(task_id, sizeof(task_id), "%s/0000", job_id);
        jt_error_clear(&err);
        assert_ok(jt_jobs_claim(clients.mongo, db, &spec, &outcome, &entry, &err), err);
        assert_int_equal(outcome, JT_JOB_CLAIMED);
        {
                bson_iter_t it;
                assert_true(bson_iter_init_find(&it, &entry, "runNonce") &&
                            BSON_ITER_HOLDS_UTF8(&it));
                snprintf(job_nonce, sizeof(job_nonce), "%s", bson_iter_utf8(&it, NULL));
        }
        bson_destroy(&entry);
        bson_destroy(params);
}

static bool claim_run(const char *db, const char *job_id, const char *nonce, const char *owner,
                      int64_t now_ms) {
        bson_t entry = BSON_INITIALIZER;
        bool claimed = false;
        jt_error_t err;

        jt_error_clear(&err);
        assert_ok(jt_jobs_claim_finalize(clients.mongo, db, job_id, nonce, 1, owner, now_ms,
                                         LEASE_MS, &claimed, &entry, &err),
                  err);
        bson_destroy(&entry);
        return claimed;
}

static bool claim(const char *db, const char *job_id, const char *owner, int64_t now_ms) {
        return claim_run(db, job_id, job_nonce, owner, now_ms);
}

/* A send claim held by an identity that outlives its process (the chained cleanup's is its
 * stats job's finalizer): the same identity resumes an unfinished send at once, anyone else
 * waits for the lease (seen in worker_faults_it: a finalizer killed mid-send left the next one
 * waiting out 5 minutes). */
static void send_claim_is_taken_again_by_its_owner(void **state) {
        char db[96];
        const char *task_ids[1] = {"cleanup-s/0000"};
        bson_t *params = BCON_NEW("range", "one");
        jt_job_spec_t spec = {.job_id = "cleanup-s",
                              .kind = "cleanup",
                              .params = params,
                              .task_ids = task_ids,
                              .task_count = 1,
                              .owner = "finalize:stats-2026-11",
                              .now_ms = NOW_MS,
                              .lease_ms = LEASE_MS};
        jt_job_claim_t outcome;
        bson_t entry = BSON_INITIALIZER;
        jt_error_t err;

        (void)state;
        fresh_db(db, sizeof(db), "send");
        jt_error_clear(&err);
        assert_ok(jt_jobs_claim(clients.mongo, db, &spec, &outcome, &entry, &err), err);
        assert_int_equal(outcome, JT_JOB_CLAIMED);
        /* The sender died before marking the tasks sent. Another identity: busy. */
        spec.owner = "producer@other/2";
        spec.now_ms = NOW_MS + 1000;
        assert_ok(jt_jobs_claim(clients.mongo, db, &spec, &outcome, &entry, &err), err);
        assert_int_equal(outcome, JT_JOB_BUSY);
        /* The next finalizer, same identity, within the lease: claimed at once. */
        spec.owner = "finalize:stats-2026-11";
        assert_ok(jt_jobs_claim(clients.mongo, db, &spec, &outcome, &entry, &err), err);
        assert_int_equal(outcome, JT_JOB_CLAIMED);
        assert_ok(jt_jobs_mark_sent(clients.mongo, db, "cleanup-s", spec.owner, NOW_MS + 2000,
                                    false, &err),
                  err);
        assert_ok(jt_jobs_claim(clients.mongo, db, &spec, &outcome, &entry, &err), err);
        assert_int_equal(outcome, JT_JOB_ALREADY_SENT);
        bson_destroy(&entry);
        bson_destroy(params);
        drop_db(db);
}

/* issue 20: a FINALIZE claims only a complete job of its own run. */
static void finalize_claim_needs_a_complete_job_of_its_run(void **state) {
        char db[96];

        (void)state;
        fresh_db(db, sizeof(db), "complete");
        create_job(db, "cleanup-y");
        assert_false(claim(db, "cleanup-y", "host/1", NOW_MS)); /* 0 of 1 task done */
        complete_job(db, "cleanup-y");
        assert_false(claim_run(db, "cleanup-y", "0123456789abcdef0123456789abcdef", "host/1",
                               NOW_MS));                                  /* another run */
        assert_false(claim_run(db, "cleanup-y", NULL, "host/1", NOW_MS)); /* a v1 task */
        assert_true(claim(db, "cleanup-y", "host/1", NOW_MS));
        drop_db(db);
}

static void finalize_claim_is_taken_again_by_its_owner_only(void **state) {
        char db[96];
        jt_error_t err;

        (void)state;
        fresh_db(db, sizeof(db), "claim");
        create_job(db, "cleanup-x");
        complete_job(db, "cleanup-x");
        assert_true(claim(db, "cleanup-x", "host/1", NOW_MS));
        /* The same worker after a failed step: at once, without waiting out its lease. */
        assert_true(claim(db, "cleanup-x", "host/1", NOW_MS + 1000));
        /* Another worker while the lease holds: no. */
        assert_false(claim(db, "cleanup-x", "host/2", NOW_MS + 2000));
        /* The renewal moved the lease: still held just after the first claim's lease. */
        assert_false(claim(db, "cleanup-x", "host/2", NOW_MS + LEASE_MS + 500));
        /* Once it lapsed (its worker died), another takes over; the first no longer can. */
        assert_true(claim(db, "cleanup-x", "host/2", NOW_MS + 1000 + LEASE_MS + 1));
        assert_false(claim(db, "cleanup-x", "host/1", NOW_MS + 1000 + LEASE_MS + 2));
        jt_error_clear(&err);
        assert_ok(jt_jobs_set_state(clients.mongo, db, "cleanup-x", JT_JOB_FINISHED, NOW_MS, &err),
                  err);
        /* A finished job is claimed by nobody, its last owner included. */
        assert_false(claim(db, "cleanup-x", "host/2", NOW_MS + 3 * LEASE_MS));
        drop_db(db);
}

/* The JOB_FINISHED events of job_id among msgs. */
static int job_finished_count(const it_msgs_t *msgs, const char *job_id) {
        int n = 0;

        for (size_t i = 0; i < msgs->count; i++) {
                jt_status_event_t ev = {0};
                jt_error_t err;

                jt_error_clear(&err);
                assert_ok(jt_status_event_decode(clients.reg, msgs->msgs[i].value,
                                                 msgs->msgs[i].len, &ev, &err),
                          err);
                if (ev.type == JT_STATUS_JOB_FINISHED && strcmp(ev.job_id, job_id) == 0)
                        n++;
                jt_status_event_clear(&ev);
        }
        return n;
}

static void job_is_announced_once_when_its_state_write_fails(void **state) {
        jt_kafka_opts_t opts = {.brokers = it_env("JT_KAFKA_BROKERS"), .timeout_ms = 15000};
        char db[96], topic[96];
        const char *topics[1] = {topic};
        jt_task_announced_t announced = {0};
        jt_task_env_t env = {0};
        jt_status_event_t ev = {.type = JT_STATUS_JOB_FINISHED,
                                .job_kind = JT_JOB_KIND_CLEANUP,
                                .timestamp_ms = NOW_MS,
                                .worker_id = "host/1",
                                .records_deleted = {true, 5},
                                .total_records_found = {true, 5},
                                .remaining_records = {true, 0}};
        mongoc_uri_t *down_uri = mongoc_uri_new(DOWN_URI);
        mongoc_client_t *down = mongoc_client_new_from_uri(down_uri);
        jt_job_state_t state_now;
        bool found = false;
        it_mark_t mark;
        it_msgs_t msgs;
        jt_error_t err;

        (void)state;
        fresh_db(db, sizeof(db), "announce");
        snprintf(topic, sizeof(topic), "jt.it.fin.%d.status", (int)getpid());
        /* Two complete jobs under this worker's finalize claim, as finish_job finds them. */
        create_job(db, "cleanup-a");
        complete_job(db, "cleanup-a");
        assert_true(claim(db, "cleanup-a", "host/1", NOW_MS));
        create_job(db, "cleanup-b");
        complete_job(db, "cleanup-b");
        assert_true(claim(db, "cleanup-b", "host/1", NOW_MS));
        jt_error_clear(&err);
        env.producer = jt_kafka_producer_new(&opts, &err);
        assert_ok(env.producer, err);
        assert_ok(jt_kafka_admin_ensure_topics(env.producer, topics, 1, 1, 1, 15000, &err), err);
        it_mark_capture(clients.reader, topic, &mark);
        env.reg = clients.reg;
        env.db = db;
        env.status_topic = topic;
        env.kafka_timeout_ms = 15000;
        env.announced = &announced;

        /* The event goes out, the state write fails: the step is to be retried. */
        ev.job_id = "cleanup-a";
        assert_int_equal(jt_task_finish_job(&env, down, &ev, &err), JT_TASK_RETRY);
        assert_non_null(strstr(err.message, "cleanup-a"));
        assert_ok(jt_jobs_state(clients.mongo, db, "cleanup-a", &found, &state_now, &err), err);
        assert_string_equal(jt_job_state_name(state_now), "finalizing");
        /* The retry writes the state and sends nothing again. */
        jt_error_clear(&err);
        assert_int_equal(jt_task_finish_job(&env, clients.mongo, &ev, &err), JT_TASK_DONE);
        assert_ok(jt_jobs_state(clients.mongo, db, "cleanup-a", &found, &state_now, &err), err);
        assert_string_equal(jt_job_state_name(state_now), "finished");
        /* Another job is announced as usual. */
        ev.job_id = "cleanup-b";
        assert_int_equal(jt_task_finish_job(&env, clients.mongo, &ev, &err), JT_TASK_DONE);

        it_read_since(clients.reader, &mark, &msgs);
        assert_int_equal(msgs.count, 2);
        assert_int_equal(job_finished_count(&msgs, "cleanup-a"), 1);
        assert_int_equal(job_finished_count(&msgs, "cleanup-b"), 1);
        it_msgs_free(&msgs);
        it_delete_topics(clients.reader, topics, 1);
        jt_kafka_destroy(env.producer);
        mongoc_client_destroy(down);
        mongoc_uri_destroy(down_uri);
        drop_db(db);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(finalize_claim_is_taken_again_by_its_owner_only),
            cmocka_unit_test(finalize_claim_needs_a_complete_job_of_its_run),
            cmocka_unit_test(send_claim_is_taken_again_by_its_owner),
            cmocka_unit_test(job_is_announced_once_when_its_state_write_fails),
        };
        return cmocka_run_group_tests(tests, open_clients, it_clients_group_close);
}
