/* The notifier's consumer loop (run.h). Each status message is handled to the end before its
 * offset is stored: decoded, folded into the progress of its job, and for an outcome posted
 * once (deliver.c; posts.h records it before the offset moves). Waits (Discord's rate limit,
 * retries, another notifier's claim) pause the assigned partitions and keep polling (wait.c),
 * so the notifier stays in its group however long Discord is away. */
#include "run.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "foreign.h"
#include "jt_log.h"
#include "jt_signal.h"
#include "jt_time.h"
#include "notifier.h"
#include "original.h"

/* Not one of our events: JSON is shown (another system's alarm on the topic), in a form whose
 * size does not grow with the input's (foreign.h); other bytes are skipped with a warning,
 * since there is nothing to show. */
static jt_handled_t handle_foreign(jt_notifier_t *n, const rd_kafka_message_t *msg,
                                   const char *why) {
        jt_foreign_t doc;
        jt_message_t out;
        char what[64];
        int64_t received;
        jt_handled_t h;

        if (!jt_foreign_render(msg->payload, msg->payload ? msg->len : 0, &doc)) {
                jt_log_warn("status [%" PRId32 "] offset %" PRId64 ": neither a status event (%s) "
                            "nor JSON; skipped",
                            msg->partition, msg->offset, why);
                n->skipped++;
                return JT_HANDLED_OK;
        }
        snprintf(what, sizeof(what), "%" PRId32 ":%" PRId64, msg->partition, msg->offset);
        /* When it reached the topic, which a redelivery does not change. */
        received = rd_kafka_message_timestamp(msg, NULL);
        if (n->style == JT_MESSAGE_STYLE_ORIGINAL)
                jt_original_for_foreign(&doc, received > 0 ? received : jt_time_wall_ms(),
                                        &n->mopts, &out);
        else
                jt_message_for_foreign(&doc, received > 0 ? received : jt_time_wall_ms(), &n->mopts,
                                       &out);
        h = jt_deliver_once(n, "foreign", what, &out);
        jt_message_clear(&out);
        jt_foreign_clear(&doc);
        return h;
}

static jt_handled_t handle(jt_notifier_t *n, const rd_kafka_message_t *msg) {
        jt_status_event_t ev = {0};
        jt_message_t out;
        jt_error_t err;
        jt_handled_t h = JT_HANDLED_OK;

        jt_error_clear(&err);
        if (!jt_status_event_decode(n->reg, msg->payload, msg->len, &ev, &err)) {
                if (jt_held_unknown_schema(n, msg, &err)) {
                        jt_held_add(n, msg, err.message);
                        return JT_HANDLED_HELD;
                }
                return handle_foreign(n, msg, err.message);
        }
        jt_log_fields_job(ev.job_id, NULL);
        if (n->progress_messages)
                jt_progress_msg_note(n, &ev);
        if (n->style == JT_MESSAGE_STYLE_ORIGINAL ? jt_original_for_outcome(&ev, &n->mopts, &out)
                                                  : jt_message_for_outcome(&ev, &n->mopts, &out)) {
                if (n->max_age_ms > 0 && jt_time_wall_ms() - ev.timestamp_ms > n->max_age_ms) {
                        jt_log_info("job=%s %s: %" PRId64 " minutes old, past --max-age: not "
                                    "posted",
                                    ev.job_id, jt_status_event_type_name(ev.type),
                                    (jt_time_wall_ms() - ev.timestamp_ms) / 60000);
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
                                snprintf(what, sizeof(what), "%s",
                                         jt_status_event_type_name(ev.type));
                        h = jt_deliver_once(n, ev.job_id, what, &out);
                }
                jt_message_clear(&out);
        }
        jt_status_event_clear(&ev);
        return h;
}

int jt_notifier_run(const jt_config_t *cfg) {
        jt_notifier_t *n = jt_notifier_new(cfg);
        int exit_code = JT_EXIT_FAILURE;
        jt_handled_t h = JT_HANDLED_OK;

        if (!n)
                return JT_EXIT_FAILURE;
        if (!jt_notifier_open(n, &exit_code))
                goto done;
        while (!jt_signal_stop_requested() && h != JT_HANDLED_FATAL) {
                rd_kafka_message_t *msg = jt_kafka_poll_message(n->consumer, 100);
                jt_metrics_beat(n->metrics);
                jt_held_resume_due(n);
                if (n->progress_messages)
                        jt_progress_msg_flush_due(n);
                if (!msg)
                        continue;
                jt_log_fields_topic(rd_kafka_topic_name(msg->rkt), msg->partition);
                h = handle(n, msg);
                jt_log_fields_clear(); /* the fields are the message's (--log-format json) */
                if (h == JT_HANDLED_OK) {
                        jt_held_release(n, msg);
                        jt_kafka_store_offset(n->consumer, msg);
                }
                rd_kafka_message_destroy(msg);
        }
        jt_log_info("stopping: %ld posted, %ld already posted before, %ld refused by Discord, %ld "
                    "skipped",
                    n->posted, n->duplicates, n->rejected, n->skipped);
        exit_code = h == JT_HANDLED_FATAL ? JT_EXIT_FAILURE : JT_EXIT_OK;
done:
        jt_notifier_destroy(n);
        return exit_code;
}
