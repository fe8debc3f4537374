/* Admin API requests on consumer groups: members and their partitions, state, committed
 * offsets read and moved (jt_kafka_admin.h). */
#include "jt_kafka_admin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_kafka_admin_private.h"
#include "jt_log.h"

/* "client-id@host, ..." of the description's first four members. */
static void group_members(const rd_kafka_ConsumerGroupDescription_t *desc,
                          jt_kafka_admin_group_t *g) {
        for (size_t i = 0; i < g->members && i < 4; i++) {
                const rd_kafka_MemberDescription_t *m =
                    rd_kafka_ConsumerGroupDescription_member(desc, i);
                size_t used = strlen(g->who);
                snprintf(g->who + used, sizeof(g->who) - used, "%s%s@%s", i ? ", " : "",
                         rd_kafka_MemberDescription_client_id(m),
                         rd_kafka_MemberDescription_host(m));
        }
        if (g->members > 4) {
                size_t used = strlen(g->who);
                snprintf(g->who + used, sizeof(g->who) - used, ", ...");
        }
}

/* "topic[0,3] topic2[1]": a member's assignment, sorted as the broker lists it. */
static void member_partitions(const rd_kafka_MemberDescription_t *m, char *buf, size_t size) {
        const rd_kafka_MemberAssignment_t *a = rd_kafka_MemberDescription_assignment(m);
        const rd_kafka_topic_partition_list_t *parts =
            a ? rd_kafka_MemberAssignment_partitions(a) : NULL;
        size_t used = 0;

        buf[0] = '\0';
        for (int i = 0; parts && i < parts->cnt && used < size; i++) {
                bool same = i > 0 && strcmp(parts->elems[i - 1].topic, parts->elems[i].topic) == 0;
                bool last = i + 1 == parts->cnt ||
                            strcmp(parts->elems[i + 1].topic, parts->elems[i].topic) != 0;
                int n = snprintf(buf + used, size - used, "%s%s%s%" PRId32 "%s",
                                 same ? "," : (i ? " " : ""), same ? "" : parts->elems[i].topic,
                                 same ? "" : "[", parts->elems[i].partition, last ? "]" : "");
                used += n > 0 ? (size_t)n : 0;
        }
}

/* Every member of the description into a new array (*members NULL when there is none). */
static bool member_list(const rd_kafka_ConsumerGroupDescription_t *desc, size_t n,
                        jt_kafka_admin_member_t **members, size_t *count, jt_error_t *err) {
        if (n == 0)
                return true;
        if (!(*members = calloc(n, sizeof(**members))))
                return jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                const rd_kafka_MemberDescription_t *m =
                    rd_kafka_ConsumerGroupDescription_member(desc, i);
                jt_kafka_admin_member_t *out = &(*members)[i];
                snprintf(out->client_id, sizeof(out->client_id), "%s",
                         rd_kafka_MemberDescription_client_id(m));
                snprintf(out->host, sizeof(out->host), "%s", rd_kafka_MemberDescription_host(m));
                snprintf(out->member_id, sizeof(out->member_id), "%s",
                         rd_kafka_MemberDescription_consumer_id(m));
                member_partitions(m, out->partitions, sizeof(out->partitions));
        }
        *count = n;
        return true;
}

bool jt_kafka_admin_group_members(rd_kafka_t *rk, const char *group, int timeout_ms,
                                  jt_kafka_admin_group_t *g, jt_kafka_admin_member_t **members,
                                  size_t *count, jt_error_t *err) {
        jt_kafka_admin_call_t call =
            jt_kafka_admin_call_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout_ms);
        const char *groups[1] = {group};
        const rd_kafka_ConsumerGroupDescription_t **descs;
        const rd_kafka_error_t *gerr;
        size_t n = 0;
        bool ok = false;

        memset(g, 0, sizeof(*g));
        if (members) {
                *members = NULL;
                *count = 0;
        }
        rd_kafka_DescribeConsumerGroups(rk, groups, 1, call.options, call.queue);
        if (!jt_kafka_admin_call_wait(&call, timeout_ms, "describing the group", err))
                goto done;
        descs = rd_kafka_DescribeConsumerGroups_result_groups(
            rd_kafka_event_DescribeConsumerGroups_result(call.ev), &n);
        if (n != 1) {
                jt_error_set(err, JT_ERR_KAFKA, 0, "describing group %s: %zu answers, expected 1",
                             group, n);
                goto done;
        }
        gerr = rd_kafka_ConsumerGroupDescription_error(descs[0]);
        if (gerr && rd_kafka_error_code(gerr) != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
                jt_error_set(err, JT_ERR_KAFKA, rd_kafka_error_code(gerr),
                             "describing group %s: %s", group, rd_kafka_error_string(gerr));
                goto done;
        }
        if (!gerr) {
                g->state = rd_kafka_ConsumerGroupDescription_state(descs[0]);
                g->members = rd_kafka_ConsumerGroupDescription_member_count(descs[0]);
        }
        group_members(descs[0], g);
        ok = !members || member_list(descs[0], g->members, members, count, err);
done:
        jt_kafka_admin_call_destroy(&call);
        return ok;
}

bool jt_kafka_admin_group_describe(rd_kafka_t *rk, const char *group, int timeout_ms,
                                   jt_kafka_admin_group_t *g, jt_error_t *err) {
        return jt_kafka_admin_group_members(rk, group, timeout_ms, g, NULL, NULL, err);
}

bool jt_kafka_admin_group_active(const jt_kafka_admin_group_t *g) {
        return g->members > 0 || g->state == RD_KAFKA_CONSUMER_GROUP_STATE_STABLE ||
               g->state == RD_KAFKA_CONSUMER_GROUP_STATE_PREPARING_REBALANCE ||
               g->state == RD_KAFKA_CONSUMER_GROUP_STATE_COMPLETING_REBALANCE;
}

/* The one group result of a group Admin API answer, or false with err ("<what> of <group>"). */
static bool group_result(const rd_kafka_group_result_t **groups, size_t n, const char *what,
                         const char *group, jt_error_t *err) {
        const rd_kafka_error_t *gerr;

        if (n != 1)
                return jt_error_set(err, JT_ERR_KAFKA, 0, "%s of %s: %zu answers, expected 1", what,
                                    group, n);
        gerr = rd_kafka_group_result_error(groups[0]);
        if (gerr)
                return jt_error_set(err, JT_ERR_KAFKA, rd_kafka_error_code(gerr), "%s of %s: %s",
                                    what, group, rd_kafka_error_string(gerr));
        return true;
}

/* Copies the committed offsets of got into parts; a partition's error fails the call. */
static bool copy_offsets(const rd_kafka_topic_partition_list_t *got,
                         rd_kafka_topic_partition_list_t *parts, jt_error_t *err) {
        for (int i = 0; i < parts->cnt; i++)
                parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
        for (int i = 0; got && i < got->cnt; i++) {
                const rd_kafka_topic_partition_t *p = &got->elems[i];
                rd_kafka_topic_partition_t *mine =
                    rd_kafka_topic_partition_list_find(parts, p->topic, p->partition);
                if (!mine)
                        continue;
                if (p->err)
                        return jt_error_set(err, JT_ERR_KAFKA, p->err,
                                            "reading the committed offset of %s [%" PRId32 "]: %s",
                                            p->topic, p->partition, rd_kafka_err2str(p->err));
                mine->offset = p->offset >= 0 ? p->offset : RD_KAFKA_OFFSET_INVALID;
                free(mine->metadata);
                mine->metadata = NULL;
                mine->metadata_size = 0;
                if (p->metadata && p->metadata_size > 0 &&
                    (mine->metadata = malloc(p->metadata_size))) {
                        memcpy(mine->metadata, p->metadata, p->metadata_size);
                        mine->metadata_size = p->metadata_size;
                }
        }
        return true;
}

bool jt_kafka_admin_group_offsets(rd_kafka_t *rk, const char *group,
                                  rd_kafka_topic_partition_list_t *parts, int timeout_ms,
                                  jt_error_t *err) {
        jt_kafka_admin_call_t call =
            jt_kafka_admin_call_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout_ms);
        rd_kafka_ListConsumerGroupOffsets_t *req =
            rd_kafka_ListConsumerGroupOffsets_new(group, parts);
        const rd_kafka_group_result_t **groups;
        size_t n = 0;
        bool ok;

        rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, call.options, call.queue);
        ok = jt_kafka_admin_call_wait(&call, timeout_ms, "reading the group's committed offsets",
                                      err);
        if (ok) {
                groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
                    rd_kafka_event_ListConsumerGroupOffsets_result(call.ev), &n);
                ok = group_result(groups, n, "reading committed offsets", group, err) &&
                     copy_offsets(rd_kafka_group_result_partitions(groups[0]), parts, err);
        }
        rd_kafka_ListConsumerGroupOffsets_destroy(req);
        jt_kafka_admin_call_destroy(&call);
        return ok;
}

/* Copies an AlterConsumerGroupOffsets answer into parts' err: the group's refusal to every
 * partition, else each partition's own. */
static void copy_refusals(const rd_kafka_group_result_t *result,
                          rd_kafka_topic_partition_list_t *parts) {
        const rd_kafka_error_t *gerr = rd_kafka_group_result_error(result);
        const rd_kafka_topic_partition_list_t *got = rd_kafka_group_result_partitions(result);

        if (gerr) {
                /* The whole request was refused: every partition stays where it was. */
                for (int i = 0; i < parts->cnt; i++)
                        parts->elems[i].err = rd_kafka_error_code(gerr);
                return;
        }
        for (int i = 0; got && i < got->cnt; i++) {
                rd_kafka_topic_partition_t *mine = rd_kafka_topic_partition_list_find(
                    parts, got->elems[i].topic, got->elems[i].partition);
                if (mine)
                        mine->err = got->elems[i].err;
        }
}

bool jt_kafka_admin_group_alter_offsets(rd_kafka_t *rk, const char *group,
                                        rd_kafka_topic_partition_list_t *parts, int timeout_ms,
                                        jt_error_t *err) {
        const rd_kafka_group_result_t **groups = NULL;
        size_t n = 0;
        bool ok;
        jt_kafka_admin_call_t call =
            jt_kafka_admin_call_new(rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, timeout_ms);
        rd_kafka_AlterConsumerGroupOffsets_t *req =
            rd_kafka_AlterConsumerGroupOffsets_new(group, parts);

        for (int i = 0; i < parts->cnt; i++)
                parts->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, call.options, call.queue);
        ok = jt_kafka_admin_call_wait(&call, timeout_ms, "moving the group's offsets", err);
        if (ok)
                groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
                    rd_kafka_event_AlterConsumerGroupOffsets_result(call.ev), &n);
        if (ok && n != 1)
                ok = jt_error_set(err, JT_ERR_KAFKA, 0,
                                  "moving offsets of %s: %zu answers, expected 1", group, n);
        if (ok)
                copy_refusals(groups[0], parts);
        rd_kafka_AlterConsumerGroupOffsets_destroy(req);
        jt_kafka_admin_call_destroy(&call);
        return ok;
}
