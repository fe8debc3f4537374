/* joytify-worker: consumes statistics and cleanup tasks and runs them against MongoDB. main()
 * holds the option table; the loop is in worker.c and its parts (worker_private.h), each task
 * kind in its own file. */
#include <stdio.h>

#include "jt_cli.h"
#include "jt_kafka.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_startup.h"
#include "jt_url.h"
#include "app_push.h"
#include "worker.h"

static const jt_opt_t worker_opts[] = {
    {"group", 'g', JT_OPT_STRING, "joytify-workers", 0, 0, "JT_WORKER_GROUP", false, "GROUP",
     "consumer group shared by every worker replica"},
    {"topics", 't', JT_OPT_STRING, "stats,cleanup", 0, 0, NULL, false, "KINDS",
     "task kinds to consume: stats, cleanup or both"},
    {"metrics-addr", 0, JT_OPT_STRING, "127.0.0.1:0", 0, 0, "JT_METRICS_ADDR", false, "HOST:PORT",
     "where /metrics, /livez, /readyz and /healthz are served; a port alone binds 127.0.0.1 "
     "(0.0.0.0:PORT for every interface, as Kubernetes' probes need; port 0: a free port, logged "
     "at start; give each replica on a host its own port)"},
    {"liveness-timeout", 0, JT_OPT_INT, "0", 0, 86400, NULL, false, "SECONDS",
     "/livez (and /healthz) answer 503 once the poll loop has not completed a round for this "
     "long; more than --kafka-timeout and --mongo-timeout. 0: four times the larger of the two, "
     "at least 60 (60 with their defaults)"},
    {"startup-wait", 0, JT_OPT_INT, "0", 0, 86400, NULL, false, "SECONDS",
     "at start, keep trying the brokers and the database for this long while they do not "
     "answer (/readyz answers 503 meanwhile) before giving up with exit code 75; 0: one try "
     "each, bounded by --kafka-timeout and --mongo-timeout"},
    {"max-attempts", 0, JT_OPT_INT, "8", 1, 1000, NULL, false, "N",
     "tries of a task failing for a reason waiting cannot fix (a refused write, a bad reply) "
     "before it goes to the DLQ and its job fails; an outage spends none"},
    {"outage-budget", 0, JT_OPT_INT, "3600", 1, 604800, NULL, false, "SECONDS",
     "how long one task waits out an outage (database or broker unreachable, no primary) "
     "before its job fails; the partition is paused meanwhile"},
    {"retry-backoff-ms", 0, JT_OPT_INT, "500", 1, 600000, NULL, false, "MS",
     "first retry delay; doubles per attempt, with +-25% jitter"},
    {"concurrency", 0, JT_OPT_INT, "1", 1, 64, NULL, false, "N",
     "tasks run at once, each on its own thread; the loop's thread only polls, so that a task "
     "longer than max.poll.interval.ms keeps the worker in its group"},
    {"task-budget", 0, JT_OPT_INT, "30", 1, 86400, NULL, false, "SECONDS",
     "how long a statistics task runs before it records a checkpoint and hands the rest of its "
     "range to a continuation task, when the task does not say (its producer's --task-budget)"},
    {"chunk-users", 0, JT_OPT_INT, "200", 1, 1000, NULL, false, "N",
     "users of a statistics task read, written, notified and checkpointed together: fewer "
     "database requests per user with more, less work redone after a crash and less memory "
     "with fewer"},
    {"chunk-delay-ms", 0, JT_OPT_INT, "0", 0, 60000, NULL, false, "MS",
     "pause between two chunks of a statistics task, to spare the database"},
    {"playback-reads", 0, JT_OPT_STRING, "range", 0, 0, "JT_PLAYBACK_READS", false, "HOW",
     "how a statistics task reads its users' playbacks: range (one cursor over the users' "
     "month, by the {user, createdAt} index: what a MongoDB server answers best) or per-user "
     "(one query per user: for a server that scans the whole collection for a range of users, "
     "as the local stack's does)"},
    {"max-clock-skew", 0, JT_OPT_INT, "300", 1, 86400, NULL, false, "SECONDS",
     "refuse cleanup when this host's clock and the database server's differ by more"},
    {"retry-backoff-max-ms", 0, JT_OPT_INT, "30000", 1, 3600000, NULL, false, "MS",
     "longest retry delay"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

/* jt_opts_cleanup shapes the cleanup job a worker starts when it finishes a statistics job. */
static const jt_opt_t *const worker_tables[] = {worker_opts,   jt_app_push_opts, jt_opts_cleanup,
                                                jt_opts_kafka, jt_opts_mongo,    jt_opts_log,
                                                NULL};

static const jt_command_t commands[] = {
    {NULL,
     "Consumes Joytify statistics and cleanup tasks from Kafka and runs them against "
     "MongoDB; run any number of replicas in one group.",
     worker_tables, jt_worker_run, NULL, NULL,
     "joytify-worker --brokers kafka:9092 --metrics-addr 0.0.0.0:9101 --startup-wait 600"},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

static const jt_program_t program = {"joytify-worker", "Joytify batch worker.", commands,
                                     jt_url_curl_version};

int main(int argc, char **argv) {
        return jt_cli_main(&program, argc, argv);
}
