/* Outcome, foreign and rendering parts of the notifier's messages (message.h). The wording
 * follows the original Discord function's messages, with the fleet's additions:
 * the month, the job id, the cutoff and trigger of a cleanup, and what happens next. */
#include "message.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "text.h"

static const int tone_colour[] = {
    [JT_TONE_SUCCESS] = 0x2ECC71, [JT_TONE_TEST] = 0x3498DB,  [JT_TONE_PARTIAL] = 0xF1C40F,
    [JT_TONE_FAILURE] = 0xE74C3C, [JT_TONE_OTHER] = 0x95A5A6,
};

#define ERROR_TEXT_MAX 900 /* an error message inside one line of the description */

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

/* The time, then the blank line that comes before the note or the logs link. */
void jt_message_init(jt_message_t *msg, char *title, char *body, jt_tone_t tone, int64_t ts_ms) {
        memset(msg, 0, sizeof(*msg));
        msg->title = title;
        msg->body = body;
        msg->tone = tone;
        msg->timestamp_ms = ts_ms;
}

void jt_message_init_content(jt_message_t *msg, char *content, int64_t ts_ms) {
        memset(msg, 0, sizeof(*msg));
        msg->content = content;
        msg->tone = JT_TONE_OTHER;
        msg->timestamp_ms = ts_ms;
}

void jt_message_add_field(jt_message_t *msg, const char *name, const char *value) {
        if (msg->field_count >= JT_MESSAGE_MAX_FIELDS)
                return;
        msg->fields[msg->field_count].name = strdup(name);
        msg->fields[msg->field_count].value = strdup(value);
        msg->field_count++;
}

void jt_message_clear(jt_message_t *msg) {
        free(msg->title);
        free(msg->body);
        for (int i = 0; i < msg->field_count; i++) {
                free(msg->fields[i].name);
                free(msg->fields[i].value);
        }
        free(msg->content);
        memset(msg, 0, sizeof(*msg));
}

/* Length in bytes of the UTF-8 sequence starting at s, or 0 when it is not valid. */
static size_t utf8_len(const unsigned char *s) {
        size_t n = s[0] < 0x80         ? 1
                   : (s[0] >> 5) == 6  ? 2
                   : (s[0] >> 4) == 14 ? 3
                   : (s[0] >> 3) == 30 ? 4
                                       : 0;
        for (size_t i = 1; i < n; i++)
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
        return n;
}

char *jt_message_cut(const char *s, size_t max) {
        size_t len = strlen(s), chars = 0, in = 0, out = 0;
        char *buf = malloc(len + 4);

        if (!buf)
                return NULL;
        while (s[in]) {
                size_t n = utf8_len((const unsigned char *)s + in);
                if (chars + 1 > max || (chars + 1 == max && s[in + (n ? n : 1)])) {
                        memcpy(buf + out, "\xE2\x80\xA6", 3); /* … */
                        out += 3;
                        break;
                }
                if (n == 0) {
                        buf[out++] = '?';
                        in++;
                } else {
                        memcpy(buf + out, s + in, n);
                        out += n;
                        in += n;
                }
                chars++;
        }
        buf[out] = '\0';
        return buf;
}

/* No backticks (they would end the code span), no line breaks, bounded. */
char *jt_message_error_text(const char *s) {
        char *copy = strdup(s && *s ? s : "(no message)"), *cut;

        for (char *p = copy; p && *p; p++)
                if (*p == '`')
                        *p = '\'';
                else if (*p == '\n' || *p == '\r' || *p == '\t')
                        *p = ' ';
        cut = copy ? jt_message_cut(copy, ERROR_TEXT_MAX) : NULL;
        free(copy);
        return cut;
}

static void line_time(jt_text_t *b, const char *label, int64_t ms) {
        char t[JT_FORMAT_BUF];
        jt_text_line(b, label, jt_format_time(ms, t, sizeof(t)));
}

static void line_logs(jt_text_t *b, const jt_message_opts_t *opts, const char *what) {
        if (opts && opts->logs_url && *opts->logs_url)
                fprintf(b->f, "\n📋 [%s](%s)\n", what, opts->logs_url);
}

static void job_fields(jt_message_t *msg, const jt_status_event_t *ev) {
        char code[300];
        snprintf(code, sizeof(code), "`%s`", ev->job_id);
        jt_message_add_field(msg, "Job", code);
        if (ev->worker_id)
                jt_message_add_field(msg, "Worker", ev->worker_id);
}

/* The app push's outcome (status event v2), only when the job had one configured. */
static void line_pushed(jt_text_t *b, const jt_status_event_t *ev) {
        char n[JT_FORMAT_BUF], f[JT_FORMAT_BUF];

        if (!ev->users_pushed.set)
                return;
        fprintf(b->f, "📲 **Pushed**: %s users",
                jt_format_thousands(ev->users_pushed.value, n, sizeof(n)));
        if (ev->push_failures.set && ev->push_failures.value > 0)
                fprintf(b->f, " (%s failed)",
                        jt_format_thousands(ev->push_failures.value, f, sizeof(f)));
        fputc('\n', b->f);
}

static void stats_finished(const jt_status_event_t *ev, const jt_message_opts_t *o, jt_text_t *b) {
        fprintf(b->f, "✅ **Status**: Completed%s\n", ev->test_mode ? " (Test Mode)" : "");
        if (ev->month)
                fprintf(b->f, "📅 **Month**: %s\n", ev->month);
        jt_text_count(b, "🔔 **Notifications Created**", &ev->notifications_created);
        jt_text_count(b, "👥 **Users Processed**", &ev->users_processed);
        jt_text_count(b, "📝 **Users Updated**", &ev->users_updated);
        line_pushed(b, ev);
        jt_text_cleanup_status(b, &ev->cleanup_triggered);
        jt_text_duration(b, &ev->execution_ms);
        line_time(b, "🕐 **Completed At**", ev->timestamp_ms);
        line_logs(b, o, "View Detailed Logs");
}

static bool cleanup_partial(const jt_status_event_t *ev) {
        return (ev->was_timeout_stopped.set && ev->was_timeout_stopped.value) ||
               (ev->remaining_records.set && ev->remaining_records.value > 0);
}

static void cleanup_finished(const jt_status_event_t *ev, const jt_message_opts_t *o,
                             jt_text_t *b) {
        char n[JT_FORMAT_BUF], p[JT_FORMAT_BUF];
        bool partial = cleanup_partial(ev);

        fprintf(b->f, "✅ **Status**: %s\n",
                partial         ? "⏰ Partially Completed"
                : ev->test_mode ? "Test Mode"
                                : "Completed");
        jt_text_count(b, "📦 **Records Deleted**", &ev->records_deleted);
        jt_text_count(b, "📊 **Total Found**", &ev->total_records_found);
        if (partial)
                fprintf(b->f, "📋 **Remaining**: %s (%s%% complete)\n",
                        jt_format_thousands(ev->remaining_records.value, n, sizeof(n)),
                        jt_format_percent(
                            ev->completion_percentage.set ? ev->completion_percentage.value : 0.0,
                            p, sizeof(p)));
        fprintf(b->f, "⚙️ **Processing Mode**: %s\n",
                ev->processing_mode ? ev->processing_mode : "unknown");
        if (ev->cutoff_date_ms.set)
                line_time(b, "✂️ **Cutoff**", ev->cutoff_date_ms.value);
        if (ev->triggered_by)
                fprintf(b->f, "🚀 **Triggered By**: %s\n", ev->triggered_by);
        jt_text_duration(b, &ev->execution_ms);
        line_time(b, "🕐 **Completed At**", ev->timestamp_ms);
        if (partial)
                fprintf(b->f,
                        "\n⚠️ **Note**: %s playbacks older than the cutoff are still there. "
                        "The next cleanup run (Mondays 04:00 UTC) deletes them; "
                        "`joytify-producer cleanup` deletes them now.\n",
                        jt_format_thousands(ev->remaining_records.value, n, sizeof(n)));
        line_logs(b, o, "View Detailed Logs");
}

static void job_failed(const jt_status_event_t *ev, const jt_message_opts_t *o, jt_text_t *b) {
        char *text = jt_message_error_text(ev->error_message);

        fprintf(b->f, "❌ **Status**: Error\n");
        fprintf(b->f, "⚠️ **Error Message**: `%s`\n", text ? text : "");
        jt_text_duration(b, &ev->execution_ms);
        line_time(b, "🕐 **Failed At**", ev->timestamp_ms);
        fprintf(b->f,
                "\n🔧 **Next Steps**: the failed task is in the dead-letter topic. Fix the "
                "cause (see the worker logs), then `joytify-producer replay --dlq "
                "--filter-job %s` runs it again.\n",
                ev->job_id);
        line_logs(b, o, "View Error Logs");
        free(text);
}

bool jt_message_for_outcome(const jt_status_event_t *ev, const jt_message_opts_t *opts,
                            jt_message_t *msg) {
        bool stats = ev->job_kind == JT_JOB_KIND_STATS;
        const char *title;
        jt_tone_t tone;
        jt_text_t b;

        if (ev->type != JT_STATUS_JOB_FINISHED && ev->type != JT_STATUS_JOB_FAILED)
                return false;
        if (!jt_text_open(&b))
                return false;
        if (ev->type == JT_STATUS_JOB_FAILED) {
                title = stats ? "🚨 Monthly Statistics Processing Failed"
                              : "🚨 Playback Data Cleanup Failed";
                tone = JT_TONE_FAILURE;
                job_failed(ev, opts, &b);
        } else if (stats) {
                title = "📊 Monthly Statistics Processed Successfully";
                tone = ev->test_mode ? JT_TONE_TEST : JT_TONE_SUCCESS;
                stats_finished(ev, opts, &b);
        } else if (cleanup_partial(ev)) {
                title = "🧹 Playback Data Cleanup Partially Completed";
                tone = JT_TONE_PARTIAL;
                cleanup_finished(ev, opts, &b);
        } else {
                title = "🧹 Playback Data Cleanup Completed Successfully";
                tone = ev->test_mode ? JT_TONE_TEST : JT_TONE_SUCCESS;
                cleanup_finished(ev, opts, &b);
        }
        jt_message_init(msg, strdup(title), jt_text_close_trimmed(&b), tone, ev->timestamp_ms);
        job_fields(msg, ev);
        return true;
}

void jt_message_for_foreign(const jt_foreign_t *doc, int64_t received_ms,
                            const jt_message_opts_t *opts, jt_message_t *msg) {
        char *text = jt_message_code_text(doc->text);
        char title[JT_DISCORD_TITLE_MAX * 4];
        char n[JT_FORMAT_BUF];
        jt_text_t b;

        if (doc->alarm)
                snprintf(title, sizeof(title), "🚨 CloudWatch Alarm: %s", doc->alarm);
        else
                snprintf(title, sizeof(title), "📢 Status Notification");
        jt_text_open(&b);
        if (b.f) {
                /* First: a long JSON text is cut to fit Discord, this line must stay. */
                if (!doc->parsed)
                        fprintf(b.f,
                                "📏 **Size**: %s bytes, nested %zu deep: shown as received, "
                                "re-indented and cut\n",
                                jt_format_thousands((int64_t)doc->bytes, n, sizeof(n)), doc->depth);
                fprintf(b.f, "**Message**:\n```json\n%s\n```\n\n", text ? text : "");
                line_time(&b, "🕐 **Received At**", received_ms);
                line_logs(&b, opts, "View Logs");
        }
        jt_message_init(msg, strdup(title), jt_text_close_trimmed(&b), JT_TONE_OTHER, received_ms);
        free(text);
}

char *jt_message_code_text(const char *s) {
        char *text = strdup(s ? s : "");

        for (char *p = text; p && (p = strstr(p, "```")) != NULL;)
                p[1] = '\'';
        return text;
}

char *jt_message_markdown(const jt_message_t *msg) {
        jt_text_t b;

        if (msg->content) {
                size_t len = strlen(msg->content);
                char *md = malloc(len + 2);
                if (md) {
                        memcpy(md, msg->content, len);
                        memcpy(md + len, "\n", 2);
                }
                return md;
        }
        if (!jt_text_open(&b))
                return NULL;
        fprintf(b.f, "## %s\n\n%s\n", msg->title ? msg->title : "", msg->body ? msg->body : "");
        if (msg->field_count)
                fputc('\n', b.f);
        for (int i = 0; i < msg->field_count; i++)
                fprintf(b.f, "**%s**: %s\n", msg->fields[i].name, msg->fields[i].value);
        return jt_text_close(&b);
}

size_t jt_message_chars(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                n += ((unsigned char)*s & 0xC0) != 0x80;
        return n;
}

static json_t *string_cut(const char *s, size_t max, size_t *used) {
        char *cut = jt_message_cut(s ? s : "", max);
        json_t *j = json_string(cut ? cut : "");
        *used += cut ? jt_message_chars(cut) : 0;
        free(cut);
        return j ? j : json_string("");
}

json_t *jt_message_discord(const jt_message_t *msg) {
        char ts[JT_FORMAT_BUF];
        json_t *embed = json_object(), *fields = json_array(), *payload = json_object();
        size_t used = 0, room;

        if (msg->content) {
                /* The original's plain message: no embed, no username (the webhook's own). */
                json_decref(embed);
                json_decref(fields);
                json_object_set_new(payload, "content",
                                    string_cut(msg->content, JT_DISCORD_CONTENT_MAX, &used));
                json_object_set_new(payload, "allowed_mentions", json_pack("{s:[]}", "parse"));
                return payload;
        }
        json_object_set_new(embed, "title", string_cut(msg->title, JT_DISCORD_TITLE_MAX, &used));
        for (int i = 0; i < msg->field_count; i++) {
                json_t *f = json_object();
                json_object_set_new(
                    f, "name", string_cut(msg->fields[i].name, JT_DISCORD_FIELD_NAME_MAX, &used));
                json_object_set_new(
                    f, "value",
                    string_cut(msg->fields[i].value, JT_DISCORD_FIELD_VALUE_MAX, &used));
                json_object_set_new(f, "inline", json_true());
                json_array_append_new(fields, f);
        }
        /* The description gets what the 6,000-character total leaves. */
        room = JT_DISCORD_EMBED_TOTAL_MAX > used ? JT_DISCORD_EMBED_TOTAL_MAX - used : 0;
        json_object_set_new(
            embed, "description",
            string_cut(msg->body,
                       room < JT_DISCORD_DESCRIPTION_MAX ? room : JT_DISCORD_DESCRIPTION_MAX,
                       &used));
        json_object_set_new(embed, "color", json_integer(tone_colour[msg->tone]));
        json_object_set_new(embed, "timestamp",
                            json_string(jt_format_iso_utc(msg->timestamp_ms, ts, sizeof(ts))));
        json_object_set_new(embed, "fields", fields);
        json_object_set_new(payload, "username", json_string("Joytify"));
        /* Error texts come from the database and the workers: they must not ping anyone. */
        json_object_set_new(payload, "allowed_mentions", json_pack("{s:[]}", "parse"));
        json_object_set_new(payload, "embeds", json_pack("[o]", embed));
        return payload;
}

void jt_message_for_progress(const jt_job_progress_t *job, int64_t now_ms, jt_message_t *msg) {
        static const char *const state_icon[] = {"⏳", "🔄", "✅", "🚨"};
        jt_progress_summary_t s;
        char bar[128], pct[JT_FORMAT_BUF], a[JT_FORMAT_BUF], b2[JT_FORMAT_BUF], title[300];
        char code[300];
        bool stats = job->kind == JT_JOB_KIND_STATS;
        jt_text_t b;

        jt_progress_summarize(job, now_ms, &s);
        snprintf(title, sizeof(title), "%s %s%s: %s", state_icon[job->state],
                 stats ? "Monthly Statistics" : "Playback Data Cleanup",
                 job->test_mode ? " (Test Mode)" : "", jt_job_state_name(job->state));
        jt_text_open(&b);
        if (b.f) {
                fprintf(b.f, "📈 **Progress**: `%s` %s%%\n",
                        jt_progress_bar(s.fraction, 20, bar, sizeof(bar)),
                        jt_format_percent(s.fraction * 100.0, pct, sizeof(pct)));
                fprintf(b.f, "🧩 **Tasks**: %s / %s %s\n",
                        jt_format_thousands(s.tasks_done, a, sizeof(a)),
                        jt_format_thousands(s.tasks_total, b2, sizeof(b2)),
                        jt_progress_task_kind(job->kind));
                fprintf(b.f, "%s **%s**: %s / %s\n", stats ? "👥" : "📦",
                        stats ? "Users" : "Playbacks",
                        jt_format_thousands(s.items_done, a, sizeof(a)),
                        jt_format_thousands(s.items_total, b2, sizeof(b2)));
                fprintf(b.f, "⚡ **Rate**: %s %s/s\n",
                        jt_format_thousands((int64_t)(s.rate_per_s + 0.5), a, sizeof(a)),
                        jt_progress_unit(job->kind));
                if (s.eta_s >= 0)
                        fprintf(b.f, "⏳ **ETA**: %s\n",
                                jt_format_duration((int64_t)(s.eta_s * 1000.0), a, sizeof(a)));
                fprintf(b.f, "👷 **Workers**: %d\n", job->worker_count);
                if (job->error) {
                        char *text = jt_message_error_text(job->error);
                        fprintf(b.f, "⚠️ **Last Error**: `%s`\n", text ? text : "");
                        free(text);
                }
                line_time(&b, "🕐 **Updated At**", job->last_ms ? job->last_ms : now_ms);
        }
        jt_message_init(msg, strdup(title), jt_text_close_trimmed(&b),
                        job->state == JT_JOB_FAILED     ? JT_TONE_FAILURE
                        : job->state == JT_JOB_FINISHED ? JT_TONE_SUCCESS
                                                        : JT_TONE_TEST,
                        job->last_ms ? job->last_ms : now_ms);
        snprintf(code, sizeof(code), "`%s`", job->job_id);
        jt_message_add_field(msg, "Job", code);
}
