/* The original function's plain messages (original.h): its titles, labels, line order and
 * number formats; times in --timezone as its toLocaleString("en-US") showed them. Where the
 * fleet's facts differ from the Lambda's (a partial cleanup is picked up by the next run, the
 * logs link is --logs-url) docs/notifier-messages.md says what is shown. */
#include "original.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

#define ALARM_NAME_MAX 200 /* characters of an alarm's name in the title */

bool jt_message_style_parse(const char *name, jt_message_style_t *style, jt_error_t *err) {
        *style = JT_MESSAGE_STYLE_EMBED;
        if (name && strcmp(name, "embed") == 0)
                return true;
        if (name && strcmp(name, "original") == 0) {
                *style = JT_MESSAGE_STYLE_ORIGINAL;
                return true;
        }
        return jt_error_set(err, JT_ERR_CONFIG, 0,
                            "--message-style must be original or embed (got \"%s\")",
                            name ? name : "");
}

typedef struct {
        FILE *f;
        char *text;
        size_t len;
} out_t;

static bool out_open(out_t *o) {
        o->text = NULL;
        o->len = 0;
        o->f = open_memstream(&o->text, &o->len);
        return o->f != NULL;
}

/* The text written, without trailing line breaks: the original's messages end with the logs
 * link, or with the line before it when there is no --logs-url. */
static char *out_close(out_t *o) {
        fclose(o->f);
        while (o->text && o->len && o->text[o->len - 1] == '\n')
                o->text[--o->len] = '\0';
        return o->text ? o->text : strdup("");
}

static int64_t value_of(const jt_opt_long_t *v) {
        return v->set ? v->value : 0;
}

static void line_count(out_t *o, const char *label, const jt_opt_long_t *v) {
        char n[JT_FORMAT_BUF];
        fprintf(o->f, "%s: %s\n", label, jt_format_thousands(value_of(v), n, sizeof(n)));
}

/* The original always had the time; an event without it (an older worker's failure) leaves
 * the line out rather than show a made-up 0s. */
static void line_duration(out_t *o, const jt_opt_long_t *ms) {
        char d[JT_FORMAT_BUF];
        if (ms->set)
                fprintf(o->f, "⏱️ **Execution Time**: %s\n",
                        jt_format_duration(ms->value, d, sizeof(d)));
}

/* The time, then the blank line that comes before the note or the logs link. */
static void line_time(out_t *o, const char *label, int64_t ms) {
        char t[JT_FORMAT_BUF];
        fprintf(o->f, "%s: %s\n\n", label, jt_format_time_en_us(ms, t, sizeof(t)));
}

static void line_logs(out_t *o, const jt_message_opts_t *opts, const char *what) {
        if (opts && opts->logs_url && *opts->logs_url)
                fprintf(o->f, "📋 [%s](%s)", what, opts->logs_url);
}

static void stats_finished(out_t *o, const jt_status_event_t *ev, const jt_message_opts_t *opts) {
        fprintf(o->f, "## 📊 Monthly Statistics Processed Successfully\n\n");
        fprintf(o->f, "✅ **Status**: Completed\n");
        /* 0 or 1: the original showed it without separators. */
        fprintf(o->f, "🔔 **Notifications Created**: %" PRId64 "\n",
                value_of(&ev->notifications_created));
        line_count(o, "👥 **Users Processed**", &ev->users_processed);
        line_count(o, "📝 **Users Updated**", &ev->users_updated);
        fprintf(o->f, "🧹 **Cleanup Status**: %s\n",
                ev->cleanup_triggered.set && ev->cleanup_triggered.value ? "✅ Triggered"
                                                                         : "❌ Failed");
        line_duration(o, &ev->execution_ms);
        line_time(o, "🕐 **Completed At**", ev->timestamp_ms);
        line_logs(o, opts, "View Detailed Logs");
}

static void cleanup_finished(out_t *o, const jt_status_event_t *ev, const jt_message_opts_t *opts) {
        bool timeout = ev->was_timeout_stopped.set && ev->was_timeout_stopped.value;
        int64_t remaining = value_of(&ev->remaining_records);
        bool partial = timeout || remaining > 0; /* the embed's rule too (message.c) */
        char n[JT_FORMAT_BUF], p[JT_FORMAT_BUF];
        char *mode = ev->processing_mode ? jt_message_error_text(ev->processing_mode) : NULL;
        double pct = ev->completion_percentage.set ? ev->completion_percentage.value : 100.0;

        fprintf(o->f, "## 🧹 %s\n\n",
                partial ? "Playback Data Cleanup Partially Completed"
                        : "Playback Data Cleanup Completed Successfully");
        fprintf(o->f, "✅ **Status**: %s\n",
                timeout         ? "⏰ Partially Completed (Timeout)"
                : partial       ? "⏰ Partially Completed"
                : ev->test_mode ? "Test Mode"
                                : "Completed");
        line_count(o, "📦 **Records Deleted**", &ev->records_deleted);
        line_count(o, "📊 **Total Found**", &ev->total_records_found);
        if (remaining > 0)
                fprintf(o->f, "📋 **Remaining**: %s (%s%% complete)\n",
                        jt_format_thousands(remaining, n, sizeof(n)),
                        jt_format_percent1(pct, p, sizeof(p)));
        fprintf(o->f, "⚙️ **Processing Mode**: %s\n", mode ? mode : "unknown");
        line_duration(o, &ev->execution_ms);
        line_time(o, "🕐 **Completed At**", ev->timestamp_ms);
        /* The original's rest waited a week for the next Lambda run; the fleet's next cleanup
         * run deletes everything older than its cutoff, so it continues from here. */
        if (partial)
                fprintf(
                    o->f,
                    "⚠️ **Note**: %sRemaining records will be processed by the next cleanup "
                    "run (Mondays 04:00 UTC), which continues where this one stopped.\n\n",
                    timeout ? "Process stopped early to prevent timeout. " : "");
        line_logs(o, opts, "View Detailed Logs");
        free(mode);
}

static void job_failed(out_t *o, const jt_status_event_t *ev, const jt_message_opts_t *opts) {
        bool stats = ev->job_kind == JT_JOB_KIND_STATS;
        char *text = jt_message_error_text(ev->error_message);

        fprintf(o->f, "## 🚨 %s\n\n",
                stats ? "Monthly Statistics Processing Failed" : "Playback Data Cleanup Failed");
        fprintf(o->f, "❌ **Status**: Error\n");
        fprintf(o->f, "⚠️ **Error Message**: `%s`\n", text ? text : "");
        /* The original's statistics failure had no execution time; its cleanup failure had. */
        if (!stats)
                line_duration(o, &ev->execution_ms);
        line_time(o, "🕐 **Failed At**", ev->timestamp_ms);
        fprintf(o->f, "🔧 **Next Steps**: Please check the logs for detailed error information\n");
        line_logs(o, opts, "View Error Logs");
        free(text);
}

bool jt_original_for_outcome(const jt_status_event_t *ev, const jt_message_opts_t *opts,
                             jt_message_t *msg) {
        out_t o;

        if (ev->type != JT_STATUS_JOB_FINISHED && ev->type != JT_STATUS_JOB_FAILED)
                return false;
        if (!out_open(&o))
                return false;
        if (ev->type == JT_STATUS_JOB_FAILED)
                job_failed(&o, ev, opts);
        else if (ev->job_kind == JT_JOB_KIND_STATS)
                stats_finished(&o, ev, opts);
        else
                cleanup_finished(&o, ev, opts);
        jt_message_init_content(msg, out_close(&o), ev->timestamp_ms);
        return true;
}

/* A formatted string (malloc'd), NULL when out of memory. */
static char *printed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *printed(const char *fmt, ...) {
        out_t o;
        va_list ap;

        if (!out_open(&o))
                return NULL;
        va_start(ap, fmt);
        vfprintf(o.f, fmt, ap);
        va_end(ap);
        fclose(o.f);
        return o.text;
}

void jt_original_for_foreign(const jt_foreign_t *doc, int64_t received_ms,
                             const jt_message_opts_t *opts, jt_message_t *msg) {
        char *name = doc->alarm ? jt_message_error_text(doc->alarm) : NULL;
        char *short_name = name ? jt_message_cut(name, ALARM_NAME_MAX) : NULL;
        char *code = jt_message_code_text(doc->text);
        char n[JT_FORMAT_BUF], t[JT_FORMAT_BUF], size_line[256] = "";
        char *head, *tail, *json, *content;
        size_t used, room;

        if (!doc->parsed)
                snprintf(size_line, sizeof(size_line),
                         "📏 **Size**: %s bytes, nested %zu deep: shown as received, re-indented "
                         "and cut\n",
                         jt_format_thousands((int64_t)doc->bytes, n, sizeof(n)), doc->depth);
        /* The original's title for anything but an alarm named its Lambda; its closing fence
         * followed the JSON on the same line. */
        head = printed("## %s%s\n\n%s**Message**:\n```json\n",
                       short_name ? "🚨 CloudWatch Alarm: " : "📢 Lambda Notification",
                       short_name ? short_name : "", size_line);
        tail = printed("```\n\n🕐 **Received At**: %s\n%s%s%s",
                       jt_format_time_en_us(received_ms, t, sizeof(t)),
                       opts && opts->logs_url && *opts->logs_url ? "📋 [View Logs](" : "",
                       opts && opts->logs_url && *opts->logs_url ? opts->logs_url : "",
                       opts && opts->logs_url && *opts->logs_url ? ")" : "");
        /* The JSON gets what Discord's 2,000 characters of content leave. */
        used = (head ? jt_message_chars(head) : 0) + (tail ? jt_message_chars(tail) : 0);
        room = JT_DISCORD_CONTENT_MAX > used + 1 ? JT_DISCORD_CONTENT_MAX - used : 1;
        json = jt_message_cut(code ? code : "", room);
        content = printed("%s%s%s", head ? head : "", json ? json : "", tail ? tail : "");
        if (content) /* no trailing line break, like the other messages */
                for (size_t len = strlen(content); len && content[len - 1] == '\n';)
                        content[--len] = '\0';
        jt_message_init_content(msg, content ? content : strdup(""), received_ms);
        free(json);
        free(tail);
        free(head);
        free(code);
        free(short_name);
        free(name);
}
