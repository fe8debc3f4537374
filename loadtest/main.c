/* joytify-loadtest: data generator, the original algorithms as a baseline, the database floor,
 * benchmarks, capacity projections, and a Kafka round-trip check of the task codec. */
#include <stdio.h>

#include "jt_config.h"
#include "jt_kafka.h"
#include "jt_options.h"
#include "jt_startup.h"
#include "baseline.h"
#include "capacity.h"
#include "floor.h"
#include "generate.h"
#include "roundtrip.h"

static const jt_opt_t bench_opts[] = {
    {"users", 'u', JT_OPT_INT, "5000", 1, 10000000, NULL, false, "N", "users to generate"},
    {"workers", 0, JT_OPT_STRING, "1,2", 0, 0, NULL, false, "LIST", "worker counts to measure"},
    {"out", 'o', JT_OPT_STRING, "bench-out", 0, 0, NULL, false, "DIR", "report directory"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

static const jt_opt_t *const bench_tables[] = {bench_opts, jt_opts_kafka, jt_opts_mongo,
                                               jt_opts_log, NULL};

static int run_not_yet(const jt_config_t *cfg) {
        fprintf(stderr, "%s: not implemented in this version (see the loadtest issue)\n",
                jt_config_command_line_name(cfg));
        return JT_EXIT_FAILURE;
}

static const jt_command_t commands[] = {
    {"roundtrip", "send Avro-encoded tasks through Kafka and read them back, checked and timed",
     jt_roundtrip_tables, jt_roundtrip_run, NULL},
    {"generate", "make users, stats and playbacks like the original generator", jt_generate_tables,
     jt_generate_run, NULL},
    {"baseline", "run the original single-process algorithms (stats|cleanup)", jt_baseline_tables,
     jt_baseline_run,
     "Arguments: stats (the users with an entry for the month, one notification, $addToSet to\n"
     "the opted-in ones: the original did not compute entries) or cleanup (count, then one\n"
     "deleteMany or a cursor over _ids with bulks of deleteOne and a pause between them).\n"
     "Cleanup deletes: run it on generated data only."},
    {"floor", "the least work the database can do for the same result (stats|cleanup)",
     jt_floor_tables, jt_floor_run,
     "Arguments: stats (one cursor over the month's playbacks, the fields an entry needs) or\n"
     "cleanup (one deleteMany of everything older than the cutoff). Cleanup deletes: run it on\n"
     "generated data only."},
    {"bench", "floor, baseline and the fleet at 1..N workers, with a report", bench_tables,
     run_not_yet, NULL},
    {"capacity", "bytes per user and projected users at a storage limit", jt_capacity_tables,
     jt_capacity_run, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static const jt_program_t program = {
    "joytify-loadtest", "Generates data and measures the Joytify batch fleet.", commands};

int main(int argc, char **argv) {
        return jt_cli_main(&program, argc, argv);
}
