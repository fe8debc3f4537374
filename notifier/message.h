/* What the notifier says: one message per job outcome with the original's content (a title
 * with an emoji, bold labels, thousands separators, the original's duration format), a
 * progress message per running job, and any other JSON on the status topic shown as it is.
 * A message renders as Markdown (stdout, --sink) or as a Discord webhook payload with one
 * embed, kept within Discord's limits; a plain-content message (original.h, --message-style
 * original) as its text and a payload with `content` only. */
#ifndef JT_NOTIFIER_MESSAGE_H
#define JT_NOTIFIER_MESSAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "foreign.h"
#include "jt_error.h"
#include "jt_messages.h"
#include "progress.h"

typedef enum {
        JT_TONE_SUCCESS = 0, /* green */
        JT_TONE_TEST,        /* blue: completed in test mode, and progress */
        JT_TONE_PARTIAL,     /* yellow */
        JT_TONE_FAILURE,     /* red */
        JT_TONE_OTHER,       /* grey: foreign JSON */
} jt_tone_t;

#define JT_MESSAGE_MAX_FIELDS 4

typedef struct {
        char *name;
        char *value;
} jt_message_field_t;

typedef struct {
        char *title; /* "📊 Monthly Statistics Processed Successfully" */
        char *body;  /* Markdown lines under the title */
        jt_tone_t tone;
        int64_t timestamp_ms; /* the event's time: the embed's timestamp */
        jt_message_field_t fields[JT_MESSAGE_MAX_FIELDS];
        int field_count;
        char *content; /* set: a plain Markdown message (--message-style original, original.h)
                          posted as Discord's `content`; title, body and fields are unused */
} jt_message_t;

typedef struct {
        const char *logs_url; /* "📋 [View Detailed Logs](...)" when set */
} jt_message_opts_t;

/* Discord's limits on a webhook message, as its API documentation gives them. */
#define JT_DISCORD_TITLE_MAX       256
#define JT_DISCORD_DESCRIPTION_MAX 4096
#define JT_DISCORD_FIELD_NAME_MAX  256
#define JT_DISCORD_FIELD_VALUE_MAX 1024
#define JT_DISCORD_EMBED_TOTAL_MAX 6000
#define JT_DISCORD_CONTENT_MAX     2000

/* The messages of outcomes and foreign JSON (--message-style); progress messages are always
 * embeds. */
typedef enum {
        JT_MESSAGE_STYLE_EMBED = 0, /* the fleet's embeds (this file) */
        JT_MESSAGE_STYLE_ORIGINAL,  /* the original's content (original.h) */
} jt_message_style_t;

/* "embed" or "original"; anything else is a configuration error naming --message-style. */
bool jt_message_style_parse(const char *name, jt_message_style_t *style, jt_error_t *err);

/* The outcome message of a JOB_FINISHED or JOB_FAILED event. False (msg untouched) for any
 * other event type: those are progress, not outcomes. */
bool jt_message_for_outcome(const jt_status_event_t *ev, const jt_message_opts_t *opts,
                            jt_message_t *msg);

/* Something on the status topic that is not one of our events but is JSON (an alarm another
 * system publishes there), rendered in bounded form by jt_foreign_render: formatted JSON under
 * a title, as the original showed it, with its size when it was too large to parse. */
void jt_message_for_foreign(const jt_foreign_t *doc, int64_t received_ms,
                            const jt_message_opts_t *opts, jt_message_t *msg);

/* The progress message of a running job (edited in place as the job goes on). */
void jt_message_for_progress(const jt_job_progress_t *job, int64_t now_ms, jt_message_t *msg);

/* Takes ownership of title and body (malloc'd); sets the other members to their empty state. */
void jt_message_init(jt_message_t *msg, char *title, char *body, jt_tone_t tone, int64_t ts_ms);

/* A plain Markdown message; takes ownership of content (malloc'd). */
void jt_message_init_content(jt_message_t *msg, char *content, int64_t ts_ms);

/* Adds a field (copied); ignored past JT_MESSAGE_MAX_FIELDS. */
void jt_message_add_field(jt_message_t *msg, const char *name, const char *value);

void jt_message_clear(jt_message_t *msg);

/* "## title\n\nbody\n**name**: value\n..." (malloc'd); a content message's content. */
char *jt_message_markdown(const jt_message_t *msg);

/* {"username": ..., "allowed_mentions": {"parse": []}, "embeds": [{title, description, color,
 * timestamp, fields}]} within Discord's limits (longer texts are cut at a character boundary
 * and end with "…"); a content message as {"content": ..., "allowed_mentions": {"parse": []}}.
 * A new reference. */
json_t *jt_message_discord(const jt_message_t *msg);

/* Copies at most max characters (code points) of the UTF-8 text s, cutting with "…" when it is
 * longer (malloc'd). Invalid UTF-8 bytes become "?", so a payload is always valid JSON text. */
char *jt_message_cut(const char *s, size_t max);

/* An error text for inline code on one line (malloc'd): backticks become ', line breaks and
 * tabs spaces, at most 900 characters; "(no message)" for NULL or "". */
char *jt_message_error_text(const char *s);

/* Text for a ``` code block (malloc'd): a ``` inside would end the block early, so it is
 * broken up. */
char *jt_message_code_text(const char *s);

/* Characters (code points) of a UTF-8 string. */
size_t jt_message_chars(const char *s);

#endif
