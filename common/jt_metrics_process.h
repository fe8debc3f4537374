/* The standard process metrics every Prometheus client library serves (process_cpu_seconds_total,
 * process_resident_memory_bytes, process_start_time_seconds, process_open_fds, process_max_fds),
 * read from the process's own /proc entries only (the units' ProcSubset=pid hides the rest). */
#ifndef JT_METRICS_PROCESS_H
#define JT_METRICS_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
        bool cpu_known, rss_known, start_known, fds_known, max_fds_known;
        double cpu_seconds; /* user + system */
        double rss_bytes;
        double start_seconds; /* since the epoch */
        int64_t open_fds;
        int64_t max_fds;
} jt_metrics_process_t;

/* Reads the process's figures; what cannot be read stays unknown (and is not rendered). */
void jt_metrics_process_read(jt_metrics_process_t *p);

/* The exposition text of p (malloc'ed, NUL-terminated; NULL when memory runs out). */
char *jt_metrics_process_format(const jt_metrics_process_t *p);

/* jt_metrics_process_read, then _format: the render's hook. */
char *jt_metrics_process_render(void);

#endif
