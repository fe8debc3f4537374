/* joytify-notifier: turns job status events into Discord messages (run) and live progress
 * bars (watch). This build carries the option tables and start-up checks; posting lands with
 * the notifier issue. */
#include <stdio.h>

#include "jt_config.h"
#include "jt_kafka.h"
#include "jt_options.h"
#include "jt_startup.h"

static const jt_opt_t run_opts[] = {
    {"webhook-url", 0, JT_OPT_STRING, NULL, 0, 0, "DISCORD_WEBHOOK_URL", true, "URL",
     "Discord webhook (keep it in the environment: it carries a token)"},
    {"timezone", 0, JT_OPT_STRING, "UTC", 0, 0, "DISCORD_TIMEZONE", false, "Area/City",
     "time zone of the times shown in messages"},
    {"progress-messages", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL,
     "keep one message per running job, edited in place"},
    {"sink", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "FILE",
     "with no webhook: write messages here instead of stdout"},
    {"group", 'g', JT_OPT_STRING, "joytify-notifier", 0, 0, NULL, false, "GROUP",
     "consumer group of the notifier"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

static const jt_opt_t watch_opts[] = {
    {"job", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "ID", "show only this job"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

static const jt_opt_t *const run_tables[] = {run_opts, jt_opts_kafka, jt_opts_log, NULL};
static const jt_opt_t *const watch_tables[] = {watch_opts, jt_opts_kafka, jt_opts_log, NULL};

static int run_not_yet(const jt_config_t *cfg) {
        return jt_startup_check_only(cfg, "notifier", false, "consuming status events");
}

static const jt_command_t commands[] = {
    {"run", "post one Discord message per job outcome", run_tables, run_not_yet, NULL},
    {"watch", "live progress bars per job in the terminal", watch_tables, run_not_yet, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static const jt_program_t program = {
    "joytify-notifier", "Reports Joytify job outcomes to Discord and terminals.", commands};

int main(int argc, char **argv) {
        return jt_cli_main(&program, argc, argv);
}
