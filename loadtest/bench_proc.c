/* Child programs of the benchmark (bench_proc.h). */
#include "bench_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

bool jt_bench_proc_program(const char *program, char *path, size_t size) {
        char self[PATH_MAX], *dir;
        const char *sub = strchr(program, '-') ? strchr(program, '-') + 1 : program;
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        if (n <= 0)
                return false;
        self[n] = '\0';
        dir = dirname(self);
        snprintf(path, size, "%s/%s", dir, program);
        if (access(path, X_OK) == 0)
                return true;
        snprintf(path, size, "%s/../%s/%s", dir, sub, program);
        return access(path, X_OK) == 0;
}

pid_t jt_bench_proc_spawn(char *const argv[], const char *log_path) {
        pid_t pid = fork();

        if (pid != 0)
                return pid;
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || null < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0 ||
            dup2(null, STDIN_FILENO) < 0)
                _exit(127);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
}

bool jt_bench_proc_wait(pid_t pid, jt_bench_usage_t *usage) {
        struct rusage ru;
        int status = 0;
        pid_t r;

        memset(usage, 0, sizeof(*usage));
        do
                r = wait4(pid, &status, 0, &ru);
        while (r < 0 && errno == EINTR);
        if (r != pid)
                return false;
        usage->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        usage->peak_rss_kb = ru.ru_maxrss;
        usage->cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        return true;
}

bool jt_bench_proc_run(char *const argv[], const char *log_path, jt_bench_usage_t *usage) {
        pid_t pid = jt_bench_proc_spawn(argv, log_path);
        return pid > 0 && jt_bench_proc_wait(pid, usage) && usage->exit_code == 0;
}

bool jt_bench_proc_mem(pid_t pid, long *hwm_kb, long *rss_kb) {
        char path[64], line[256];
        FILE *f;
        bool found = false;

        *hwm_kb = *rss_kb = 0;
        snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
        if (!(f = fopen(path, "r")))
                return false;
        while (fgets(line, sizeof(line), f)) {
                if (strncmp(line, "VmHWM:", 6) == 0)
                        found = (*hwm_kb = atol(line + 6)) > 0;
                else if (strncmp(line, "VmRSS:", 6) == 0)
                        *rss_kb = atol(line + 6);
        }
        fclose(f);
        return found;
}

bool jt_bench_proc_log_has(const char *log_path, const char *text) {
        FILE *f = fopen(log_path, "r");
        char line[4096];
        bool found = false;

        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, text) != NULL;
        fclose(f);
        return found;
}

long long jt_bench_proc_log_number_after(const char *log_path, const char *text) {
        FILE *f = fopen(log_path, "r");
        char line[4096];
        long long n = -1;

        if (!f)
                return -1;
        while (n < 0 && fgets(line, sizeof(line), f)) {
                const char *at = strstr(line, text);
                if (at && sscanf(at + strlen(text), "%lld", &n) != 1)
                        n = -1;
        }
        fclose(f);
        return n;
}
