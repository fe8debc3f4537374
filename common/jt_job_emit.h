/* What every job does once it knows its tasks: the ledger entry first, then the `job started`
 * event, then the tasks, each durable before the ledger says "sent". Sending a job twice sends
 * nothing the second time and says so in the result. A library: it returns errors and results,
 * prints nothing, and sends through the caller's producer. */
#ifndef JT_JOB_EMIT_H
#define JT_JOB_EMIT_H

#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>

#include "jt_messages.h"
#include "jt_config.h"
#include "jt_jobs.h"

/* What a job's sender works with, all the caller's: the producer is not created per job. */
typedef struct {
        mongoc_client_pool_t *pool;
        const char *db;
        rd_kafka_t *producer; /* NULL is allowed on a dry run only */
        const jt_avro_registry_t *reg;
        const char *stats_topic;
        const char *cleanup_topic;
        const char *status_topic;
        int timeout_ms; /* bound of each flush and metadata request */
} jt_emit_env_t;

/* The env of a command built with jt_opts_kafka and jt_opts_mongo (topics, db, timeout). */
jt_emit_env_t jt_job_emit_env_from_config(const jt_config_t *cfg, mongoc_client_pool_t *pool,
                                          rd_kafka_t *producer, const jt_avro_registry_t *reg);

typedef enum {
        JT_EMIT_FAILED,       /* jt_job_emit returned false: see the error */
        JT_EMIT_SENT,         /* the ledger entry claimed and every task sent now */
        JT_EMIT_EMPTY,        /* no task to send: the job was finished at once */
        JT_EMIT_ALREADY_SENT, /* every task was sent before: nothing sent */
        JT_EMIT_BUSY,         /* another sender holds the claim right now: nothing sent; the job
                               * may still need sending if that sender dies */
        JT_EMIT_REFUSED,      /* the job must not run (reason in info): nothing sent */
        JT_EMIT_DRY_RUN,      /* nothing written or sent; lines describe the tasks */
} jt_emit_outcome_t;

typedef struct {
        char job_id[128];
        jt_emit_outcome_t outcome;
        const char *topic;  /* the task topic */
        size_t tasks_sent;  /* SENT: tasks produced now */
        size_t task_count;  /* tasks of the job (the ledger's on a re-send) */
        int32_t partitions; /* SENT: partitions of the task topic the tasks went to */
        char info[512];     /* ALREADY_SENT, BUSY: the ledger entry; REFUSED: the reason */
        char **lines;       /* DRY_RUN: one description per task, with its encoded size */
        size_t line_count;
} jt_emit_result_t;

/* Releases the lines of a dry run; the result can be used again. */
void jt_job_emit_result_clear(jt_emit_result_t *result);

/* Encodes the task with that id (ids come from the ledger, so a re-sent job sends exactly the
 * tasks it was created with) of the run run_nonce (the ledger entry's; NULL on a dry run) and
 * writes a one-line description into line. */
typedef bool (*jt_task_builder_t)(void *ctx, const jt_avro_registry_t *reg, const char *task_id,
                                  const char *run_nonce, void **buf, size_t *len, char *line,
                                  size_t line_size, jt_error_t *err);

typedef struct {
        jt_job_spec_t spec; /* now_ms is filled by jt_job_emit; owner too unless set */
        const char *topic;  /* the task topic */
        jt_task_builder_t build;
        void *build_ctx;
        jt_status_event_t started; /* the JOB_STARTED event; timestamp filled at send */
        /* A job with no task is finished at once with this JOB_FINISHED event (cleanup with
         * nothing older than the cutoff); NULL when a job always has tasks. */
        const jt_status_event_t *finished_when_empty;
} jt_emit_t;

/* Fills result entirely (it need not be initialised; release with jt_job_emit_result_clear).
 * Dry run: describes the tasks into result->lines. Otherwise claims the ledger entry and sends
 * task i to partition i % P of the task topic (P from its metadata now), keyed by its id, so
 * tasks spread evenly over the partitions. false with err: a failure mid-way (sending the job
 * again finishes it); a JT_ERR_CONFIG error means the job exists with other params. */
bool jt_job_emit(const jt_emit_env_t *env, jt_emit_t *emit, bool dry_run, jt_emit_result_t *result,
                 jt_error_t *err);

#endif
