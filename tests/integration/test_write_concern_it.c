/* Every write the fleet relies on carries the write concern of --write-concern/--write-timeout
 * on the wire: a pool built exactly as the programs build theirs (jt_mongo_pool_from_config),
 * with command monitoring, runs a ledger claim and result (insert, update, findAndModify), an
 * update, a deleteMany, a bulk and an index creation against the real local server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "it_env.h"
#include "jt_test.h"
#include "jt_indexes.h"
#include "jt_jobs.h"
#include "jt_mongo.h"
#include "jt_options.h"

static const jt_opt_t *const mongo_tables[] = {jt_opts_mongo, NULL};
static const jt_command_t mongo_cmd = {"wc", "write concern test", mongo_tables, NULL, NULL, NULL,
                                       NULL};

#define MAX_SEEN 64

/* The write commands the server received and the writeConcern each carried (as JSON). */
typedef struct {
        size_t n;
        char name[MAX_SEEN][32];
        char wc[MAX_SEEN][128];
} seen_t;

static const char *const write_commands[] = {"insert",        "update",        "delete",
                                             "findAndModify", "createIndexes", NULL};

static void on_started(const mongoc_apm_command_started_t *event) {
        seen_t *seen = mongoc_apm_command_started_get_context(event);
        const char *name = mongoc_apm_command_started_get_command_name(event);
        const bson_t *cmd = mongoc_apm_command_started_get_command(event);
        bson_iter_t it;
        bool is_write = false;

        for (size_t i = 0; write_commands[i]; i++)
                is_write |= strcmp(name, write_commands[i]) == 0;
        if (!is_write || seen->n >= MAX_SEEN)
                return;
        snprintf(seen->name[seen->n], sizeof(seen->name[0]), "%s", name);
        if (bson_iter_init_find(&it, cmd, "writeConcern") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
                const uint8_t *data;
                uint32_t len;
                bson_t doc;
                char *json;
                bson_iter_document(&it, &len, &data);
                bson_init_static(&doc, data, len);
                json = bson_as_relaxed_extended_json(&doc, NULL);
                snprintf(seen->wc[seen->n], sizeof(seen->wc[0]), "%s", json);
                bson_free(json);
        } else {
                snprintf(seen->wc[seen->n], sizeof(seen->wc[0]), "(no writeConcern)");
        }
        seen->n++;
}

static jt_config_t *config(const char *uri, const char *w, const char *wtimeout) {
        char *argv[8] = {"wc", "--mongo-uri", (char *)uri};
        int argc = 3;
        jt_error_t err;
        jt_config_t *cfg;

        if (w) {
                argv[argc++] = "--write-concern";
                argv[argc++] = (char *)w;
        }
        if (wtimeout) {
                argv[argc++] = "--write-timeout";
                argv[argc++] = (char *)wtimeout;
        }
        jt_error_clear(&err);
        cfg = jt_config_parse(&mongo_cmd, argc, argv, &err);
        if (!cfg)
                fail_msg("config: %s", err.message);
        return cfg;
}

/* The fleet's kinds of write through a pool from cfg; each must succeed. */
static void run_writes(const jt_config_t *cfg, seen_t *seen) {
        char db[64];
        const char *task_ids[] = {"wc-job/0", "wc-job/1"};
        jt_error_t err;
        mongoc_client_pool_t *pool;
        mongoc_apm_callbacks_t *cbs = mongoc_apm_callbacks_new();
        mongoc_client_t *client;
        mongoc_collection_t *coll;
        mongoc_bulk_operation_t *bulk;
        bson_error_t berr;
        bson_t entry = BSON_INITIALIZER, *params, *result, *doc, *filter, *update, *bulk_opts;
        jt_job_claim_t outcome;
        bool recorded = false, complete = false;

        snprintf(db, sizeof(db), "jt_it_wc_%d", (int)getpid());
        jt_error_clear(&err);
        pool = jt_mongo_pool_from_config(cfg, "jt-it-wc", false, &err);
        assert_ok(pool, err);
        mongoc_apm_set_command_started_cb(cbs, on_started);
        assert_true(mongoc_client_pool_set_apm_callbacks(pool, cbs, seen));
        client = mongoc_client_pool_pop(pool);

        /* The ledger: a job created (insert), a task's result (update), the lapsed claim of
         * an unsent job taken over (findAndModify). */
        params = BCON_NEW("month", "2026-10");
        jt_job_spec_t spec = {.job_id = "wc-job",
                              .kind = "stats",
                              .params = params,
                              .task_ids = task_ids,
                              .task_count = 2,
                              .owner = "jt-it-a",
                              .now_ms = 1000,
                              .lease_ms = 1};
        assert_ok(jt_jobs_claim(client, db, &spec, &outcome, &entry, &err), err);
        assert_int_equal(outcome, JT_JOB_CLAIMED);
        result = BCON_NEW("users", BCON_INT32(3));
        {
                bson_iter_t it;
                assert_true(bson_iter_init_find(&it, &entry, "runNonce"));
                assert_ok(jt_jobs_record_result(client, db, "wc-job", bson_iter_utf8(&it, NULL),
                                                task_ids[0], "0", result, 2000, &recorded,
                                                &complete, &err),
                          err);
        }
        assert_true(recorded);
        spec.owner = "jt-it-b";
        spec.now_ms = 5000;
        bson_reinit(&entry);
        assert_ok(jt_jobs_claim(client, db, &spec, &outcome, &entry, &err), err);
        assert_int_equal(outcome, JT_JOB_CLAIMED);

        /* Entries, notifications and deletes: update, insert, deleteMany, a bulk. */
        coll = mongoc_client_get_collection(client, db, "stats");
        doc = BCON_NEW("user", BCON_INT32(1), "n", BCON_INT32(0));
        if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &berr))
                fail_msg("insert: %s", berr.message);
        filter = BCON_NEW("user", BCON_INT32(1));
        update = BCON_NEW("$set", "{", "n", BCON_INT32(1), "}");
        if (!mongoc_collection_update_one(coll, filter, update, NULL, NULL, &berr))
                fail_msg("update: %s", berr.message);
        bulk_opts = BCON_NEW("ordered", BCON_BOOL(false));
        bulk = mongoc_collection_create_bulk_operation_with_opts(coll, bulk_opts);
        mongoc_bulk_operation_insert(bulk, doc);
        mongoc_bulk_operation_update_one(bulk, filter, update, true);
        if (!mongoc_bulk_operation_execute(bulk, NULL, &berr))
                fail_msg("bulk: %s", berr.message);
        if (!mongoc_collection_delete_many(coll, filter, NULL, NULL, &berr))
                fail_msg("deleteMany: %s", berr.message);
        mongoc_client_pool_push(pool, client);
        assert_ok(jt_indexes_ensure(pool, db, false, &err), err);

        client = mongoc_client_pool_pop(pool);
        {
                mongoc_database_t *database = mongoc_client_get_database(client, db);
                mongoc_database_drop(database, NULL);
                mongoc_database_destroy(database);
        }
        mongoc_bulk_operation_destroy(bulk);
        mongoc_collection_destroy(coll);
        mongoc_client_pool_push(pool, client);
        jt_mongo_pool_destroy(pool);
        mongoc_apm_callbacks_destroy(cbs);
        bson_destroy(bulk_opts);
        bson_destroy(update);
        bson_destroy(filter);
        bson_destroy(doc);
        bson_destroy(result);
        bson_destroy(params);
        bson_destroy(&entry);
}

/* Every write seen carries exactly want, and every kind of write was seen. */
static void expect_all(const seen_t *seen, const char *want) {
        int failures = 0;

        for (size_t i = 0; i < seen->n; i++) {
                if (strcmp(seen->wc[i], want) != 0) {
                        print_error("%s: expected writeConcern %s, actual %s\n", seen->name[i],
                                    want, seen->wc[i]);
                        failures++;
                }
        }
        for (size_t k = 0; write_commands[k]; k++) {
                bool found = false;
                for (size_t i = 0; i < seen->n; i++)
                        found |= strcmp(seen->name[i], write_commands[k]) == 0;
                if (!found) {
                        print_error("no %s command seen (expected one)\n", write_commands[k]);
                        failures++;
                }
        }
        if (failures)
                fail_msg("%d write command(s) without the expected write concern %s", failures,
                         want);
}

static void default_is_majority_with_a_timeout(void **state) {
        seen_t seen = {0};
        jt_config_t *cfg = config(it_env("JT_MONGO_URI"), NULL, NULL);

        (void)state;
        run_writes(cfg, &seen);
        expect_all(&seen, "{ \"w\" : \"majority\", \"wtimeout\" : 10000 }");
        jt_config_destroy(cfg);
}

static void options_are_honoured(void **state) {
        seen_t seen = {0};
        jt_config_t *cfg = config(it_env("JT_MONGO_URI"), "1", "2500");

        (void)state;
        run_writes(cfg, &seen);
        expect_all(&seen, "{ \"w\" : 1, \"wtimeout\" : 2500 }");
        jt_config_destroy(cfg);
}

/* A URI asking for less (w=1, a short wait) does not weaken the fleet's writes. */
static void options_win_over_the_uri(void **state) {
        char uri[512];
        const char *base;
        seen_t seen = {0};
        jt_config_t *cfg;

        (void)state;
        base = it_env("JT_MONGO_URI");
        snprintf(uri, sizeof(uri), "%s%sw=1&wtimeoutMS=50", base, strchr(base, '?') ? "&" : "/?");
        cfg = config(uri, NULL, NULL);
        run_writes(cfg, &seen);
        expect_all(&seen, "{ \"w\" : \"majority\", \"wtimeout\" : 10000 }");
        jt_config_destroy(cfg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(default_is_majority_with_a_timeout),
            cmocka_unit_test(options_are_honoured),
            cmocka_unit_test(options_win_over_the_uri),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
