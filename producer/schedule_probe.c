/* The scheduler's probes (schedule_probe.h): a metrics registry named "scheduler" with the
 * schedule gauges, the shared readiness checker, and a liveness timeout that allows a round
 * spent firing a job (a few waits on the servers). */
#include "schedule_probe.h"

#include <stdlib.h>
#include <string.h>

#include "jt_metrics.h"
#include "jt_metrics_schedule.h"
#include "jt_readiness.h"
#include "jt_time.h"

#define SCHEDULES 2 /* "stats", "cleanup" */

struct jt_schedule_probe_s {
        jt_metrics_t *metrics;
        jt_readiness_t *readiness;
        int64_t updated_ms[SCHEDULES]; /* monotonic: the last jt_schedule_probe_fires */
};

jt_schedule_probe_t *jt_schedule_probe_new(const jt_config_t *cfg, jt_error_t *err) {
        jt_schedule_probe_t *p = calloc(1, sizeof(*p));
        int64_t longest = jt_config_int(cfg, "kafka-timeout");

        if (!p) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "scheduler probes: out of memory");
                return NULL;
        }
        if (jt_config_int(cfg, "mongo-timeout") > longest)
                longest = jt_config_int(cfg, "mongo-timeout");
        if (!(p->metrics = jt_metrics_new("scheduler", err)) ||
            !jt_metrics_schedule_attach(p->metrics)) {
                if (p->metrics)
                        jt_error_set(err, JT_ERR_SYSTEM, 0, "scheduler probes: out of memory");
                jt_schedule_probe_destroy(p);
                return NULL;
        }
        jt_metrics_set_liveness_timeout(p->metrics, jt_metrics_liveness_for(longest));
        if (!jt_metrics_serve(p->metrics, jt_config_str(cfg, "metrics-addr"), err)) {
                jt_schedule_probe_destroy(p);
                return NULL;
        }
        return p;
}

bool jt_schedule_probe_watch(jt_schedule_probe_t *p, const jt_config_t *cfg, rd_kafka_t *rk,
                             mongoc_client_pool_t *pool, jt_error_t *err) {
        p->readiness = jt_readiness_start(p->metrics, cfg, rk, pool, err);
        return p->readiness != NULL;
}

void jt_schedule_probe_beat(jt_schedule_probe_t *p) {
        if (p)
                jt_metrics_beat(p->metrics);
}

void jt_schedule_probe_fires(jt_schedule_probe_t *p, const char *schedule, const jt_cron_t *cron,
                             int64_t last_s, int64_t pending_s, int64_t now_s) {
        int i = strcmp(schedule, "stats") == 0 ? 0 : 1;
        int64_t now_ms = jt_time_mono_ms(), next_s;

        if (!p || (p->updated_ms[i] != 0 && now_ms - p->updated_ms[i] < 1000))
                return;
        p->updated_ms[i] = now_ms;
        next_s = pending_s != JT_CRON_NONE ? pending_s : jt_cron_next(cron, now_s);
        jt_metrics_schedule_set(p->metrics, schedule, last_s == JT_CRON_NONE ? -1 : last_s,
                                next_s == JT_CRON_NONE ? -1 : next_s);
}

int jt_schedule_probe_port(const jt_schedule_probe_t *p) {
        return p ? jt_metrics_port(p->metrics) : -1;
}

void jt_schedule_probe_destroy(jt_schedule_probe_t *p) {
        if (!p)
                return;
        jt_readiness_stop(p->readiness); /* it uses the scheduler's producer and pool */
        jt_metrics_destroy(p->metrics);
        free(p);
}
