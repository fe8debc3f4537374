/* The benchmark's fleet runs (bench_fleet.h). */
#include "bench_fleet.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_proc.h"
#include "bench_scrape.h"
#include "jt_job_ids.h"

#define JOB_TIMEOUT_S 7200
#define MAX_WORKERS   64

/* The fleet's workers during a run: their metrics ports and counters at the start, and the
 * largest resident set any of them had (sampled, in case one dies before it can be read). */
typedef struct {
        pid_t pids[MAX_WORKERS];
        int count;
        int ports[MAX_WORKERS];
        double db_requests[MAX_WORKERS], users_read[MAX_WORKERS]; /* at the start */
        bool have_db, have_users; /* every worker exported the metric */
        long max_rss_kb;
} fleet_t;

/* One run's fresh topics (stats, cleanup, status, dlq) and group, so that no run sees another's
 * tasks or offsets. */
typedef struct {
        char topics[4][200], group[200];
        const char *job;
        int workers;
} fleet_run_t;

static const char *const topic_opts[4] = {"--stats-topic", "--cleanup-topic", "--status-topic",
                                          "--dlq-topic"};

static void worker_log(const jt_bench_t *b, const fleet_run_t *run, int w, char *path,
                       size_t size) {
        char name[64];

        snprintf(name, sizeof(name), "%s-fleet%d-worker%d", run->job, run->workers, w + 1);
        jt_bench_log_path(b, name, path, size);
}

static void sample_rss(fleet_t *fl) {
        for (int w = 0; w < fl->count; w++) {
                long hwm, rss;
                if (jt_bench_proc_mem(fl->pids[w], &hwm, &rss) && rss > fl->max_rss_kb)
                        fl->max_rss_kb = rss;
        }
}

/* Each worker's counters now; with start, the increase since fl's start figures go into the
 * row (an absent metric on any worker leaves its figure unknown, -1). */
static void scrape(fleet_t *fl, bool start, jt_bench_row_t *row) {
        double db_total = 0, users_total = 0;

        if (start)
                fl->have_db = fl->have_users = true;
        for (int w = 0; w < fl->count; w++) {
                char *body = jt_bench_scrape_get(fl->ports[w]);
                double db = 0, users = 0;
                bool has_db = body && jt_bench_scrape_sum(body, JT_BENCH_METRIC_DB_REQUESTS, &db);
                bool has_users =
                    body && jt_bench_scrape_sum(body, JT_BENCH_METRIC_USERS_READ, &users);
                free(body);
                fl->have_db = fl->have_db && has_db;
                fl->have_users = fl->have_users && has_users;
                if (start) {
                        fl->db_requests[w] = db;
                        fl->users_read[w] = users;
                } else {
                        db_total += db - fl->db_requests[w];
                        users_total += users - fl->users_read[w];
                }
        }
        if (!start) {
                row->db_requests = fl->have_db ? (int64_t)(db_total + 0.5) : -1;
                row->users_read = fl->have_users ? (int64_t)(users_total + 0.5) : -1;
        }
}

/* Waits for the ledger to say the job ended, sampling the workers' memory every second; its
 * finish time in wall-clock seconds (the ledger's finishedAt), or < 0. */
static double wait_job(jt_bench_t *b, const char *job_id, bool *failed, fleet_t *fl) {
        mongoc_client_t *client = mongoc_client_pool_pop(b->pool);
        mongoc_collection_t *jobs = mongoc_client_get_collection(client, b->db, "jobs");
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(job_id));
        int64_t deadline_ms = jt_time_wall_ms() + JOB_TIMEOUT_S * 1000, sampled_ms = 0;
        double finished = -1;

        *failed = false;
        while (finished < 0 && jt_time_wall_ms() < deadline_ms) {
                if (jt_time_wall_ms() - sampled_ms >= 1000) {
                        sample_rss(fl);
                        sampled_ms = jt_time_wall_ms();
                }
                mongoc_cursor_t *cur = mongoc_collection_find_with_opts(jobs, filter, NULL, NULL);
                const bson_t *doc;
                bson_iter_t it;
                if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "state") &&
                    BSON_ITER_HOLDS_UTF8(&it)) {
                        const char *state = bson_iter_utf8(&it, NULL);
                        *failed = strcmp(state, "failed") == 0;
                        if (strcmp(state, "finished") == 0 || *failed)
                                finished = bson_iter_init_find(&it, doc, "finishedAt") &&
                                                   BSON_ITER_HOLDS_DATE_TIME(&it)
                                               ? bson_iter_date_time(&it) / 1000.0
                                               : jt_time_wall_ms() / 1000.0;
                }
                mongoc_cursor_destroy(cur);
                if (finished < 0)
                        usleep(100 * 1000);
        }
        bson_destroy(filter);
        mongoc_collection_destroy(jobs);
        mongoc_client_pool_push(b->pool, client);
        return finished;
}

/* Starts the run's workers; false when one could not start (those started are in fl). */
static bool start_workers(jt_bench_t *b, const fleet_run_t *run, fleet_t *fl) {
        char logp[1024];
        char *argv[64];

        for (int w = 0; w < run->workers; w++) {
                int n = 0;
                argv[n++] = b->worker;
                argv[n++] = "--group";
                argv[n++] = (char *)run->group;
                for (int i = 0; i < 4; i++) {
                        argv[n++] = (char *)topic_opts[i];
                        argv[n++] = (char *)run->topics[i];
                }
                /* Statistics runs: the cleanup job a finished statistics job starts must find
                 * nothing to delete, so that every statistics run works on the same data. */
                argv[n++] = "--retention-days";
                argv[n++] = strcmp(run->job, "stats") == 0 ? "36500" : "60";
                argv[n++] = "--metrics-addr";
                argv[n++] = "127.0.0.1:0";
                argv[n++] = "--playback-reads";
                argv[n++] = (char *)jt_config_str(b->cfg, "playback-reads");
                n = jt_bench_common_args(b, argv, n);
                argv[n] = NULL;
                worker_log(b, run, w, logp, sizeof(logp));
                unlink(logp);
                if ((fl->pids[w] = jt_bench_proc_spawn(argv, logp)) < 0)
                        return false;
                fl->count = w + 1;
        }
        return true;
}

/* Every worker has its partitions before the clock starts; then their metrics ports. */
static void wait_assigned(jt_bench_t *b, const fleet_run_t *run, fleet_t *fl) {
        char logp[1024];

        for (int64_t deadline = jt_time_mono_ms() + 60 * 1000; jt_time_mono_ms() < deadline;) {
                int ready = 0;
                for (int w = 0; w < run->workers; w++) {
                        worker_log(b, run, w, logp, sizeof(logp));
                        ready += jt_bench_proc_log_has(logp, "rebalance assigned: ") ? 1 : 0;
                }
                if (ready == run->workers)
                        break;
                usleep(200 * 1000);
        }
        sleep(2); /* the last joiner's rebalance settles */
        for (int w = 0; w < fl->count; w++) {
                worker_log(b, run, w, logp, sizeof(logp));
                fl->ports[w] = jt_bench_scrape_port(logp);
        }
}

/* The producer's command line for the run, and the id of the job it makes. */
typedef struct {
        char *argv[64];
        char shards[16], per_task[16], budget[16];
        char job_id[128];
} producer_args_t;

static void producer_args(jt_bench_t *b, const fleet_run_t *run, producer_args_t *p) {
        int n = 0;

        p->argv[n++] = b->producer;
        p->argv[n++] = (char *)run->job;
        if (strcmp(run->job, "stats") == 0) {
                snprintf(p->shards, sizeof(p->shards), "%lld", jt_config_int(b->cfg, "shards"));
                snprintf(p->per_task, sizeof(p->per_task), "%lld",
                         (long long)jt_bench_users_per_task(b->cfg));
                p->argv[n++] = "--month";
                p->argv[n++] = b->month;
                p->argv[n++] = "--shards";
                p->argv[n++] = p->shards;
                p->argv[n++] = "--users-per-task";
                p->argv[n++] = p->per_task;
                if (jt_config_int(b->cfg, "task-budget") > 0) {
                        snprintf(p->budget, sizeof(p->budget), "%lld",
                                 jt_config_int(b->cfg, "task-budget"));
                        p->argv[n++] = "--task-budget";
                        p->argv[n++] = p->budget;
                }
                snprintf(p->job_id, sizeof(p->job_id), "stats-%s", b->month);
        } else {
                p->argv[n++] = "--at";
                p->argv[n++] = b->at_arg;
                jt_job_ids_cleanup(b->at_s - b->at_s % 60, false, NULL, p->job_id,
                                   sizeof(p->job_id));
        }
        for (int i = 0; i < 4; i++) {
                p->argv[n++] = (char *)topic_opts[i];
                p->argv[n++] = (char *)run->topics[i];
        }
        n = jt_bench_common_args(b, p->argv, n);
        p->argv[n] = NULL;
}

/* Runs the producer and waits for the ledger to say its job finished; the job's seconds from the
 * producer's start, or < 0 after saying why. */
static double run_job(jt_bench_t *b, const fleet_run_t *run, fleet_t *fl, jt_bench_row_t *row) {
        producer_args_t p = {0};
        jt_bench_usage_t u = {0};
        char logp[1024], name[64];
        double t0, end;
        bool ok, failed = false;

        producer_args(b, run, &p);
        snprintf(name, sizeof(name), "%s-fleet%d-producer", run->job, run->workers);
        jt_bench_log_path(b, name, logp, sizeof(logp));
        unlink(logp);
        t0 = jt_time_wall_ms() / 1000.0; /* the ledger's finishedAt is wall-clock time */
        ok = jt_bench_proc_run(p.argv, logp, &u);
        row->cpu_s += u.cpu_s;
        if (!ok) {
                fprintf(stderr, "joytify-loadtest bench: the producer failed (exit %d), see %s\n",
                        u.exit_code, logp);
                return -1;
        }
        if (strcmp(run->job, "stats") == 0) {
                /* What the producer made of --users-per-task and --shards (the most tasks): its
                 * line "N user(s) in R range(s) of up to K users". */
                long long k = jt_bench_proc_log_number_after(logp, "range(s) of up to ");
                if (k > 0)
                        b->results.users_per_task = (int)k;
        }
        end = wait_job(b, p.job_id, &failed, fl);
        if (end < 0 || failed) {
                fprintf(stderr, "joytify-loadtest bench: job %s %s, see %s/logs\n", p.job_id,
                        end < 0 ? "did not finish in time" : "failed", b->out);
                return -1;
        }
        return end - t0;
}

/* Each worker's peak (VmHWM) just before it stops; with the samples and wait4's figure, the
 * largest of them. */
static void stop_workers(fleet_t *fl, jt_bench_row_t *row) {
        jt_bench_usage_t u = {0};

        sample_rss(fl);
        for (int w = 0; w < fl->count; w++) {
                long hwm, rss;
                if (jt_bench_proc_mem(fl->pids[w], &hwm, &rss) && hwm > fl->max_rss_kb)
                        fl->max_rss_kb = hwm;
                kill(fl->pids[w], SIGTERM);
        }
        for (int w = 0; w < fl->count; w++) {
                if (!jt_bench_proc_wait(fl->pids[w], &u))
                        continue;
                row->cpu_s += u.cpu_s;
                if (u.peak_rss_kb > fl->max_rss_kb)
                        fl->max_rss_kb = u.peak_rss_kb;
        }
        row->peak_rss_mb = fl->max_rss_kb / 1024.0;
}

bool jt_bench_fleet_run(jt_bench_t *b, const char *job, int workers, jt_bench_row_t *row) {
        static const char *const kinds[4] = {"stats", "cleanup", "status", "dlq"};
        fleet_run_t run = {.job = job, .workers = workers};
        fleet_t *fl = calloc(1, sizeof(*fl));
        char prefix[160];
        double seconds = -1;
        bool ok;

        if (!fl)
                return false;
        snprintf(prefix, sizeof(prefix), "%s.r%d-%d", b->db, getpid(), ++b->run_seq);
        for (int i = 0; i < 4; i++)
                snprintf(run.topics[i], sizeof(run.topics[i]), "%s.%s", prefix, kinds[i]);
        snprintf(run.group, sizeof(run.group), "%s.workers", prefix);
        jt_bench_say("fleet %s with %d worker%s", job, workers, workers == 1 ? "" : "s");
        ok = start_workers(b, &run, fl);
        if (ok) {
                wait_assigned(b, &run, fl);
                scrape(fl, true, row);
                seconds = run_job(b, &run, fl, row);
                ok = seconds >= 0;
        }
        row->seconds = ok ? seconds : 0;
        if (ok)
                scrape(fl, false, row);
        stop_workers(fl, row);
        free(fl);
        return ok;
}
