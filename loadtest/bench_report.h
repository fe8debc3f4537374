/* The benchmark's results: one row per measured run, written as results.csv, report.md (times
 * with ratios to the floor and the baseline, the state check, the targets) and gnuplot plots. */
#ifndef JT_LOADTEST_BENCH_REPORT_H
#define JT_LOADTEST_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#define JT_BENCH_MAX_ROWS 64

typedef struct {
        char job[16];     /* "stats", "cleanup", "generate", "insert" */
        char variant[16]; /* "floor", "baseline", "fleet", "generator", "raw" */
        int workers;      /* fleet: replicas; else 0 */
        double seconds;
        int64_t documents;  /* playbacks read (stats), deleted (cleanup), inserted */
        double peak_rss_mb; /* the largest process of the run (a worker for the fleet) */
        double cpu_s;       /* all processes of the run */
        /* The fleet: increases during the job of the workers' joytify_db_requests_total (every
         * command) and joytify_users_read_total; -1 when a worker did not export the metric or
         * the run is not the fleet's. */
        int64_t db_requests;
        int64_t users_read;
        char state[200]; /* jt_bench_state_describe, "" when not applicable */
        bool state_ok;   /* equal to the phase's reference */
} jt_bench_row_t;

typedef struct {
        jt_bench_row_t rows[JT_BENCH_MAX_ROWS];
        int count;
        int users, playbacks_per_user, history_months;
        int users_per_task;      /* the statistics job's --users-per-task */
        int task_budget_s;       /* the statistics job's --task-budget; 0: the default */
        bool reused;             /* the dataset was kept from an earlier bench (--reuse-data) */
        char playback_reads[16]; /* the workers' --playback-reads */
        char month[8], cutoff[32], mongo_server[64];
} jt_bench_results_t;

jt_bench_row_t *jt_bench_report_add(jt_bench_results_t *r, const char *job, const char *variant,
                                    int workers);

/* The workers' counters the fleet's rows are made of, read by name from /metrics. */
#define JT_BENCH_METRIC_DB_REQUESTS "joytify_db_requests_total"
#define JT_BENCH_METRIC_USERS_READ  "joytify_users_read_total"

/* results.csv and report.md of the rows so far (after each run); false after saying why. */
bool jt_bench_report_write_rows(const jt_bench_results_t *r, const char *dir, bool states_ok);

/* results.csv, report.md, plots.gp and the PNGs (gnuplot) in dir; false after saying why. */
bool jt_bench_report_write(const jt_bench_results_t *r, const char *dir, bool states_ok);

#endif
