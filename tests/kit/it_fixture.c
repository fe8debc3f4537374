/* Each test's own database, topics and consumer group on the shared stack (it_fixture.h). */
#include "it_fixture.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "it_cmocka.h"

const char *const it_topic_roles[IT_T_COUNT] = {"stats", "cleanup", "status", "dlq"};

void it_fixture_init(it_fixture_t *fx, const char *prefix, int n, bool with_group) {
        int pid = (int)getpid();

        memset(fx, 0, sizeof(*fx));
        snprintf(fx->db, sizeof(fx->db), "jt_it_%s_%d_%d", prefix, pid, n);
        if (with_group)
                snprintf(fx->group, sizeof(fx->group), "jt-it-%s-%d-%d", prefix, pid, n);
        for (int t = 0; t < IT_T_COUNT; t++)
                snprintf(fx->topic[t], sizeof(fx->topic[t]), "jt.it.%s.%d.%d.%s", prefix, pid, n,
                         it_topic_roles[t]);
}

void it_fixture_drop(const it_clients_t *cl, const it_fixture_t *fx) {
        const char *topics[IT_T_COUNT];
        mongoc_database_t *db = mongoc_client_get_database(cl->mongo, fx->db);

        mongoc_database_drop(db, NULL);
        mongoc_database_destroy(db);
        for (int t = 0; t < IT_T_COUNT; t++)
                topics[t] = fx->topic[t];
        it_delete_topics(cl->reader, topics, IT_T_COUNT);
        if (fx->group[0])
                it_delete_group(cl->reader, fx->group);
}

void it_fixture_mark_all(const it_clients_t *cl, it_fixture_t *fx) {
        for (int t = 0; t < IT_T_COUNT; t++)
                it_mark_capture(cl->reader, fx->topic[t], &fx->mark[t]);
}

mongoc_collection_t *it_fixture_collection(const it_clients_t *cl, const it_fixture_t *fx,
                                           const char *name) {
        return mongoc_client_get_collection(cl->mongo, fx->db, name);
}

bool it_fixture_ledger_get(const it_clients_t *cl, const it_fixture_t *fx, const char *job_id,
                           bson_t *doc) {
        mongoc_collection_t *coll = it_fixture_collection(cl, fx, "jobs");
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(job_id));
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
        const bson_t *found;
        bson_error_t error;
        bool ok = mongoc_cursor_next(cursor, &found);

        if (ok)
                bson_copy_to(found, doc);
        else
                bson_init(doc);
        if (!ok && mongoc_cursor_error(cursor, &error))
                fail_msg("reading %s.jobs %s: %s", fx->db, job_id, error.message);
        mongoc_cursor_destroy(cursor);
        bson_destroy(filter);
        mongoc_collection_destroy(coll);
        return ok;
}
