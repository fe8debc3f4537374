/* Reading a worker's Prometheus counters for the benchmark: one GET of /metrics on the port the
 * worker logged, and the sum of one metric's samples over all its labels. */
#ifndef JT_LOADTEST_BENCH_SCRAPE_H
#define JT_LOADTEST_BENCH_SCRAPE_H

#include <stdbool.h>

/* The port from the worker's log line "serving /metrics ... (port N)", or -1. */
int jt_bench_scrape_port(const char *log_path);

/* GET http://127.0.0.1:port/metrics; the body (the caller frees it), or NULL when the worker
 * did not answer within a few seconds. */
char *jt_bench_scrape_get(int port);

/* The sum over every label set of metric `name` in a Prometheus text body (lines
 * `name value` and `name{...} value`; not name_suffix). False when no sample has that
 * name: a worker that does not export it gives no figure rather than a zero. */
bool jt_bench_scrape_sum(const char *body, const char *name, double *sum);

#endif
