/* Series that modules render themselves beside the registry's own (jt_metrics.h): the process
 * metrics for every program, the scheduler's fire times (jt_metrics_schedule.h), the notifier's
 * posts (jt_metrics_notifier.h). Each module keeps its state behind its own lock and writes its
 * text when /metrics is asked for. */
#ifndef JT_METRICS_COLLECTORS_H
#define JT_METRICS_COLLECTORS_H

#include <stdbool.h>

typedef struct jt_metrics_collectors_s jt_metrics_collectors_t;

/* Returns a module's exposition text (malloc'ed, NUL-terminated; NULL when memory runs out). */
typedef char *(*jt_metrics_collect_t)(void *opaque);

#define JT_METRICS_COLLECTORS_MAX 8

jt_metrics_collectors_t *jt_metrics_collectors_new(void);

/* Calls every destroy function, then frees c. NULL is a no-op. */
void jt_metrics_collectors_destroy(jt_metrics_collectors_t *c);

/* Adds a module under `name` (a static string), taking ownership of opaque: destroy(opaque)
 * runs in jt_metrics_collectors_destroy, or at once when adding fails (a name taken, more than
 * JT_METRICS_COLLECTORS_MAX). Thread-safe. */
bool jt_metrics_collectors_add(jt_metrics_collectors_t *c, const char *name,
                               jt_metrics_collect_t collect, void (*destroy)(void *), void *opaque);

/* The opaque added under name, or NULL. Thread-safe. */
void *jt_metrics_collectors_find(jt_metrics_collectors_t *c, const char *name);

/* The process metrics, then each module's text in the order added (malloc'ed; NULL when memory
 * runs out). */
char *jt_metrics_collectors_render(jt_metrics_collectors_t *c);

#endif
