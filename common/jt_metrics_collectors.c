/* The list of modules that render their own series: fixed size, one lock, texts joined at each
 * render with the process metrics first. */
#include "jt_metrics_collectors.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "jt_metrics_process.h"

typedef struct {
        const char *name;
        jt_metrics_collect_t collect;
        void (*destroy)(void *);
        void *opaque;
} collector_t;

struct jt_metrics_collectors_s {
        pthread_mutex_t lock;
        collector_t list[JT_METRICS_COLLECTORS_MAX];
        int count;
};

jt_metrics_collectors_t *jt_metrics_collectors_new(void) {
        jt_metrics_collectors_t *c = calloc(1, sizeof(*c));

        if (c)
                pthread_mutex_init(&c->lock, NULL);
        return c;
}

void jt_metrics_collectors_destroy(jt_metrics_collectors_t *c) {
        if (!c)
                return;
        for (int i = 0; i < c->count; i++)
                if (c->list[i].destroy)
                        c->list[i].destroy(c->list[i].opaque);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

static int index_of(const jt_metrics_collectors_t *c, const char *name) {
        for (int i = 0; i < c->count; i++)
                if (strcmp(c->list[i].name, name) == 0)
                        return i;
        return -1;
}

bool jt_metrics_collectors_add(jt_metrics_collectors_t *c, const char *name,
                               jt_metrics_collect_t collect, void (*destroy)(void *),
                               void *opaque) {
        bool added = false;

        if (c && name && collect) {
                pthread_mutex_lock(&c->lock);
                if (c->count < JT_METRICS_COLLECTORS_MAX && index_of(c, name) < 0) {
                        c->list[c->count++] = (collector_t){name, collect, destroy, opaque};
                        added = true;
                }
                pthread_mutex_unlock(&c->lock);
        }
        if (!added && destroy)
                destroy(opaque);
        return added;
}

void *jt_metrics_collectors_find(jt_metrics_collectors_t *c, const char *name) {
        void *opaque = NULL;
        int i;

        if (!c || !name)
                return NULL;
        pthread_mutex_lock(&c->lock);
        if ((i = index_of(c, name)) >= 0)
                opaque = c->list[i].opaque;
        pthread_mutex_unlock(&c->lock);
        return opaque;
}

/* Appends text (taking it) to *out; false when text is NULL or memory runs out. */
static bool join(char **out, size_t *len, char *text) {
        size_t n = text ? strlen(text) : 0;
        char *grown;

        if (!text)
                return false;
        if (!(grown = realloc(*out, *len + n + 1))) {
                free(text);
                return false;
        }
        memcpy(grown + *len, text, n + 1);
        *out = grown;
        *len += n;
        free(text);
        return true;
}

char *jt_metrics_collectors_render(jt_metrics_collectors_t *c) {
        char *out = NULL;
        size_t len = 0;
        bool ok = join(&out, &len, jt_metrics_process_render());

        if (c) {
                pthread_mutex_lock(&c->lock);
                for (int i = 0; ok && i < c->count; i++)
                        ok = join(&out, &len, c->list[i].collect(c->list[i].opaque));
                pthread_mutex_unlock(&c->lock);
        }
        if (!ok) {
                free(out);
                return NULL;
        }
        return out;
}
