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
#include "text.h"

#define ALARM_NAME_MAX 200 /* characters of an alarm's name in the title */

static int64_t value_of(const jt_opt_long_t *v) {
        return v->set ? v->value : 0;
}

static void line_time(jt_text_t *o, const char *label, int64_t ms) {
        char t[JT_FORMAT_BUF];
        jt_text_line(o, label, jt_format_time_en_us(ms, t, sizeof(t)));
        fputc('\n', o->f);
}

static void line_logs(jt_text_t *o, const jt_message_opts_t *opts, const char *what) {
        if (opts && opts->logs_url && *opts->logs_url)
                fprintf(o->f, "📋 [%s](%s)", what, opts->logs_url);
}

static void stats_finished(jt_text_t *o, const jt_status_event_t *ev,
                           const jt_message_opts_t *opts) {
        fprintf(o->f, "## 📊 Monthly Statistics Processed Successfully\n\n");
        fprintf(o->f, "✅ **Status**: Completed\n");
        /* 0 or 1: the original showed it without separators. */
        fprintf(o->f, "🔔 **Notifications Created**: %" PRId64 "\n",
                value_of(&ev->notifications_created));
        jt_text_count(o, "👥 **Users Processed**", &ev->users_processed);
        jt_text_count(o, "📝 **Users Updated**", &ev->users_updated);
        jt_text_cleanup_status(o, &ev->cleanup_triggered);
        jt_text_duration(o, &ev->execution_ms);
        line_time(o, "🕐 **Completed At**", ev->timestamp_ms);
        line_logs(o, opts, "View Detailed Logs");
}

static void cleanup_finished(jt_text_t *o, const jt_status_event_t *ev,
                             const jt_message_opts_t *opts) {
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
        jt_text_count(o, "📦 **Records Deleted**", &ev->records_deleted);
        jt_text_count(o, "📊 **Total Found**", &ev->total_records_found);
        if (remaining > 0)
                fprintf(o->f, "📋 **Remaining**: %s (%s%% complete)\n",
                        jt_format_thousands(remaining, n, sizeof(n)),
                        jt_format_percent1(pct, p, sizeof(p)));
        fprintf(o->f, "⚙️ **Processing Mode**: %s\n", mode ? mode : "unknown");
        jt_text_duration(o, &ev->execution_ms);
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

static void job_failed(jt_text_t *o, const jt_status_event_t *ev, const jt_message_opts_t *opts) {
        bool stats = ev->job_kind == JT_JOB_KIND_STATS;
        char *text = jt_message_error_text(ev->error_message);

        fprintf(o->f, "## 🚨 %s\n\n",
                stats ? "Monthly Statistics Processing Failed" : "Playback Data Cleanup Failed");
        fprintf(o->f, "❌ **Status**: Error\n");
        fprintf(o->f, "⚠️ **Error Message**: `%s`\n", text ? text : "");
        /* The original's statistics failure had no execution time; its cleanup failure had. */
        if (!stats)
                jt_text_duration(o, &ev->execution_ms);
        line_time(o, "🕐 **Failed At**", ev->timestamp_ms);
        fprintf(o->f, "🔧 **Next Steps**: Please check the logs for detailed error information\n");
        line_logs(o, opts, "View Error Logs");
        free(text);
}

bool jt_original_for_outcome(const jt_status_event_t *ev, const jt_message_opts_t *opts,
                             jt_message_t *msg) {
        jt_text_t o;

        if (ev->type != JT_STATUS_JOB_FINISHED && ev->type != JT_STATUS_JOB_FAILED)
                return false;
        if (!jt_text_open(&o))
                return false;
        if (ev->type == JT_STATUS_JOB_FAILED)
                job_failed(&o, ev, opts);
        else if (ev->job_kind == JT_JOB_KIND_STATS)
                stats_finished(&o, ev, opts);
        else
                cleanup_finished(&o, ev, opts);
        jt_message_init_content(msg, jt_text_close_trimmed(&o), ev->timestamp_ms);
        return true;
}

/* A formatted string (malloc'd), NULL when out of memory. */
static char *printed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *printed(const char *fmt, ...) {
        jt_text_t o;
        va_list ap;

        if (!jt_text_open(&o))
                return NULL;
        va_start(ap, fmt);
        vfprintf(o.f, fmt, ap);
        va_end(ap);
        return jt_text_close(&o);
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
