/* The benchmark (bench.h). Order of a run: a raw bulk-insert floor; the statistics phase on
 * one generated dataset (the fleet at each worker count, reset to the generated state between
 * runs, then the floor's read and the original's notification step); the cleanup phase on the
 * same dataset (floor, baseline, the fleet at each worker count), reset to the generated state
 * before each run: the statistics' writes removed, the deleted playbacks put back by the
 * generator (same documents, same ids), which is quicker than generating all again. */
#include "bench.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_dataset.h"
#include "bench_fleet.h"
#include "bench_private.h"
#include "bench_proc.h"
#include "bench_report.h"
#include "bench_state.h"
#include "jt_time.h"
#include "jt_job_ids.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_startup.h"

#define RAW_INSERT_SAMPLE 200000
#define RAW_INSERT_BATCH  5000

static const jt_opt_t bench_opts[] = {
    {"users", 'u', JT_OPT_INT, "5000", 1, 10000000, NULL, false, "N", "users to generate"},
    {"playbacks-per-user", 0, JT_OPT_INT, "500", 1, 1000000, NULL, false, "N",
     "playbacks per user"},
    {"workers", 0, JT_OPT_STRING, "1,2,4", 0, 0, NULL, false, "LIST",
     "worker counts to measure the fleet with"},
    {"jobs", 0, JT_OPT_STRING, "stats,cleanup", 0, 0, NULL, false, "LIST",
     "jobs to measure: stats, cleanup or both (one job alone: a shorter run at full scale)"},
    {"shards", 0, JT_OPT_INT, "16", 1, 4096, NULL, false, "N",
     "the most tasks of the statistics job (the producer's --shards)"},
    {"users-per-task", 0, JT_OPT_INT, "0", 0, 10000000, NULL, false, "N",
     "users per statistics task (the producer's --users-per-task); 0: users / --task-partitions, "
     "at most 2000, so that every partition of the task topic has a range and every worker work"},
    {"playback-reads", 0, JT_OPT_STRING, "per-user", 0, 0, NULL, false, "HOW",
     "how the workers read a task's playbacks (the worker's --playback-reads): range or "
     "per-user. per-user by default for the local stack's server, SecantusDB, which scans the "
     "whole playbacks collection for a query over a range of users (one month of 100 users took "
     "79-93 s whether the range was at the start or the end of the ids, against 4.95 s for 500 "
     "users by one equality query each); range against a MongoDB server"},
    {"seed", 0, JT_OPT_INT, "1", 0, 2147483647, NULL, false, "S", "generator seed"},
    {"history-months", 0, JT_OPT_INT, "0", 0, 120, NULL, false, "N",
     "monthly entries every user's stats document holds before the generated months (generate "
     "--history-months): the workers' memory with stored history"},
    {"task-budget", 0, JT_OPT_INT, "0", 0, 86400, NULL, false, "SECONDS",
     "the statistics tasks' time budget (the producer's --task-budget); 0: the producer's "
     "default. Every task run opens its users cursor again: a longer budget opens fewer"},
    {"reuse-data", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL,
     "keep the dataset already in --db when a bench generated it with the same --users, "
     "--playbacks-per-user, --seed, --history-months and month and it is whole (users and "
     "playbacks counted), instead of dropping and generating it again (minutes at 200,000 "
     "users): to run a bench again after one was stopped"},
    {"out", 'o', JT_OPT_STRING, "bench-out", 0, 0, NULL, false, "DIR", "report directory"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

const jt_opt_t *const jt_bench_tables[] = {bench_opts, jt_opts_kafka, jt_opts_mongo, jt_opts_log,
                                           NULL};

void jt_bench_say(const char *fmt, ...) {
        va_list ap;
        printf("bench: ");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
}

/* --users-per-task, 0 meaning: one range per partition of the task topic, up to 2,000 users
 * each. With fewer ranges than partitions, placement (task i on partition i % P) leaves
 * partitions without work, and a worker given only those idles. */
int64_t jt_bench_users_per_task(const jt_config_t *cfg) {
        int64_t k = jt_config_int(cfg, "users-per-task");
        int64_t users = jt_config_int(cfg, "users");
        int64_t parts = jt_config_int(cfg, "task-partitions");

        if (k > 0)
                return k;
        k = (users + parts - 1) / parts;
        return k < 1 ? 1 : (k > 2000 ? 2000 : k);
}

static bool parse_workers(jt_bench_t *b, const char *list) {
        char *copy = strdup(list), *save = NULL;
        int last = 0;

        b->worker_counts = 0;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                char *end;
                long n = strtol(t, &end, 10);
                if (*end || n < 1 || n > 64 || n <= last ||
                    b->worker_counts == JT_BENCH_MAX_WORKER_COUNTS) {
                        fprintf(stderr,
                                "joytify-loadtest bench: --workers takes up to %d "
                                "increasing counts 1..64 like 1,2,4 (got \"%s\")\n",
                                JT_BENCH_MAX_WORKER_COUNTS, list);
                        free(copy);
                        return false;
                }
                b->workers[b->worker_counts++] = last = (int)n;
        }
        free(copy);
        return b->worker_counts > 0;
}

/* Checked here so that a typo fails before the dataset is generated, not in every worker. */
static bool check_playback_reads(const char *how) {
        if (strcmp(how, "range") == 0 || strcmp(how, "per-user") == 0)
                return true;
        fprintf(stderr,
                "joytify-loadtest bench: --playback-reads takes range or per-user (got \"%s\")\n",
                how);
        return false;
}

static bool parse_jobs(jt_bench_t *b, const char *list) {
        b->do_stats = strcmp(list, "stats") == 0 || strcmp(list, "stats,cleanup") == 0 ||
                      strcmp(list, "cleanup,stats") == 0;
        b->do_cleanup = strcmp(list, "cleanup") == 0 || strcmp(list, "stats,cleanup") == 0 ||
                        strcmp(list, "cleanup,stats") == 0;
        if (!b->do_stats && !b->do_cleanup)
                fprintf(stderr,
                        "joytify-loadtest bench: --jobs takes stats, cleanup or stats,cleanup "
                        "(got \"%s\")\n",
                        list);
        return b->do_stats || b->do_cleanup;
}

void jt_bench_log_path(const jt_bench_t *b, const char *name, char *path, size_t size) {
        snprintf(path, size, "%s/logs/%s.log", b->out, name);
}

/* Common arguments of every child: the stack and the bench database. */
static int mongo_args(const jt_bench_t *b, char **argv, int n) {
        argv[n++] = "--mongo-uri";
        argv[n++] = (char *)jt_config_str(b->cfg, "mongo-uri");
        argv[n++] = "--db";
        argv[n++] = (char *)b->db;
        return n;
}

int jt_bench_common_args(const jt_bench_t *b, char **argv, int n) {
        argv[n++] = "--brokers";
        argv[n++] = (char *)jt_config_str(b->cfg, "brokers");
        return mongo_args(b, argv, n);
}

static mongoc_client_t *own_client(jt_bench_t *b);

static jt_bench_dataset_t dataset_of(const jt_bench_t *b) {
        return (jt_bench_dataset_t){.users = jt_config_int(b->cfg, "users"),
                                    .playbacks_per_user =
                                        jt_config_int(b->cfg, "playbacks-per-user"),
                                    .seed = jt_config_int(b->cfg, "seed"),
                                    .history_months = jt_config_int(b->cfg, "history-months"),
                                    .now = b->now_arg};
}

/* With --reuse-data: whether the dataset in the database is the one this bench would generate,
 * whole; then it is kept (the report says so, with no generation row). */
static bool reuse_dataset(jt_bench_t *b) {
        jt_bench_dataset_t d = dataset_of(b);
        mongoc_client_t *client;
        char why[256];
        bool same;

        if (!jt_config_bool(b->cfg, "reuse-data") || !(client = own_client(b)))
                return false;
        same = jt_bench_dataset_matches(client, b->db, &d, why, sizeof(why));
        mongoc_client_pool_push(b->pool, client);
        if (!same) {
                jt_bench_say("--reuse-data: generating anyway: %s", why);
                return false;
        }
        jt_bench_say("--reuse-data: keeping the dataset in %s (%" PRId64 " users x %" PRId64
                     " playbacks, seed %" PRId64 ", generated for %s)",
                     b->db, d.users, d.playbacks_per_user, d.seed, d.now);
        b->generated = b->results.reused = true;
        return true;
}

/* The dataset's record: removed before a generation, written after it succeeded. */
static bool dataset_record(jt_bench_t *b, bool generated) {
        jt_bench_dataset_t d = dataset_of(b);
        mongoc_client_t *client = own_client(b);
        jt_error_t err;
        bool ok;

        if (!client)
                return false;
        jt_error_clear(&err);
        ok = generated ? jt_bench_dataset_record(client, b->db, &d, &err)
                       : jt_bench_dataset_forget(client, b->db, &err);
        mongoc_client_pool_push(b->pool, client);
        if (!ok)
                fprintf(stderr, "joytify-loadtest bench: %s\n", err.message);
        return ok;
}

/* The dataset, generated afresh; or, with restore, only the playbacks a cleanup deleted put
 * back. */
static bool generate(jt_bench_t *b, const char *why, bool restore) {
        char users[16], per[16], seed[16], history[16], logp[1024];
        char *argv[32] = {b->loadtest, "generate", "--users", users,   "--playbacks-per-user",
                          per,         "--seed",   seed,      "--now", b->now_arg};
        int n = 10;
        jt_bench_usage_t u = {0};
        jt_bench_row_t *row;
        int64_t t0 = jt_time_mono_ms();

        snprintf(users, sizeof(users), "%lld", jt_config_int(b->cfg, "users"));
        snprintf(per, sizeof(per), "%lld", jt_config_int(b->cfg, "playbacks-per-user"));
        snprintf(seed, sizeof(seed), "%lld", jt_config_int(b->cfg, "seed"));
        if (!restore && !b->generated && reuse_dataset(b))
                return true;
        if (!restore && !dataset_record(b, false))
                return false;
        argv[n++] = restore ? "--only-playbacks-before" : "--drop";
        if (restore) {
                argv[n++] = b->cutoff_iso;
        } else {
                snprintf(history, sizeof(history), "%lld", jt_config_int(b->cfg, "history-months"));
                argv[n++] = "--history-months";
                argv[n++] = history;
        }
        n = mongo_args(b, argv, n);
        argv[n] = NULL;
        jt_bench_log_path(b, restore ? "restore" : "generate", logp, sizeof(logp));
        if (restore)
                jt_bench_say("putting back the playbacks older than %s (%s)", b->cutoff_iso, why);
        else
                jt_bench_say("generating %s users x %s playbacks (%s)", users, per, why);
        if (!jt_bench_proc_run(argv, logp, &u)) {
                fprintf(stderr, "joytify-loadtest bench: generate failed (exit %d), see %s\n",
                        u.exit_code, logp);
                return false;
        }
        /* The first generation is measured against the raw insert floor. */
        if (!b->generated && (row = jt_bench_report_add(&b->results, "generate", "generator", 0))) {
                row->seconds = (double)(jt_time_mono_ms() - t0) / 1000;
                row->documents =
                    jt_config_int(b->cfg, "users") * jt_config_int(b->cfg, "playbacks-per-user");
                row->peak_rss_mb = u.peak_rss_kb / 1024.0;
                row->cpu_s = u.cpu_s;
        }
        b->generated = true;
        /* Without a record the next --reuse-data generates again: a warning, not a failure. */
        if (!restore && !dataset_record(b, true))
                fprintf(stderr, "joytify-loadtest bench: the dataset is not recorded; "
                                "--reuse-data will generate it again\n");
        return true;
}

/* Unordered bulk inserts of playback-shaped documents into a scratch collection: the fastest
 * this server takes such documents, to judge the generator by. */
static bool raw_insert_floor(jt_bench_t *b) {
        mongoc_client_t *client = mongoc_client_pool_pop(b->pool);
        mongoc_collection_t *c = mongoc_client_get_collection(client, b->db, "bench_raw_insert");
        int64_t total =
            jt_config_int(b->cfg, "users") * jt_config_int(b->cfg, "playbacks-per-user");
        int64_t n = total < RAW_INSERT_SAMPLE ? total : RAW_INSERT_SAMPLE, done = 0;
        bson_error_t error;
        jt_bench_row_t *row = jt_bench_report_add(&b->results, "insert", "raw", 0);
        int64_t t0;
        bool ok = true;

        mongoc_collection_drop(c, NULL);
        /* The playbacks' indexes (jt_indexes.h): inserts pay for them in the real collection. */
        bson_t *ix = BCON_NEW("createIndexes", "bench_raw_insert", "indexes", "[", "{", "key", "{",
                              "user", BCON_INT32(1), "createdAt", BCON_INT32(1), "}", "name",
                              "user_createdAt", "}", "{", "key", "{", "createdAt", BCON_INT32(1),
                              "}", "name", "createdAt", "}", "]");
        ok = mongoc_client_command_simple(client, b->db, ix, NULL, NULL, &error);
        bson_destroy(ix);
        t0 = jt_time_mono_ms();
        while (ok && done < n) {
                bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false));
                mongoc_bulk_operation_t *bulk =
                    mongoc_collection_create_bulk_operation_with_opts(c, opts);
                bson_destroy(opts);
                for (int i = 0; i < RAW_INSERT_BATCH && done < n; i++, done++) {
                        bson_oid_t u, s, a;
                        bson_t *doc;
                        bson_oid_init(&u, NULL);
                        bson_oid_init(&s, NULL);
                        bson_oid_init(&a, NULL);
                        doc = BCON_NEW("user", BCON_OID(&u), "song", BCON_OID(&s), "artist",
                                       BCON_OID(&a), "state", done % 2 ? "playing" : "completed",
                                       "duration", BCON_DOUBLE(30.0 + (double)(done % 300)),
                                       "createdAt", BCON_DATE_TIME(b->cutoff_ms + done),
                                       "updatedAt", BCON_DATE_TIME(b->cutoff_ms + done));
                        mongoc_bulk_operation_insert(bulk, doc);
                        bson_destroy(doc);
                }
                ok = mongoc_bulk_operation_execute(bulk, NULL, &error) != 0;
                mongoc_bulk_operation_destroy(bulk);
        }
        if (row) {
                row->seconds = (double)(jt_time_mono_ms() - t0) / 1000;
                row->documents = done;
        }
        if (!ok)
                fprintf(stderr, "joytify-loadtest bench: raw insert: %s\n",
                        jt_mongo_error_text(&error, error.message, sizeof(error.message)));
        mongoc_collection_drop(c, NULL);
        mongoc_collection_destroy(c);
        mongoc_client_pool_push(b->pool, client);
        if (ok)
                jt_bench_say("raw bulk insert: %" PRId64 " playbacks in %.2f s (%.0f/s)", done,
                             row ? row->seconds : 0,
                             row && row->seconds > 0 ? done / row->seconds : 0);
        return ok;
}

/* A client for the bench's own reads and resets, from a pool made anew: the old pool's
 * connections sat idle while a child worked (a generation at full scale is long), the server
 * may have closed them, and a pooled client does not check a socket before using it (the first
 * reset after a long generation then failed with "Broken pipe"). NULL after saying why. */
static mongoc_client_t *own_client(jt_bench_t *b) {
        mongoc_client_pool_t *pool;
        jt_error_t err;

        jt_error_clear(&err);
        if (!(pool = jt_startup_mongo(b->cfg, "joytify-loadtest", &err))) {
                fprintf(stderr, "joytify-loadtest bench: reconnecting: %s\n", err.message);
                return NULL;
        }
        jt_mongo_pool_destroy(b->pool);
        b->pool = pool;
        return mongoc_client_pool_pop(b->pool);
}

/* With playbacks false, the playbacks are not counted (statistics runs delete none, and the
 * local server reads every document it counts: slow at full scale). */
static bool read_state(jt_bench_t *b, bool playbacks, jt_bench_state_t *s) {
        mongoc_client_t *client = own_client(b);
        jt_error_t err;
        bool ok;

        if (!client)
                return false;
        jt_error_clear(&err);
        ok = jt_bench_state_read(client, b->db, b->year, b->mon, playbacks, b->cutoff_ms, s, &err);
        mongoc_client_pool_push(b->pool, client);
        if (!ok)
                fprintf(stderr, "joytify-loadtest bench: reading the final state: %s\n",
                        err.message);
        return ok;
}

/* A floor or baseline run: the loadtest's own command as a child. */
static bool run_single(jt_bench_t *b, const char *variant, const char *job, jt_bench_row_t *row) {
        char logp[1024], name[64];
        char *argv[40] = {b->loadtest, (char *)variant, (char *)job};
        int n = 3;
        jt_bench_usage_t u = {0};
        int64_t t0;

        if (strcmp(job, "stats") == 0) {
                argv[n++] = "--month";
                argv[n++] = b->month;
        } else {
                argv[n++] = "--at";
                argv[n++] = b->at_arg;
        }
        argv[n++] = "--mongo-uri";
        argv[n++] = (char *)jt_config_str(b->cfg, "mongo-uri");
        argv[n++] = "--db";
        argv[n++] = (char *)b->db;
        argv[n] = NULL;
        snprintf(name, sizeof(name), "%s-%s", job, variant);
        jt_bench_log_path(b, name, logp, sizeof(logp));
        jt_bench_say("%s %s", variant, job);
        t0 = jt_time_mono_ms();
        if (!jt_bench_proc_run(argv, logp, &u)) {
                fprintf(stderr, "joytify-loadtest bench: %s %s failed (exit %d), see %s\n", variant,
                        job, u.exit_code, logp);
                return false;
        }
        row->seconds = (double)(jt_time_mono_ms() - t0) / 1000;
        row->peak_rss_mb = u.peak_rss_kb / 1024.0;
        row->cpu_s = u.cpu_s;
        return true;
}

static bool same_state(const jt_bench_state_t *a, const jt_bench_state_t *b) {
        return a->entries == b->entries && a->entries_hash == b->entries_hash &&
               a->notified == b->notified && a->notified_hash == b->notified_hash &&
               a->playbacks == b->playbacks && a->older == b->older;
}

static bool count_month(jt_bench_t *b) {
        mongoc_client_t *client = own_client(b);
        mongoc_collection_t *c;
        int64_t start, end;
        jt_error_t err;
        bson_error_t error;
        bson_t *filter;

        if (!client)
                return false;
        c = mongoc_client_get_collection(client, b->db, "playbacks");
        jt_job_ids_month_range(b->month, &start, &end, &err);
        filter = BCON_NEW("createdAt", "{", "$gte", BCON_DATE_TIME(start), "$lt",
                          BCON_DATE_TIME(end), "}");
        b->month_playbacks = mongoc_collection_count_documents(c, filter, NULL, NULL, NULL, &error);
        bson_destroy(filter);
        mongoc_collection_destroy(c);
        mongoc_client_pool_push(b->pool, client);
        return b->month_playbacks >= 0;
}

static bool reset(jt_bench_t *b, bool entries_too) {
        mongoc_client_t *client = own_client(b);
        jt_error_t err;
        bool ok;

        if (!client)
                return false;
        jt_error_clear(&err);
        ok = entries_too ? jt_bench_state_reset_stats(client, b->db, b->year, b->mon, &err)
                         : jt_bench_state_reset_notifications(client, b->db, &err);
        mongoc_client_pool_push(b->pool, client);
        if (!ok)
                fprintf(stderr, "joytify-loadtest bench: resetting: %s\n", err.message);
        return ok;
}

/* Each run's row is written as soon as it is known (results.csv and report.md), so that a
 * bench stopped after hours keeps what it measured. */
static void note_state(jt_bench_t *b, jt_bench_row_t *row, const jt_bench_state_t *s,
                       const jt_bench_state_t *ref, bool *all_ok) {
        jt_bench_state_describe(s, row->state, sizeof(row->state));
        row->state_ok = same_state(s, ref);
        *all_ok = *all_ok && row->state_ok;
        jt_bench_say("  %.2f s; state %s%s", row->seconds, row->state,
                     row->state_ok ? "" : "  <-- DIFFERENT from the first run");
        jt_bench_report_write_rows(&b->results, b->out, *all_ok);
}

static bool stats_phase(jt_bench_t *b, bool *states_ok) {
        jt_bench_state_t ref, s;
        jt_bench_row_t *row;

        if (!generate(b, "the statistics and cleanup runs", false) || !count_month(b))
                return false;
        for (int i = 0; i < b->worker_counts; i++) {
                if (!reset(b, true) ||
                    !(row = jt_bench_report_add(&b->results, "stats", "fleet", b->workers[i])) ||
                    !jt_bench_fleet_run(b, "stats", b->workers[i], row) ||
                    !read_state(b, false, &s))
                        return false;
                row->documents = b->month_playbacks;
                if (i == 0)
                        ref = s;
                note_state(b, row, &s, &ref, states_ok);
        }
        /* The floor reads; the original's step needs the entries the fleet wrote. */
        if (!(row = jt_bench_report_add(&b->results, "stats", "floor", 0)) ||
            !run_single(b, "floor", "stats", row) || !read_state(b, false, &s))
                return false;
        row->documents = b->month_playbacks;
        note_state(b, row, &s, &ref, states_ok);
        if (!reset(b, false) || !(row = jt_bench_report_add(&b->results, "stats", "baseline", 0)) ||
            !run_single(b, "baseline", "stats", row) || !read_state(b, false, &s))
                return false;
        row->documents = 0; /* the original read no playbacks: the app kept entries up to date */
        note_state(b, row, &s, &ref, states_ok);
        return true;
}

static bool cleanup_phase(jt_bench_t *b, bool *states_ok) {
        jt_bench_state_t ref = {0}, s;
        jt_bench_row_t *row;
        int runs = 2 + b->worker_counts;

        for (int i = 0; i < runs; i++) {
                const char *variant = i == 0 ? "floor" : i == 1 ? "baseline" : "fleet";
                int workers = i < 2 ? 0 : b->workers[i - 2];
                /* Each run deletes the same playbacks: the statistics' writes and the job
                 * ledger go, and from the second run on the deleted playbacks come back. */
                if ((i == 0 && !b->generated && !generate(b, "the cleanup runs", false)) ||
                    (i > 0 && !generate(b, "the next cleanup run", true)) || !reset(b, true) ||
                    !(row = jt_bench_report_add(&b->results, "cleanup", variant, workers)))
                        return false;
                if (!(workers ? jt_bench_fleet_run(b, "cleanup", workers, row)
                              : run_single(b, variant, "cleanup", row)) ||
                    !read_state(b, true, &s))
                        return false;
                /* Every run starts from the generated playbacks (the restore refuses to run
                 * unless the old ones are gone and inserts every one of them, or fails). */
                row->documents =
                    jt_config_int(b->cfg, "users") * jt_config_int(b->cfg, "playbacks-per-user") -
                    s.playbacks;
                if (i == 0)
                        ref = s;
                note_state(b, row, &s, &ref, states_ok);
        }
        return true;
}

static bool setup(jt_bench_t *b) {
        time_t now = time(NULL);
        struct tm tm;
        jt_error_t err;

        if (!jt_bench_proc_program("joytify-producer", b->producer, sizeof(b->producer)) ||
            !jt_bench_proc_program("joytify-worker", b->worker, sizeof(b->worker)) ||
            !jt_bench_proc_program("joytify-loadtest", b->loadtest, sizeof(b->loadtest))) {
                fprintf(stderr, "joytify-loadtest bench: joytify-producer and joytify-worker must "
                                "be beside joytify-loadtest (installed) or in the build tree\n");
                return false;
        }
        /* The generator's clock is the first of this month (the previous month is complete
         * and has the recent 30 % of the playbacks); the cleanup's is this minute. */
        gmtime_r(&now, &tm);
        snprintf(b->now_arg, sizeof(b->now_arg), "%04d-%02d-01T00:00Z", tm.tm_year + 1900,
                 tm.tm_mon + 1);
        b->at_s = (int64_t)now - (int64_t)now % 60;
        jt_time_format_iso(b->at_s, b->at_arg, sizeof(b->at_arg));
        b->cutoff_ms = (b->at_s - 60 * 86400) * 1000;
        jt_time_format_iso(b->cutoff_ms / 1000, b->cutoff_iso, sizeof(b->cutoff_iso));
        jt_error_clear(&err);
        if (!jt_job_ids_month(NULL, (int64_t)now * 1000, b->month, &err)) {
                fprintf(stderr, "joytify-loadtest bench: %s\n", err.message);
                return false;
        }
        sscanf(b->month, "%d-%d", &b->year, &b->mon);
        return true;
}

static void mongo_server_name(jt_bench_t *b) {
        mongoc_client_t *client = mongoc_client_pool_pop(b->pool);
        bson_t *cmd = BCON_NEW("buildInfo", BCON_INT32(1));
        bson_t reply;
        bson_iter_t it;

        snprintf(b->results.mongo_server, sizeof(b->results.mongo_server), "unknown");
        if (mongoc_client_command_simple(client, "admin", cmd, NULL, &reply, NULL) &&
            bson_iter_init_find(&it, &reply, "version") && BSON_ITER_HOLDS_UTF8(&it))
                snprintf(b->results.mongo_server, sizeof(b->results.mongo_server),
                         "reports version %s", bson_iter_utf8(&it, NULL));
        bson_destroy(&reply);
        bson_destroy(cmd);
        mongoc_client_pool_push(b->pool, client);
}

int jt_bench_run(const jt_config_t *cfg) {
        jt_bench_t *b = calloc(1, sizeof(*b));
        char dir[1100];
        jt_error_t err;
        bool states_ok = true, ok = false;
        int rc = JT_EXIT_FAILURE;
        int64_t t0 = jt_time_mono_ms();

        if (!b)
                return JT_EXIT_FAILURE;
        b->cfg = cfg;
        b->out = jt_config_str(cfg, "out");
        /* The bench drops and regenerates its database: never the application's by default. */
        b->db = jt_config_is_set(cfg, "db") ? jt_config_str(cfg, "db") : "joytify-bench";
        if (strcmp(b->db, "mern-joytify") == 0 || strcmp(b->db, "mern-joytify-test") == 0) {
                fprintf(stderr,
                        "joytify-loadtest bench: --db %s is the application's database; "
                        "the benchmark drops what it measures: give it its own "
                        "(default joytify-bench)\n",
                        b->db);
                rc = JT_EXIT_USAGE;
                goto done;
        }
        if (!parse_workers(b, jt_config_str(cfg, "workers")) ||
            !parse_jobs(b, jt_config_str(cfg, "jobs")) ||
            !check_playback_reads(jt_config_str(cfg, "playback-reads"))) {
                rc = JT_EXIT_USAGE;
                goto done;
        }
        snprintf(dir, sizeof(dir), "%s/logs", b->out);
        if ((mkdir(b->out, 0755) != 0 && access(b->out, W_OK) != 0) ||
            (mkdir(dir, 0755) != 0 && access(dir, W_OK) != 0)) {
                fprintf(stderr, "joytify-loadtest bench: cannot create %s\n", dir);
                rc = JT_EXIT_USAGE;
                goto done;
        }
        jt_error_clear(&err);
        if (!jt_options_apply_log(cfg, "loadtest", &err) ||
            !(b->pool = jt_startup_mongo(cfg, "joytify-loadtest", &err))) {
                rc = jt_startup_fail(cfg, &err);
                goto done;
        }
        if (!setup(b))
                goto done;
        b->results.users = (int)jt_config_int(cfg, "users");
        b->results.history_months = (int)jt_config_int(cfg, "history-months");
        b->results.playbacks_per_user = (int)jt_config_int(cfg, "playbacks-per-user");
        b->results.users_per_task = (int)jt_bench_users_per_task(cfg);
        b->results.task_budget_s = (int)jt_config_int(cfg, "task-budget");
        snprintf(b->results.playback_reads, sizeof(b->results.playback_reads), "%s",
                 jt_config_str(cfg, "playback-reads"));
        snprintf(b->results.month, sizeof(b->results.month), "%s", b->month);
        snprintf(b->results.cutoff, sizeof(b->results.cutoff), "%s", b->cutoff_iso);
        mongo_server_name(b);
        jt_bench_say("database %s, statistics for %s, cleanup at %s (cutoff %s), report in %s",
                     b->db, b->month, b->at_arg, b->cutoff_iso, b->out);
        ok = raw_insert_floor(b) && (!b->do_stats || stats_phase(b, &states_ok)) &&
             (!b->do_cleanup || cleanup_phase(b, &states_ok));
        if (!jt_bench_report_write(&b->results, b->out, states_ok))
                ok = false;
        if (ok && states_ok) {
                jt_bench_say("done in %.0f s: %s/report.md",
                             (double)(jt_time_mono_ms() - t0) / 1000, b->out);
                rc = JT_EXIT_OK;
        } else if (ok) {
                fprintf(stderr,
                        "joytify-loadtest bench: runs of the same job left different "
                        "states; times are not comparable (see %s/report.md)\n",
                        b->out);
        }
done:
        jt_mongo_pool_destroy(b->pool);
        free(b);
        return rc;
}
