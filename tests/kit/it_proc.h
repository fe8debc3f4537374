/* Running program processes from integration tests: start a built binary (fork/exec) with its
 * output in a log file, signal it, wait for it with a bound, read its log, and always end it
 * in teardown, even when the test failed half-way. A child also gets SIGKILL when the test
 * process dies (PR_SET_PDEATHSIG), so a crashed or timed-out test leaves no program running.
 * Include after <cmocka.h>; a failure to start fails the test. */
#ifndef JT_IT_PROC_H
#define JT_IT_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IT_PROC_ARGS_MAX 64
#define IT_PROC_ENV_MAX  16

extern char **environ;

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

static inline int64_t it_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void it_sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
}

/* Starts path with args (NULL-terminated, without argv[0]); env_set (NULL-terminated "K=V",
 * may be NULL) replaces or adds environment variables. The log file is made anew. */
static inline void it_proc_start(it_proc_t *p, const char *name, const char *path,
                                 const char *const *args, const char *const *env_set) {
        const char *argv[IT_PROC_ARGS_MAX + 2];
        char **envp;
        size_t env_n = 0, used;
        int n = 0, fd;
        pid_t parent = getpid();

        memset(p, 0, sizeof(*p));
        snprintf(p->name, sizeof(p->name), "%s", name);
        argv[n++] = path;
        for (const char *const *a = args; *a; a++) {
                if (n > IT_PROC_ARGS_MAX)
                        fail_msg("%s: more than %d arguments", name, IT_PROC_ARGS_MAX);
                argv[n++] = *a;
        }
        argv[n] = NULL;
        for (char **e = environ; *e; e++)
                env_n++;
        envp = calloc(env_n + IT_PROC_ENV_MAX + 1, sizeof(*envp));
        if (!envp)
                fail_msg("%s: out of memory", name);
        env_n = 0;
        for (char **e = environ; *e; e++) {
                bool replaced = false;
                for (const char *const *s = env_set; s && *s && !replaced; s++) {
                        const char *eq = strchr(*s, '=');
                        size_t klen = eq ? (size_t)(eq - *s) + 1 : strlen(*s);
                        replaced = strncmp(*e, *s, klen) == 0;
                }
                if (!replaced)
                        envp[env_n++] = *e;
        }
        for (const char *const *s = env_set; s && *s; s++) {
                if (s - env_set >= IT_PROC_ENV_MAX)
                        fail_msg("%s: more than %d environment settings", name, IT_PROC_ENV_MAX);
                envp[env_n++] = (char *)*s;
        }
        envp[env_n] = NULL;

        used = (size_t)snprintf(p->line, sizeof(p->line), "%s", path);
        for (int i = 1; i < n && used < sizeof(p->line); i++)
                used += (size_t)snprintf(p->line + used, sizeof(p->line) - used, " %s", argv[i]);

        snprintf(p->log_path, sizeof(p->log_path), "/tmp/jt-it-proc-XXXXXX");
        fd = mkstemp(p->log_path);
        if (fd < 0)
                fail_msg("%s: mkstemp %s: %s", name, p->log_path, strerror(errno));
        p->started_ms = it_now_ms();
        p->pid = fork();
        if (p->pid < 0)
                fail_msg("%s: fork: %s", name, strerror(errno));
        if (p->pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127); /* the test died before prctl took effect */
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
                execve(path, (char *const *)argv, envp);
                fprintf(stderr, "execve %s: %s\n", path, strerror(errno));
                _exit(127);
        }
        close(fd);
        free(envp);
}

/* Reaps the process if it has exited; true while it runs. */
static inline bool it_proc_running(it_proc_t *p) {
        pid_t r;

        if (p->pid <= 0 || p->reaped)
                return false;
        r = waitpid(p->pid, &p->status, WNOHANG);
        if (r == p->pid || (r < 0 && errno == ECHILD)) {
                p->reaped = true;
                p->ended_ms = it_now_ms();
                return false;
        }
        return true;
}

/* Waits up to timeout_ms for the process to exit; true when it has. */
static inline bool it_proc_wait(it_proc_t *p, int timeout_ms) {
        int64_t deadline = it_now_ms() + timeout_ms;

        while (it_proc_running(p)) {
                if (it_now_ms() >= deadline)
                        return false;
                it_sleep_ms(20);
        }
        return true;
}

/* The exit code of a reaped process; 128 + signal when a signal ended it; -1 when it runs. */
static inline int it_proc_exit_code(const it_proc_t *p) {
        if (!p->reaped)
                return -1;
        if (WIFEXITED(p->status))
                return WEXITSTATUS(p->status);
        if (WIFSIGNALED(p->status))
                return 128 + WTERMSIG(p->status);
        return -1;
}

static inline void it_proc_signal(it_proc_t *p, int sig) {
        if (p->pid > 0 && !p->reaped)
                kill(p->pid, sig);
}

/* Sends sig and waits up to timeout_ms. Returns the exit code, or -1 when the process did not
 * exit in time (it is then killed, so nothing is left running). *secs: signal to exit. */
static inline int it_proc_stop(it_proc_t *p, int sig, int timeout_ms, double *secs) {
        int64_t sent = it_now_ms();
        bool exited;

        it_proc_signal(p, sig);
        exited = it_proc_wait(p, timeout_ms);
        if (secs)
                *secs = (double)((exited ? p->ended_ms : it_now_ms()) - sent) / 1000.0;
        if (!exited) {
                it_proc_signal(p, SIGKILL);
                it_proc_wait(p, 5000);
                return -1;
        }
        return it_proc_exit_code(p);
}

/* Teardown: ends the process if it still runs (SIGKILL, no assertion) and removes its log. */
static inline void it_proc_cleanup(it_proc_t *p) {
        if (p->pid > 0 && !p->reaped) {
                it_proc_signal(p, SIGKILL);
                it_proc_wait(p, 5000);
        }
        if (p->log_path[0])
                unlink(p->log_path);
        p->log_path[0] = '\0';
}

/* The last size-1 bytes of the process's log (whole lines when possible), NUL-terminated. */
static inline const char *it_proc_log_tail(const it_proc_t *p, char *buf, size_t size) {
        FILE *f = p->log_path[0] ? fopen(p->log_path, "r") : NULL;
        size_t got = 0;
        long len;

        buf[0] = '\0';
        if (!f)
                return buf;
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        if (len > (long)size - 1) {
                fseek(f, len - (long)size + 1, SEEK_SET);
        } else {
                fseek(f, 0, SEEK_SET);
        }
        got = fread(buf, 1, size - 1, f);
        buf[got] = '\0';
        fclose(f);
        if (len > (long)size - 1) {
                char *nl = strchr(buf, '\n');
                if (nl && nl[1])
                        memmove(buf, nl + 1, strlen(nl + 1) + 1);
        }
        return buf;
}

/* Whether the process's log contains text (a whole read; logs of tests are small). */
static inline bool it_proc_log_contains(const it_proc_t *p, const char *text) {
        FILE *f = p->log_path[0] ? fopen(p->log_path, "r") : NULL;
        char *data;
        long len;
        bool found;

        if (!f)
                return false;
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        data = malloc((size_t)len + 1);
        if (!data) {
                fclose(f);
                return false;
        }
        data[fread(data, 1, (size_t)len, f)] = '\0';
        fclose(f);
        found = strstr(data, text) != NULL;
        free(data);
        return found;
}

#endif
