/* The app push: after a statistics job's notification fan-out, its FINALIZE asks the app's API
 * to push the new notification to the connected users who received it (the original's socket
 * push), in batches, each acknowledged batch recorded in the job ledger before the next one, so
 * that the push is posted once per job across crashes and redeliveries (docs/app-push.md). */
#ifndef JT_WORKER_APP_PUSH_H
#define JT_WORKER_APP_PUSH_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_config.h"
#include "jt_error.h"
#include "jt_jobs_push.h"
#include "task.h"

/* --app-api-url, JT_APP_API_KEY (environment only), --app-push-batch, --app-push-attempts. */
extern const jt_opt_t jt_app_push_opts[];

typedef struct jt_app_push_s jt_app_push_t;

/* The push's settings from cfg, checked: *push NULL when --app-api-url is unset (no push). An
 * URL that is not https (http only to a loopback address), a missing or malformed key, are
 * JT_ERR_CONFIG errors that show the URL's scheme and host only, and never the key. */
bool jt_app_push_new(const jt_config_t *cfg, jt_app_push_t **push, jt_error_t *err);
void jt_app_push_destroy(jt_app_push_t *push); /* NULL is a no-op */

/* One statistics job's push. */
typedef struct {
        const char *job_id;
        const char *month; /* YYYY-MM */
        bool test_mode;    /* the users are in test-users */
        const bson_oid_t *notification_id;
        int64_t lease_ms; /* the finalize claim's lease, renewed while pushing */
} jt_app_push_job_t;

typedef struct {
        bool configured;         /* false: not configured, nothing posted (the figures 0) */
        jt_push_progress_t done; /* as recorded in the ledger at the end */
} jt_app_push_result_t;

/* Pushes job's notification to the users of the users collection who have it, after what entry
 * (the job's ledger entry, read when the finalize claim was taken) records as pushed, by
 * env->app_push. DONE once the push is recorded done, whether every batch went through or the
 * push failed (a permanent answer, or attempts spent: the rest is counted as not pushed, the
 * job still finishes); STOPPED on a stop request; WAIT when another worker took the finalize
 * claim over; RETRY on a database error. */
jt_task_outcome_t jt_app_push_run(const jt_task_env_t *env, mongoc_client_t *client,
                                  const jt_app_push_job_t *job, const bson_t *entry,
                                  jt_app_push_result_t *res, jt_error_t *err);

/* --- pieces without a server (unit tests) -------------------------------------------------- */

typedef enum {
        JT_APP_PUSH_OK,    /* 2xx: the batch is acknowledged */
        JT_APP_PUSH_RETRY, /* 5xx, 408, 429, no answer: try again after a backoff */
        JT_APP_PUSH_FAIL,  /* 3xx (not followed: a configuration error), other 4xx: never */
} jt_app_push_answer_t;

jt_app_push_answer_t jt_app_push_classify(long http_status);

/* Retry-After as seconds (a plain non-negative decimal number, blanks around it) into
 * milliseconds, at most max_ms; -1 for anything else (an HTTP date, "-1", "nan", text). */
int64_t jt_app_push_retry_after_ms(const char *value, size_t len, int64_t max_ms);

/* The request body: {"notificationId", "userIds", "type": "monthlyStatistic", "month"}, as a
 * malloc'ed compact JSON text (NULL when memory runs out). */
char *jt_app_push_body(const char *notification_id, const char *const *user_ids, size_t n,
                       const char *month);

#endif
