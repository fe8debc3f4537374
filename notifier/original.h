/* --message-style original: the original Discord function's plain Markdown messages, posted as
 * Discord's `content` with no embed, for readers (people, bots) used to them. The wording is the
 * original's; docs/notifier-messages.md says where the fleet's facts differ and shows each kind.
 * The default style (embed) is message.h's. */
#ifndef JT_NOTIFIER_ORIGINAL_H
#define JT_NOTIFIER_ORIGINAL_H

#include <stdbool.h>
#include <stdint.h>

#include "foreign.h"
#include "jt_messages.h"
#include "jt_error.h"
#include "message.h"

/* The original's message for a JOB_FINISHED or JOB_FAILED event (a content message, at most
 * JT_DISCORD_CONTENT_MAX characters). False (msg untouched) for any other event type. */
bool jt_original_for_outcome(const jt_status_event_t *ev, const jt_message_opts_t *opts,
                             jt_message_t *msg);

/* The original's message for foreign JSON (an alarm): the JSON in a code block, cut so that the
 * whole message fits Discord's 2,000 characters of content. */
void jt_original_for_foreign(const jt_foreign_t *doc, int64_t received_ms,
                             const jt_message_opts_t *opts, jt_message_t *msg);

#endif
