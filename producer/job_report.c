/* Printing a sent job's outcome (job_report.h), in the words the producer always used. */
#include "job_report.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "jt_log.h"
#include "jt_time.h"

#define LINE_MAX_BYTES 2048 /* as much as a log line holds */

/* One line of the report: text on stdout (info) or stderr, or with --log-format json a log
 * line of that level, so that the scheduler's journal (its stdout and stderr) holds JSON
 * objects only. */
static void __attribute__((format(printf, 2, 3))) say(jt_log_level_t level, const char *fmt, ...) {
        char text[LINE_MAX_BYTES];
        va_list ap;

        va_start(ap, fmt);
        if (jt_log_get_format() == JT_LOG_FORMAT_JSON) {
                vsnprintf(text, sizeof(text), fmt, ap);
                jt_log(level, "%s", text);
        } else {
                FILE *out = level >= JT_LOG_WARN ? stderr : stdout;
                vfprintf(out, fmt, ap);
                fputc('\n', out);
        }
        va_end(ap);
}

jt_stats_job_params_t jt_job_report_stats_params(const jt_config_t *cfg, const char *month,
                                                 bool test_mode, const char *run_id) {
        return (jt_stats_job_params_t){.month = month,
                                       .test_mode = test_mode,
                                       .run_id = run_id,
                                       .users_per_task = jt_config_int(cfg, "users-per-task"),
                                       .max_tasks = (int32_t)jt_config_int(cfg, "shards"),
                                       .task_budget_s = (int32_t)jt_config_int(cfg, "task-budget"),
                                       .retention_days =
                                           (int32_t)jt_config_int(cfg, "retention-days")};
}

static int report_emit(const jt_config_t *cfg, bool ok, const jt_emit_result_t *r,
                       const jt_error_t *err) {
        const char *prog = jt_config_command_line_name(cfg);

        if (!ok) {
                say(JT_LOG_ERROR, "%s: %s", prog, err->message);
                return err->domain == JT_ERR_CONFIG ? JT_EXIT_USAGE : JT_EXIT_FAILURE;
        }
        switch (r->outcome) {
        case JT_EMIT_DRY_RUN:
                say(JT_LOG_INFO, "job %s (dry run): %zu task(s) for %s", r->job_id, r->line_count,
                    r->topic);
                for (size_t i = 0; i < r->line_count; i++)
                        say(JT_LOG_INFO, "  %s", r->lines[i]);
                say(JT_LOG_INFO, "dry run: no ledger entry written, nothing sent");
                return JT_EXIT_OK;
        case JT_EMIT_ALREADY_SENT:
                say(JT_LOG_INFO, "job %s already exists (%s): nothing sent", r->job_id, r->info);
                return JT_EXIT_OK;
        case JT_EMIT_BUSY:
                say(JT_LOG_INFO,
                    "job %s is being sent by another producer right now (%s): nothing sent",
                    r->job_id, r->info);
                return JT_EXIT_OK;
        case JT_EMIT_EMPTY:
                say(JT_LOG_INFO, "job %s: nothing to do, finished at once (0 tasks)", r->job_id);
                return JT_EXIT_OK;
        case JT_EMIT_SENT:
                say(JT_LOG_INFO, "job %s: %zu task(s) sent to %s (%d partition(s))", r->job_id,
                    r->tasks_sent, r->topic, (int)r->partitions);
                return JT_EXIT_OK;
        case JT_EMIT_REFUSED:
                say(JT_LOG_ERROR, "%s: job %s refused, nothing sent: %s", prog, r->job_id, r->info);
                return JT_EXIT_USAGE;
        case JT_EMIT_FAILED:
                break;
        }
        say(JT_LOG_ERROR, "%s: job %s: no outcome", prog, r->job_id);
        return JT_EXIT_FAILURE;
}

int jt_job_report_stats(const jt_config_t *cfg, bool ok, const jt_stats_job_result_t *r,
                        const jt_error_t *err) {
        if (ok && (r->emit.outcome == JT_EMIT_SENT || r->emit.outcome == JT_EMIT_DRY_RUN)) {
                if (r->plan_reused)
                        say(JT_LOG_INFO, "plan of %zu range(s) read from the job's ledger entry",
                            r->ranges);
                else
                        say(JT_LOG_INFO,
                            "%" PRId64 " user(s) in %zu range(s) of up to %" PRId64 " users",
                            r->users, r->ranges, r->users_per_task);
                if (r->skipped > 0)
                        say(JT_LOG_WARN,
                            "%s: warning: %" PRId64 " user id(s) are not ObjectIds: no range "
                            "holds them, their statistics are not computed",
                            jt_config_command_line_name(cfg), r->skipped);
        }
        return report_emit(cfg, ok, &r->emit, err);
}

int jt_job_report_cleanup(const jt_config_t *cfg, bool ok, const jt_cleanup_job_result_t *r,
                          const jt_error_t *err) {
        if (r->planned) {
                char cutoff[JT_TIME_ISO_BUF];
                int retention = (int)jt_config_int(cfg, "retention-days");
                int max_ranges = (int)jt_config_int(cfg, "max-ranges");
                if (r->older)
                        say(JT_LOG_INFO,
                            "playbacks older than %d ranges before the cutoff: one task covers "
                            "everything before the first range (--max-ranges %d)",
                            max_ranges - 1, max_ranges);
                jt_time_format_iso(r->cutoff_ms / 1000, cutoff, sizeof(cutoff));
                say(JT_LOG_INFO, "cutoff %s (retention %d days): %s", cutoff, retention,
                    r->found ? "playbacks older than the cutoff found"
                             : "nothing older than the cutoff");
        }
        return report_emit(cfg, ok, &r->emit, err);
}
