/* The readiness checker: one thread, one check of each server per round, the result published
 * with a validity so that a check stuck on a hung server does not keep an old "ok" alive. The
 * published reason is a fixed text (it is served to anyone who can connect); the servers' own
 * errors go to the log, once per change. */
#include "jt_readiness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jt_kafka.h"
#include "jt_kafka_admin.h"
#include "jt_log.h"
#include "jt_mongo.h"

#define KAFKA_CHECK_MAX_MS 5000

struct jt_readiness_s {
        jt_metrics_t *m;
        rd_kafka_t *rk;
        mongoc_client_pool_t *pool;
        jt_kafka_opts_t kopts; /* timeout_ms capped at KAFKA_CHECK_MAX_MS */
        const char *mongo_uri;
        int64_t valid_ms;

        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool quit; /* guarded by lock */

        /* The thread's own: the last state logged. */
        bool logged, kafka_ok, mongo_ok;
};

static const char *reason_of(bool kafka_ok, bool mongo_ok) {
        if (!kafka_ok && !mongo_ok)
                return "Kafka and MongoDB unreachable";
        if (!kafka_ok)
                return "Kafka unreachable";
        if (!mongo_ok)
                return "MongoDB unreachable";
        return "ok";
}

static void check(jt_readiness_t *r) {
        jt_error_t kafka_err, mongo_err;
        bool kafka_ok, mongo_ok;

        jt_error_clear(&kafka_err);
        jt_error_clear(&mongo_err);
        kafka_ok = jt_kafka_admin_check_reachable(r->rk, &r->kopts, &kafka_err);
        mongo_ok = jt_mongo_ping(r->pool, r->mongo_uri, &mongo_err);
        jt_metrics_set_ready(r->m, kafka_ok && mongo_ok, reason_of(kafka_ok, mongo_ok),
                             r->valid_ms);
        if (r->logged && kafka_ok == r->kafka_ok && mongo_ok == r->mongo_ok)
                return;
        if (!kafka_ok)
                jt_log_warn("not ready: %s", kafka_err.message);
        if (!mongo_ok)
                jt_log_warn("not ready: %s", mongo_err.message);
        if (kafka_ok && mongo_ok && r->logged)
                jt_log_info("ready: Kafka and MongoDB answer again");
        r->logged = true;
        r->kafka_ok = kafka_ok;
        r->mongo_ok = mongo_ok;
}

static void *run(void *arg) {
        jt_readiness_t *r = arg;
        struct timespec until;

        pthread_mutex_lock(&r->lock);
        while (!r->quit) {
                pthread_mutex_unlock(&r->lock);
                check(r);
                pthread_mutex_lock(&r->lock);
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_sec += JT_READINESS_EVERY_MS / 1000;
                while (!r->quit && pthread_cond_timedwait(&r->wake, &r->lock, &until) != ETIMEDOUT)
                        ;
        }
        pthread_mutex_unlock(&r->lock);
        return NULL;
}

jt_readiness_t *jt_readiness_start(jt_metrics_t *m, const jt_config_t *cfg, rd_kafka_t *rk,
                                   mongoc_client_pool_t *pool, jt_error_t *err) {
        jt_readiness_t *r = calloc(1, sizeof(*r));
        pthread_condattr_t attr;
        sigset_t block, old_mask;
        int rc;

        if (!r) {
                jt_error_set(err, JT_ERR_SYSTEM, 0, "readiness check: out of memory");
                return NULL;
        }
        r->m = m;
        r->rk = rk;
        r->pool = pool;
        r->kopts = jt_kafka_opts_from_config(cfg);
        if (r->kopts.timeout_ms > KAFKA_CHECK_MAX_MS)
                r->kopts.timeout_ms = KAFKA_CHECK_MAX_MS;
        r->mongo_uri = jt_config_str(cfg, "mongo-uri");
        /* A round: the wait, then both checks at their bounds; twice that without a result and
         * the last one no longer holds. */
        r->valid_ms = 2 * ((int64_t)JT_READINESS_EVERY_MS + r->kopts.timeout_ms +
                           jt_config_int(cfg, "mongo-timeout") * 1000);
        pthread_mutex_init(&r->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&r->wake, &attr);
        pthread_condattr_destroy(&attr);
        /* SIGTERM and SIGINT stay with the program's main thread, which acts on them. */
        sigfillset(&block);
        pthread_sigmask(SIG_BLOCK, &block, &old_mask);
        rc = pthread_create(&r->thread, NULL, run, r);
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
        if (rc != 0) {
                pthread_cond_destroy(&r->wake);
                pthread_mutex_destroy(&r->lock);
                free(r);
                jt_error_set(err, JT_ERR_SYSTEM, rc, "readiness check: cannot start its thread: %s",
                             strerror(rc));
                return NULL;
        }
        return r;
}

void jt_readiness_stop(jt_readiness_t *r) {
        if (!r)
                return;
        pthread_mutex_lock(&r->lock);
        r->quit = true;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        free(r);
}
