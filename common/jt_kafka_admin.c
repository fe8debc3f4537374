/* Metadata and Admin API requests: topics, offsets, consumer groups (jt_kafka_admin.h). */
#include "jt_kafka_admin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt_log.h"

/* Metadata of every topic (all) or of the topics the client knows, within opts->timeout_ms. */
static bool metadata(rd_kafka_t *rk, const jt_kafka_opts_t *opts, bool all,
                     const struct rd_kafka_metadata **md, jt_error_t *err) {
        rd_kafka_resp_err_t rc = rd_kafka_metadata(rk, all, NULL, md, opts->timeout_ms);

        if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
                *md = NULL;
                return jt_error_set_transient(
                    err, JT_ERR_KAFKA, rc, "cannot reach Kafka at %s within %d s: %s",
                    opts->brokers, opts->timeout_ms / 1000, rd_kafka_err2str(rc));
        }
        return true;
}

bool jt_kafka_admin_check_reachable(rd_kafka_t *rk, const jt_kafka_opts_t *opts, jt_error_t *err) {
        const struct rd_kafka_metadata *md = NULL;

        if (!metadata(rk, opts, false, &md, err))
                return false;
        rd_kafka_metadata_destroy(md);
        return true;
}

bool jt_kafka_admin_topics(rd_kafka_t *rk, const jt_kafka_opts_t *opts,
                           const struct rd_kafka_metadata **md, jt_error_t *err) {
        return metadata(rk, opts, true, md, err);
}

const rd_kafka_metadata_topic_t *jt_kafka_admin_topic_find(const struct rd_kafka_metadata *md,
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

bool jt_kafka_admin_topic_partition_ids(const struct rd_kafka_metadata *md, const char *topic,
                                        const char *brokers, int32_t **ids, int *count,
                                        jt_error_t *err) {
        const rd_kafka_metadata_topic_t *t = jt_kafka_admin_topic_find(md, topic);

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

/* Whether the broker's metadata lists every topic with partitions that all have a leader. */
static bool topics_visible(rd_kafka_t *rk, const char *const *topics, size_t count) {
        const struct rd_kafka_metadata *md = NULL;
        size_t seen = 0;

        if (rd_kafka_metadata(rk, 1, NULL, &md, 2000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                return false;
        for (size_t i = 0; i < count; i++)
                for (int t = 0; t < md->topic_cnt; t++) {
                        const struct rd_kafka_metadata_topic *mt = &md->topics[t];
                        bool led = mt->err == RD_KAFKA_RESP_ERR_NO_ERROR && mt->partition_cnt > 0;
                        if (strcmp(mt->topic, topics[i]) != 0)
                                continue;
                        for (int p = 0; led && p < mt->partition_cnt; p++)
                                led = mt->partitions[p].leader >= 0;
                        seen += led;
                        break;
                }
        rd_kafka_metadata_destroy(md);
        return seen == count;
}

/* Reads a CreateTopics answer: *created counts the new topics; an existing one is no error. */
static bool created_topics(rd_kafka_event_t *ev, int partitions, size_t *created, jt_error_t *err) {
        size_t n = 0;
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        const rd_kafka_topic_result_t **results = rd_kafka_CreateTopics_result_topics(res, &n);

        *created = 0;
        for (size_t i = 0; i < n; i++) {
                rd_kafka_resp_err_t terr = rd_kafka_topic_result_error(results[i]);
                if (terr == RD_KAFKA_RESP_ERR_NO_ERROR) {
                        jt_log_info("created topic %s (%d partitions)",
                                    rd_kafka_topic_result_name(results[i]), partitions);
                        (*created)++;
                } else if (terr != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                        return jt_error_set(err, JT_ERR_KAFKA, terr, "creating topic %s: %s",
                                            rd_kafka_topic_result_name(results[i]),
                                            rd_kafka_topic_result_error_string(results[i]));
                }
        }
        return true;
}

/* A topic just created can be missing from the broker's metadata for a moment; a consumer
 * subscribing then hears "unknown topic" and looks again only after
 * topic.metadata.refresh.interval.ms (5 minutes). So wait until it is listed. */
static bool wait_topics_visible(rd_kafka_t *rk, const char *const *topics, size_t count,
                                int timeout_ms, jt_error_t *err) {
        for (int64_t waited = 0; !topics_visible(rk, topics, count); waited += 100) {
                if (waited >= timeout_ms)
                        return jt_error_set_transient(err, JT_ERR_KAFKA, 0,
                                                      "created topics not in the brokers' "
                                                      "metadata after %d ms",
                                                      timeout_ms);
                usleep(100 * 1000);
        }
        return true;
}

bool jt_kafka_admin_ensure_topics(rd_kafka_t *rk, const char *const *topics, size_t count,
                                  int partitions, int replication_factor, int timeout_ms,
                                  jt_error_t *err) {
        rd_kafka_NewTopic_t **news = calloc(count, sizeof(*news));
        rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *aopts =
            rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_event_t *ev = NULL;
        char errstr[512];
        size_t created = 0;
        bool ok = false;

        rd_kafka_AdminOptions_set_operation_timeout(aopts, timeout_ms, errstr, sizeof(errstr));
        rd_kafka_AdminOptions_set_request_timeout(aopts, timeout_ms, errstr, sizeof(errstr));
        for (size_t i = 0; i < count; i++) {
                news[i] = rd_kafka_NewTopic_new(topics[i], partitions, replication_factor, errstr,
                                                sizeof(errstr));
                if (!news[i]) {
                        jt_error_set(err, JT_ERR_CONFIG, 0, "topic %s: %s", topics[i], errstr);
                        goto done;
                }
        }
        rd_kafka_CreateTopics(rk, news, count, aopts, queue);
        ev = rd_kafka_queue_poll(queue, timeout_ms + 2000);
        if (!ev) {
                jt_error_set_transient(err, JT_ERR_KAFKA, 0,
                                       "creating topics timed out after %d ms", timeout_ms);
                goto done;
        }
        if (rd_kafka_event_error(ev)) {
                jt_error_set_transient(err, JT_ERR_KAFKA, rd_kafka_event_error(ev),
                                       "creating topics: %s", rd_kafka_event_error_string(ev));
                goto done;
        }
        ok = created_topics(ev, partitions, &created, err) &&
             (created == 0 || wait_topics_visible(rk, topics, count, timeout_ms, err));
done:
        if (ev)
                rd_kafka_event_destroy(ev);
        for (size_t i = 0; i < count; i++)
                if (news[i])
                        rd_kafka_NewTopic_destroy(news[i]);
        free(news);
        rd_kafka_AdminOptions_destroy(aopts);
        rd_kafka_queue_destroy(queue);
        return ok;
}

bool jt_kafka_admin_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
                                    int32_t *partitions, jt_error_t *err) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t rc;
        bool ok = false;

        *partitions = 0;
        if (!rkt)
                return jt_error_set(err, JT_ERR_KAFKA, 0, "topic %s: %s", topic,
                                    rd_kafka_err2str(rd_kafka_last_error()));
        rc = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
        if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
                jt_error_set_transient(err, JT_ERR_KAFKA, rc, "metadata of topic %s: %s", topic,
                                       rd_kafka_err2str(rc));
        } else if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1) {
                rc = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
                jt_error_set(err, JT_ERR_KAFKA, rc,
                             "topic %s: expected at least one partition in the brokers' metadata, "
                             "got %d (%s)",
                             topic, md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0,
                             rd_kafka_err2str(rc));
        } else {
                *partitions = md->topics[0].partition_cnt;
                ok = true;
        }
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return ok;
}

bool jt_kafka_admin_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                               int64_t *low, int64_t *high, jt_error_t *err) {
        rd_kafka_resp_err_t rc =
            rd_kafka_query_watermark_offsets(rk, topic, partition, low, high, timeout_ms);

        if (rc)
                return jt_error_set(err, JT_ERR_KAFKA, rc,
                                    "reading the offsets of %s [%" PRId32 "]: %s", topic, partition,
                                    rd_kafka_err2str(rc));
        return true;
}

bool jt_kafka_admin_offsets_for_time(rd_kafka_t *rk, const char *topic,
                                     rd_kafka_topic_partition_list_t *parts, const char *when,
                                     int timeout_ms, jt_error_t *err) {
        rd_kafka_resp_err_t rc = rd_kafka_offsets_for_times(rk, parts, timeout_ms);

        if (rc)
                return jt_error_set(err, JT_ERR_KAFKA, rc, "looking up offsets of %s by time: %s",
                                    topic, rd_kafka_err2str(rc));
        for (int i = 0; i < parts->cnt; i++)
                if (parts->elems[i].err)
                        return jt_error_set(err, JT_ERR_KAFKA, parts->elems[i].err,
                                            "looking up the offset of %s [%" PRId32 "] at %s: %s",
                                            topic, parts->elems[i].partition, when,
                                            rd_kafka_err2str(parts->elems[i].err));
        return true;
}

/* One Admin API request in flight: its reply queue, its options (the request timeout) and,
 * once answered, its result event. */
typedef struct {
        rd_kafka_queue_t *queue;
        rd_kafka_AdminOptions_t *options;
        rd_kafka_event_t *ev;
} admin_call_t;

static admin_call_t admin_call_new(rd_kafka_t *rk, rd_kafka_admin_op_t op, int timeout_ms) {
        admin_call_t c = {rd_kafka_queue_new(rk), rd_kafka_AdminOptions_new(rk, op), NULL};
        char errstr[256];

        rd_kafka_AdminOptions_set_request_timeout(c.options, timeout_ms, errstr, sizeof(errstr));
        return c;
}

/* Waits for the answer to the request; false with err when none came or it is an error. */
static bool admin_call_wait(admin_call_t *c, int timeout_ms, const char *what, jt_error_t *err) {
        c->ev = rd_kafka_queue_poll(c->queue, timeout_ms + 2000);
        if (!c->ev)
                return jt_error_set(err, JT_ERR_KAFKA, RD_KAFKA_RESP_ERR__TIMED_OUT,
                                    "%s: no answer from the brokers within %d s", what,
                                    timeout_ms / 1000);
        if (rd_kafka_event_error(c->ev))
                return jt_error_set(err, JT_ERR_KAFKA, rd_kafka_event_error(c->ev), "%s: %s", what,
                                    rd_kafka_event_error_string(c->ev));
        return true;
}

static void admin_call_destroy(admin_call_t *c) {
        if (c->ev)
                rd_kafka_event_destroy(c->ev);
        rd_kafka_AdminOptions_destroy(c->options);
        rd_kafka_queue_destroy(c->queue);
}

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
        admin_call_t call =
            admin_call_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout_ms);
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
        if (!admin_call_wait(&call, timeout_ms, "describing the group", err))
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
        admin_call_destroy(&call);
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
        admin_call_t call =
            admin_call_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout_ms);
        rd_kafka_ListConsumerGroupOffsets_t *req =
            rd_kafka_ListConsumerGroupOffsets_new(group, parts);
        const rd_kafka_group_result_t **groups;
        size_t n = 0;
        bool ok;

        rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, call.options, call.queue);
        ok = admin_call_wait(&call, timeout_ms, "reading the group's committed offsets", err);
        if (ok) {
                groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
                    rd_kafka_event_ListConsumerGroupOffsets_result(call.ev), &n);
                ok = group_result(groups, n, "reading committed offsets", group, err) &&
                     copy_offsets(rd_kafka_group_result_partitions(groups[0]), parts, err);
        }
        rd_kafka_ListConsumerGroupOffsets_destroy(req);
        admin_call_destroy(&call);
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
        admin_call_t call =
            admin_call_new(rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, timeout_ms);
        rd_kafka_AlterConsumerGroupOffsets_t *req =
            rd_kafka_AlterConsumerGroupOffsets_new(group, parts);

        for (int i = 0; i < parts->cnt; i++)
                parts->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, call.options, call.queue);
        ok = admin_call_wait(&call, timeout_ms, "moving the group's offsets", err);
        if (ok)
                groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
                    rd_kafka_event_AlterConsumerGroupOffsets_result(call.ev), &n);
        if (ok && n != 1)
                ok = jt_error_set(err, JT_ERR_KAFKA, 0,
                                  "moving offsets of %s: %zu answers, expected 1", group, n);
        if (ok)
                copy_refusals(groups[0], parts);
        rd_kafka_AlterConsumerGroupOffsets_destroy(req);
        admin_call_destroy(&call);
        return ok;
}
