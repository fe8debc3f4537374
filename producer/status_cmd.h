/* `joytify-producer status`: the fleet at a glance (jt_fleet_view.h) as a table for people or
 * JSON for scripts, and an exit code that makes it a check. */
#ifndef JT_PRODUCER_STATUS_CMD_H
#define JT_PRODUCER_STATUS_CMD_H

#include <stdint.h>

#include "jt_config.h"

/* Extra paragraphs of `joytify-producer status --help`. */
#define JT_STATUS_CMD_HELP                                                                         \
        "Shows every job of the ledger created within --since (newest first, at most\n"            \
        "--max-jobs): kind, state, tasks done/total, records so far, start, duration, the last\n"  \
        "failure and its reason, who holds the send or finalize claim and until when; the\n"       \
        "worker group's members and each task partition's lag as the broker reports them (so\n"    \
        "lag shows with no worker running); the dead letters per job (replay --dlq --list\n"       \
        "shows them decoded); and the schedule's next fire times for --stats-cron and\n"           \
        "--cleanup-cron. A running job is stuck when the ledger shows no progress for\n"           \
        "--stuck-after. DURATION is N followed by s, m, h, d or w (90m, 7d).\n\n"                  \
        "Exit status: 0 no job failed or stuck, 1 a job failed or stuck, 2 bad usage or an\n"      \
        "unknown --job, 75 a server that does not answer or a part of the view that could not\n"   \
        "be read (the message names it): ask again later.\n"

/* The command's run function (jt_command_t.run). */
int jt_status_cmd_run(const jt_config_t *cfg);

/* "90m", "7d", "3600" (seconds) ... as milliseconds; false on anything else. */
bool jt_status_cmd_parse_duration(const char *text, int64_t *ms);

#endif
