/* The console's JSON (web.h): GET /api/jobs (the fleet view: jobs, group, lag, dead letters,
 * schedules), /api/job?id=ID (its view, its tasks and results from the ledger, the Discord
 * messages posted for it), /api/workers (group and lag) and /api/dlq[?job=ID]. The fleet view
 * is jt_fleet_view's, the one the status command prints. */
#include "web.h"

#include <string.h>

#include "jt_fleet_view.h"
#include "jt_kafka.h"
#include "posts.h"

#define LIST_MAX 2000 /* tasks or posts shown on a job's page */
/* How long a page's view waits for a broker to answer before it shows the broker sections
 * as unreachable. The server answers one request at a time: with --kafka-timeout's 15 s per
 * call, a stopped broker held every page (and every other tab) for 45 s per poll. */
#define KAFKA_REACH_MS 2000

typedef enum { WANT_ALL, WANT_JOB, WANT_WORKERS, WANT_DLQ } want_t;

/* The fleet view's JSON for what the page shows; a section that failed carries its error. */
static json_t *fleet_json(jt_web_t *web, want_t want, const char *job, mongoc_client_t *client) {
        const jt_config_t *cfg = web->cfg;
        jt_kafka_opts_t kafka = jt_kafka_opts_from_config(cfg);
        jt_fleet_query_t q = {0};
        jt_fleet_view_t view;
        jt_error_t err;
        json_t *doc;

        q.client = want == WANT_WORKERS || want == WANT_DLQ ? NULL : client;
        q.db = web->db;
        q.rk = web->rk;
        q.kafka = &kafka;
        q.group = jt_config_str(cfg, "workers-group");
        q.stats_topic = jt_config_str(cfg, "stats-topic");
        q.cleanup_topic = jt_config_str(cfg, "cleanup-topic");
        q.dlq_topic = want == WANT_WORKERS ? NULL : jt_config_str(cfg, "dlq-topic");
        q.dlq_replay_group = web->replay_group;
        q.job_id = job;
        q.stuck_after_ms = jt_config_int(cfg, "stuck-after") * 60 * 1000;
        q.dlq_timeout_ms = 3000; /* within the server's 5 s per request */
        q.reach_timeout_ms = KAFKA_REACH_MS;
        jt_error_clear(&err);
        jt_fleet_view_collect(&q, &view, &err); /* a failed section is in the view */
        doc = jt_fleet_view_json(&view);
        jt_fleet_view_cleanup(&view);
        return doc;
}

static json_t *bson_to_json(const bson_t *b) {
        char *text = bson_as_relaxed_extended_json(b, NULL);
        json_t *doc = text ? json_loads(text, 0, NULL) : NULL;

        bson_free(text);
        return doc ? doc : json_null();
}

/* Each of the job's tasks with its result (null while pending), from the ledger entry. */
static json_t *ledger_tasks(mongoc_client_t *client, const char *db, const char *job) {
        mongoc_collection_t *coll = mongoc_client_get_collection(client, db, "jobs");
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(job));
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
        const bson_t *entry;
        json_t *tasks = json_array(), *results = NULL;
        bson_iter_t it, ids;
        size_t prefix = strlen(job) + 1;

        if (mongoc_cursor_next(cursor, &entry)) {
                bson_t sub;
                if (bson_iter_init_find(&it, entry, "results") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
                        const uint8_t *data;
                        uint32_t len;
                        bson_iter_document(&it, &len, &data);
                        if (bson_init_static(&sub, data, len))
                                results = bson_to_json(&sub);
                }
                if (bson_iter_init_find(&it, entry, "taskIds") && BSON_ITER_HOLDS_ARRAY(&it) &&
                    bson_iter_recurse(&it, &ids)) {
                        while (bson_iter_next(&ids) && json_array_size(tasks) < LIST_MAX) {
                                const char *id =
                                    BSON_ITER_HOLDS_UTF8(&ids) ? bson_iter_utf8(&ids, NULL) : "";
                                const char *key = strlen(id) > prefix ? id + prefix : id;
                                json_t *r = json_object_get(results, key);
                                json_array_append_new(tasks,
                                                      json_pack("{s:s, s:O}", "task", id, "result",
                                                                r ? r : json_null()));
                        }
                }
        }
        json_decref(results);
        mongoc_cursor_destroy(cursor);
        bson_destroy(filter);
        mongoc_collection_destroy(coll);
        return tasks;
}

/* The notifier_posts records of the job in the notifier's group: ids "<group>|<job>|<what>". */
static json_t *job_posts(mongoc_client_t *client, const char *db, const char *group,
                         const char *job) {
        mongoc_collection_t *coll = mongoc_client_get_collection(client, db, JT_POSTS_COLLECTION);
        char *low = bson_strdup_printf("%s|%s|", group, job);
        char *high = bson_strdup_printf("%s|%s}", group, job); /* '}' follows '|' */
        bson_t *filter = BCON_NEW("_id", "{", "$gte", BCON_UTF8(low), "$lt", BCON_UTF8(high), "}");
        bson_t *opts =
            BCON_NEW("sort", "{", "createdAt", BCON_INT32(1), "}", "limit", BCON_INT64(LIST_MAX));
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
        const bson_t *doc;
        json_t *posts = json_array();

        while (mongoc_cursor_next(cursor, &doc)) {
                json_t *p = bson_to_json(doc), *id = json_object_get(p, "_id");
                const char *text = json_string_value(id);

                if (text && strlen(text) > strlen(low))
                        json_object_set_new(p, "what", json_string(text + strlen(low)));
                json_array_append_new(posts, p);
        }
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
        bson_destroy(filter);
        bson_free(high);
        bson_free(low);
        mongoc_collection_destroy(coll);
        return posts;
}

static json_t *job_json(jt_web_t *web, const char *job, mongoc_client_t *client) {
        json_t *doc = json_object();

        json_object_set_new(doc, "view", fleet_json(web, WANT_JOB, job, client));
        json_object_set_new(doc, "tasks", ledger_tasks(client, web->db, job));
        json_object_set_new(doc, "posts", job_posts(client, web->db, web->posts_group, job));
        return doc;
}

bool jt_web_api_answer(jt_web_t *web, const jt_http_request_t *req, jt_http_reply_t *reply,
                       bool *ok) {
        const char *path = jt_http_request_path(req);
        const char *job = jt_http_request_arg(req, "id");
        mongoc_client_t *client;
        json_t *doc = NULL;

        if (strncmp(path, "/api/", 5) != 0 || strcmp(path, "/api/action") == 0)
                return false;
        if (strcmp(path, "/api/job") == 0 && (!job || !*job)) {
                *ok = jt_web_reply_error(reply, 400, "/api/job needs ?id=JOB");
                return true;
        }
        client = mongoc_client_pool_pop(web->pool);
        if (strcmp(path, "/api/jobs") == 0)
                doc = fleet_json(web, WANT_ALL, NULL, client);
        else if (strcmp(path, "/api/job") == 0)
                doc = job_json(web, job, client);
        else if (strcmp(path, "/api/workers") == 0)
                doc = fleet_json(web, WANT_WORKERS, NULL, client);
        else if (strcmp(path, "/api/dlq") == 0)
                doc = fleet_json(web, WANT_DLQ, jt_http_request_arg(req, "job"), client);
        mongoc_client_pool_push(web->pool, client);
        *ok = doc ? jt_web_reply_json(reply, 200, doc)
                  : jt_web_reply_error(reply, 404, "no such API path");
        return true;
}
