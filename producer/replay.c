/* `joytify-producer replay`: the operator's tools after a fix. Offsets mode moves a group's
 * committed offsets through the Admin API and proves the move by reading them back; DLQ mode
 * re-sends dead-lettered tasks to their original topics, at least once. */
#include "replay.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jt_time.h"
#include "jt_dlq.h"
#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_options.h"
#include "jt_startup.h"

#define NO_OFFSET (-1) /* "no committed offset" in the tables below */

typedef enum {
        TARGET_TIMESTAMP, /* the first offset whose timestamp is at or after value (ms) */
        TARGET_BEGINNING, /* the log start */
        TARGET_END,       /* the log end */
        TARGET_OFFSET,    /* value, clamped to the partition's [log start, log end] */
} target_kind_t;

typedef struct {
        target_kind_t kind;
        int64_t value;
        char text[JT_TIME_ISO_BUF]; /* the time as ISO 8601, for TARGET_TIMESTAMP */
} target_t;

/* One partition's move: what the group had, where it goes, what the broker says after. */
typedef struct {
        int32_t partition;
        int64_t low, high; /* log start and log end offsets */
        int64_t before;    /* committed offset, or NO_OFFSET */
        int64_t target;
        const char *note;            /* why the target differs from the one asked for, or NULL */
        int64_t after;               /* committed offset read back after the move, or NO_OFFSET */
        rd_kafka_resp_err_t refused; /* the broker's answer to this partition's move */
} move_t;

typedef struct {
        const char *topic;
        const char *group;
        move_t *moves;
        int count;
} plan_t;

typedef struct {
        rd_kafka_consumer_group_state_t state;
        size_t members;
        char who[256]; /* "client-id@host, ..." of the first members, for the refusal */
} group_state_t;

/* One DLQ partition: read from start up to (not including) end, the log end seen at start. */
typedef struct {
        int32_t partition;
        int64_t start;
        int64_t end;
        int64_t next; /* offset after the last message handled */
        bool done;
} dlq_part_t;

typedef struct {
        const char *topic; /* the DLQ */
        const char *job;   /* --filter-job, or NULL */
        bool dry_run;
        const struct rd_kafka_metadata *md; /* every topic, to check original topics exist */
        dlq_part_t *parts;
        int count;
        int resent, skipped, filtered;
} dlq_run_t;

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_blank(const char *s) {
        return !s || !*s;
}

/* Options of one mode make no sense in the other: say so instead of silently ignoring them. */
static bool check_mode(const jt_config_t *cfg, bool dlq, jt_error_t *err) {
        static const char *const offsets_only[] = {"topic", "group", "to-timestamp", "to-offset",
                                                   "force"};

        if (dlq) {
                for (size_t i = 0; i < sizeof(offsets_only) / sizeof(offsets_only[0]); i++)
                        if (jt_config_is_set(cfg, offsets_only[i]))
                                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                                    "--%s does not apply to --dlq, which re-sends "
                                                    "the messages of --dlq-topic",
                                                    offsets_only[i]);
                if (jt_config_is_set(cfg, "filter-job") &&
                    is_blank(jt_config_str(cfg, "filter-job")))
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "--filter-job needs a job id (got \"\")");
                return true;
        }
        if (jt_config_is_set(cfg, "filter-job"))
                return jt_error_set(err, JT_ERR_CONFIG, 0, "--filter-job only applies with --dlq");
        if (is_blank(jt_config_str(cfg, "topic")))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--topic is required: the topic whose offsets move (or give "
                                    "--dlq to re-send dead-lettered tasks)");
        if (is_blank(jt_config_str(cfg, "group")))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--group is required: the consumer group whose offsets move");
        return true;
}

static bool parse_target(const jt_config_t *cfg, target_t *t, jt_error_t *err) {
        const char *ts = jt_config_str(cfg, "to-timestamp");
        const char *off = jt_config_str(cfg, "to-offset");

        memset(t, 0, sizeof(*t));
        if ((ts != NULL) == (off != NULL))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "give exactly one of --to-timestamp TS or --to-offset "
                                    "beginning|end|N (got %s)",
                                    ts ? "both" : "neither");
        if (ts) {
                int64_t secs;
                if (!jt_time_parse_iso(ts, &secs, err))
                        return jt_error_prefix(err, "--to-timestamp");
                /* ListOffsets reads negative times as "latest"/"earliest": never send one. */
                if (secs < 0)
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "--to-timestamp must be at or after "
                                            "1970-01-01T00:00:00Z (got \"%s\")",
                                            ts);
                t->kind = TARGET_TIMESTAMP;
                t->value = secs * 1000;
                jt_time_format_iso(secs, t->text, sizeof(t->text));
                return true;
        }
        if (strcmp(off, "beginning") == 0) {
                t->kind = TARGET_BEGINNING;
                return true;
        }
        if (strcmp(off, "end") == 0) {
                t->kind = TARGET_END;
                return true;
        }
        char *end = NULL;
        errno = 0;
        long long n = strtoll(off, &end, 10);
        if (!isdigit((unsigned char)off[0]) || errno != 0 || *end != '\0')
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--to-offset must be beginning, end or an offset 0..%lld "
                                    "(got \"%s\")",
                                    (long long)INT64_MAX, off);
        t->kind = TARGET_OFFSET;
        t->value = n;
        return true;
}

/* --- Admin API plumbing ------------------------------------------------------------------ */

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op,
                                              int timeout_ms) {
        rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
        char errstr[256];

        rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, errstr, sizeof(errstr));
        return o;
}

/* Waits for the result of one Admin API call; the event is the caller's to destroy. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *queue, int timeout_ms, const char *what,
                                    jt_error_t *err) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(queue, timeout_ms + 2000);

        if (!ev) {
                jt_error_set(err, JT_ERR_KAFKA, RD_KAFKA_RESP_ERR__TIMED_OUT,
                             "%s: no answer from the brokers within %d s", what, timeout_ms / 1000);
                return NULL;
        }
        if (rd_kafka_event_error(ev)) {
                jt_error_set(err, JT_ERR_KAFKA, rd_kafka_event_error(ev), "%s: %s", what,
                             rd_kafka_event_error_string(ev));
                rd_kafka_event_destroy(ev);
                return NULL;
        }
        return ev;
}

/* Metadata of every topic. Asking for one topic by name could make a broker with
 * auto.create.topics.enable create it, and a typo must not create a topic. */
static bool all_topics(rd_kafka_t *rk, const jt_kafka_opts_t *opts,
                       const struct rd_kafka_metadata **md, jt_error_t *err) {
        rd_kafka_resp_err_t rc = rd_kafka_metadata(rk, 1, NULL, md, opts->timeout_ms);

        if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
                *md = NULL;
                return jt_error_set_transient(
                    err, JT_ERR_KAFKA, rc, "cannot reach Kafka at %s within %d s: %s",
                    opts->brokers, opts->timeout_ms / 1000, rd_kafka_err2str(rc));
        }
        return true;
}

static const rd_kafka_metadata_topic_t *find_topic(const struct rd_kafka_metadata *md,
                                                   const char *topic) {
        for (int i = 0; i < md->topic_cnt; i++)
                if (strcmp(md->topics[i].topic, topic) == 0 && !md->topics[i].err)
                        return &md->topics[i];
        return NULL;
}

static int cmp_int32(const void *a, const void *b) {
        int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
        return (x > y) - (x < y);
}

/* The partition ids of topic, sorted; a missing topic is a configuration error. */
static bool topic_partitions(const struct rd_kafka_metadata *md, const char *topic,
                             const char *brokers, int32_t **ids, int *count, jt_error_t *err) {
        const rd_kafka_metadata_topic_t *t = find_topic(md, topic);

        *ids = NULL;
        *count = 0;
        if (!t || t->partition_cnt <= 0)
                return jt_error_set(err, JT_ERR_CONFIG, 0, "topic %s does not exist on %s", topic,
                                    brokers);
        *ids = calloc((size_t)t->partition_cnt, sizeof(**ids));
        if (!*ids)
                return jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
        for (int i = 0; i < t->partition_cnt; i++)
                (*ids)[i] = t->partitions[i].id;
        qsort(*ids, (size_t)t->partition_cnt, sizeof(**ids), cmp_int32);
        *count = t->partition_cnt;
        return true;
}

static bool group_describe(rd_kafka_t *rk, const char *group, int timeout_ms, group_state_t *gs,
                           jt_error_t *err) {
        rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *o =
            admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout_ms);
        const char *groups[1] = {group};
        rd_kafka_event_t *ev = NULL;
        const rd_kafka_ConsumerGroupDescription_t **descs;
        size_t n = 0;
        bool ok = false;

        memset(gs, 0, sizeof(*gs));
        rd_kafka_DescribeConsumerGroups(rk, groups, 1, o, queue);
        ev = admin_wait(queue, timeout_ms, "describing the group", err);
        if (!ev)
                goto done;
        descs = rd_kafka_DescribeConsumerGroups_result_groups(
            rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
        if (n != 1) {
                jt_error_set(err, JT_ERR_KAFKA, 0, "describing group %s: %zu answers, expected 1",
                             group, n);
                goto done;
        }
        const rd_kafka_error_t *gerr = rd_kafka_ConsumerGroupDescription_error(descs[0]);
        if (gerr && rd_kafka_error_code(gerr) != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
                jt_error_set(err, JT_ERR_KAFKA, rd_kafka_error_code(gerr),
                             "describing group %s: %s", group, rd_kafka_error_string(gerr));
                goto done;
        }
        if (!gerr) {
                gs->state = rd_kafka_ConsumerGroupDescription_state(descs[0]);
                gs->members = rd_kafka_ConsumerGroupDescription_member_count(descs[0]);
        }
        for (size_t i = 0; i < gs->members && i < 4; i++) {
                const rd_kafka_MemberDescription_t *m =
                    rd_kafka_ConsumerGroupDescription_member(descs[0], i);
                size_t used = strlen(gs->who);
                snprintf(gs->who + used, sizeof(gs->who) - used, "%s%s@%s", i ? ", " : "",
                         rd_kafka_MemberDescription_client_id(m),
                         rd_kafka_MemberDescription_host(m));
        }
        if (gs->members > 4) {
                size_t used = strlen(gs->who);
                snprintf(gs->who + used, sizeof(gs->who) - used, ", ...");
        }
        ok = true;
done:
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_queue_destroy(queue);
        return ok;
}

static bool group_active(const group_state_t *gs) {
        return gs->members > 0 || gs->state == RD_KAFKA_CONSUMER_GROUP_STATE_STABLE ||
               gs->state == RD_KAFKA_CONSUMER_GROUP_STATE_PREPARING_REBALANCE ||
               gs->state == RD_KAFKA_CONSUMER_GROUP_STATE_COMPLETING_REBALANCE;
}

static move_t *find_move(const plan_t *plan, int32_t partition) {
        for (int i = 0; i < plan->count; i++)
                if (plan->moves[i].partition == partition)
                        return &plan->moves[i];
        return NULL;
}

static rd_kafka_topic_partition_list_t *plan_partitions(const plan_t *plan, bool with_targets) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(plan->count);

        for (int i = 0; i < plan->count; i++) {
                rd_kafka_topic_partition_t *p =
                    rd_kafka_topic_partition_list_add(list, plan->topic, plan->moves[i].partition);
                if (with_targets)
                        p->offset = plan->moves[i].target;
        }
        return list;
}

/* Reads the group's committed offsets on the plan's partitions into before (or after). */
static bool group_committed(rd_kafka_t *rk, plan_t *plan, int timeout_ms, bool after,
                            jt_error_t *err) {
        rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *o =
            admin_options(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout_ms);
        rd_kafka_topic_partition_list_t *list = plan_partitions(plan, false);
        rd_kafka_ListConsumerGroupOffsets_t *req =
            rd_kafka_ListConsumerGroupOffsets_new(plan->group, list);
        rd_kafka_event_t *ev = NULL;
        const rd_kafka_group_result_t **groups;
        const rd_kafka_topic_partition_list_t *parts;
        size_t n = 0;
        bool ok = false;

        rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, queue);
        ev = admin_wait(queue, timeout_ms, "reading the group's committed offsets", err);
        if (!ev)
                goto done;
        groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
            rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
        if (n != 1) {
                jt_error_set(err, JT_ERR_KAFKA, 0,
                             "reading committed offsets of %s: %zu answers, expected 1",
                             plan->group, n);
                goto done;
        }
        if (rd_kafka_group_result_error(groups[0])) {
                const rd_kafka_error_t *gerr = rd_kafka_group_result_error(groups[0]);
                jt_error_set(err, JT_ERR_KAFKA, rd_kafka_error_code(gerr),
                             "reading committed offsets of %s: %s", plan->group,
                             rd_kafka_error_string(gerr));
                goto done;
        }
        for (int i = 0; i < plan->count; i++) {
                if (after)
                        plan->moves[i].after = NO_OFFSET;
                else
                        plan->moves[i].before = NO_OFFSET;
        }
        parts = rd_kafka_group_result_partitions(groups[0]);
        for (int i = 0; parts && i < parts->cnt; i++) {
                const rd_kafka_topic_partition_t *p = &parts->elems[i];
                move_t *m = find_move(plan, p->partition);
                if (!m || strcmp(p->topic, plan->topic) != 0)
                        continue;
                if (p->err) {
                        jt_error_set(err, JT_ERR_KAFKA, p->err,
                                     "reading the committed offset of %s [%" PRId32 "]: %s",
                                     plan->topic, p->partition, rd_kafka_err2str(p->err));
                        goto done;
                }
                if (after)
                        m->after = p->offset >= 0 ? p->offset : NO_OFFSET;
                else
                        m->before = p->offset >= 0 ? p->offset : NO_OFFSET;
        }
        ok = true;
done:
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_ListConsumerGroupOffsets_destroy(req);
        rd_kafka_topic_partition_list_destroy(list);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_queue_destroy(queue);
        return ok;
}

/* Fills low/high and the target of every partition. */
static bool plan_targets(rd_kafka_t *rk, plan_t *plan, const target_t *t, int timeout_ms,
                         jt_error_t *err) {
        rd_kafka_topic_partition_list_t *list = NULL;
        rd_kafka_resp_err_t rc;
        bool ok = false;

        for (int i = 0; i < plan->count; i++) {
                move_t *m = &plan->moves[i];
                rc = rd_kafka_query_watermark_offsets(rk, plan->topic, m->partition, &m->low,
                                                      &m->high, timeout_ms);
                if (rc) {
                        jt_error_set(err, JT_ERR_KAFKA, rc,
                                     "reading the offsets of %s [%" PRId32 "]: %s", plan->topic,
                                     m->partition, rd_kafka_err2str(rc));
                        goto done;
                }
                switch (t->kind) {
                case TARGET_BEGINNING:
                        m->target = m->low;
                        break;
                case TARGET_END:
                        m->target = m->high;
                        break;
                case TARGET_OFFSET:
                        m->target = t->value;
                        if (t->value < m->low) {
                                m->target = m->low;
                                m->note = "clamped up to the log start";
                        } else if (t->value > m->high) {
                                m->target = m->high;
                                m->note = "clamped down to the log end";
                        }
                        break;
                case TARGET_TIMESTAMP:
                        break;
                }
        }
        if (t->kind == TARGET_TIMESTAMP) {
                list = plan_partitions(plan, false);
                for (int i = 0; i < list->cnt; i++)
                        list->elems[i].offset = t->value;
                rc = rd_kafka_offsets_for_times(rk, list, timeout_ms);
                if (rc) {
                        jt_error_set(err, JT_ERR_KAFKA, rc, "looking up offsets of %s by time: %s",
                                     plan->topic, rd_kafka_err2str(rc));
                        goto done;
                }
                for (int i = 0; i < list->cnt; i++) {
                        const rd_kafka_topic_partition_t *p = &list->elems[i];
                        move_t *m = find_move(plan, p->partition);
                        if (p->err) {
                                jt_error_set(err, JT_ERR_KAFKA, p->err,
                                             "looking up the offset of %s [%" PRId32 "] at %s: %s",
                                             plan->topic, p->partition, t->text,
                                             rd_kafka_err2str(p->err));
                                goto done;
                        }
                        if (p->offset < 0) {
                                /* Nothing at or after the time: the group reads only what
                                 * comes next, which is the log end. */
                                m->target = m->high;
                                m->note = "no message at or after the time: log end";
                        } else {
                                m->target = p->offset;
                        }
                }
        }
        ok = true;
done:
        if (list)
                rd_kafka_topic_partition_list_destroy(list);
        return ok;
}

/* Moves the offsets. False only when the call itself failed; a broker refusal is per
 * partition, in moves[].refused, counted in *refused. */
static bool alter_offsets(rd_kafka_t *rk, plan_t *plan, int timeout_ms, int *refused,
                          jt_error_t *err) {
        rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *o =
            admin_options(rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, timeout_ms);
        rd_kafka_topic_partition_list_t *list = plan_partitions(plan, true);
        rd_kafka_AlterConsumerGroupOffsets_t *req =
            rd_kafka_AlterConsumerGroupOffsets_new(plan->group, list);
        rd_kafka_event_t *ev = NULL;
        const rd_kafka_group_result_t **groups;
        const rd_kafka_topic_partition_list_t *parts;
        size_t n = 0;
        bool ok = false;

        *refused = 0;
        rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, o, queue);
        ev = admin_wait(queue, timeout_ms, "moving the group's offsets", err);
        if (!ev)
                goto done;
        groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
            rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
        if (n != 1) {
                jt_error_set(err, JT_ERR_KAFKA, 0, "moving offsets of %s: %zu answers, expected 1",
                             plan->group, n);
                goto done;
        }
        if (rd_kafka_group_result_error(groups[0])) {
                /* The whole request was refused: every partition stays where it was. */
                rd_kafka_resp_err_t code =
                    rd_kafka_error_code(rd_kafka_group_result_error(groups[0]));
                for (int i = 0; i < plan->count; i++)
                        plan->moves[i].refused = code;
                *refused = plan->count;
                ok = true;
                goto done;
        }
        parts = rd_kafka_group_result_partitions(groups[0]);
        for (int i = 0; parts && i < parts->cnt; i++) {
                move_t *m = find_move(plan, parts->elems[i].partition);
                if (m && parts->elems[i].err) {
                        m->refused = parts->elems[i].err;
                        (*refused)++;
                }
        }
        ok = true;
done:
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_AlterConsumerGroupOffsets_destroy(req);
        rd_kafka_topic_partition_list_destroy(list);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_queue_destroy(queue);
        return ok;
}

/* --- Offsets mode output ----------------------------------------------------------------- */

static const char *offset_text(int64_t offset, char *buf, size_t size) {
        if (offset == NO_OFFSET)
                snprintf(buf, size, "none");
        else
                snprintf(buf, size, "%" PRId64, offset);
        return buf;
}

static void print_plan(const plan_t *plan, const target_t *t) {
        int64_t reread = 0, skip = 0;
        char before[32];

        switch (t->kind) {
        case TARGET_TIMESTAMP:
                printf("topic %s, group %s: move to the first message at or after %s\n",
                       plan->topic, plan->group, t->text);
                break;
        case TARGET_BEGINNING:
                printf("topic %s, group %s: move to the log start (beginning)\n", plan->topic,
                       plan->group);
                break;
        case TARGET_END:
                printf("topic %s, group %s: move to the log end (end)\n", plan->topic, plan->group);
                break;
        case TARGET_OFFSET:
                printf("topic %s, group %s: move to offset %" PRId64 "\n", plan->topic, plan->group,
                       t->value);
                break;
        }
        printf("%9s  %16s  %12s  %12s  %12s  %s\n", "partition", "committed before", "target",
               "log start", "log end", "messages");
        for (int i = 0; i < plan->count; i++) {
                const move_t *m = &plan->moves[i];
                char change[64];

                if (m->before == NO_OFFSET) {
                        /* Without a commit the group would start at auto.offset.reset; after
                         * the move it reads from the target to the end. */
                        snprintf(change, sizeof(change), "%" PRId64 " to read (no commit yet)",
                                 m->high - m->target);
                } else if (m->target < m->before) {
                        snprintf(change, sizeof(change), "re-read %" PRId64, m->before - m->target);
                        reread += m->before - m->target;
                } else if (m->target > m->before) {
                        snprintf(change, sizeof(change), "skip %" PRId64, m->target - m->before);
                        skip += m->target - m->before;
                } else {
                        snprintf(change, sizeof(change), "unchanged");
                }
                printf("%9" PRId32 "  %16s  %12" PRId64 "  %12" PRId64 "  %12" PRId64
                       "  %s%s%s%s\n",
                       m->partition, offset_text(m->before, before, sizeof(before)), m->target,
                       m->low, m->high, change, m->note ? " (" : "", m->note ? m->note : "",
                       m->note ? ")" : "");
        }
        printf("total over %d partition(s): re-read %" PRId64 ", skip %" PRId64 "\n", plan->count,
               reread, skip);
}

/* Prints what the broker holds now; returns how many partitions are not at their target. */
static int print_after(const plan_t *plan) {
        int wrong = 0;
        char after[32];

        printf("committed offsets read back from the broker:\n");
        printf("%9s  %16s  %s\n", "partition", "committed after", "result");
        for (int i = 0; i < plan->count; i++) {
                const move_t *m = &plan->moves[i];
                char result[160];

                if (m->refused) {
                        snprintf(result, sizeof(result), "REFUSED by the broker: %s (%s)",
                                 rd_kafka_err2str(m->refused), rd_kafka_err2name(m->refused));
                        wrong++;
                } else if (m->after != m->target) {
                        snprintf(result, sizeof(result), "MISMATCH: expected %" PRId64, m->target);
                        wrong++;
                } else {
                        snprintf(result, sizeof(result), "moved");
                }
                printf("%9" PRId32 "  %16s  %s\n", m->partition,
                       offset_text(m->after, after, sizeof(after)), result);
        }
        return wrong;
}

/* Kafka answers UNKNOWN_MEMBER_ID to an offset change for a group with members, including a
 * worker that joined after the group was described. */
static bool refused_for_members(const plan_t *plan) {
        for (int i = 0; i < plan->count; i++)
                if (plan->moves[i].refused == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID)
                        return true;
        return false;
}

static void print_refusal(const jt_config_t *cfg, const plan_t *plan, const group_state_t *gs,
                          bool forced) {
        FILE *out = stderr;
        const char *name = jt_config_command_line_name(cfg);

        fflush(stdout); /* the plan first, then the verdict, also in a log file */
        fprintf(out, "%s: group %s has active members (state %s, %zu member(s)%s%s)%s\n", name,
                plan->group, rd_kafka_consumer_group_state_name(gs->state), gs->members,
                gs->members ? ": " : "", gs->who,
                forced ? "; --force given, trying anyway" : "; no offset changed");
        if (forced)
                return;
        fprintf(out,
                "%s: stop the consumers first, e.g. `systemctl stop 'joytify-worker@*'` or "
                "`kubectl scale deployment/joytify-worker --replicas=0`, wait until the group is "
                "empty (a consumer that stopped without leaving stays a member until its "
                "session.timeout.ms, 45 s by default, runs out), then run this command again.\n"
                "%s: --force tries anyway, but Kafka itself refuses to change the offsets of a "
                "group with active members.\n",
                name, name);
}

static int replay_offsets(const jt_config_t *cfg) {
        jt_kafka_opts_t opts = jt_kafka_opts_from_config(cfg);
        bool dry_run = jt_config_bool(cfg, "dry-run");
        bool force = jt_config_bool(cfg, "force");
        plan_t plan = {jt_config_str(cfg, "topic"), jt_config_str(cfg, "group"), NULL, 0};
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_conf_t *conf = NULL;
        rd_kafka_t *rk = NULL;
        int32_t *ids = NULL;
        group_state_t gs;
        target_t target;
        char errstr[512];
        int refused = 0, wrong;
        jt_error_t err;
        int rc = JT_EXIT_FAILURE;

        jt_error_clear(&err);
        if (!parse_target(cfg, &target, &err) || !(conf = jt_kafka_conf_new(&opts, &err)))
                goto done;
        /* A plain client: the Admin API and offset look-ups need no producer or group. */
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                jt_error_set(&err, JT_ERR_CONFIG, 0, "cannot create a Kafka client: %s", errstr);
                goto done;
        }
        conf = NULL;
        if (!all_topics(rk, &opts, &md, &err) ||
            !topic_partitions(md, plan.topic, opts.brokers, &ids, &plan.count, &err))
                goto done;
        plan.moves = calloc((size_t)plan.count, sizeof(*plan.moves));
        if (!plan.moves) {
                jt_error_set(&err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
                goto done;
        }
        for (int i = 0; i < plan.count; i++)
                plan.moves[i].partition = ids[i];
        if (!group_describe(rk, plan.group, opts.timeout_ms, &gs, &err) ||
            !group_committed(rk, &plan, opts.timeout_ms, false, &err) ||
            !plan_targets(rk, &plan, &target, opts.timeout_ms, &err))
                goto done;

        print_plan(&plan, &target);
        if (dry_run) {
                if (group_active(&gs))
                        printf("note: group %s has active members (state %s, %zu member(s)); a "
                               "real run would be refused until they stop\n",
                               plan.group, rd_kafka_consumer_group_state_name(gs.state),
                               gs.members);
                printf("dry run: no offset changed\n");
                rc = JT_EXIT_OK;
                goto done;
        }
        if (group_active(&gs)) {
                print_refusal(cfg, &plan, &gs, force);
                if (!force)
                        goto done;
        }
        if (!alter_offsets(rk, &plan, opts.timeout_ms, &refused, &err) ||
            !group_committed(rk, &plan, opts.timeout_ms, true, &err))
                goto done;
        wrong = print_after(&plan);
        fflush(stdout);
        if (refused) {
                fprintf(stderr,
                        "%s: the broker refused the move on %d of %d partition(s) (see above)%s\n",
                        jt_config_command_line_name(cfg), refused, plan.count,
                        group_active(&gs) || refused_for_members(&plan)
                            ? ": Kafka changes no offsets while the group has active members; "
                              "stop the consumers and retry"
                            : "");
        } else if (wrong) {
                fprintf(stderr, "%s: %d partition(s) did not end at their target (see above)\n",
                        jt_config_command_line_name(cfg), wrong);
        } else {
                rc = JT_EXIT_OK;
        }
done:
        fflush(stdout);
        if (err.domain != JT_ERR_NONE)
                rc = jt_startup_fail(cfg, &err);
        if (conf)
                rd_kafka_conf_destroy(conf);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rk)
                rd_kafka_destroy(rk);
        free(plan.moves);
        free(ids);
        return rc;
}

/* --- DLQ mode ---------------------------------------------------------------------------- */

/* Prints bytes from a topic as text, escaping anything that could garble the terminal. */
static void print_bytes(FILE *out, const void *data, size_t len) {
        const unsigned char *p = data;
        size_t shown = len < 200 ? len : 200;

        if (!data) {
                fputs("(null)", out);
                return;
        }
        fputc('"', out);
        for (size_t i = 0; i < shown; i++) {
                if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
                        fputc(p[i], out);
                else
                        fprintf(out, "\\x%02x", p[i]);
        }
        fputc('"', out);
        if (len > shown)
                fprintf(out, "...(%zu bytes)", len);
}

/* Keys are "job_id/...": the job is the part before the first '/'. */
static bool key_has_job(const rd_kafka_message_t *msg, const char *job) {
        const char *key = msg->key;
        const char *slash = key ? memchr(key, '/', msg->key_len) : NULL;
        size_t len = slash ? (size_t)(slash - key) : msg->key_len;

        return key && len == strlen(job) && memcmp(key, job, len) == 0;
}

/* Sends a copy of the DLQ message to topic: same key and value bytes (a key is not always
 * text, so not through jt_kafka_send), the headers that are not the DLQ's own, and
 * jt-replayed-from. */
static bool resend(rd_kafka_t *producer, const rd_kafka_message_t *msg, const char *topic,
                   const char *from, jt_error_t *err) {
        rd_kafka_headers_t *in = NULL;
        rd_kafka_headers_t *out = rd_kafka_headers_new(8);
        const char *name;
        const void *value;
        size_t size;
        rd_kafka_resp_err_t rc;

        if (rd_kafka_message_headers(msg, &in) == RD_KAFKA_RESP_ERR_NO_ERROR)
                for (size_t i = 0; rd_kafka_header_get_all(in, i, &name, &value, &size) ==
                                   RD_KAFKA_RESP_ERR_NO_ERROR;
                     i++)
                        if (!jt_dlq_header_is_contract(name) &&
                            strcmp(name, JT_DLQ_HDR_REPLAYED_FROM) != 0)
                                rd_kafka_header_add(out, name, -1, value, (ssize_t)size);
        rd_kafka_header_add(out, JT_DLQ_HDR_REPLAYED_FROM, -1, from, -1);
        for (;;) {
                rc = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic),
                                       RD_KAFKA_V_KEY(msg->key, msg->key_len),
                                       RD_KAFKA_V_VALUE(msg->payload, msg->len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_HEADERS(out), RD_KAFKA_V_END);
                if (rc != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(producer, 100);
        }
        if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
                rd_kafka_headers_destroy(out);
                return jt_error_set(err, JT_ERR_KAFKA, rc, "producing to %s: %s", topic,
                                    rd_kafka_err2str(rc));
        }
        return true;
}

/* Handles one DLQ message: filter, check, print, re-send. False only when sending failed,
 * which stops the read there: what was handled before it is still committed once delivered. */
static bool dlq_handle(dlq_run_t *run, rd_kafka_t *producer, const rd_kafka_message_t *msg,
                       jt_error_t *err) {
        char topic[256], error[512], from[512], why[JT_ERROR_MSG_MAX], shown[2048];
        int64_t attempts = 0;
        jt_error_t herr;

        if (run->job && !key_has_job(msg, run->job)) {
                run->filtered++;
                return true;
        }
        snprintf(from, sizeof(from), "%s/%" PRId32 "/%" PRId64, run->topic, msg->partition,
                 msg->offset);
        jt_error_clear(&herr);
        why[0] = '\0';
        if (!jt_dlq_header_str(msg, JT_DLQ_HDR_TOPIC, topic, sizeof(topic), &herr))
                snprintf(why, sizeof(why), "%s", herr.message);
        else if (strcmp(topic, run->topic) == 0)
                snprintf(why, sizeof(why), "%s names the DLQ itself", JT_DLQ_HDR_TOPIC);
        else if (!find_topic(run->md, topic))
                snprintf(why, sizeof(why), "original topic %s does not exist", topic);
        if (why[0]) {
                /* Nothing to send it to: report it and move on, so one bad message never
                 * blocks the rest of the DLQ. */
                printf("skip     %s  key=", from);
                print_bytes(stdout, msg->key, msg->key_len);
                printf("  (%s)\n", jt_log_escape(why, shown, sizeof(shown)));
                run->skipped++;
                return true;
        }
        if (!jt_dlq_header_str(msg, JT_DLQ_HDR_ERROR, error, sizeof(error), &herr))
                snprintf(error, sizeof(error), "(%s)", herr.message);
        printf("%s  %s  key=", run->dry_run ? "would re-send" : "re-send", from);
        print_bytes(stdout, msg->key, msg->key_len);
        /* Header values are any producer's bytes: escaped for the terminal (jt_log.h). */
        printf("  -> %s", jt_log_escape(topic, shown, sizeof(shown)));
        printf("  error=\"%s\"", jt_log_escape(error, shown, sizeof(shown)));
        if (jt_dlq_header_int(msg, JT_DLQ_HDR_ATTEMPTS, &attempts, &herr))
                printf("  attempts=%" PRId64, attempts);
        printf("\n");
        if (!run->dry_run && !resend(producer, msg, topic, from, err))
                return false;
        run->resent++;
        return true;
}

static dlq_part_t *dlq_find(dlq_run_t *run, int32_t partition) {
        for (int i = 0; i < run->count; i++)
                if (run->parts[i].partition == partition)
                        return &run->parts[i];
        return NULL;
}

/* Reads every assigned partition up to the end seen at start. A partition that stops
 * delivering for timeout_ms ends the read with an error; what was handled until then still
 * counts (and is committed by the caller once delivered). */
static bool dlq_read(dlq_run_t *run, rd_kafka_t *consumer, rd_kafka_t *producer, int timeout_ms,
                     jt_error_t *err) {
        int pending = 0;
        int64_t last_progress = now_ms();

        for (int i = 0; i < run->count; i++)
                if (!run->parts[i].done)
                        pending++;
        while (pending > 0) {
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(consumer, 100);
                dlq_part_t *part;

                if (!msg) {
                        if (now_ms() - last_progress <= timeout_ms)
                                continue;
                        for (int i = 0; i < run->count; i++)
                                if (!run->parts[i].done)
                                        return jt_error_set(
                                            err, JT_ERR_KAFKA, RD_KAFKA_RESP_ERR__TIMED_OUT,
                                            "reading %s [%" PRId32 "] stalled at offset %" PRId64
                                            " before its end %" PRId64 ": nothing arrived for %d s",
                                            run->topic, run->parts[i].partition, run->parts[i].next,
                                            run->parts[i].end, timeout_ms / 1000);
                        break;
                }
                part = dlq_find(run, msg->partition);
                if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (part && !part->done && msg->offset >= part->end) {
                                part->done = true;
                                pending--;
                        }
                } else if (msg->err) {
                        /* Usually transient (the client retries); the stall bound above
                         * ends the run if it is not. */
                        jt_log_warn("reading %s: %s", run->topic, rd_kafka_message_errstr(msg));
                } else if (part && !part->done && msg->offset >= part->next &&
                           msg->offset < part->end) {
                        last_progress = now_ms();
                        if (!dlq_handle(run, producer, msg, err)) {
                                rd_kafka_message_destroy(msg);
                                return false;
                        }
                        part->next = msg->offset + 1;
                        if (part->next >= part->end) {
                                part->done = true;
                                pending--;
                        }
                }
                rd_kafka_message_destroy(msg);
        }
        return true;
}

/* Where each DLQ partition starts (the group's commit, else the log start) and ends. */
static bool dlq_bounds(dlq_run_t *run, rd_kafka_t *consumer, int timeout_ms, jt_error_t *err) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(run->count);
        rd_kafka_resp_err_t rc;
        bool ok = false;

        for (int i = 0; i < run->count; i++)
                rd_kafka_topic_partition_list_add(list, run->topic, run->parts[i].partition);
        rc = rd_kafka_committed(consumer, list, timeout_ms);
        if (rc) {
                jt_error_set(err, JT_ERR_KAFKA, rc, "reading the committed offsets of %s: %s",
                             run->topic, rd_kafka_err2str(rc));
                goto done;
        }
        for (int i = 0; i < list->cnt; i++) {
                dlq_part_t *part = dlq_find(run, list->elems[i].partition);
                int64_t low, high;

                if (list->elems[i].err) {
                        jt_error_set(err, JT_ERR_KAFKA, list->elems[i].err,
                                     "reading the committed offset of %s [%" PRId32 "]: %s",
                                     run->topic, part->partition,
                                     rd_kafka_err2str(list->elems[i].err));
                        goto done;
                }
                rc = rd_kafka_query_watermark_offsets(consumer, run->topic, part->partition, &low,
                                                      &high, timeout_ms);
                if (rc) {
                        jt_error_set(err, JT_ERR_KAFKA, rc,
                                     "reading the offsets of %s [%" PRId32 "]: %s", run->topic,
                                     part->partition, rd_kafka_err2str(rc));
                        goto done;
                }
                /* A commit older than the log start points at deleted messages: start at
                 * what is left. */
                part->start = list->elems[i].offset >= low ? list->elems[i].offset : low;
                part->end = high;
                part->next = part->start;
                part->done = part->start >= part->end;
        }
        ok = true;
done:
        rd_kafka_topic_partition_list_destroy(list);
        return ok;
}

/* Commits, for each partition read, the offset after the last message handled. */
static bool dlq_commit(dlq_run_t *run, rd_kafka_t *consumer, jt_error_t *err) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(run->count);
        rd_kafka_resp_err_t rc = RD_KAFKA_RESP_ERR_NO_ERROR;
        bool ok = false;

        for (int i = 0; i < run->count; i++)
                if (run->parts[i].next > run->parts[i].start)
                        rd_kafka_topic_partition_list_add(list, run->topic, run->parts[i].partition)
                            ->offset = run->parts[i].next;
        if (list->cnt > 0)
                rc = rd_kafka_commit(consumer, list, 0);
        if (rc) {
                jt_error_set(err, JT_ERR_KAFKA, rc, "committing the offsets of %s: %s", run->topic,
                             rd_kafka_err2str(rc));
                goto done;
        }
        for (int i = 0; i < list->cnt; i++)
                if (list->elems[i].err) {
                        jt_error_set(err, JT_ERR_KAFKA, list->elems[i].err,
                                     "committing the offset of %s [%" PRId32 "]: %s", run->topic,
                                     list->elems[i].partition,
                                     rd_kafka_err2str(list->elems[i].err));
                        goto done;
                }
        ok = true;
done:
        rd_kafka_topic_partition_list_destroy(list);
        return ok;
}

static rd_kafka_topic_partition_list_t *dlq_assignment(const dlq_run_t *run) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(run->count);

        for (int i = 0; i < run->count; i++)
                if (!run->parts[i].done)
                        rd_kafka_topic_partition_list_add(list, run->topic, run->parts[i].partition)
                            ->offset = run->parts[i].start;
        return list;
}

static int replay_dlq(const jt_config_t *cfg) {
        jt_kafka_opts_t opts = jt_kafka_opts_from_config(cfg);
        jt_kafka_opts_t copts = opts;
        dlq_run_t run = {.topic = jt_config_str(cfg, "dlq-topic"),
                         .job = jt_config_str(cfg, "filter-job"),
                         .dry_run = jt_config_bool(cfg, "dry-run")};
        /* Partition EOF events tell the reader a partition has nothing more, even when the
         * last offsets before the end hold no message (transaction markers). */
        char eof_key[] = "enable.partition.eof", eof_value[] = "true";
        jt_kv_t *settings = NULL;
        rd_kafka_t *producer = NULL, *consumer = NULL;
        rd_kafka_topic_partition_list_t *assignment = NULL;
        int32_t *ids = NULL;
        int64_t total = 0;
        char group[512];
        jt_error_t err, read_err;
        bool read_ok = true, committed_any = false;
        int rc = JT_EXIT_FAILURE;

        jt_error_clear(&err);
        jt_error_clear(&read_err);
        /* A filtered run keeps its own place, so that it never commits past the other jobs'
         * messages, which a later run must still find. */
        if (run.job)
                snprintf(group, sizeof(group), "%s.%s", JT_REPLAY_DLQ_GROUP, run.job);
        else
                snprintf(group, sizeof(group), "%s", JT_REPLAY_DLQ_GROUP);
        settings = calloc(opts.setting_count + 1, sizeof(*settings));
        if (!settings) {
                jt_error_set(&err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
                goto done;
        }
        if (opts.setting_count)
                memcpy(settings, opts.settings, opts.setting_count * sizeof(*settings));
        settings[opts.setting_count] = (jt_kv_t){eof_key, eof_value};
        copts.settings = settings;
        copts.setting_count = opts.setting_count + 1;

        if (!(producer = jt_kafka_producer_new(&opts, &err)) ||
            !all_topics(producer, &opts, &run.md, &err) ||
            !topic_partitions(run.md, run.topic, opts.brokers, &ids, &run.count, &err) ||
            !(consumer = jt_kafka_consumer_new(&copts, group, &err)))
                goto done;
        run.parts = calloc((size_t)run.count, sizeof(*run.parts));
        if (!run.parts) {
                jt_error_set(&err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
                goto done;
        }
        for (int i = 0; i < run.count; i++)
                run.parts[i].partition = ids[i];
        if (!dlq_bounds(&run, consumer, opts.timeout_ms, &err))
                goto done;
        for (int i = 0; i < run.count; i++)
                total += run.parts[i].end - run.parts[i].start;
        printf("DLQ %s, group %s%s%s: %" PRId64 " message(s) to read up to the current end\n",
               run.topic, group, run.job ? ", only job " : "", run.job ? run.job : "", total);

        assignment = dlq_assignment(&run);
        if (assignment->cnt > 0) {
                rd_kafka_resp_err_t arc = rd_kafka_assign(consumer, assignment);
                if (arc) {
                        jt_error_set(&err, JT_ERR_KAFKA, arc, "reading %s: %s", run.topic,
                                     rd_kafka_err2str(arc));
                        goto done;
                }
                read_ok = dlq_read(&run, consumer, producer, opts.timeout_ms, &read_err);
        }
        if (run.dry_run) {
                printf("dry run: would re-send %d, skip %d", run.resent, run.skipped);
                if (run.job)
                        printf(", filter out %d of other jobs", run.filtered);
                printf("; nothing sent, nothing committed\n");
                rc = read_ok ? JT_EXIT_OK : JT_EXIT_FAILURE;
                goto done;
        }
        for (int i = 0; i < run.count; i++)
                committed_any = committed_any || run.parts[i].next > run.parts[i].start;
        /* Commit only what is delivered: a crash before this line re-sends, never loses. */
        if (!jt_kafka_flush(producer, opts.timeout_ms, &err) || !dlq_commit(&run, consumer, &err))
                goto done;
        printf("re-sent %d, skipped %d%s", run.resent, run.skipped,
               run.skipped ? " (reported above)" : "");
        if (run.job)
                printf(", filtered out %d of other jobs", run.filtered);
        if (committed_any)
                printf("; DLQ offsets committed for group %s\n", group);
        else
                printf("; nothing new to commit for group %s\n", group);
        rc = read_ok ? JT_EXIT_OK : JT_EXIT_FAILURE;
done:
        fflush(stdout);
        if (!read_ok)
                fprintf(stderr, "%s: %s\n", jt_config_command_line_name(cfg), read_err.message);
        if (err.domain != JT_ERR_NONE)
                rc = jt_startup_fail(cfg, &err);
        if (assignment)
                rd_kafka_topic_partition_list_destroy(assignment);
        jt_kafka_destroy(consumer);
        if (run.md)
                rd_kafka_metadata_destroy(run.md);
        jt_kafka_destroy(producer);
        free(run.parts);
        free(ids);
        free(settings);
        return rc;
}

int jt_replay_run(const jt_config_t *cfg) {
        bool dlq = jt_config_bool(cfg, "dlq");
        jt_error_t err;

        jt_error_clear(&err);
        if (!jt_options_apply_log(cfg, "producer", &err) || !check_mode(cfg, dlq, &err))
                return jt_startup_fail(cfg, &err);
        return dlq ? replay_dlq(cfg) : replay_offsets(cfg);
}
