/* joytify-loadtest: data generator, the original algorithms as a baseline, the database floor,
 * benchmarks, capacity projections, and a Kafka round-trip check of the task codec. */
#include <stdio.h>

#include "jt_cli.h"
#include "jt_kafka.h"
#include "jt_options.h"
#include "jt_startup.h"
#include "baseline.h"
#include "bench.h"
#include "capacity.h"
#include "floor.h"
#include "generate.h"
#include "roundtrip.h"

static const jt_command_t commands[] = {
    {"roundtrip", "send Avro-encoded tasks through Kafka and read them back, checked and timed",
     jt_roundtrip_tables, jt_roundtrip_run, NULL, NULL,
     "joytify-loadtest roundtrip --count 10000 --brokers 127.0.0.1:9092"},
    {"generate", "make users, stats and playbacks like the original generator", jt_generate_tables,
     jt_generate_run, NULL, NULL, "joytify-loadtest generate --users 1000 --db joytify-load"},
    {"baseline", "run the original single-process algorithms (stats|cleanup)", jt_baseline_tables,
     jt_baseline_run,
     "Arguments: stats (the users with an entry for the month, one notification, $addToSet to\n"
     "the opted-in ones: the original did not compute entries) or cleanup (count, then one\n"
     "deleteMany or a cursor over _ids with bulks of deleteOne and a pause between them).\n"
     "Cleanup deletes: run it on generated data only.",
     "stats|cleanup", "joytify-loadtest baseline stats --month 2026-10 --db joytify-load"},
    {"floor", "the least work the database can do for the same result (stats|cleanup)",
     jt_floor_tables, jt_floor_run,
     "Arguments: stats (one cursor over the month's playbacks, the fields an entry needs) or\n"
     "cleanup (one deleteMany of everything older than the cutoff). Cleanup deletes: run it on\n"
     "generated data only.",
     "stats|cleanup", "joytify-loadtest floor cleanup --retention-days 60 --db joytify-load"},
    {"bench", "floor, baseline and the fleet at 1..N workers, with a report", jt_bench_tables,
     jt_bench_run,
     "In one run, on identical data each time (database joytify-bench unless --db names\n"
     "another; it is dropped and generated once, and between runs the statistics' writes are\n"
     "removed and the playbacks a cleanup deleted put back): a raw bulk-insert floor, then for "
     "the\n"
     "statistics job the fleet (producer + N workers over Kafka) at each --workers count, the\n"
     "floor and the original's step, then for the cleanup job the floor, the original\n"
     "algorithm and the fleet at each count. Runs of a job must leave the same final state\n"
     "(entries, notifications, playbacks) or the bench fails. Writes DIR/report.md,\n"
     "DIR/results.csv (with the fleet's database requests and users read per user, from the\n"
     "workers' /metrics, and the workers' peak RSS), gnuplot plots (time_by_workers.png,\n"
     "throughput.png, rss.png, cost_per_user.png) and every program's log in DIR/logs.",
     NULL, "joytify-loadtest bench --users 5000 --workers 1,2,4 --out bench-out"},
    {"capacity", "bytes per user and projected users at a storage limit", jt_capacity_tables,
     jt_capacity_run, NULL, NULL,
     "joytify-loadtest capacity --storage-limit-mb 512 --db joytify-load"},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

static const jt_program_t program = {
    "joytify-loadtest", "Generates data and measures the Joytify batch fleet.", commands, NULL};

int main(int argc, char **argv) {
        return jt_cli_main(&program, argc, argv);
}
