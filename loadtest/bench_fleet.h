/* The benchmark's fleet runs: N joytify-workers in a fresh group on fresh topics, then the
 * producer's job, timed from the producer's start to the ledger's finish, with the workers'
 * counters and peak memory. */
#ifndef JT_LOADTEST_BENCH_FLEET_H
#define JT_LOADTEST_BENCH_FLEET_H

#include <stdbool.h>

#include "bench_private.h"
#include "bench_report.h"

/* Runs job ("stats" or "cleanup") with `workers` workers and fills row (seconds, CPU, peak RSS,
 * the workers' requests and users read); false after saying why on stderr. */
bool jt_bench_fleet_run(jt_bench_t *b, const char *job, int workers, jt_bench_row_t *row);

#endif
