/* What the notifier has posted, in MongoDB (collection notifier_posts), so that an outcome is
 * posted once across restarts, crashes and rebalances. One document per message:
 *
 *   { _id: "<group>|<job id>|<what>", group, state: "posting"|"posted"|"rejected",
 *     owner, leaseUntil, messageId, httpStatus, createdAt, updatedAt }
 *
 * The record is claimed ("posting", with a lease) before the request and marked "posted" right
 * after Discord answered, before the Kafka offset is stored. A notifier that dies between the
 * two leaves "posting": after the lease another notifier posts again (at least once; the window
 * is the few milliseconds between Discord's answer and the update). */
#ifndef JT_NOTIFIER_POSTS_H
#define JT_NOTIFIER_POSTS_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_error.h"

#define JT_POSTS_COLLECTION "notifier_posts"

typedef enum {
        JT_POST_CLAIM_MINE = 0, /* post it now */
        JT_POST_CLAIM_DONE,     /* posted (or rejected by Discord) before: do nothing */
        JT_POST_CLAIM_BUSY,     /* another notifier holds a live claim: look again later */
} jt_post_claim_t;

typedef struct {
        mongoc_client_pool_t *pool;
        const char *db;
        const char *group;
        const char *owner; /* "host/pid/start": unique per process */
        int64_t lease_ms;
} jt_posts_t;

/* Claims the record of job_id/what. *retaken is true when the claim was taken over from an
 * owner whose lease had lapsed (its post may have happened). message_id (size >= 32) receives
 * the stored message id when there is one (a progress message posted before). */
bool jt_posts_claim(const jt_posts_t *p, const char *job_id, const char *what, int64_t now_ms,
                    jt_post_claim_t *claim, bool *retaken, char *message_id, jt_error_t *err);

/* Extends this owner's lease (a long wait on Discord's rate limit). */
bool jt_posts_extend(const jt_posts_t *p, const char *job_id, const char *what, int64_t now_ms,
                     jt_error_t *err);

/* Marks the record "posted" or "rejected", with the message id (may be "") and HTTP status. */
bool jt_posts_finish(const jt_posts_t *p, const char *job_id, const char *what, bool posted,
                     const char *message_id, long http_status, int64_t now_ms, jt_error_t *err);

/* Drops this owner's claim when the message surely was not posted (a stop before any request
 * reached Discord), so the next notifier need not wait for the lease. */
bool jt_posts_release(const jt_posts_t *p, const char *job_id, const char *what, jt_error_t *err);

#endif
