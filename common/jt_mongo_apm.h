/* Database request counting: libmongoc's command monitoring (APM) on a client pool feeds
 * joytify_db_requests_total{command=...}, so that a benchmark reads how many commands a job cost
 * from the worker itself, whatever server it runs against. */
#ifndef JT_MONGO_APM_H
#define JT_MONGO_APM_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "jt_error.h"
#include "jt_metrics.h"

/* Counts every command sent through pool's clients into metrics (jt_metrics_db_request), from
 * any thread. Call before the first client is popped (libmongoc refuses callbacks later: a
 * JT_ERR_MONGO error then). metrics must outlive the pool. */
bool jt_mongo_apm_count(mongoc_client_pool_t *pool, jt_metrics_t *metrics, jt_error_t *err);

#endif
