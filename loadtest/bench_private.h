/* What the benchmark's files share (bench.c runs the phases, bench_fleet.c the fleet's runs):
 * the state of one bench and the helpers that build its children's command lines. Not a public
 * header: the command's interface is bench.h. */
#ifndef JT_LOADTEST_BENCH_PRIVATE_H
#define JT_LOADTEST_BENCH_PRIVATE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_report.h"
#include "jt_config.h"
#include "jt_time.h"

#define JT_BENCH_MAX_WORKER_COUNTS 8

typedef struct {
        const jt_config_t *cfg;
        mongoc_client_pool_t *pool;
        const char *db, *out;
        char producer[1024], worker[1024], loadtest[1024];
        char month[8], now_arg[32], at_arg[32], cutoff_iso[JT_TIME_ISO_BUF];
        int year, mon;
        int64_t at_s, cutoff_ms, month_playbacks;
        int workers[JT_BENCH_MAX_WORKER_COUNTS], worker_counts;
        int run_seq;
        bool do_stats, do_cleanup;
        bool generated;
        jt_bench_results_t results;
} jt_bench_t;

/* "bench: " and the message, on stdout, flushed (the bench's progress). */
void jt_bench_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* DIR/logs/NAME.log, where a child's output goes. */
void jt_bench_log_path(const jt_bench_t *b, const char *name, char *path, size_t size);

/* Appends the stack's and the bench database's options (--brokers, --mongo-uri, --db) to argv
 * from index n; the next index. */
int jt_bench_common_args(const jt_bench_t *b, char **argv, int n);

/* --users-per-task, or for 0 one range per partition of the task topic (at most 2,000 users). */
int64_t jt_bench_users_per_task(const jt_config_t *cfg);

#endif
