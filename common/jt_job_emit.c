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
#include "jt_kafka_admin.h"
#include "jt_log.h"
#include "jt_status.h"
#include "jt_time.h"

#define CLAIM_LEASE_MS (5 * 60 * 1000)

jt_emit_env_t jt_job_emit_env_from_config(const jt_config_t *cfg, mongoc_client_pool_t *pool,
                                          rd_kafka_t *producer, const jt_avro_registry_t *reg) {
        return (jt_emit_env_t){.pool = pool,
                               .db = jt_config_str(cfg, "db"),
                               .producer = producer,
                               .reg = reg,
                               .stats_topic = jt_config_str(cfg, "stats-topic"),
                               .cleanup_topic = jt_config_str(cfg, "cleanup-topic"),
                               .status_topic = jt_config_str(cfg, "status-topic"),
                               .timeout_ms = (int)jt_config_int(cfg, "kafka-timeout") * 1000};
}

void jt_job_emit_result_clear(jt_emit_result_t *result) {
        for (size_t i = 0; i < result->line_count; i++)
                free(result->lines[i]);
        free(result->lines);
        result->lines = NULL;
        result->line_count = 0;
}

static bool describe_tasks(const jt_emit_env_t *env, const jt_emit_t *emit,
                           jt_emit_result_t *result, jt_error_t *err) {
        size_t n = emit->spec.task_count;

        if (n && !(result->lines = calloc(n, sizeof(*result->lines))))
                return jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory for %zu task lines", n);
        for (size_t i = 0; i < n; i++) {
                char line[512], full[600];
                void *buf = NULL;
                size_t len = 0;
                if (!emit->build(emit->build_ctx, env->reg, emit->spec.task_ids[i], NULL, &buf,
                                 &len, line, sizeof(line), err))
                        return false;
                free(buf);
                snprintf(full, sizeof(full), "%s  (%zu bytes)", line, len);
                if (!(result->lines[i] = strdup(full)))
                        return jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory for a task line");
                result->line_count++;
        }
        return true;
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

/* Task i goes to partition i % partitions, keyed by its id: a key hash would put several
 * tasks on one partition and none on others, and a worker gets the tasks of its partitions. */
static bool send_tasks(rd_kafka_t *rk, const jt_avro_registry_t *reg, const jt_emit_t *emit,
                       const char *run_nonce, char **ids, size_t count, int32_t partitions,
                       int timeout_ms, jt_error_t *err) {
        for (size_t i = 0; i < count; i++) {
                char line[512];
                void *buf = NULL;
                size_t len = 0;
                int32_t partition = (int32_t)(i % (size_t)partitions);
                bool ok = emit->build(emit->build_ctx, reg, ids[i], run_nonce, &buf, &len, line,
                                      sizeof(line), err) &&
                          jt_kafka_send_to(rk, emit->topic, partition, ids[i], strlen(ids[i]), buf,
                                           len, NULL, err);
                free(buf);
                if (!ok)
                        return jt_error_prefix(err, "task %s", ids[i]);
                jt_log_debug("job=%s task=%s queued to partition %d: %s", emit->spec.job_id, ids[i],
                             (int)partition, line);
        }
        return jt_kafka_flush(rk, timeout_ms, err);
}

bool jt_job_emit(const jt_emit_env_t *env, jt_emit_t *emit, bool dry_run, jt_emit_result_t *result,
                 jt_error_t *err) {
        mongoc_client_t *client = NULL;
        bson_t entry = BSON_INITIALIZER;
        jt_job_claim_t outcome;
        bson_iter_t it;
        const char *run_nonce = NULL;
        char owner[300], host[256] = "localhost";
        char **ids = NULL;
        size_t id_count = 0;
        int32_t partitions = 0;
        bool ok = false;

        snprintf(result->job_id, sizeof(result->job_id), "%s", emit->spec.job_id);
        result->topic = emit->topic;
        result->task_count = emit->spec.task_count;
        result->tasks_sent = 0;
        result->partitions = 0;
        result->info[0] = '\0';
        result->outcome = JT_EMIT_FAILED;
        result->lines = NULL;
        result->line_count = 0;
        if (dry_run) {
                result->outcome = JT_EMIT_DRY_RUN;
                ok = describe_tasks(env, emit, result, err);
                goto done;
        }
        if (!env->producer) {
                jt_error_set(err, JT_ERR_CONFIG, 0, "job %s: no Kafka producer to send with",
                             emit->spec.job_id);
                goto done;
        }
        /* A caller's own identity (the finalizer of the job that chains this one) survives its
         * process: whoever holds that role next resumes an interrupted send at once. */
        if (!emit->spec.owner) {
                gethostname(host, sizeof(host) - 1);
                snprintf(owner, sizeof(owner), "producer@%s/%d", host, (int)getpid());
                emit->spec.owner = owner;
        }
        emit->spec.now_ms = jt_time_wall_ms();
        emit->spec.lease_ms = CLAIM_LEASE_MS;
        client = mongoc_client_pool_pop(env->pool);
        if (!jt_jobs_claim(client, env->db, &emit->spec, &outcome, &entry, err))
                goto done;
        jt_jobs_describe(&entry, result->info, sizeof(result->info));
        if (outcome == JT_JOB_ALREADY_SENT || outcome == JT_JOB_BUSY) {
                result->outcome = outcome == JT_JOB_BUSY ? JT_EMIT_BUSY : JT_EMIT_ALREADY_SENT;
                ok = true;
                goto done;
        }
        ids = stored_task_ids(&entry, &id_count);
        result->task_count = id_count;
        /* The entry as stored: a re-sent job's tasks carry the nonce of the run they belong to. */
        if (bson_iter_init_find(&it, &entry, "runNonce") && BSON_ITER_HOLDS_UTF8(&it))
                run_nonce = bson_iter_utf8(&it, NULL);
        if (id_count > 0 && !jt_kafka_admin_partition_count(env->producer, emit->topic,
                                                            env->timeout_ms, &partitions, err))
                goto done;
        emit->started.timestamp_ms = jt_time_wall_ms();
        emit->started.tasks_total = (jt_opt_long_t){true, (int64_t)id_count};
        if (!jt_status_send(env->producer, env->reg, env->status_topic, &emit->started, err) ||
            !jt_kafka_flush(env->producer, env->timeout_ms, err) ||
            !send_tasks(env->producer, env->reg, emit, run_nonce, ids, id_count, partitions,
                        env->timeout_ms, err))
                goto done;
        if (id_count == 0 && emit->finished_when_empty) {
                jt_status_event_t finished = *emit->finished_when_empty;
                finished.timestamp_ms = jt_time_wall_ms();
                if (!jt_status_send(env->producer, env->reg, env->status_topic, &finished, err) ||
                    !jt_kafka_flush(env->producer, env->timeout_ms, err))
                        goto done;
        }
        if (!jt_jobs_mark_sent(client, env->db, emit->spec.job_id, emit->spec.owner,
                               jt_time_wall_ms(), id_count == 0, err))
                goto done;
        result->outcome = id_count == 0 ? JT_EMIT_EMPTY : JT_EMIT_SENT;
        result->tasks_sent = id_count;
        result->partitions = partitions;
        jt_log_info("job=%s started: %zu tasks on %s (%d partitions)", emit->spec.job_id, id_count,
                    emit->topic, (int)partitions);
        ok = true;
done:
        if (emit->spec.owner == owner)
                emit->spec.owner = NULL;
        for (size_t i = 0; i < id_count; i++)
                free(ids[i]);
        free(ids);
        bson_destroy(&entry);
        if (client)
                mongoc_client_pool_push(env->pool, client);
        return ok;
}
