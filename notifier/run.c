/* The notifier's consumer loop (run.h). Each status message is handled to the end before its
 * offset is stored: decoded, folded into the progress of its job, and for an outcome posted
 * once (posts.h records it before the offset moves). Waits (Discord's rate limit, retries,
 * another notifier's claim) pause the assigned partitions and keep polling, so the notifier
 * stays in its group however long Discord is away. */
#include "run.h"

#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "foreign.h"
#include "format.h"
#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_metrics.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_startup.h"
#include "message.h"
#include "original.h"
#include "posts.h"
#include "progress.h"
#include "webhook.h"

#define MAX_PROGRESS_MESSAGES 64
/* The consumer's prefetch. librdkafka queues up to 64 MiB of fetched messages by default (and
 * fetches up to 50 MiB at once): a backlog of large foreign messages would fill the pod's whole
 * 64 MiB limit before one was handled. 4 MiB holds thousands of events; -X overrides. */
#define PREFETCH_KBYTES "4096"
#define FETCH_MAX_BYTES "4194304"
#define MAX_X_SETTINGS  64
#define BUSY_LOOK_MS    1000

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
        (void)sig;
        stop_requested = 1;
}

typedef enum {
        HANDLED = 0, /* store the offset */
        STOPPED,     /* a stop was asked for mid-way: leave the offset, the next run redoes it */
        FATAL,       /* the webhook is gone: leave the offset and exit 1 */
        HELD,        /* a status event of a schema this notifier does not know: its partition
                        waits at it, offset not stored (held_t) */
} handled_t;

/* A partition held at a status event of an unknown schema (a newer version's, published during
 * a rolling upgrade). Skipping it would lose an outcome, so the partition is paused at it and
 * the event tried again after a growing backoff (the schema directory may have learnt it, see
 * learn_schemas); a restart tries it again too, since its offset was never stored. */
typedef struct {
        bool used;
        int32_t partition;
        int64_t offset;
        int attempts;
        int64_t resume_at_ms; /* monotonic */
} held_t;

#define MAX_HELD 256

typedef struct {
        char *job_id;
        char message_id[32];
        int64_t last_edit_ms; /* monotonic */
        bool dirty;
} progress_msg_t;

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
        progress_msg_t pms[MAX_PROGRESS_MESSAGES];
        bool progress_messages;
        int64_t progress_every_ms;
        int64_t max_age_ms; /* outcomes older than this are not posted; 0: no limit */
        int backoff_base_ms, backoff_max_ms;
        long posted, duplicates, rejected, skipped;
        char owner[256];
        const char *topic;
        const char *schema_dir; /* extra writer schemas, read again at each retry; NULL: none */
        jt_metrics_t *metrics;
        held_t held[MAX_HELD];
} notifier_t;

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Pauses topic [partition] and moves its position back to offset: the message comes again
 * once the partition is resumed. */
static void pause_at(notifier_t *n, const char *topic, int32_t partition, int64_t offset) {
        rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
        rd_kafka_error_t *error;

        rd_kafka_topic_partition_list_add(one, topic, partition)->offset = offset;
        rd_kafka_pause_partitions(n->consumer, one);
        if ((error = rd_kafka_seek_partitions(n->consumer, one, 5000)) != NULL) {
                jt_log_warn("seek back to offset %" PRId64 " of [%" PRId32 "]: %s", offset,
                            partition, rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        rd_kafka_topic_partition_list_destroy(one);
}

static void pause_one(notifier_t *n, int32_t partition, bool pause) {
        rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);

        rd_kafka_topic_partition_list_add(one, n->topic, partition);
        if (pause)
                rd_kafka_pause_partitions(n->consumer, one);
        else
                rd_kafka_resume_partitions(n->consumer, one);
        rd_kafka_topic_partition_list_destroy(one);
}

/* nap() resumes every assigned partition when it ends: the held ones wait on, except one
 * resumed for its retry (resume_at_ms INT64_MAX until its event comes again), which a nap
 * while another partition's message is handled must not pause for ever. */
static void held_pause_again(notifier_t *n) {
        for (int i = 0; i < MAX_HELD; i++)
                if (n->held[i].used && n->held[i].resume_at_ms != INT64_MAX)
                        pause_one(n, n->held[i].partition, true);
}

/* Waits ms while polling the consumer with every partition paused: the group keeps us, and a
 * message that arrives anyway (a partition assigned during the wait) is put back. */
static bool nap(notifier_t *n, int64_t ms) {
        rd_kafka_topic_partition_list_t *paused = NULL;
        int64_t until = mono_ms() + ms;

        if (rd_kafka_assignment(n->consumer, &paused) || !paused)
                paused = rd_kafka_topic_partition_list_new(1);
        rd_kafka_pause_partitions(n->consumer, paused);
        while (!stop_requested && mono_ms() < until) {
                int64_t left = until - mono_ms();
                jt_metrics_beat(n->metrics); /* a nap polls: the loop is alive */
                rd_kafka_message_t *msg =
                    rd_kafka_consumer_poll(n->consumer, (int)(left < 100 ? left : 100));
                if (!msg)
                        continue;
                if (!msg->err) {
                        pause_at(n, rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset);
                        rd_kafka_topic_partition_list_add(paused, rd_kafka_topic_name(msg->rkt),
                                                          msg->partition);
                }
                rd_kafka_message_destroy(msg);
        }
        rd_kafka_resume_partitions(n->consumer, paused);
        rd_kafka_topic_partition_list_destroy(paused);
        held_pause_again(n);
        return !stop_requested;
}

static int notifier_liveness_s(const jt_config_t *cfg) {
        int64_t longest = jt_config_int(cfg, "http-timeout");

        if (jt_config_int(cfg, "kafka-timeout") > longest)
                longest = jt_config_int(cfg, "kafka-timeout");
        if (jt_config_int(cfg, "mongo-timeout") > longest)
                longest = jt_config_int(cfg, "mongo-timeout");
        return jt_metrics_liveness_for(longest);
}

static int64_t backoff(const notifier_t *n, int attempt) {
        int64_t ms = (int64_t)n->backoff_base_ms << (attempt > 16 ? 16 : attempt);
        if (ms > n->backoff_max_ms)
                ms = n->backoff_max_ms;
        return ms * (75 + rand() % 51) / 100; /* +-25 %: notifiers do not retry in step */
}

/* Writes a message to the sink: the Markdown a Discord user would read, then a blank line. */
static bool write_sink(notifier_t *n, const jt_message_t *msg) {
        char *md = jt_message_markdown(msg);
        bool ok = md && fprintf(n->sink, "%s\n", md) >= 0 && fflush(n->sink) == 0;
        if (!ok)
                jt_log_error("writing a message to the sink failed");
        free(md);
        return ok;
}

/* One request with Discord, retried until it is answered for good. *res says how it ended;
 * returns false when a stop interrupted the retries. */
static bool send_until_answered(notifier_t *n, const char *job_id, const char *what,
                                const char *message_id, const jt_message_t *msg,
                                jt_post_result_t *res, bool *maybe_delivered) {
        json_t *payload = jt_message_discord(msg);
        jt_error_t err;
        bool ok = true;

        *maybe_delivered = false;
        for (int attempt = 0;; attempt++) {
                int64_t wait = jt_webhook_ready_in_ms(n->hook);
                if (wait > 0 && !(ok = nap(n, wait)))
                        break;
                jt_webhook_send(n->hook, message_id, payload, res);
                *maybe_delivered = *maybe_delivered || res->maybe_delivered;
                if (res->status != JT_POST_RETRY)
                        break;
                wait = res->wait_ms > 0 ? res->wait_ms : backoff(n, attempt);
                jt_log_warn("job=%s %s: Discord did not take the message (%s); retrying in %" PRId64
                            " ms",
                            job_id, what, res->detail, wait);
                jt_error_clear(&err);
                if (!jt_posts_extend(&n->posts, job_id, what, now_ms(), &err))
                        jt_log_warn("job=%s: %s", job_id, err.message);
                if (!(ok = nap(n, wait)))
                        break;
        }
        json_decref(payload);
        return ok;
}

/* Records the post; the offset must not move before this, so a database outage is waited out. */
static handled_t record_post(notifier_t *n, const char *job_id, const char *what, bool posted,
                             const char *message_id, long http) {
        jt_error_t err;

        for (int attempt = 0;; attempt++) {
                jt_error_clear(&err);
                if (jt_posts_finish(&n->posts, job_id, what, posted, message_id, http, now_ms(),
                                    &err))
                        return HANDLED;
                jt_log_warn("job=%s: %s; retrying", job_id, err.message);
                if (!nap(n, backoff(n, attempt)))
                        return STOPPED;
        }
}

static void release(notifier_t *n, const char *job_id, const char *what) {
        jt_error_t err;
        jt_error_clear(&err);
        if (!jt_posts_release(&n->posts, job_id, what, &err))
                jt_log_warn("job=%s: %s (the claim lapses by itself)", job_id, err.message);
}

/* Posts msg once for job_id/what, whatever happened before (posts.h). */
static handled_t post_once(notifier_t *n, const char *job_id, const char *what,
                           const jt_message_t *msg) {
        jt_post_claim_t claim;
        jt_post_result_t res;
        jt_error_t err;
        bool retaken, maybe;
        char stored_id[32];

        for (int attempt = 0;; attempt++) {
                jt_error_clear(&err);
                if (!jt_posts_claim(&n->posts, job_id, what, now_ms(), &claim, &retaken, stored_id,
                                    &err)) {
                        jt_log_warn("job=%s: %s; retrying", job_id, err.message);
                        if (!nap(n, backoff(n, attempt)))
                                return STOPPED;
                        continue;
                }
                if (claim != JT_POST_CLAIM_BUSY)
                        break;
                jt_log_info("job=%s %s: another notifier is posting it; looking again", job_id,
                            what);
                if (!nap(n, BUSY_LOOK_MS))
                        return STOPPED;
        }
        if (claim == JT_POST_CLAIM_DONE) {
                n->duplicates++;
                jt_log_info("job=%s %s: posted before, not again", job_id, what);
                return HANDLED;
        }
        if (retaken)
                jt_log_warn("job=%s %s: an earlier notifier stopped while posting it; posting now "
                            "(it may show twice if that post had gone through)",
                            job_id, what);
        if (!n->hook) {
                if (!write_sink(n, msg)) {
                        release(n, job_id, what);
                        return FATAL;
                }
                n->posted++;
                return record_post(n, job_id, what, true, "", 0);
        }
        if (!send_until_answered(n, job_id, what, NULL, msg, &res, &maybe)) {
                if (!maybe)
                        release(n, job_id, what);
                return STOPPED;
        }
        if (res.status == JT_POST_GONE) {
                jt_log_error("the webhook %s answered %s: it was deleted or the URL is wrong. "
                             "Stopping without moving on, so nothing is lost: fix "
                             "DISCORD_WEBHOOK_URL and start the notifier again",
                             jt_webhook_redacted(n->hook), res.detail);
                release(n, job_id, what);
                return FATAL;
        }
        if (res.status == JT_POST_REJECTED) {
                n->rejected++;
                jt_log_error("job=%s %s: Discord refused the message for good (%s); moving on",
                             job_id, what, res.detail);
                return record_post(n, job_id, what, false, "", res.http_status);
        }
        n->posted++;
        jt_log_info("job=%s %s: posted (message %s)", job_id, what,
                    res.message_id[0] ? res.message_id : "?");
        return record_post(n, job_id, what, true, res.message_id, res.http_status);
}

/* --- progress messages -------------------------------------------------------------------- */

static progress_msg_t *progress_msg_for(notifier_t *n, const char *job_id, bool create) {
        progress_msg_t *free_slot = NULL;

        for (int i = 0; i < MAX_PROGRESS_MESSAGES; i++) {
                if (n->pms[i].job_id && strcmp(n->pms[i].job_id, job_id) == 0)
                        return &n->pms[i];
                if (!n->pms[i].job_id && !free_slot)
                        free_slot = &n->pms[i];
        }
        if (!create || !free_slot)
                return NULL;
        memset(free_slot, 0, sizeof(*free_slot));
        free_slot->job_id = strdup(job_id);
        return free_slot;
}

static void progress_msg_drop(progress_msg_t *pm) {
        free(pm->job_id);
        memset(pm, 0, sizeof(*pm));
}

/* One progress request: a running job's edit is tried once (a later edit supersedes it, and an
 * empty rate-limit bucket just defers it); an ended job's final edit is waited for. */
static void send_progress(notifier_t *n, const char *job_id, const char *message_id,
                          const jt_message_t *msg, bool ended, jt_post_result_t *res) {
        json_t *payload;
        bool maybe;

        memset(res, 0, sizeof(*res));
        res->status = JT_POST_RETRY;
        if (ended) {
                send_until_answered(n, job_id, "progress", message_id, msg, res, &maybe);
                return;
        }
        if (jt_webhook_ready_in_ms(n->hook) > 0)
                return;
        payload = jt_message_discord(msg);
        jt_webhook_send(n->hook, message_id, payload, res);
        json_decref(payload);
}

/* Posts (first time) or edits the progress message of a job. */
static void progress_edit(notifier_t *n, progress_msg_t *pm, jt_job_progress_t *job) {
        jt_message_t msg;
        jt_post_result_t res;
        jt_post_claim_t claim;
        jt_error_t err;
        bool retaken, ended = jt_job_ended(job), first = !pm->message_id[0];

        jt_message_for_progress(job, now_ms(), &msg);
        pm->last_edit_ms = mono_ms();
        pm->dirty = false;
        if (!n->hook) {
                write_sink(n, &msg);
                goto done;
        }
        if (first) {
                jt_error_clear(&err);
                if (!jt_posts_claim(&n->posts, job->job_id, "progress", now_ms(), &claim, &retaken,
                                    pm->message_id, &err)) {
                        jt_log_warn("job=%s progress message: %s", job->job_id, err.message);
                        pm->dirty = true;
                        goto done;
                }
                if (claim == JT_POST_CLAIM_BUSY)
                        goto done;
                if (claim == JT_POST_CLAIM_DONE && !pm->message_id[0]) {
                        progress_msg_drop(pm); /* Discord refused it before: no progress here */
                        goto done;
                }
                first = claim == JT_POST_CLAIM_MINE;
        }
        send_progress(n, job->job_id, first ? NULL : pm->message_id, &msg, ended, &res);
        if (res.status == JT_POST_OK && first) {
                snprintf(pm->message_id, sizeof(pm->message_id), "%s", res.message_id);
                record_post(n, job->job_id, "progress", true, res.message_id, res.http_status);
        } else if (res.status == JT_POST_RETRY) {
                pm->dirty = true;
                if (first && !res.maybe_delivered)
                        release(n, job->job_id, "progress");
        } else if (res.status != JT_POST_OK) {
                jt_log_warn("job=%s: the progress message was refused (%s); no more edits",
                            job->job_id, res.detail);
                if (first)
                        record_post(n, job->job_id, "progress", false, "", res.http_status);
                progress_msg_drop(pm);
                goto done;
        }
        if (ended && !pm->dirty)
                progress_msg_drop(pm);
done:
        jt_message_clear(&msg);
}

/* Edits that are due: a changed job whose message was last edited --progress-interval ago. */
static void progress_flush_due(notifier_t *n) {
        for (int i = 0; i < MAX_PROGRESS_MESSAGES && !stop_requested; i++) {
                progress_msg_t *pm = &n->pms[i];
                jt_job_progress_t *job;
                if (!pm->job_id || !pm->dirty ||
                    mono_ms() - pm->last_edit_ms < n->progress_every_ms)
                        continue;
                if (!(job = jt_progress_find(n->progress, pm->job_id))) {
                        progress_msg_drop(pm);
                        continue;
                }
                progress_edit(n, pm, job);
        }
}

static void progress_note(notifier_t *n, const jt_status_event_t *ev) {
        jt_job_progress_t *job = jt_progress_apply(n->progress, ev);
        progress_msg_t *pm;

        if (!job || !(pm = progress_msg_for(n, ev->job_id, !jt_job_ended(job))))
                return;
        pm->dirty = true;
        if (jt_job_ended(job))
                progress_edit(n, pm, job); /* the final state at once, before the outcome */
}

/* --- messages ----------------------------------------------------------------------------- */

static void store_offset(notifier_t *n, const rd_kafka_message_t *msg) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_resp_err_t rc;

        rd_kafka_topic_partition_list_add(list, rd_kafka_topic_name(msg->rkt), msg->partition)
            ->offset = msg->offset + 1;
        if ((rc = rd_kafka_offsets_store(n->consumer, list)) != RD_KAFKA_RESP_ERR_NO_ERROR)
                jt_log_warn("storing offset %" PRId64 " of [%" PRId32 "]: %s (the event may come "
                            "again; it is posted once all the same)",
                            msg->offset + 1, msg->partition, rd_kafka_err2str(rc));
        rd_kafka_topic_partition_list_destroy(list);
}

/* --- events of an unknown schema ----------------------------------------------------------- */

/* Whether msg, which did not decode as a status event, is one of a schema this notifier does not
 * know yet: Avro single-object bytes with an unknown fingerprint, or a known status-event writer
 * that does not resolve to this build's reader (a newer version's enum symbol). Other message
 * types and bytes that are not Avro are not held: waiting cannot make them an event. */
static bool unknown_schema(const notifier_t *n, const rd_kafka_message_t *msg,
                           const jt_error_t *err) {
        const uint8_t *p = msg->payload;
        jt_avro_schema_info_t writer;
        jt_error_t peek_err;

        if (err->domain != JT_ERR_SCHEMA || !p || msg->len < JT_AVRO_HEADER_BYTES || p[0] != 0xC3 ||
            p[1] != 0x01)
                return false;
        jt_error_clear(&peek_err);
        if (!jt_avro_peek(n->reg, p, msg->len, &writer, &peek_err))
                return peek_err.domain == JT_ERR_SCHEMA;
        return writer.type == JT_AVRO_STATUS_EVENT;
}

/* Adds the writer schemas of --schema-dir this notifier does not know yet (this build's readers
 * stay pinned, so a newer writer is read as far as it resolves to them). Files known already
 * are passed over quietly: the directory is read again before each retry. */
static void learn_schemas(notifier_t *n) {
        DIR *dir;
        struct dirent *de;
        char path[4096];

        if (!n->schema_dir || !(dir = opendir(n->schema_dir)))
                return;
        while ((de = readdir(dir)) != NULL) {
                size_t len = strlen(de->d_name);
                jt_error_t err;
                if (len < 5 || strcmp(de->d_name + len - 5, ".avsc") != 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", n->schema_dir, de->d_name);
                jt_error_clear(&err);
                if (jt_avro_registry_add_file(n->reg, path, &err))
                        jt_log_info("learnt the writer schema %s", path);
                else
                        jt_log_debug("schema %s not added: %s", path, err.message);
        }
        closedir(dir);
}

static bool pin_readers(notifier_t *n, jt_error_t *err) {
        for (int t = JT_AVRO_STATS_TASK; t <= JT_AVRO_STATUS_EVENT; t++) {
                jt_avro_schema_info_t info;
                if (!jt_avro_registry_reader(n->reg, (jt_avro_type_t)t, &info, err) ||
                    !jt_avro_registry_set_reader(n->reg, (jt_avro_type_t)t, info.version, err))
                        return false;
        }
        return true;
}

static held_t *held_find(notifier_t *n, int32_t partition) {
        for (int i = 0; i < MAX_HELD; i++)
                if (n->held[i].used && n->held[i].partition == partition)
                        return &n->held[i];
        return NULL;
}

static void held_update_metric(notifier_t *n) {
        int64_t count = 0;
        for (int i = 0; i < MAX_HELD; i++)
                count += n->held[i].used;
        jt_metrics_set_held_partitions(n->metrics, count);
}

/* msg is of an unknown schema: its partition waits at it, tried again after a growing backoff
 * (up to --retry-backoff-max-ms); one warning per try. */
static void hold(notifier_t *n, const rd_kafka_message_t *msg, const char *why) {
        held_t *h = held_find(n, msg->partition);
        int64_t wait;

        if (h && h->offset != msg->offset)
                memset(h, 0, sizeof(*h)); /* an earlier held event of this partition went by */
        for (int i = 0; !h && i < MAX_HELD; i++)
                if (!n->held[i].used)
                        h = &n->held[i];
        if (!h) {
                /* More held partitions than slots: wait here, blocking, rather than lose it. */
                pause_at(n, rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset);
                nap(n, n->backoff_max_ms);
                return;
        }
        if (!h->used) {
                *h = (held_t){.used = true, .partition = msg->partition, .offset = msg->offset};
                jt_metrics_unknown_schema(n->metrics);
        }
        wait = backoff(n, h->attempts++);
        h->resume_at_ms = mono_ms() + wait;
        pause_at(n, rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset);
        held_update_metric(n);
        jt_log_warn("status [%" PRId32 "] offset %" PRId64 ": a status event of a schema this "
                    "notifier does not know (%s). Its partition waits at it, offset not stored, "
                    "nothing skipped; try %d again in %" PRId64 " ms. Run a notifier that knows "
                    "the schema (or put its .avsc in --schema-dir); to skip it on purpose: "
                    "joytify-producer replay --topic %s --group %s --to-offset %" PRId64,
                    msg->partition, msg->offset, why, h->attempts + 1, wait, n->topic,
                    n->posts.group, msg->offset + 1);
}

/* The event at which msg's partition was held was handled (or another message of the partition
 * was, after a rebalance): the partition runs again. */
static void held_release(notifier_t *n, const rd_kafka_message_t *msg) {
        held_t *h = held_find(n, msg->partition);

        if (!h || msg->offset < h->offset)
                return;
        if (h->attempts > 0)
                jt_log_info("status [%" PRId32 "] offset %" PRId64 ": handled after %d tries; the "
                            "partition runs again",
                            msg->partition, h->offset, h->attempts);
        memset(h, 0, sizeof(*h));
        held_update_metric(n);
}

/* Resumes the held partitions whose wait is over (the event comes again), after reading
 * --schema-dir again; forgets those no longer assigned (their new owner holds them). */
static void held_resume_due(notifier_t *n) {
        rd_kafka_topic_partition_list_t *assigned = NULL;
        int64_t now = mono_ms();
        bool learnt = false;

        for (int i = 0; i < MAX_HELD; i++) {
                held_t *h = &n->held[i];
                if (!h->used)
                        continue;
                if (!assigned && (rd_kafka_assignment(n->consumer, &assigned) || !assigned))
                        return;
                if (!rd_kafka_topic_partition_list_find(assigned, n->topic, h->partition)) {
                        memset(h, 0, sizeof(*h));
                        held_update_metric(n);
                        continue;
                }
                if (now < h->resume_at_ms)
                        continue;
                if (!learnt)
                        learn_schemas(n);
                learnt = true;
                h->resume_at_ms = INT64_MAX; /* until the event comes again */
                pause_one(n, h->partition, false);
        }
        if (assigned)
                rd_kafka_topic_partition_list_destroy(assigned);
}

/* Not one of our events: JSON is shown (another system's alarm on the topic), in a form whose
 * size does not grow with the input's (foreign.h); other bytes are skipped with a warning,
 * since there is nothing to show. */
static handled_t handle_foreign(notifier_t *n, const rd_kafka_message_t *msg, const char *why) {
        jt_foreign_t doc;
        jt_message_t out;
        char what[64];
        int64_t received;
        handled_t h;

        if (!jt_foreign_render(msg->payload, msg->payload ? msg->len : 0, &doc)) {
                jt_log_warn("status [%" PRId32 "] offset %" PRId64 ": neither a status event (%s) "
                            "nor JSON; skipped",
                            msg->partition, msg->offset, why);
                n->skipped++;
                return HANDLED;
        }
        snprintf(what, sizeof(what), "%" PRId32 ":%" PRId64, msg->partition, msg->offset);
        /* When it reached the topic, which a redelivery does not change. */
        received = rd_kafka_message_timestamp(msg, NULL);
        if (n->style == JT_MESSAGE_STYLE_ORIGINAL)
                jt_original_for_foreign(&doc, received > 0 ? received : now_ms(), &n->mopts, &out);
        else
                jt_message_for_foreign(&doc, received > 0 ? received : now_ms(), &n->mopts, &out);
        h = post_once(n, "foreign", what, &out);
        jt_message_clear(&out);
        jt_foreign_clear(&doc);
        return h;
}

static handled_t handle(notifier_t *n, const rd_kafka_message_t *msg) {
        jt_status_event_t ev = {0};
        jt_message_t out;
        jt_error_t err;
        handled_t h = HANDLED;

        jt_error_clear(&err);
        if (!jt_status_event_decode(n->reg, msg->payload, msg->len, &ev, &err)) {
                if (unknown_schema(n, msg, &err)) {
                        hold(n, msg, err.message);
                        return HELD;
                }
                return handle_foreign(n, msg, err.message);
        }
        if (n->progress_messages)
                progress_note(n, &ev);
        if (n->style == JT_MESSAGE_STYLE_ORIGINAL ? jt_original_for_outcome(&ev, &n->mopts, &out)
                                                  : jt_message_for_outcome(&ev, &n->mopts, &out)) {
                if (n->max_age_ms > 0 && now_ms() - ev.timestamp_ms > n->max_age_ms) {
                        jt_log_info("job=%s %s: %" PRId64 " minutes old, past --max-age: not "
                                    "posted",
                                    ev.job_id, jt_status_type_name(ev.type),
                                    (now_ms() - ev.timestamp_ms) / 60000);
                        n->skipped++;
                } else {
                        /* A job can fail again after an operator re-opened it: each failure is
                         * its own outcome, told apart by its time (the ledger's failedAt, which
                         * every repeat of the same failure's event carries). */
                        char what[64];
                        if (ev.type == JT_STATUS_JOB_FAILED)
                                snprintf(what, sizeof(what), "JOB_FAILED@%" PRId64,
                                         ev.timestamp_ms);
                        else
                                snprintf(what, sizeof(what), "%s", jt_status_type_name(ev.type));
                        h = post_once(n, ev.job_id, what, &out);
                }
                jt_message_clear(&out);
        }
        jt_status_event_clear(&ev);
        return h;
}

static bool open_outputs(notifier_t *n, jt_error_t *err) {
        const char *url = jt_config_str(n->cfg, "webhook-url");
        const char *sink = jt_config_str(n->cfg, "sink");

        if (url && *url) {
                if (sink)
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "--sink is for running without a webhook; "
                                            "--webhook-url (or DISCORD_WEBHOOK_URL) is set too");
                n->hook =
                    jt_webhook_new(url, (int)jt_config_int(n->cfg, "http-timeout") * 1000, err);
                return n->hook != NULL;
        }
        if (!sink || strcmp(sink, "-") == 0) {
                n->sink = stdout;
                return true;
        }
        if (!(n->sink = fopen(sink, "a")))
                return jt_error_set(err, JT_ERR_CONFIG, 0, "--sink %s: cannot open for appending",
                                    sink);
        return true;
}

int jt_notifier_run(const jt_config_t *cfg) {
        notifier_t *n = calloc(1, sizeof(*n));
        jt_kafka_opts_t kopts = jt_kafka_opts_from_config(cfg);
        jt_kv_t settings[MAX_X_SETTINGS + 2] = {{"queued.max.messages.kbytes", PREFETCH_KBYTES},
                                                {"fetch.max.bytes", FETCH_MAX_BYTES}};
        const char *topic = jt_config_str(cfg, "status-topic");
        char host[128] = "localhost";
        struct sigaction sa;
        jt_error_t err;
        rd_kafka_resp_err_t rc;
        int exit_code = JT_EXIT_FAILURE;
        handled_t h = HANDLED;

        jt_error_clear(&err);
        if (!n)
                return JT_EXIT_FAILURE;
        /* Our prefetch bounds first, the operator's -X after them (the later setting wins). */
        if (kopts.setting_count <= MAX_X_SETTINGS) {
                if (kopts.setting_count) /* none: settings is NULL, which memcpy may not get */
                        memcpy(settings + 2, kopts.settings,
                               kopts.setting_count * sizeof(*settings));
                kopts.settings = settings;
                kopts.setting_count += 2;
        }
        gethostname(host, sizeof(host) - 1);
        snprintf(n->owner, sizeof(n->owner), "%s/%d/%" PRId64, host, (int)getpid(), now_ms());
        srand((unsigned)(getpid() ^ now_ms()));
        n->cfg = cfg;
        n->mopts.logs_url = jt_config_str(cfg, "logs-url");
        n->progress_messages = jt_config_bool(cfg, "progress-messages");
        n->progress_every_ms = jt_config_int(cfg, "progress-interval") * 1000;
        n->max_age_ms = jt_config_int(cfg, "max-age") * 3600 * 1000;
        n->backoff_base_ms = 500;
        n->backoff_max_ms = (int)jt_config_int(cfg, "retry-backoff-max-ms");
        n->posts = (jt_posts_t){.db = jt_config_str(cfg, "db"),
                                .group = jt_config_str(cfg, "group"),
                                .owner = n->owner,
                                .lease_ms = jt_config_int(cfg, "claim-lease") * 1000};
        if (!jt_options_apply_log(cfg, "notifier", &err) ||
            !jt_format_set_zone(jt_config_str(cfg, "timezone"), &err) ||
            !jt_message_style_parse(jt_config_str(cfg, "message-style"), &n->style, &err) ||
            !open_outputs(n, &err) || !(n->reg = jt_avro_registry_new(&err)) ||
            !pin_readers(n, &err) || !(n->metrics = jt_metrics_new("notifier", &err)) ||
            !jt_metrics_serve(n->metrics, jt_config_str(cfg, "metrics-addr"), &err) ||
            !(n->progress = jt_progress_new(MAX_PROGRESS_MESSAGES * 4)) ||
            !(n->pool = jt_startup_mongo(cfg, "joytify-notifier", &err)) ||
            !(n->consumer = jt_kafka_consumer_new(&kopts, n->posts.group, &err)) ||
            !jt_startup_reach_and_ensure_topics(cfg, n->consumer, &err)) {
                exit_code = jt_startup_fail(cfg, &err);
                goto done;
        }
        n->posts.pool = n->pool;
        n->topic = topic;
        n->schema_dir = jt_config_str(cfg, "schema-dir");
        learn_schemas(n);
        if ((rc = jt_kafka_subscribe(n->consumer, topic)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "%s: subscribing to %s: %s\n", jt_config_command_line_name(cfg),
                        topic, rd_kafka_err2str(rc));
                goto done;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        jt_log_info("notifier in group %s on %s: messages to %s%s, %s style, times in %s, "
                    "/metrics on port %d",
                    n->posts.group, topic, n->hook ? jt_webhook_redacted(n->hook) : "the sink",
                    n->progress_messages ? ", with progress messages" : "",
                    jt_config_str(cfg, "message-style"), jt_config_str(cfg, "timezone"),
                    jt_metrics_port(n->metrics));

        /* Alive while the loop goes round (a round may wait on Discord, the database or the
         * brokers: four times the longest of their timeouts, at least a minute); ready once
         * subscribed (the servers answered at start). */
        jt_metrics_set_liveness_timeout(n->metrics, notifier_liveness_s(cfg));
        jt_metrics_set_ready(n->metrics, true, NULL, 0);
        while (!stop_requested && h != FATAL) {
                rd_kafka_message_t *msg = jt_kafka_poll_message(n->consumer, 100);
                jt_metrics_beat(n->metrics);
                held_resume_due(n);
                if (n->progress_messages)
                        progress_flush_due(n);
                if (!msg)
                        continue;
                h = handle(n, msg);
                if (h == HANDLED) {
                        held_release(n, msg);
                        store_offset(n, msg);
                }
                rd_kafka_message_destroy(msg);
        }
        jt_log_info("stopping: %ld posted, %ld already posted before, %ld refused by Discord, %ld "
                    "skipped",
                    n->posted, n->duplicates, n->rejected, n->skipped);
        exit_code = h == FATAL ? JT_EXIT_FAILURE : JT_EXIT_OK;
done:
        /* Closing the consumer commits the stored offsets and leaves the group. */
        jt_kafka_destroy(n->consumer);
        for (int i = 0; i < MAX_PROGRESS_MESSAGES; i++)
                free(n->pms[i].job_id);
        jt_progress_destroy(n->progress);
        jt_mongo_pool_destroy(n->pool);
        jt_avro_registry_destroy(n->reg);
        jt_metrics_destroy(n->metrics);
        jt_webhook_destroy(n->hook);
        if (n->sink && n->sink != stdout)
                fclose(n->sink);
        free(n);
        return exit_code;
}
