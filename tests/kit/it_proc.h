/* Running program processes from integration tests: start a built binary (fork/exec) with its
 * output in a log file, signal it, wait for it with a bound, read its log, and always end it
 * in teardown, even when the test failed half-way. A child also gets SIGKILL when the test
 * process dies (PR_SET_PDEATHSIG), so a crashed or timed-out test leaves no program running.
 * A failure to start fails the test (cmocka's fail_msg). Times are jt_time_mono_ms. */
#ifndef JT_IT_PROC_H
#define JT_IT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IT_PROC_ARGS_MAX 64
#define IT_PROC_ENV_MAX  16

typedef struct {
        pid_t pid;          /* 0: never started */
        bool reaped;        /* it exited and was waited for; status holds how */
        int status;         /* waitpid status once reaped */
        char name[64];      /* for messages: "worker 1" */
        char log_path[128]; /* its stdout and stderr */
        char line[2048];    /* the command line, for messages */
        int64_t started_ms; /* monotonic */
        int64_t ended_ms;   /* monotonic, once reaped */
} it_proc_t;

/* Sleeps ms milliseconds, also when a signal interrupts the sleep. */
void it_sleep_ms(int ms);

/* Starts path with args (NULL-terminated, without argv[0]); env_set (NULL-terminated "K=V",
 * may be NULL) replaces or adds environment variables. The log file is made anew. */
void it_proc_start(it_proc_t *p, const char *name, const char *path, const char *const *args,
                   const char *const *env_set);

/* Reaps the process if it has exited; true while it runs. */
bool it_proc_running(it_proc_t *p);

/* Waits up to timeout_ms for the process to exit; true when it has. */
bool it_proc_wait(it_proc_t *p, int timeout_ms);

/* The exit code of a reaped process; 128 + signal when a signal ended it; -1 when it runs. */
int it_proc_exit_code(const it_proc_t *p);

void it_proc_signal(it_proc_t *p, int sig);

/* Sends sig and waits up to timeout_ms. Returns the exit code, or -1 when the process did not
 * exit in time (it is then killed, so nothing is left running). *secs: signal to exit. */
int it_proc_stop(it_proc_t *p, int sig, int timeout_ms, double *secs);

/* Teardown: ends the process if it still runs (SIGKILL, no assertion) and removes its log. */
void it_proc_cleanup(it_proc_t *p);

/* The last size-1 bytes of the process's log (whole lines when possible), NUL-terminated. */
const char *it_proc_log_tail(const it_proc_t *p, char *buf, size_t size);

/* Whether the process's log contains text (a whole read; logs of tests are small). */
bool it_proc_log_contains(const it_proc_t *p, const char *text);

#endif
