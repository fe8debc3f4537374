/* What every job command does once it knows its tasks: the ledger entry first, then the
 * `job started` event, then the tasks, each durable before the ledger says "sent". Running it
 * twice for one job id sends nothing the second time and says so. */
#ifndef JT_JOB_EMIT_H
#define JT_JOB_EMIT_H

#include <mongoc/mongoc.h>

#include "jt_avro.h"
#include "jt_config.h"
#include "jt_jobs.h"

/* Encodes the task with that id (ids come from the ledger, so a re-sent job sends exactly the
 * tasks it was created with) of the run run_nonce (the ledger entry's; NULL on a dry run) and
 * writes a one-line description into line. */
typedef bool (*jt_task_builder_t)(void *ctx, const jt_avro_registry_t *reg, const char *task_id,
                                  const char *run_nonce, void **buf, size_t *len, char *line,
                                  size_t line_size, jt_error_t *err);

typedef struct {
        jt_job_spec_t spec; /* now_ms is filled by jt_emit_job; owner too unless set */
        const char *topic;  /* the task topic */
        jt_task_builder_t build;
        void *build_ctx;
        jt_status_event_t started; /* the JOB_STARTED event; timestamp filled at send */
        /* A job with no task is finished at once with this JOB_FINISHED event (cleanup with
         * nothing older than the cutoff); NULL when a job always has tasks. */
        const jt_status_event_t *finished_when_empty;
} jt_emit_t;

/* Dry run: prints the job and its tasks. Otherwise claims the ledger entry and sends. Returns
 * the exit code: 0 sent or nothing to send, 1 a failure mid-way (running it again finishes the
 * job), 2 a server unreachable or bad input. *busy (may be NULL) says another producer held
 * the claim, so the job may still need sending if that producer dies. */
int jt_emit_job(const jt_config_t *cfg, mongoc_client_pool_t *pool, jt_emit_t *emit, bool dry_run,
                bool *busy);

/* Milliseconds since the epoch, UTC. */
int64_t jt_emit_now_ms(void);

#endif
