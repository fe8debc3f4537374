/* The state of a running `joytify-notifier run`, shared by its parts: start-up and shut-down
 * (notifier.c), the consumer loop (run.c), waits that keep the group (wait.c), one message
 * posted once (deliver.c), progress messages (progress_msg.c) and partitions held at an event
 * of an unknown schema (held.c). Private to the notifier; run.h is its entry point. */
#ifndef JT_NOTIFIER_NOTIFIER_H
#define JT_NOTIFIER_NOTIFIER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "jt_messages.h"
#include "jt_config.h"
#include "jt_kafka.h"
#include "jt_metrics.h"
#include "jt_mongo.h"
#include "message.h"
#include "posts.h"
#include "progress.h"
#include "webhook.h"

#define JT_NOTIFIER_MAX_PROGRESS_MESSAGES 64
#define JT_NOTIFIER_MAX_HELD              256

/* How the handling of one status message ended. */
typedef enum {
        JT_HANDLED_OK = 0,  /* store the offset */
        JT_HANDLED_STOPPED, /* a stop was asked for mid-way: leave the offset, the next run redoes
                               it */
        JT_HANDLED_FATAL,   /* the webhook is gone: leave the offset and exit 1 */
        JT_HANDLED_HELD,    /* a status event of a schema this notifier does not know: its
                               partition waits at it, offset not stored (jt_held_t) */
} jt_handled_t;

/* A partition held at a status event of an unknown schema (a newer version's, published during
 * a rolling upgrade). Skipping it would lose an outcome, so the partition is paused at it and
 * the event tried again after a growing backoff (the schema directory may have learnt it, see
 * jt_held_learn_schemas); a restart tries it again too, since its offset was never stored. */
typedef struct {
        bool used;
        int32_t partition;
        int64_t offset;
        int attempts;
        int64_t resume_at_ms; /* monotonic */
} jt_held_t;

/* The progress message of one running job (--progress-messages). */
typedef struct {
        char *job_id;
        char message_id[32];
        int64_t last_edit_ms; /* monotonic */
        bool dirty;
} jt_progress_msg_t;

typedef struct {
        const jt_config_t *cfg;
        rd_kafka_t *consumer;
        jt_avro_registry_t *reg;
        mongoc_client_pool_t *pool;
        jt_webhook_t *hook; /* NULL: Markdown to sink */
        FILE *sink;
        jt_posts_t posts;
        jt_message_opts_t mopts;
        jt_message_style_t style; /* of outcome and foreign messages; progress stays embeds */
        jt_progress_t *progress;
        jt_progress_msg_t pms[JT_NOTIFIER_MAX_PROGRESS_MESSAGES];
        bool progress_messages;
        int64_t progress_every_ms;
        int64_t max_age_ms; /* outcomes older than this are not posted; 0: no limit */
        int backoff_base_ms, backoff_max_ms;
        long posted, duplicates, rejected, skipped;
        char owner[256];
        const char *topic;
        const char *schema_dir; /* extra writer schemas, read again at each retry; NULL: none */
        jt_metrics_t *metrics;
        jt_held_t held[JT_NOTIFIER_MAX_HELD];
} jt_notifier_t;

/* notifier.c: start-up and shut-down. */

/* The notifier configured from cfg (which must outlive it), nothing opened yet; NULL when out
 * of memory. */
jt_notifier_t *jt_notifier_new(const jt_config_t *cfg);

/* Opens the outputs, the schemas, /metrics, the database and the consumer subscribed to the
 * status topic, and installs the stop signals. On failure, says why on stderr and returns
 * false with the exit code in *exit_code. */
bool jt_notifier_open(jt_notifier_t *n, int *exit_code);

/* Closes the consumer (which commits the stored offsets and leaves the group) and everything
 * else; NULL is a no-op. */
void jt_notifier_destroy(jt_notifier_t *n);

/* wait.c: waits that keep the notifier in its group. */

/* Pauses topic [partition] and moves its position back to offset: the message comes again
 * once the partition is resumed. */
void jt_wait_pause_at(jt_notifier_t *n, const char *topic, int32_t partition, int64_t offset);

/* Pauses (or resumes) one partition of the status topic. */
void jt_wait_pause_partition(jt_notifier_t *n, int32_t partition, bool pause);

/* Waits ms while polling the consumer with every partition paused. False when a stop was asked
 * for. */
bool jt_wait_nap(jt_notifier_t *n, int64_t ms);

/* The wait before retry number attempt (0 for the first): jt_backoff_ms from 500 ms up to
 * --retry-backoff-max-ms. */
int64_t jt_wait_backoff_ms(const jt_notifier_t *n, int attempt);

/* deliver.c: one message to Discord or the sink. */

/* Posts msg once for job_id/what, whatever happened before (posts.h). */
jt_handled_t jt_deliver_once(jt_notifier_t *n, const char *job_id, const char *what,
                             const jt_message_t *msg);

/* Writes a message to the sink: the Markdown a Discord user would read, then a blank line. */
bool jt_deliver_to_sink(jt_notifier_t *n, const jt_message_t *msg);

/* One request with Discord (a post, or an edit of message_id), retried until it is answered
 * for good. *res says how it ended; returns false when a stop interrupted the retries. */
bool jt_deliver_until_answered(jt_notifier_t *n, const char *job_id, const char *what,
                               const char *message_id, const jt_message_t *msg,
                               jt_post_result_t *res, bool *maybe_delivered);

/* Records the post; the offset must not move before this, so a database outage is waited
 * out. JT_HANDLED_OK, or JT_HANDLED_STOPPED when a stop came first. */
jt_handled_t jt_deliver_record(jt_notifier_t *n, const char *job_id, const char *what, bool posted,
                               const char *message_id, long http);

/* Gives up this notifier's claim on job_id/what, so another may post it at once. */
void jt_deliver_release(jt_notifier_t *n, const char *job_id, const char *what);

/* progress_msg.c: one message per running job, edited in place (--progress-messages). */

/* Folds ev into its job's progress; an ended job's message gets its final state at once. */
void jt_progress_msg_note(jt_notifier_t *n, const jt_status_event_t *ev);

/* Edits that are due: a changed job whose message was last edited --progress-interval ago. */
void jt_progress_msg_flush_due(jt_notifier_t *n);

/* held.c: status events of a schema this notifier does not know. */

/* Whether msg, which did not decode as a status event (err), is one of an unknown schema. */
bool jt_held_unknown_schema(const jt_notifier_t *n, const rd_kafka_message_t *msg,
                            const jt_error_t *err);

/* msg is of an unknown schema: its partition waits at it (why says what was not understood). */
void jt_held_add(jt_notifier_t *n, const rd_kafka_message_t *msg, const char *why);

/* msg was handled: a partition held at it (or before it) runs again. */
void jt_held_release(jt_notifier_t *n, const rd_kafka_message_t *msg);

/* Resumes the held partitions whose wait is over; forgets those no longer assigned. */
void jt_held_resume_due(jt_notifier_t *n);

/* Pauses the held partitions again after a nap resumed every assigned one. */
void jt_held_pause_again(jt_notifier_t *n);

/* Adds the writer schemas of --schema-dir this notifier does not know yet. */
void jt_held_learn_schemas(jt_notifier_t *n);

#endif
