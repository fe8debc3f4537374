/* Process metrics from /proc/self: CPU time and start time from stat, resident memory from
 * statm, descriptors from fd/ and limits. Boot time comes from CLOCK_BOOTTIME rather than
 * /proc/stat, which a unit's ProcSubset=pid hides. */
#include "jt_metrics_process.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "jt_metrics_text.h"

/* utime, stime and starttime (fields 14, 15 and 22 of /proc/self/stat), in clock ticks. The
 * command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'. */
static bool read_stat(unsigned long long *utime, unsigned long long *stime,
                      unsigned long long *start) {
        char line[1024], *p;
        FILE *f = fopen("/proc/self/stat", "re");
        bool ok;

        if (!f)
                return false;
        ok = fgets(line, sizeof(line), f) != NULL;
        fclose(f);
        if (!ok || !(p = strrchr(line, ')')))
                return false;
        /* After ")": state (3), then fields 4..13 skipped, 14 utime, 15 stime, 16..21 skipped,
         * 22 starttime. */
        return sscanf(p + 1,
                      " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                      "%*d %llu",
                      utime, stime, start) == 3;
}

static void read_cpu_and_start(jt_metrics_process_t *p) {
        unsigned long long utime, stime, start;
        long hz = sysconf(_SC_CLK_TCK);
        struct timespec boot, wall;

        if (hz <= 0 || !read_stat(&utime, &stime, &start))
                return;
        p->cpu_known = true;
        p->cpu_seconds = (double)(utime + stime) / (double)hz;
        if (clock_gettime(CLOCK_BOOTTIME, &boot) != 0 || clock_gettime(CLOCK_REALTIME, &wall) != 0)
                return;
        /* The boot's wall time is now less the time since boot. */
        p->start_known = true;
        p->start_seconds = ((double)wall.tv_sec + wall.tv_nsec / 1e9) -
                           ((double)boot.tv_sec + boot.tv_nsec / 1e9) + (double)start / (double)hz;
}

static void read_rss(jt_metrics_process_t *p) {
        unsigned long long size, resident;
        long page = sysconf(_SC_PAGESIZE);
        FILE *f = fopen("/proc/self/statm", "re");

        if (!f)
                return;
        if (page > 0 && fscanf(f, "%llu %llu", &size, &resident) == 2) {
                p->rss_known = true;
                p->rss_bytes = (double)resident * (double)page;
        }
        fclose(f);
}

static void read_fds(jt_metrics_process_t *p) {
        DIR *d = opendir("/proc/self/fd");
        struct rlimit lim;
        struct dirent *e;
        int64_t n = 0;

        if (d) {
                while ((e = readdir(d)))
                        if (e->d_name[0] != '.')
                                n++;
                closedir(d);
                p->fds_known = true;
                p->open_fds = n > 0 ? n - 1 : 0; /* less the directory's own descriptor */
        }
        if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
                p->max_fds_known = true;
                p->max_fds = (int64_t)lim.rlim_cur;
        }
}

void jt_metrics_process_read(jt_metrics_process_t *p) {
        memset(p, 0, sizeof(*p));
        read_cpu_and_start(p);
        read_rss(p);
        read_fds(p);
}

static void sample(jt_metrics_text_t *t, const char *name, const char *type, const char *help,
                   const char *value) {
        jt_metrics_text_header(t, name, type, help);
        jt_metrics_text_printf(t, "%s %s\n", name, value);
}

char *jt_metrics_process_format(const jt_metrics_process_t *p) {
        jt_metrics_text_t t = {0};
        char v[64];

        if (p->cpu_known) {
                snprintf(v, sizeof(v), "%.6g", p->cpu_seconds);
                sample(&t, "process_cpu_seconds_total", "counter",
                       "Total user and system CPU time spent in seconds.", v);
        }
        if (p->rss_known) {
                snprintf(v, sizeof(v), "%.17g", p->rss_bytes);
                sample(&t, "process_resident_memory_bytes", "gauge",
                       "Resident memory size in bytes.", v);
        }
        if (p->start_known) {
                snprintf(v, sizeof(v), "%.3f", p->start_seconds);
                sample(&t, "process_start_time_seconds", "gauge",
                       "Start time of the process since unix epoch in seconds.", v);
        }
        if (p->fds_known) {
                snprintf(v, sizeof(v), "%" PRId64, p->open_fds);
                sample(&t, "process_open_fds", "gauge", "Number of open file descriptors.", v);
        }
        if (p->max_fds_known) {
                snprintf(v, sizeof(v), "%" PRId64, p->max_fds);
                sample(&t, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                       v);
        }
        return jt_metrics_text_take(&t);
}

char *jt_metrics_process_render(void) {
        jt_metrics_process_t p;

        jt_metrics_process_read(&p);
        return jt_metrics_process_format(&p);
}
