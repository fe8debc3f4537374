/* Child programs for the benchmark: the fleet's other programs found next to this one, started
 * with their output in a log file, and waited for with their peak RSS and CPU time (wait4). */
#ifndef JT_LOADTEST_BENCH_PROC_H
#define JT_LOADTEST_BENCH_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
        int exit_code;    /* -1 when killed by a signal */
        long peak_rss_kb; /* ru_maxrss */
        double cpu_s;     /* user + system */
} jt_bench_usage_t;

/* The path of program (joytify-producer, joytify-worker, joytify-loadtest) beside this
 * executable: the same directory (installed) or ../<dir>/ (build tree). False if not found. */
bool jt_bench_proc_program(const char *program, char *path, size_t size);

/* Starts argv (NULL-terminated) with stdout and stderr appended to log_path; -1 on failure. */
pid_t jt_bench_proc_spawn(char *const argv[], const char *log_path);

/* Waits for pid and fills usage. */
bool jt_bench_proc_wait(pid_t pid, jt_bench_usage_t *usage);

/* Runs argv to its end (spawn + wait); false when it could not start or exited non-zero. */
bool jt_bench_proc_run(char *const argv[], const char *log_path, jt_bench_usage_t *usage);

/* A running child's memory from /proc/PID/status: VmHWM (its peak RSS so far) and VmRSS, in
 * kB. False when the process is gone (both 0). */
bool jt_bench_proc_mem(pid_t pid, long *hwm_kb, long *rss_kb);

/* Whether the file contains text (log lines a child wrote). */
bool jt_bench_proc_log_has(const char *log_path, const char *text);

/* The number right after the first occurrence of text in the log, or -1. */
long long jt_bench_proc_log_number_after(const char *log_path, const char *text);

#endif
