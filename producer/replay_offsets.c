/* `joytify-producer replay --topic T --group G`: moves a consumer group's committed offsets on
 * a topic to a time or an offset through the Admin API, and proves the move by reading the
 * offsets back. Kafka refuses the move while the group has members; so does this command. */
#include "replay_offsets.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_kafka.h"
#include "jt_kafka_admin.h"
#include "jt_log.h"
#include "jt_startup.h"
#include "jt_time.h"

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
        rd_kafka_topic_partition_list_t *list = plan_partitions(plan, false);
        bool ok = jt_kafka_admin_group_offsets(rk, plan->group, list, timeout_ms, err);

        for (int i = 0; ok && i < list->cnt; i++) {
                move_t *m = find_move(plan, list->elems[i].partition);
                int64_t offset = list->elems[i].offset >= 0 ? list->elems[i].offset : NO_OFFSET;
                if (!m)
                        continue;
                if (after)
                        m->after = offset;
                else
                        m->before = offset;
        }
        rd_kafka_topic_partition_list_destroy(list);
        return ok;
}

/* The target of a move to the log start, the log end or an offset (clamped to the log). */
static void target_in_log(move_t *m, const target_t *t) {
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

/* The targets of a move to a time: each partition's first offset at or after it. */
static bool targets_by_time(rd_kafka_t *rk, plan_t *plan, const target_t *t, int timeout_ms,
                            jt_error_t *err) {
        rd_kafka_topic_partition_list_t *list = plan_partitions(plan, false);
        bool ok;

        for (int i = 0; i < list->cnt; i++)
                list->elems[i].offset = t->value;
        ok = jt_kafka_admin_offsets_for_time(rk, plan->topic, list, t->text, timeout_ms, err);
        for (int i = 0; ok && i < list->cnt; i++) {
                const rd_kafka_topic_partition_t *p = &list->elems[i];
                move_t *m = find_move(plan, p->partition);
                if (p->offset < 0) {
                        /* Nothing at or after the time: the group reads only what comes next,
                         * which is the log end. */
                        m->target = m->high;
                        m->note = "no message at or after the time: log end";
                } else {
                        m->target = p->offset;
                }
        }
        rd_kafka_topic_partition_list_destroy(list);
        return ok;
}

/* Fills low/high and the target of every partition. */
static bool plan_targets(rd_kafka_t *rk, plan_t *plan, const target_t *t, int timeout_ms,
                         jt_error_t *err) {
        for (int i = 0; i < plan->count; i++) {
                move_t *m = &plan->moves[i];
                if (!jt_kafka_admin_watermarks(rk, plan->topic, m->partition, timeout_ms, &m->low,
                                               &m->high, err))
                        return false;
                target_in_log(m, t);
        }
        return t->kind != TARGET_TIMESTAMP || targets_by_time(rk, plan, t, timeout_ms, err);
}

/* Moves the offsets. False only when the call itself failed; a broker refusal is per
 * partition, in moves[].refused, counted in *refused. */
static bool alter_offsets(rd_kafka_t *rk, plan_t *plan, int timeout_ms, int *refused,
                          jt_error_t *err) {
        rd_kafka_topic_partition_list_t *list = plan_partitions(plan, true);
        bool ok = jt_kafka_admin_group_alter_offsets(rk, plan->group, list, timeout_ms, err);

        *refused = 0;
        for (int i = 0; ok && i < list->cnt; i++) {
                move_t *m = find_move(plan, list->elems[i].partition);
                if (m && list->elems[i].err) {
                        m->refused = list->elems[i].err;
                        (*refused)++;
                }
        }
        rd_kafka_topic_partition_list_destroy(list);
        return ok;
}

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

static void print_refusal(const jt_config_t *cfg, const plan_t *plan,
                          const jt_kafka_admin_group_t *gs, bool forced) {
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

/* A plain client: the Admin API and offset look-ups need no producer or group. */
static rd_kafka_t *admin_client(const jt_kafka_opts_t *opts, jt_error_t *err) {
        rd_kafka_conf_t *conf = jt_kafka_conf_new(opts, err);
        char errstr[512];
        rd_kafka_t *rk;

        if (!conf)
                return NULL;
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                jt_error_set(err, JT_ERR_CONFIG, 0, "cannot create a Kafka client: %s", errstr);
        }
        return rk;
}

/* The plan: every partition of the topic with the group's commit and its target; *gs, the
 * group as the coordinator describes it. */
static bool plan_build(rd_kafka_t *rk, const jt_kafka_opts_t *opts, const target_t *t, plan_t *plan,
                       jt_kafka_admin_group_t *gs, jt_error_t *err) {
        const struct rd_kafka_metadata *md = NULL;
        int32_t *ids = NULL;
        bool ok = false;

        if (!jt_kafka_admin_topics(rk, opts, &md, err) ||
            !jt_kafka_admin_topic_partition_ids(md, plan->topic, opts->brokers, &ids, &plan->count,
                                                err))
                goto done;
        plan->moves = calloc((size_t)plan->count, sizeof(*plan->moves));
        if (!plan->moves) {
                jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
                goto done;
        }
        for (int i = 0; i < plan->count; i++)
                plan->moves[i].partition = ids[i];
        ok = jt_kafka_admin_group_describe(rk, plan->group, opts->timeout_ms, gs, err) &&
             group_committed(rk, plan, opts->timeout_ms, false, err) &&
             plan_targets(rk, plan, t, opts->timeout_ms, err);
done:
        if (md)
                rd_kafka_metadata_destroy(md);
        free(ids);
        return ok;
}

/* Moves the offsets, reads them back and says how it went: the exit code, or JT_EXIT_FAILURE
 * with err when a request failed. */
static int plan_apply(const jt_config_t *cfg, rd_kafka_t *rk, plan_t *plan,
                      const jt_kafka_admin_group_t *gs, int timeout_ms, jt_error_t *err) {
        int refused = 0, wrong;

        if (!alter_offsets(rk, plan, timeout_ms, &refused, err) ||
            !group_committed(rk, plan, timeout_ms, true, err))
                return JT_EXIT_FAILURE;
        wrong = print_after(plan);
        fflush(stdout);
        if (refused) {
                fprintf(stderr,
                        "%s: the broker refused the move on %d of %d partition(s) (see above)%s\n",
                        jt_config_command_line_name(cfg), refused, plan->count,
                        jt_kafka_admin_group_active(gs) || refused_for_members(plan)
                            ? ": Kafka changes no offsets while the group has active members; "
                              "stop the consumers and retry"
                            : "");
                return JT_EXIT_FAILURE;
        }
        if (wrong) {
                fprintf(stderr, "%s: %d partition(s) did not end at their target (see above)\n",
                        jt_config_command_line_name(cfg), wrong);
                return JT_EXIT_FAILURE;
        }
        return JT_EXIT_OK;
}

int jt_replay_offsets_run(const jt_config_t *cfg) {
        jt_kafka_opts_t opts = jt_kafka_opts_from_config(cfg);
        bool dry_run = jt_config_bool(cfg, "dry-run");
        bool force = jt_config_bool(cfg, "force");
        plan_t plan = {jt_config_str(cfg, "topic"), jt_config_str(cfg, "group"), NULL, 0};
        rd_kafka_t *rk = NULL;
        jt_kafka_admin_group_t gs;
        target_t target;
        jt_error_t err;
        int rc = JT_EXIT_FAILURE;

        jt_error_clear(&err);
        if (!parse_target(cfg, &target, &err) || !(rk = admin_client(&opts, &err)) ||
            !plan_build(rk, &opts, &target, &plan, &gs, &err))
                goto done;
        print_plan(&plan, &target);
        if (dry_run) {
                if (jt_kafka_admin_group_active(&gs))
                        printf("note: group %s has active members (state %s, %zu member(s)); a "
                               "real run would be refused until they stop\n",
                               plan.group, rd_kafka_consumer_group_state_name(gs.state),
                               gs.members);
                printf("dry run: no offset changed\n");
                rc = JT_EXIT_OK;
                goto done;
        }
        if (jt_kafka_admin_group_active(&gs)) {
                print_refusal(cfg, &plan, &gs, force);
                if (!force)
                        goto done;
        }
        rc = plan_apply(cfg, rk, &plan, &gs, opts.timeout_ms, &err);
done:
        fflush(stdout);
        if (err.domain != JT_ERR_NONE)
                rc = jt_startup_fail(cfg, &err);
        if (rk)
                rd_kafka_destroy(rk);
        free(plan.moves);
        return rc;
}
