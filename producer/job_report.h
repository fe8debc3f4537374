/* What the job commands (stats, cleanup, schedule) print about a job they sent, and the exit
 * code it maps to: the library (jt_job_emit.h) only returns results. */
#ifndef JT_PRODUCER_JOB_REPORT_H
#define JT_PRODUCER_JOB_REPORT_H

#include "jt_cleanup_job.h"
#include "jt_config.h"
#include "jt_stats_job.h"

/* The stats and cleanup options of cfg (the producer's option tables) as job parameters. */
jt_stats_job_params_t jt_job_report_stats_params(const jt_config_t *cfg, const char *month,
                                                 bool test_mode, const char *run_id);

/* Print the outcome (stdout) or the error (stderr) and return the exit code: 0 sent or
 * nothing to send, 1 a failure mid-way (running it again finishes the job), 2 bad input,
 * other params than the existing job's, or a refused month (a server unreachable at start is
 * jt_startup_fail's 75). */
int jt_job_report_stats(const jt_config_t *cfg, bool ok, const jt_stats_job_result_t *result,
                        const jt_error_t *err);
int jt_job_report_cleanup(const jt_config_t *cfg, bool ok, const jt_cleanup_job_result_t *result,
                          const jt_error_t *err);

#endif
