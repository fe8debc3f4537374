/* joytify-notifier: turns job status events into Discord messages (run) and live progress
 * bars (watch). */
#include <stdio.h>

#include "jt_cli.h"
#include "jt_options.h"
#include "jt_url.h"
#include "run.h"
#include "watch.h"

static const jt_opt_t run_opts[] = {
    {"webhook-url", 0, JT_OPT_STRING, NULL, 0, 0, "DISCORD_WEBHOOK_URL", true, "URL",
     "Discord webhook, https (http only to a loopback address); keep it in the environment: it "
     "carries a token. Without one, messages go to stdout or --sink"},
    {"timezone", 0, JT_OPT_STRING, "UTC", 0, 0, "DISCORD_TIMEZONE", false, "Area/City",
     "time zone of the times shown in messages"},
    {"message-style", 0, JT_OPT_STRING, "embed", 0, 0, "JT_MESSAGE_STYLE", false, "STYLE",
     "embed: one embed per outcome with the fleet's details (job, month, cutoff, next steps); "
     "original: the original Lambda's plain Markdown text, posted as content "
     "(docs/notifier-messages.md)"},
    {"progress-messages", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL,
     "keep one message per running job, edited in place"},
    {"progress-interval", 0, JT_OPT_INT, "5", 1, 3600, NULL, false, "SECONDS",
     "at most one edit of a progress message this often"},
    {"sink", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "FILE",
     "with no webhook: append the messages' Markdown here instead of stdout"},
    {"logs-url", 0, JT_OPT_STRING, NULL, 0, 0, "JT_LOGS_URL", false, "URL",
     "link to the fleet's logs shown under each message"},
    {"group", 'g', JT_OPT_STRING, "joytify-notifier", 0, 0, NULL, false, "GROUP",
     "consumer group of the notifier (and the scope of its record of posts)"},
    {"max-age", 0, JT_OPT_INT, "24", 0, 87600, NULL, false, "HOURS",
     "do not post outcomes older than this (a new group reads the whole topic); 0: no limit"},
    {"claim-lease", 0, JT_OPT_INT, "15", 1, 3600, NULL, false, "SECONDS",
     "how long another notifier waits before posting a message this one was posting"},
    {"http-timeout", 0, JT_OPT_INT, "15", 1, 300, NULL, false, "SECONDS",
     "bound of one request to Discord"},
    {"retry-backoff-max-ms", 0, JT_OPT_INT, "30000", 100, 600000, NULL, false, "MS",
     "longest wait between retries after a 5xx or a network error, and between tries of an "
     "event of an unknown schema"},
    {"schema-dir", 0, JT_OPT_STRING, NULL, 0, 0, "JT_SCHEMA_DIR", false, "DIR",
     "writer schemas (TYPE.vN.avsc) newer than this build's, read at start and again before "
     "each try of a held event of an unknown schema"},
    {"metrics-addr", 0, JT_OPT_STRING, "127.0.0.1:0", 0, 0, "JT_METRICS_ADDR", false, "HOST:PORT",
     "where /metrics, /livez (the loop goes round), /readyz and /healthz are served (port 0: a "
     "free port, logged at start)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

static const jt_opt_t watch_opts[] = {
    {"job", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "ID",
     "show only this job (and the cleanup job a statistics job starts)"},
    {"since", 0, JT_OPT_INT, "60", 0, 10080, NULL, false, "MINUTES",
     "read events from this long ago; 0: the whole topic"},
    {"until-done", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL,
     "exit when every job shown has ended (exit 1 if one failed)"},
    {"timeout", 0, JT_OPT_INT, "0", 0, 86400, NULL, false, "SECONDS",
     "with --until-done: give up (exit 1) after this long; 0: never"},
    {"interval", 0, JT_OPT_INT, "500", 50, 60000, NULL, false, "MS", "redraw this often"},
    {"json", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL,
     "JSON lines even on a terminal (the default when stdout is not one)"},
    {"timezone", 0, JT_OPT_STRING, "UTC", 0, 0, "DISCORD_TIMEZONE", false, "Area/City",
     "time zone of the times shown"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

static const jt_opt_t *const run_tables[] = {run_opts, jt_opts_kafka, jt_opts_mongo, jt_opts_log,
                                             NULL};
static const jt_opt_t *const watch_tables[] = {watch_opts, jt_opts_kafka, jt_opts_log, NULL};

static const char run_details[] =
    "Consumes the status topic in its own group and posts one Discord message per job outcome\n"
    "(statistics finished or failed; cleanup completed, completed in test mode, partially\n"
    "completed, failed; other JSON found on the topic as formatted JSON), as an embed or, with\n"
    "--message-style original, as the original Lambda's plain Markdown. Each outcome is posted\n"
    "once: the notifier_posts collection records it before the offset is stored, so a restart,\n"
    "a crash or a second notifier posts nothing twice. HTTP 429 waits Discord's retry_after and\n"
    "rate-limit headers; 5xx, 408, 425 and network errors are retried with backoff; another 4xx\n"
    "is logged and skipped; 401/403/404 (webhook deleted) and 3xx (a redirect: never followed,\n"
    "the token would go along) stop the notifier (exit 1) without losing the message. The\n"
    "webhook token never appears in logs and travels only over https (http to loopback, for\n"
    "tests).\n";

static const char watch_details[] =
    "Reads the status topic (no consumer group, nothing committed) from --since minutes ago and\n"
    "draws one progress bar per job: percent, tasks, users or playbacks, rate, ETA, workers,\n"
    "state. When stdout is not a terminal, prints one JSON line per change instead.\n";

static const jt_command_t commands[] = {
    {"run", "post one Discord message per job outcome", run_tables, jt_notifier_run, run_details,
     NULL, "joytify-notifier run --brokers kafka:9092 --timezone Europe/Paris --metrics-addr 9102"},
    {"watch", "live progress bars per job in the terminal", watch_tables, jt_notifier_watch,
     watch_details, NULL, "joytify-notifier watch --job stats-2026-10 --until-done --timeout 3600"},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

static const jt_program_t program = {"joytify-notifier",
                                     "Reports Joytify job outcomes to Discord and terminals.",
                                     commands, jt_url_curl_version};

int main(int argc, char **argv) {
        return jt_cli_main(&program, argc, argv);
}
