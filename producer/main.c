/* joytify-producer: turns scheduled jobs into Kafka tasks (stats, cleanup), runs the schedule
 * daemon and replays topics. main() only holds the option tables; each command has its file. */
#include <stdio.h>

#include "jt_cli.h"
#include "jt_kafka.h"
#include "jt_options.h"
#include "jt_startup.h"
#include "cleanup_cmd.h"
#include "replay.h"
#include "schedule.h"
#include "stats_cmd.h"
#include "status_cmd.h"
#include "topics_cmd.h"

/* Shared by the one-shot commands and the scheduler: what shapes the tasks of a job. */
static const jt_opt_t stats_params[] = {
    {"users-per-task", 0, JT_OPT_INT, "2000", 1, 10000000, NULL, false, "N",
     "users per statistics task: the users are cut into contiguous id ranges of N users, one "
     "task each"},
    {"shards", 0, JT_OPT_INT, "16", 1, 4096, NULL, false, "N",
     "the most tasks of a statistics job: past N ranges the users per task grow instead"},
    {"task-budget", 0, JT_OPT_INT, "30", 1, 86400, NULL, false, "SECONDS",
     "work per statistics task before it records a checkpoint and a continuation task takes "
     "over"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

static const jt_opt_t job_flags[] = {
    {"test-mode", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL, "work on the test-* collections"},
    {"run-id", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "ID",
     "force a new run of the same job under this id"},
    {"dry-run", 'n', JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL, "print the tasks, send nothing"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

static const jt_opt_t stats_opts[] = {
    {"month", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "YYYY-MM",
     "month to process (default: the previous complete UTC month)"},
    JT_OPT_RETENTION_DAYS,
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

static const jt_opt_t cleanup_opts[] = {
    {"triggered-by", 0, JT_OPT_STRING, "manual", 0, 0, NULL, false, "WHO",
     "who started the job (shown in reports)"},
    {"at", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "TS",
     "the fire time the cutoff counts from, ISO 8601 UTC, not in the future (default: now)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

static const jt_opt_t schedule_opts[] = {
    JT_SCHEDULE_OPT_STATS_CRON,
    JT_SCHEDULE_OPT_CLEANUP_CRON,
    {"catch-up-months", 0, JT_OPT_INT, "2", 0, JT_SCHEDULE_CATCH_UP_MAX, NULL, false, "N",
     "after downtime, fire the statistics of up to N missed months before the latest, oldest "
     "first (months after the ledger's newest; 0: the latest only); months a cleanup may have "
     "cut into are reported and skipped"},
    {"test-mode", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL,
     "fire the jobs on the test-* collections; each statistics fire is its own job, "
     "test-stats-MONTH@FIRE (e.g. --stats-cron \"*/5 * * * *\", the original's test schedule)"},
    {"clock", 0, JT_OPT_STRING, NULL, 0, 0, "JT_SCHEDULE_CLOCK", false, "START[xSPEED]",
     "for tests: a simulated clock starting at START (ISO 8601 UTC) running SPEED times faster"},
    /* No environment variable: JT_METRICS_ADDR in a host's shared environment file is the
     * notifier's, and two programs cannot serve one port. */
    {"metrics-addr", 0, JT_OPT_STRING, "127.0.0.1:0", 0, 0, NULL, false, "HOST:PORT",
     "where /metrics, /livez (the loop goes round), /readyz and /healthz are served; a port "
     "alone binds 127.0.0.1 (port 0: a free port, logged at start)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

static const jt_opt_t replay_opts[] = {
    {"topic", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "TOPIC", "topic whose offsets move"},
    {"group", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "GROUP", "consumer group to move"},
    {"to-timestamp", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "TS",
     "move to the first message at or after this time (ISO 8601 UTC)"},
    {"to-offset", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "beginning|end|N",
     "move to this offset"},
    {"dlq", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL,
     "re-send dead-lettered tasks to their original topic"},
    {"filter-job", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "ID", "with --dlq: only this job"},
    {"list", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL,
     "with --dlq: show each dead letter decoded (headers too), move nothing"},
    {"json", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL, "with --dlq --list: as JSON"},
    {"partition", 0, JT_OPT_INT, NULL, 0, 100000, NULL, false, "P",
     "with --dlq and --offset: only the dead letter at this DLQ partition and offset"},
    {"offset", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "O",
     "with --dlq and --partition: the DLQ offset of that one dead letter"},
    {"discard", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL,
     "with --dlq --partition --offset: record the dead letter as handled without re-sending it"},
    {"force", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL,
     "move offsets even while the group has active members; with --dlq --partition --offset: "
     "act on a dead letter handled before"},
    {"dry-run", 'n', JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL, "show the moves, change nothing"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

static const jt_opt_t status_opts[] = {
    {"json", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL, "print JSON for scripts"},
    {"job", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "ID",
     "only this job (and its dead letters)"},
    {"since", 0, JT_OPT_STRING, "30d", 0, 0, NULL, false, "DURATION",
     "jobs created within this time (0: any time, still at most --max-jobs)"},
    {"stuck-after", 0, JT_OPT_STRING, "30m", 0, 0, NULL, false, "DURATION",
     "a running job with no progress for this long is stuck (exit 1)"},
    {"max-jobs", 0, JT_OPT_INT, "200", 1, 10000, NULL, false, "N",
     "show at most N jobs, newest first"},
    {"max-dead-letters", 0, JT_OPT_INT, "500", 1, 100000, NULL, false, "N",
     "read at most N dead letters"},
    {"group", 'g', JT_OPT_STRING, "joytify-workers", 0, 0, "JT_WORKER_GROUP", false, "GROUP",
     "the workers' consumer group, whose members and lag are shown"},
    JT_SCHEDULE_OPT_STATS_CRON,
    JT_SCHEDULE_OPT_CLEANUP_CRON,
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

static const jt_opt_t *const stats_tables[] = {
    stats_opts, stats_params, job_flags, jt_opts_kafka, jt_opts_mongo, jt_opts_log, NULL};
static const jt_opt_t *const cleanup_tables[] = {
    cleanup_opts, jt_opts_cleanup, job_flags, jt_opts_kafka, jt_opts_mongo, jt_opts_log, NULL};
static const jt_opt_t *const schedule_tables[] = {
    schedule_opts, stats_params, jt_opts_cleanup, jt_opts_kafka, jt_opts_mongo, jt_opts_log, NULL};
static const jt_opt_t *const status_tables[] = {status_opts, jt_opts_kafka, jt_opts_mongo,
                                                jt_opts_log, NULL};
static const jt_opt_t *const replay_tables[] = {replay_opts, jt_opts_kafka, jt_opts_log, NULL};
static const jt_opt_t *const topics_tables[] = {jt_opts_kafka, jt_opts_log, NULL};

static const jt_command_t commands[] = {
    {"stats", "emit the monthly statistics job, one task per range of user ids", stats_tables,
     jt_stats_cmd_run, NULL, NULL,
     "joytify-producer stats --month 2026-10 --brokers kafka:9092 --dry-run"},
    {"cleanup", "emit the playback cleanup job, one task per date range", cleanup_tables,
     jt_cleanup_cmd_run, NULL, NULL,
     "joytify-producer cleanup --retention-days 60 --brokers kafka:9092"},
    {"schedule", "run both jobs on their UTC cron schedules, catching up missed months",
     schedule_tables, jt_schedule_run, NULL, NULL,
     "joytify-producer schedule --stats-cron '0 2 1 * *' --cleanup-cron off"},
    {"replay", "move a consumer group's offsets, or re-send dead-lettered tasks", replay_tables,
     jt_replay_run, JT_REPLAY_HELP, NULL,
     "joytify-producer replay --topic joytify.tasks.stats --group joytify-workers "
     "--to-timestamp 2026-11-01T00:00Z --dry-run"},
    {"status",
     "show jobs, workers, lag, dead letters and the schedule; exit 1 on a failed or stuck job",
     status_tables, jt_status_cmd_run, JT_STATUS_CMD_HELP, NULL,
     "joytify-producer status --since 7d --stuck-after 1h --brokers kafka:9092"},
    {"topics", "create the missing topics with their settings; report differing ones",
     topics_tables, jt_topics_cmd_run, NULL, NULL,
     "joytify-producer topics --replication-factor 3 --min-insync-replicas 2 --dlq-retention 28"},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

static const jt_program_t program = {"joytify-producer",
                                     "Schedules Joytify batch jobs and emits their tasks to Kafka.",
                                     commands, NULL};

int main(int argc, char **argv) {
        return jt_cli_main(&program, argc, argv);
}
