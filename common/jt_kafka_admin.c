/* Metadata and Admin API requests on topics: reachability, partitions, provisioning and settings,
 * watermarks, offsets for a time (jt_kafka_admin.h; consumer groups: jt_kafka_admin_group.c). */
#include "jt_kafka_admin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt_kafka_admin_private.h"
#include "jt_log.h"

typedef jt_kafka_admin_topic_spec_t spec_t; /* what a topic should be (the header's) */

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

jt_kafka_admin_call_t jt_kafka_admin_call_new(rd_kafka_t *rk, rd_kafka_admin_op_t op,
                                              int timeout_ms) {
        jt_kafka_admin_call_t c = {rd_kafka_queue_new(rk), rd_kafka_AdminOptions_new(rk, op), NULL};
        char errstr[256];

        rd_kafka_AdminOptions_set_request_timeout(c.options, timeout_ms, errstr, sizeof(errstr));
        return c;
}

bool jt_kafka_admin_call_wait(jt_kafka_admin_call_t *c, int timeout_ms, const char *what,
                              jt_error_t *err) {
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

void jt_kafka_admin_call_destroy(jt_kafka_admin_call_t *c) {
        if (c->ev)
                rd_kafka_event_destroy(c->ev);
        rd_kafka_AdminOptions_destroy(c->options);
        rd_kafka_queue_destroy(c->queue);
}

void jt_kafka_admin_create_command(const jt_kafka_admin_topic_spec_t *spec, char *buf,
                                   size_t size) {
        int n = snprintf(buf, size,
                         "kafka-topics.sh --bootstrap-server \"$JT_KAFKA_BROKERS\" --create "
                         "--topic %s --partitions %d --replication-factor %d",
                         spec->name, spec->partitions, spec->replication_factor);

        if (n >= 0 && (size_t)n < size && spec->min_insync_replicas > 0)
                n += snprintf(buf + n, size - (size_t)n, " --config min.insync.replicas=%d",
                              spec->min_insync_replicas);
        if (n >= 0 && (size_t)n < size && spec->retention_ms != 0)
                snprintf(buf + n, size - (size_t)n, " --config retention.ms=%" PRId64,
                         spec->retention_ms);
}

/* The spec of topic name among specs, NULL when none. */
static const spec_t *spec_named(const spec_t *const *specs, size_t count, const char *name) {
        for (size_t i = 0; i < count; i++)
                if (strcmp(specs[i]->name, name) == 0)
                        return specs[i];
        return NULL;
}

/* Whether the broker's metadata lists every topic with partitions that all have a leader. */
static bool topics_visible(rd_kafka_t *rk, const spec_t *const *topics, size_t count) {
        const struct rd_kafka_metadata *md = NULL;
        size_t seen = 0;

        if (rd_kafka_metadata(rk, 1, NULL, &md, 2000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                return false;
        for (size_t i = 0; i < count; i++) {
                const rd_kafka_metadata_topic_t *mt =
                    jt_kafka_admin_topic_find(md, topics[i]->name);
                bool led = mt && mt->partition_cnt > 0;
                for (int p = 0; led && p < mt->partition_cnt; p++)
                        led = mt->partitions[p].leader >= 0;
                seen += led;
        }
        rd_kafka_metadata_destroy(md);
        return seen == count;
}

/* A topic just created can be missing from the broker's metadata for a moment; a consumer
 * subscribing then hears "unknown topic" and looks again only after
 * topic.metadata.refresh.interval.ms (5 minutes). So wait until it is listed. */
static bool wait_topics_visible(rd_kafka_t *rk, const spec_t *const *topics, size_t count,
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

/* The error for a topic that is missing and could not be created: the reason, then the command
 * an operator (or a principal allowed to create topics) runs instead. */
static bool create_failed(const spec_t *spec, rd_kafka_resp_err_t code, const char *why,
                          jt_error_t *err) {
        char command[320];

        jt_kafka_admin_create_command(spec, command, sizeof(command));
        return jt_error_set(err, JT_ERR_KAFKA, code,
                            "topic %s does not exist and creating it failed (%s): create it "
                            "with %s",
                            spec->name, why, command);
}

/* A new topic of spec: partitions, replication and the configs it asks for. */
static rd_kafka_NewTopic_t *new_topic(const spec_t *spec, jt_error_t *err) {
        char errstr[512], value[32];
        rd_kafka_NewTopic_t *t = rd_kafka_NewTopic_new(
            spec->name, spec->partitions, spec->replication_factor, errstr, sizeof(errstr));

        if (!t) {
                jt_error_set(err, JT_ERR_CONFIG, 0, "topic %s: %s", spec->name, errstr);
                return NULL;
        }
        if (spec->min_insync_replicas > 0) {
                snprintf(value, sizeof(value), "%d", spec->min_insync_replicas);
                rd_kafka_NewTopic_set_config(t, "min.insync.replicas", value);
        }
        if (spec->retention_ms != 0) {
                snprintf(value, sizeof(value), "%" PRId64, spec->retention_ms);
                rd_kafka_NewTopic_set_config(t, "retention.ms", value);
        }
        return t;
}

/* Reads a CreateTopics answer: one created by someone else meanwhile is no error. */
static bool created_topics(rd_kafka_event_t *ev, const spec_t *const *specs, size_t count,
                           jt_error_t *err) {
        size_t n = 0;
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        const rd_kafka_topic_result_t **results = rd_kafka_CreateTopics_result_topics(res, &n);

        for (size_t i = 0; i < n; i++) {
                const char *name = rd_kafka_topic_result_name(results[i]);
                const spec_t *spec = spec_named(specs, count, name);
                rd_kafka_resp_err_t terr = rd_kafka_topic_result_error(results[i]);
                if (!spec)
                        spec = specs[0]; /* the brokers answer for the topics asked */
                if (terr == RD_KAFKA_RESP_ERR_NO_ERROR)
                        jt_log_info("created topic %s (%d partitions, replication %d, "
                                    "min.insync.replicas %d, retention.ms %" PRId64 ")",
                                    name, spec->partitions, spec->replication_factor,
                                    spec->min_insync_replicas, spec->retention_ms);
                else if (terr != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                        return create_failed(spec, terr,
                                             rd_kafka_topic_result_error_string(results[i]), err);
        }
        return true;
}

/* Creates the topics of specs (all missing), then waits until the brokers list them. */
static bool create_topics(rd_kafka_t *rk, const spec_t *const *specs, size_t count, int timeout_ms,
                          jt_error_t *err) {
        rd_kafka_NewTopic_t **news = calloc(count, sizeof(*news));
        jt_kafka_admin_call_t call =
            jt_kafka_admin_call_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms);
        char errstr[512];
        bool ok = false;

        if (!news) {
                jt_kafka_admin_call_destroy(&call);
                return jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
        }
        rd_kafka_AdminOptions_set_operation_timeout(call.options, timeout_ms, errstr,
                                                    sizeof(errstr));
        for (size_t i = 0; i < count; i++)
                if (!(news[i] = new_topic(specs[i], err)))
                        goto done;
        rd_kafka_CreateTopics(rk, news, count, call.options, call.queue);
        call.ev = rd_kafka_queue_poll(call.queue, timeout_ms + 2000);
        if (!call.ev)
                jt_error_set_transient(err, JT_ERR_KAFKA, 0,
                                       "creating topic %s timed out after %d ms", specs[0]->name,
                                       timeout_ms);
        else if (rd_kafka_event_error(call.ev))
                create_failed(specs[0], rd_kafka_event_error(call.ev),
                              rd_kafka_event_error_string(call.ev), err);
        else
                ok = created_topics(call.ev, specs, count, err) &&
                     wait_topics_visible(rk, specs, count, timeout_ms, err);
done:
        for (size_t i = 0; i < count; i++)
                if (news[i])
                        rd_kafka_NewTopic_destroy(news[i]);
        free(news);
        jt_kafka_admin_call_destroy(&call);
        return ok;
}

/* Warns, naming the setting, when an existing topic's partitions or replication (from md)
 * differ from its spec. */
static void compare_layout(const rd_kafka_metadata_topic_t *mt, const spec_t *spec) {
        int replicas = mt->partition_cnt > 0 ? mt->partitions[0].replica_cnt : 0;

        if (mt->partition_cnt != spec->partitions)
                jt_log_warn("topic %s exists with %d partitions, asked %d: left as it is",
                            spec->name, mt->partition_cnt, spec->partitions);
        if (replicas != spec->replication_factor)
                jt_log_warn("topic %s exists with replication factor %d, asked %d: left as it is",
                            spec->name, replicas, spec->replication_factor);
}

/* The entry name of a described topic; found false when the brokers did not list it (a null
 * value is a setting without one). */
static const char *config_value(const rd_kafka_ConfigResource_t *res, const char *name,
                                bool *found) {
        size_t n = 0;
        const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &n);

        for (size_t i = 0; i < n; i++)
                if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), name) == 0) {
                        *found = true;
                        return rd_kafka_ConfigEntry_value(entries[i]);
                }
        *found = false;
        return NULL;
}

/* Warns when the config name of topic, as the brokers describe it in res, is not want. */
static void compare_config(const rd_kafka_ConfigResource_t *res, const char *topic,
                           const char *name, int64_t want) {
        bool found;
        const char *value = config_value(res, name, &found);

        if (found && (!value || strtoll(value, NULL, 10) != want))
                jt_log_warn("topic %s exists with %s=%s, asked %" PRId64
                            ": left as it is (kafka-configs.sh --alter changes it)",
                            topic, name, value ? value : "(unset)", want);
}

/* Compares the configs the specs ask for with those of the existing topics. Reading them needs
 * the DescribeConfigs right, which a program may lack: then it only says so. */
static void compare_configs(rd_kafka_t *rk, const spec_t *const *specs, size_t count,
                            int timeout_ms) {
        rd_kafka_ConfigResource_t **asks = calloc(count, sizeof(*asks));
        jt_kafka_admin_call_t call =
            jt_kafka_admin_call_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms);
        const rd_kafka_ConfigResource_t **got;
        size_t n = 0;
        jt_error_t err;

        for (size_t i = 0; asks && i < count; i++)
                asks[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, specs[i]->name);
        if (asks)
                rd_kafka_DescribeConfigs(rk, asks, count, call.options, call.queue);
        if (!asks ||
            !jt_kafka_admin_call_wait(&call, timeout_ms, "reading the topics' settings", &err)) {
                jt_log_warn("cannot compare the settings of the existing topics: %s",
                            asks ? err.message : "out of memory");
                goto done;
        }
        got = rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(call.ev), &n);
        for (size_t i = 0; i < n; i++) {
                const char *name = rd_kafka_ConfigResource_name(got[i]);
                const spec_t *spec = spec_named(specs, count, name);
                if (!spec)
                        continue;
                if (rd_kafka_ConfigResource_error(got[i])) {
                        jt_log_warn("cannot compare the settings of topic %s: %s", name,
                                    rd_kafka_ConfigResource_error_string(got[i]));
                        continue;
                }
                if (spec->min_insync_replicas > 0)
                        compare_config(got[i], name, "min.insync.replicas",
                                       spec->min_insync_replicas);
                if (spec->retention_ms != 0)
                        compare_config(got[i], name, "retention.ms", spec->retention_ms);
        }
done:
        for (size_t i = 0; asks && i < count; i++)
                rd_kafka_ConfigResource_destroy(asks[i]);
        free(asks);
        jt_kafka_admin_call_destroy(&call);
}

bool jt_kafka_admin_ensure_topic_specs(rd_kafka_t *rk, const jt_kafka_admin_topic_spec_t *specs,
                                       size_t count, int timeout_ms, jt_error_t *err) {
        const spec_t **missing = calloc(count, sizeof(*missing));
        const spec_t **existing = calloc(count, sizeof(*existing));
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t rc = RD_KAFKA_RESP_ERR_NO_ERROR;
        size_t nmissing = 0, nexisting = 0;
        bool ok = false;

        if (!missing || !existing) {
                jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
                goto done;
        }
        /* Describe first: a principal without the right to create topics runs every program
         * once they exist, and only a missing topic is ever created. */
        if ((rc = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                jt_error_set_transient(err, JT_ERR_KAFKA, rc, "listing the topics: %s",
                                       rd_kafka_err2str(rc));
                goto done;
        }
        for (size_t i = 0; i < count; i++) {
                const rd_kafka_metadata_topic_t *mt = jt_kafka_admin_topic_find(md, specs[i].name);
                if (!mt)
                        missing[nmissing++] = &specs[i];
                else
                        compare_layout(mt, &specs[i]);
                if (mt && (specs[i].min_insync_replicas > 0 || specs[i].retention_ms != 0))
                        existing[nexisting++] = &specs[i];
        }
        if (nexisting > 0)
                compare_configs(rk, existing, nexisting, timeout_ms);
        ok = nmissing == 0 || create_topics(rk, missing, nmissing, timeout_ms, err);
done:
        if (md)
                rd_kafka_metadata_destroy(md);
        free(missing);
        free(existing);
        return ok;
}

bool jt_kafka_admin_ensure_topics(rd_kafka_t *rk, const char *const *topics, size_t count,
                                  int partitions, int replication_factor, int timeout_ms,
                                  jt_error_t *err) {
        spec_t *specs = calloc(count, sizeof(*specs));
        bool ok;

        if (!specs)
                return jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
        for (size_t i = 0; i < count; i++)
                specs[i] = (spec_t){topics[i], partitions, replication_factor, 0, 0};
        ok = jt_kafka_admin_ensure_topic_specs(rk, specs, count, timeout_ms, err);
        free(specs);
        return ok;
}

bool jt_kafka_admin_require_topics(rd_kafka_t *rk, const jt_kafka_admin_topic_spec_t *specs,
                                   size_t count, int timeout_ms, jt_error_t *err) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t rc = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
        char command[320];
        bool ok = true;

        if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
                return jt_error_set_transient(err, JT_ERR_KAFKA, rc, "listing the topics: %s",
                                              rd_kafka_err2str(rc));
        for (size_t i = 0; ok && i < count; i++) {
                if (jt_kafka_admin_topic_find(md, specs[i].name))
                        continue;
                /* Transient: the topic appears once a producing program or an operator made
                 * it, and a restart then succeeds. */
                jt_kafka_admin_create_command(&specs[i], command, sizeof(command));
                ok = jt_error_set_transient(err, JT_ERR_KAFKA, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC,
                                            "topic %s does not exist and this program creates "
                                            "none: create it with %s",
                                            specs[i].name, command);
        }
        rd_kafka_metadata_destroy(md);
        return ok;
}

bool jt_kafka_admin_topic_config(rd_kafka_t *rk, const char *topic, const char *name, char *value,
                                 size_t size, int timeout_ms, jt_error_t *err) {
        rd_kafka_ConfigResource_t *ask =
            rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
        jt_kafka_admin_call_t call =
            jt_kafka_admin_call_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms);
        const rd_kafka_ConfigResource_t **got;
        const char *v;
        size_t n = 0;
        bool ok = false;

        value[0] = '\0';
        rd_kafka_DescribeConfigs(rk, &ask, 1, call.options, call.queue);
        if (!jt_kafka_admin_call_wait(&call, timeout_ms, "reading the topic's settings", err))
                goto done;
        got = rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(call.ev), &n);
        if (n != 1 || rd_kafka_ConfigResource_error(got[0])) {
                jt_error_set(err, JT_ERR_KAFKA, n == 1 ? rd_kafka_ConfigResource_error(got[0]) : 0,
                             "reading the settings of topic %s: %s", topic,
                             n == 1 ? rd_kafka_ConfigResource_error_string(got[0]) : "no answer");
                goto done;
        }
        v = config_value(got[0], name, &ok);
        if (ok)
                snprintf(value, size, "%s", v ? v : "");
        else
                jt_error_set(err, JT_ERR_KAFKA, 0, "topic %s has no setting %s", topic, name);
done:
        rd_kafka_ConfigResource_destroy(ask);
        jt_kafka_admin_call_destroy(&call);
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
