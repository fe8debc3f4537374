/* The send path shared by the stats and cleanup commands (and the scheduler). Order matters:
 * ledger claim, JOB_STARTED flushed (so no task event can overtake it), tasks flushed, then the
 * ledger's tasksSentAt. A crash anywhere before the last step leaves the claim to lapse, and
 * the next run of the same job sends the same tasks again, which workers count once. */
#include "jt_job_emit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_startup.h"
#include "jt_status.h"

#define CLAIM_LEASE_MS (5 * 60 * 1000)

int64_t jt_emit_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int print_dry_run(const jt_emit_t *emit, const jt_avro_registry_t *reg,
                         const jt_config_t *cfg) {
        jt_error_t err;

        jt_error_clear(&err);
        printf("job %s (dry run): %zu task(s) for %s\n", emit->spec.job_id, emit->spec.task_count,
               emit->topic);
        for (size_t i = 0; i < emit->spec.task_count; i++) {
                char line[512];
                void *buf = NULL;
                size_t len = 0;
                if (!emit->build(emit->build_ctx, reg, emit->spec.task_ids[i], NULL, &buf, &len,
                                 line, sizeof(line), &err)) {
                        fprintf(stderr, "%s: %s\n", jt_config_command_line_name(cfg), err.message);
                        return JT_EXIT_FAILURE;
                }
                printf("  %s  (%zu bytes)\n", line, len);
                free(buf);
        }
        printf("dry run: no ledger entry written, nothing sent\n");
        return JT_EXIT_OK;
}

/* The task ids stored in the ledger entry, in order. */
static char **stored_task_ids(const bson_t *entry, size_t *count) {
        bson_iter_t it, child;
        char **ids = NULL;
        size_t n = 0;

        *count = 0;
        if (!bson_iter_init_find(&it, entry, "taskIds") || !BSON_ITER_HOLDS_ARRAY(&it) ||
            !bson_iter_recurse(&it, &child))
                return NULL;
        while (bson_iter_next(&child)) {
                char **grown;
                if (!BSON_ITER_HOLDS_UTF8(&child))
                        continue;
                grown = realloc(ids, (n + 1) * sizeof(*ids));
                if (!grown)
                        break;
                ids = grown;
                ids[n++] = strdup(bson_iter_utf8(&child, NULL));
        }
        *count = n;
        return ids;
}

static bool send_tasks(rd_kafka_t *rk, const jt_avro_registry_t *reg, const jt_emit_t *emit,
                       const char *run_nonce, char **ids, size_t count, int timeout_ms,
                       jt_error_t *err) {
        for (size_t i = 0; i < count; i++) {
                char line[512];
                void *buf = NULL;
                size_t len = 0;
                bool ok = emit->build(emit->build_ctx, reg, ids[i], run_nonce, &buf, &len, line,
                                      sizeof(line), err) &&
                          jt_kafka_send(rk, emit->topic, ids[i], buf, len, NULL, err);
                free(buf);
                if (!ok)
                        return jt_error_prefix(err, "task %s", ids[i]);
                jt_log_debug("job=%s task=%s queued: %s", emit->spec.job_id, ids[i], line);
        }
        return jt_kafka_flush(rk, timeout_ms, err);
}

int jt_emit_job(const jt_config_t *cfg, mongoc_client_pool_t *pool, jt_emit_t *emit, bool dry_run,
                bool *busy) {
        const char *db = jt_config_str(cfg, "db");
        jt_avro_registry_t *reg = NULL;
        rd_kafka_t *rk = NULL;
        mongoc_client_t *client = NULL;
        bson_t entry = BSON_INITIALIZER;
        jt_job_claim_t outcome;
        bson_iter_t it;
        const char *run_nonce = NULL;
        char owner[300], host[256] = "localhost", info[256];
        char **ids = NULL;
        size_t id_count = 0;
        int timeout_ms = (int)jt_config_int(cfg, "kafka-timeout") * 1000;
        int rc = JT_EXIT_FAILURE;
        jt_error_t err;

        jt_error_clear(&err);
        if (busy)
                *busy = false;
        if (!(reg = jt_avro_registry_new(&err)))
                goto fail;
        if (dry_run) {
                rc = print_dry_run(emit, reg, cfg);
                goto done;
        }
        if (!(rk = jt_startup_producer(cfg, &err))) {
                rc = jt_startup_fail(cfg, &err);
                goto done;
        }
        /* A caller's own identity (the finalizer of the job that chains this one) survives its
         * process: whoever holds that role next resumes an interrupted send at once. */
        if (!emit->spec.owner) {
                gethostname(host, sizeof(host) - 1);
                snprintf(owner, sizeof(owner), "producer@%s/%d", host, (int)getpid());
                emit->spec.owner = owner;
        }
        emit->spec.now_ms = jt_emit_now_ms();
        emit->spec.lease_ms = CLAIM_LEASE_MS;
        client = mongoc_client_pool_pop(pool);
        if (!jt_jobs_claim(client, db, &emit->spec, &outcome, &entry, &err)) {
                rc = err.domain == JT_ERR_CONFIG ? JT_EXIT_USAGE : JT_EXIT_FAILURE;
                goto fail;
        }
        jt_jobs_describe(&entry, info, sizeof(info));
        if (outcome == JT_JOB_ALREADY_SENT) {
                printf("job %s already exists (%s): nothing sent\n", emit->spec.job_id, info);
                rc = JT_EXIT_OK;
                goto done;
        }
        if (outcome == JT_JOB_BUSY) {
                if (busy)
                        *busy = true;
                printf("job %s is being sent by another producer right now (%s): nothing sent\n",
                       emit->spec.job_id, info);
                rc = JT_EXIT_OK;
                goto done;
        }
        ids = stored_task_ids(&entry, &id_count);
        /* The entry as stored: a re-sent job's tasks carry the nonce of the run they belong to. */
        if (bson_iter_init_find(&it, &entry, "runNonce") && BSON_ITER_HOLDS_UTF8(&it))
                run_nonce = bson_iter_utf8(&it, NULL);
        emit->started.timestamp_ms = jt_emit_now_ms();
        emit->started.tasks_total = (jt_opt_long_t){true, (int64_t)id_count};
        if (!jt_status_send(rk, reg, jt_config_str(cfg, "status-topic"), &emit->started, &err) ||
            !jt_kafka_flush(rk, timeout_ms, &err) ||
            !send_tasks(rk, reg, emit, run_nonce, ids, id_count, timeout_ms, &err))
                goto fail;
        if (id_count == 0 && emit->finished_when_empty) {
                jt_status_event_t done = *emit->finished_when_empty;
                done.timestamp_ms = jt_emit_now_ms();
                if (!jt_status_send(rk, reg, jt_config_str(cfg, "status-topic"), &done, &err) ||
                    !jt_kafka_flush(rk, timeout_ms, &err))
                        goto fail;
        }
        if (!jt_jobs_mark_sent(client, db, emit->spec.job_id, emit->spec.owner, jt_emit_now_ms(),
                               id_count == 0, &err))
                goto fail;
        if (id_count == 0)
                printf("job %s: nothing to do, finished at once (0 tasks)\n", emit->spec.job_id);
        else
                printf("job %s: %zu task(s) sent to %s\n", emit->spec.job_id, id_count,
                       emit->topic);
        jt_log_info("job=%s started: %zu tasks on %s", emit->spec.job_id, id_count, emit->topic);
        rc = JT_EXIT_OK;
        goto done;
fail:
        fprintf(stderr, "%s: %s\n", jt_config_command_line_name(cfg), err.message);
done:
        for (size_t i = 0; i < id_count; i++)
                free(ids[i]);
        free(ids);
        bson_destroy(&entry);
        if (client)
                mongoc_client_pool_push(pool, client);
        jt_kafka_destroy(rk);
        jt_avro_registry_destroy(reg);
        return rc;
}
