/* Printing a sent job's outcome (job_report.h), in the words the producer always used. */
#include "job_report.h"

#include <inttypes.h>
#include <stdio.h>

#include "jt_time.h"

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
                fprintf(stderr, "%s: %s\n", prog, err->message);
                return err->domain == JT_ERR_CONFIG ? JT_EXIT_USAGE : JT_EXIT_FAILURE;
        }
        switch (r->outcome) {
        case JT_EMIT_DRY_RUN:
                printf("job %s (dry run): %zu task(s) for %s\n", r->job_id, r->line_count,
                       r->topic);
                for (size_t i = 0; i < r->line_count; i++)
                        printf("  %s\n", r->lines[i]);
                printf("dry run: no ledger entry written, nothing sent\n");
                return JT_EXIT_OK;
        case JT_EMIT_ALREADY_SENT:
                printf("job %s already exists (%s): nothing sent\n", r->job_id, r->info);
                return JT_EXIT_OK;
        case JT_EMIT_BUSY:
                printf("job %s is being sent by another producer right now (%s): nothing sent\n",
                       r->job_id, r->info);
                return JT_EXIT_OK;
        case JT_EMIT_EMPTY:
                printf("job %s: nothing to do, finished at once (0 tasks)\n", r->job_id);
                return JT_EXIT_OK;
        case JT_EMIT_SENT:
                printf("job %s: %zu task(s) sent to %s (%d partition(s))\n", r->job_id,
                       r->tasks_sent, r->topic, (int)r->partitions);
                return JT_EXIT_OK;
        case JT_EMIT_REFUSED:
                fprintf(stderr, "%s: job %s refused, nothing sent: %s\n", prog, r->job_id, r->info);
                return JT_EXIT_USAGE;
        case JT_EMIT_FAILED:
                break;
        }
        fprintf(stderr, "%s: job %s: no outcome\n", prog, r->job_id);
        return JT_EXIT_FAILURE;
}

int jt_job_report_stats(const jt_config_t *cfg, bool ok, const jt_stats_job_result_t *r,
                        const jt_error_t *err) {
        if (ok && (r->emit.outcome == JT_EMIT_SENT || r->emit.outcome == JT_EMIT_DRY_RUN)) {
                if (r->plan_reused)
                        printf("plan of %zu range(s) read from the job's ledger entry\n",
                               r->ranges);
                else
                        printf("%" PRId64 " user(s) in %zu range(s) of up to %" PRId64 " users\n",
                               r->users, r->ranges, r->users_per_task);
                if (r->skipped > 0)
                        fprintf(stderr,
                                "%s: warning: %" PRId64 " user id(s) are not ObjectIds: no range "
                                "holds them, their statistics are not computed\n",
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
                        printf("playbacks older than %d ranges before the cutoff: one task covers "
                               "everything before the first range (--max-ranges %d)\n",
                               max_ranges - 1, max_ranges);
                jt_time_format_iso(r->cutoff_ms / 1000, cutoff, sizeof(cutoff));
                printf("cutoff %s (retention %d days): %s\n", cutoff, retention,
                       r->found ? "playbacks older than the cutoff found"
                                : "nothing older than the cutoff");
        }
        return report_emit(cfg, ok, &r->emit, err);
}
