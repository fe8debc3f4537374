/* Fuzz target: what the notifier does with one message of the status topic (notifier/run.c's
 * handle()): a status event is folded into its job's progress and, for an outcome, rendered;
 * anything else that is JSON is rendered as a foreign message (notifier/message.c, format.c,
 * progress.c), in both styles (original.c: --message-style original). Every rendering must be
 * valid JSON within Discord's limits. Input: a first byte
 * with its high bit clear frames the rest as a status event datum (fuzz_avro.h); otherwise the
 * rest is the raw payload, as a foreign system might publish it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "fuzz_avro.h"
#include "foreign.h"
#include "jt_fuzz.h"
#include "message.h"
#include "original.h"
#include "progress.h"

#define RECEIVED_MS 1793505725000LL /* a fixed "now", so that a run is reproducible */

static size_t chars_of(const char *s) {
        size_t n = 0;
        for (; s && *s; s++)
                n += ((unsigned char)*s & 0xC0) != 0x80;
        return n;
}

/* Both renderings; the Discord payload must be JSON text within the embed limits. */
static void render(const jt_message_t *msg) {
        char *md = jt_message_markdown(msg), *text;
        json_t *payload = jt_message_discord(msg), *embed;
        size_t title, description, total;

        free(md);
        if (chars_of(json_string_value(json_object_get(payload, "content"))) >
            JT_DISCORD_CONTENT_MAX)
                jt_fuzz_finding("notifier-limits", "content of %zu chars",
                                chars_of(json_string_value(json_object_get(payload, "content"))));
        embed = json_array_get(json_object_get(payload, "embeds"), 0);
        title = chars_of(json_string_value(json_object_get(embed, "title")));
        description = chars_of(json_string_value(json_object_get(embed, "description")));
        total = title + description;
        for (size_t i = 0; i < json_array_size(json_object_get(embed, "fields")); i++) {
                json_t *f = json_array_get(json_object_get(embed, "fields"), i);
                total += chars_of(json_string_value(json_object_get(f, "name"))) +
                         chars_of(json_string_value(json_object_get(f, "value")));
        }
        if (!(text = json_dumps(payload, JSON_COMPACT)))
                jt_fuzz_finding("notifier-json", "the Discord payload is not JSON text");
        if (title > JT_DISCORD_TITLE_MAX || description > JT_DISCORD_DESCRIPTION_MAX ||
            total > JT_DISCORD_EMBED_TOTAL_MAX)
                jt_fuzz_finding("notifier-limits", "title %zu, description %zu, total %zu chars",
                                title, description, total);
        free(text);
        json_decref(payload);
}

/* The product calls, in one place (mirrors run.c's handle() and handle_foreign()). */
static void notifier_handle(const uint8_t *payload, size_t len) {
        static const jt_message_opts_t opts = {.logs_url = "https://logs.example.com/notifier"};
        jt_status_event_t ev = {0};
        jt_message_t out;
        jt_error_t err;

        if (jt_status_event_decode(jt_fuzz_avro_registry(), payload, len, &ev, &err)) {
                jt_progress_t *progress = jt_progress_new(8);
                jt_job_progress_t *job = progress ? jt_progress_apply(progress, &ev) : NULL;
                if (job) {
                        jt_message_for_progress(job, RECEIVED_MS, &out);
                        render(&out);
                        jt_message_clear(&out);
                }
                if (jt_message_for_outcome(&ev, &opts, &out)) {
                        render(&out);
                        jt_message_clear(&out);
                }
                if (jt_original_for_outcome(&ev, &opts, &out)) {
                        render(&out);
                        jt_message_clear(&out);
                }
                jt_progress_destroy(progress);
                jt_status_event_clear(&ev);
                return;
        }
        jt_foreign_t doc;
        if (jt_foreign_render(payload, len, &doc)) {
                jt_message_for_foreign(&doc, RECEIVED_MS, &opts, &out);
                render(&out);
                jt_message_clear(&out);
                jt_original_for_foreign(&doc, RECEIVED_MS, &opts, &out);
                render(&out);
                jt_message_clear(&out);
                jt_foreign_clear(&doc);
        }
}

/* LLVMFuzzerInitialize (UTC): jt_fuzz_utc.c. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t *msg;
        size_t len;

        if (size && (data[0] & 0x80)) {
                notifier_handle(data + 1, size - 1);
                return 0;
        }
        jt_fuzz_avro_message(JT_AVRO_STATUS_EVENT, data, size, &msg, &len);
        notifier_handle(msg, len);
        free(msg);
        return 0;
}
