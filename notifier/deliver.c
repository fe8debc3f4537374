/* One message delivered (notifier.h): posted once per outcome whatever came before (a restart,
 * a crash, a second notifier: posts.h's record), retried until Discord answers for good, or
 * written to the sink when there is no webhook. */
#include <inttypes.h>
#include <stdlib.h>

#include "jt_log.h"
#include "jt_metrics_notifier.h"
#include "jt_time.h"
#include "notifier.h"

/* How often to look again at a post another notifier is making. */
#define BUSY_LOOK_MS 1000

/* Writes a message to the sink: the Markdown a Discord user would read, then a blank line. */
bool jt_deliver_to_sink(jt_notifier_t *n, const jt_message_t *msg) {
        char *md = jt_message_markdown(msg);
        bool ok = md && fprintf(n->sink, "%s\n", md) >= 0 && fflush(n->sink) == 0;
        if (!ok)
                jt_log_error("writing a message to the sink failed");
        free(md);
        return ok;
}

/* One request with Discord, retried until it is answered for good. *res says how it ended;
 * returns false when a stop interrupted the retries. */
bool jt_deliver_until_answered(jt_notifier_t *n, const char *job_id, const char *what,
                               const char *message_id, const jt_message_t *msg,
                               jt_post_result_t *res, bool *maybe_delivered) {
        json_t *payload = jt_message_discord(msg);
        jt_error_t err;
        bool ok = true;

        *maybe_delivered = false;
        for (int attempt = 0;; attempt++) {
                int64_t wait = jt_webhook_ready_in_ms(n->hook);
                if (wait > 0 && !(ok = jt_wait_nap(n, wait)))
                        break;
                jt_webhook_send(n->hook, message_id, payload, res);
                *maybe_delivered = *maybe_delivered || res->maybe_delivered;
                if (res->status != JT_POST_OK)
                        jt_metrics_notifier_webhook_error(n->metrics, res->http_status);
                if (res->status != JT_POST_RETRY)
                        break;
                wait = res->wait_ms > 0 ? res->wait_ms : jt_wait_backoff_ms(n, attempt);
                jt_log_warn("job=%s %s: Discord did not take the message (%s); retrying in %" PRId64
                            " ms",
                            job_id, what, res->detail, wait);
                jt_error_clear(&err);
                if (!jt_posts_extend(&n->posts, job_id, what, jt_time_wall_ms(), &err))
                        jt_log_warn("job=%s: %s", job_id, err.message);
                if (!(ok = jt_wait_nap(n, wait)))
                        break;
        }
        json_decref(payload);
        return ok;
}

/* Records the post; the offset must not move before this, so a database outage is waited out. */
jt_handled_t jt_deliver_record(jt_notifier_t *n, const char *job_id, const char *what, bool posted,
                               const char *message_id, long http) {
        jt_error_t err;

        for (int attempt = 0;; attempt++) {
                jt_error_clear(&err);
                if (jt_posts_finish(&n->posts, job_id, what, posted, message_id, http,
                                    jt_time_wall_ms(), &err))
                        return JT_HANDLED_OK;
                jt_log_warn("job=%s: %s; retrying", job_id, err.message);
                if (!jt_wait_nap(n, jt_wait_backoff_ms(n, attempt)))
                        return JT_HANDLED_STOPPED;
        }
}

void jt_deliver_release(jt_notifier_t *n, const char *job_id, const char *what) {
        jt_error_t err;
        jt_error_clear(&err);
        if (!jt_posts_release(&n->posts, job_id, what, &err))
                jt_log_warn("job=%s: %s (the claim lapses by itself)", job_id, err.message);
}

/* Posts msg once for job_id/what, whatever happened before (posts.h). */
jt_handled_t jt_deliver_once(jt_notifier_t *n, const char *job_id, const char *what,
                             const jt_message_t *msg) {
        jt_post_claim_t claim;
        jt_post_result_t res;
        jt_error_t err;
        bool retaken, maybe;
        char stored_id[32];

        for (int attempt = 0;; attempt++) {
                jt_error_clear(&err);
                if (!jt_posts_claim(&n->posts, job_id, what, jt_time_wall_ms(), &claim, &retaken,
                                    stored_id, &err)) {
                        jt_log_warn("job=%s: %s; retrying", job_id, err.message);
                        if (!jt_wait_nap(n, jt_wait_backoff_ms(n, attempt)))
                                return JT_HANDLED_STOPPED;
                        continue;
                }
                if (claim != JT_POST_CLAIM_BUSY)
                        break;
                jt_log_info("job=%s %s: another notifier is posting it; looking again", job_id,
                            what);
                if (!jt_wait_nap(n, BUSY_LOOK_MS))
                        return JT_HANDLED_STOPPED;
        }
        if (claim == JT_POST_CLAIM_DONE) {
                n->duplicates++;
                jt_metrics_notifier_post(n->metrics, "duplicate");
                jt_log_info("job=%s %s: posted before, not again", job_id, what);
                return JT_HANDLED_OK;
        }
        if (retaken)
                jt_log_warn("job=%s %s: an earlier notifier stopped while posting it; posting now "
                            "(it may show twice if that post had gone through)",
                            job_id, what);
        if (!n->hook) {
                if (!jt_deliver_to_sink(n, msg)) {
                        jt_metrics_notifier_post(n->metrics, "failed");
                        jt_deliver_release(n, job_id, what);
                        return JT_HANDLED_FATAL;
                }
                n->posted++;
                jt_metrics_notifier_post(n->metrics, "posted");
                return jt_deliver_record(n, job_id, what, true, "", 0);
        }
        if (!jt_deliver_until_answered(n, job_id, what, NULL, msg, &res, &maybe)) {
                if (!maybe)
                        jt_deliver_release(n, job_id, what);
                return JT_HANDLED_STOPPED;
        }
        if (res.status == JT_POST_GONE) {
                jt_log_error("the webhook %s answered %s: it was deleted or the URL is wrong. "
                             "Stopping without moving on, so nothing is lost: fix "
                             "DISCORD_WEBHOOK_URL and start the notifier again",
                             jt_webhook_redacted(n->hook), res.detail);
                jt_metrics_notifier_post(n->metrics, "failed");
                jt_deliver_release(n, job_id, what);
                return JT_HANDLED_FATAL;
        }
        if (res.status == JT_POST_REJECTED) {
                n->rejected++;
                jt_metrics_notifier_post(n->metrics, "rejected");
                jt_log_error("job=%s %s: Discord refused the message for good (%s); moving on",
                             job_id, what, res.detail);
                return jt_deliver_record(n, job_id, what, false, "", res.http_status);
        }
        n->posted++;
        jt_metrics_notifier_post(n->metrics, "posted");
        jt_log_info("job=%s %s: posted (message %s)", job_id, what,
                    res.message_id[0] ? res.message_id : "?");
        return jt_deliver_record(n, job_id, what, true, res.message_id, res.http_status);
}
