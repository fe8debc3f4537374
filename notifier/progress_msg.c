/* Progress messages (--progress-messages, notifier.h): one Discord message per running job,
 * posted once and then edited in place at most every --progress-interval, with its final state
 * edited in before the job's outcome is posted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_log.h"
#include "jt_signal.h"
#include "jt_time.h"
#include "notifier.h"

static jt_progress_msg_t *progress_msg_for(jt_notifier_t *n, const char *job_id, bool create) {
        jt_progress_msg_t *free_slot = NULL;

        for (int i = 0; i < JT_NOTIFIER_MAX_PROGRESS_MESSAGES; i++) {
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

static void progress_msg_drop(jt_progress_msg_t *pm) {
        free(pm->job_id);
        memset(pm, 0, sizeof(*pm));
}

/* One progress request: a running job's edit is tried once (a later edit supersedes it, and an
 * empty rate-limit bucket just defers it); an ended job's final edit is waited for. */
static void send_progress(jt_notifier_t *n, const char *job_id, const char *message_id,
                          const jt_message_t *msg, bool ended, jt_post_result_t *res) {
        json_t *payload;
        bool maybe;

        memset(res, 0, sizeof(*res));
        res->status = JT_POST_RETRY;
        if (ended) {
                jt_deliver_until_answered(n, job_id, "progress", message_id, msg, res, &maybe);
                return;
        }
        if (jt_webhook_ready_in_ms(n->hook) > 0)
                return;
        payload = jt_message_discord(msg);
        jt_webhook_send(n->hook, message_id, payload, res);
        json_decref(payload);
}

/* Posts (first time) or edits the progress message of a job. */
static void progress_edit(jt_notifier_t *n, jt_progress_msg_t *pm, jt_job_progress_t *job) {
        jt_message_t msg;
        jt_post_result_t res;
        jt_post_claim_t claim;
        jt_error_t err;
        bool retaken, ended = jt_progress_job_ended(job), first = !pm->message_id[0];

        jt_message_for_progress(job, jt_time_wall_ms(), &msg);
        pm->last_edit_ms = jt_time_mono_ms();
        pm->dirty = false;
        if (!n->hook) {
                jt_deliver_to_sink(n, &msg);
                goto done;
        }
        if (first) {
                jt_error_clear(&err);
                if (!jt_posts_claim(&n->posts, job->job_id, "progress", jt_time_wall_ms(), &claim,
                                    &retaken, pm->message_id, &err)) {
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
                jt_deliver_record(n, job->job_id, "progress", true, res.message_id,
                                  res.http_status);
        } else if (res.status == JT_POST_RETRY) {
                pm->dirty = true;
                if (first && !res.maybe_delivered)
                        jt_deliver_release(n, job->job_id, "progress");
        } else if (res.status != JT_POST_OK) {
                jt_log_warn("job=%s: the progress message was refused (%s); no more edits",
                            job->job_id, res.detail);
                if (first)
                        jt_deliver_record(n, job->job_id, "progress", false, "", res.http_status);
                progress_msg_drop(pm);
                goto done;
        }
        if (ended && !pm->dirty)
                progress_msg_drop(pm);
done:
        jt_message_clear(&msg);
}

void jt_progress_msg_flush_due(jt_notifier_t *n) {
        for (int i = 0; i < JT_NOTIFIER_MAX_PROGRESS_MESSAGES && !jt_signal_stop_requested(); i++) {
                jt_progress_msg_t *pm = &n->pms[i];
                jt_job_progress_t *job;
                if (!pm->job_id || !pm->dirty ||
                    jt_time_mono_ms() - pm->last_edit_ms < n->progress_every_ms)
                        continue;
                if (!(job = jt_progress_find(n->progress, pm->job_id))) {
                        progress_msg_drop(pm);
                        continue;
                }
                progress_edit(n, pm, job);
        }
}

void jt_progress_msg_note(jt_notifier_t *n, const jt_status_event_t *ev) {
        jt_job_progress_t *job = jt_progress_apply(n->progress, ev);
        jt_progress_msg_t *pm;

        if (!job || !(pm = progress_msg_for(n, ev->job_id, !jt_progress_job_ended(job))))
                return;
        pm->dirty = true;
        if (jt_progress_job_ended(job))
                progress_edit(n, pm, job); /* the final state at once, before the outcome */
}
