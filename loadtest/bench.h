/* joytify-loadtest bench: in one run, on identical data each time (generated once, reset between
 * runs), the database floor, the original algorithms (baseline) and the fleet (producer + N
 * workers over real Kafka) for both jobs; every run's final state must match before times are
 * compared. Writes DIR/report.md, DIR/results.csv and gnuplot plots. */
#ifndef JT_LOADTEST_BENCH_H
#define JT_LOADTEST_BENCH_H

#include "jt_config.h"

extern const jt_opt_t *const jt_bench_tables[];

int jt_bench_run(const jt_config_t *cfg);

#endif
