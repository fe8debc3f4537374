/* Running program processes from integration tests (it_proc.h). */
#include "it_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "it_cmocka.h"
#include "jt_time.h"

extern char **environ;

void it_sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
}

void it_proc_start(it_proc_t *p, const char *name, const char *path, const char *const *args,
                   const char *const *env_set) {
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
        p->started_ms = jt_time_mono_ms();
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

bool it_proc_running(it_proc_t *p) {
        pid_t r;

        if (p->pid <= 0 || p->reaped)
                return false;
        r = waitpid(p->pid, &p->status, WNOHANG);
        if (r == p->pid || (r < 0 && errno == ECHILD)) {
                p->reaped = true;
                p->ended_ms = jt_time_mono_ms();
                return false;
        }
        return true;
}

bool it_proc_wait(it_proc_t *p, int timeout_ms) {
        int64_t deadline = jt_time_mono_ms() + timeout_ms;

        while (it_proc_running(p)) {
                if (jt_time_mono_ms() >= deadline)
                        return false;
                it_sleep_ms(20);
        }
        return true;
}

int it_proc_exit_code(const it_proc_t *p) {
        if (!p->reaped)
                return -1;
        if (WIFEXITED(p->status))
                return WEXITSTATUS(p->status);
        if (WIFSIGNALED(p->status))
                return 128 + WTERMSIG(p->status);
        return -1;
}

void it_proc_signal(it_proc_t *p, int sig) {
        if (p->pid > 0 && !p->reaped)
                kill(p->pid, sig);
}

int it_proc_stop(it_proc_t *p, int sig, int timeout_ms, double *secs) {
        int64_t sent = jt_time_mono_ms();
        bool exited;

        it_proc_signal(p, sig);
        exited = it_proc_wait(p, timeout_ms);
        if (secs)
                *secs = (double)((exited ? p->ended_ms : jt_time_mono_ms()) - sent) / 1000.0;
        if (!exited) {
                it_proc_signal(p, SIGKILL);
                it_proc_wait(p, 5000);
                return -1;
        }
        return it_proc_exit_code(p);
}

void it_proc_cleanup(it_proc_t *p) {
        if (p->pid > 0 && !p->reaped) {
                it_proc_signal(p, SIGKILL);
                it_proc_wait(p, 5000);
        }
        if (p->log_path[0])
                unlink(p->log_path);
        p->log_path[0] = '\0';
}

const char *it_proc_log_tail(const it_proc_t *p, char *buf, size_t size) {
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

bool it_proc_log_contains(const it_proc_t *p, const char *text) {
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
