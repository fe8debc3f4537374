/* Helpers the ledger's files (jt_jobs.c, jt_jobs_view.c, jt_jobs_checkpoint.c) share; nothing
 * outside the ledger includes this. */
#ifndef JT_JOBS_PRIVATE_H
#define JT_JOBS_PRIVATE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_error.h"
#include "jt_job_state.h"

/* A state as a BCON value: the ledger writes every state by its jt_job_state_name(). */
#define JT_JOBS_STATE(state) BCON_UTF8(jt_job_state_name(state))

/* Sets err from a driver error about job_id (transient when a retry can help); returns false. */
bool jt_jobs_mongo_fail(jt_error_t *err, const bson_error_t *error, const char *what,
                        const char *job_id);

/* The job's entry projected to fields (NULL: all). */
bool jt_jobs_find_fields(mongoc_client_t *client, const char *db, const char *job_id,
                         const bson_t *fields, bson_t *out, jt_error_t *err);

/* findAndModify returning the new document, or none when the query matched none. */
bool jt_jobs_find_and_modify(mongoc_client_t *client, const char *db, const bson_t *query,
                             const bson_t *update, bool *matched, bson_t *doc, const char *what,
                             const char *job_id, jt_error_t *err);

/* The number at the dotted path of doc, or fallback. */
int64_t jt_jobs_doc_int64(const bson_t *doc, const char *dotted, int64_t fallback);

/* Appends {runNonce: nonce} to a query, null matching an entry without one (a v1 task). */
void jt_jobs_append_run(bson_t *query, const char *run_nonce);

/* Whether doc's runNonce is run_nonce (both absent counts as equal). */
bool jt_jobs_same_nonce(const bson_t *doc, const char *run_nonce);

#endif
