/* The set-up shared by the integration programs that run the built producer and workers: each
 * test gets its own database, its own four topics (stats, cleanup, status, dlq), optionally
 * its own consumer group, and the topics' marks; the teardown drops them all. */
#ifndef JT_IT_FIXTURE_H
#define JT_IT_FIXTURE_H

#include <stdbool.h>

#include <mongoc/mongoc.h>

#include "it_clients.h"
#include "it_kafka.h"

/* The topics of a test, in the order of the programs' --stats-topic .. --dlq-topic. */
enum { IT_T_STATS, IT_T_CLEANUP, IT_T_STATUS, IT_T_DLQ, IT_T_COUNT };

/* "stats", "cleanup", "status", "dlq". */
extern const char *const it_topic_roles[IT_T_COUNT];

typedef struct {
        char db[64];
        char group[96]; /* "" without a group */
        char topic[IT_T_COUNT][96];
        it_mark_t mark[IT_T_COUNT];
} it_fixture_t;

/* Names of the n-th test of this process, e.g. prefix "wc": database jt_it_wc_PID_N, topics
 * jt.it.wc.PID.N.ROLE and, with_group, group jt-it-wc-PID-N. Nothing is created here. */
void it_fixture_init(it_fixture_t *fx, const char *prefix, int n, bool with_group);

/* Drops the database, deletes the topics and the group (best effort, for a teardown). */
void it_fixture_drop(const it_clients_t *cl, const it_fixture_t *fx);

/* Captures the end offsets of every topic (before a command). */
void it_fixture_mark_all(const it_clients_t *cl, it_fixture_t *fx);

/* A collection of the test's database; the caller destroys it. */
mongoc_collection_t *it_fixture_collection(const it_clients_t *cl, const it_fixture_t *fx,
                                           const char *name);

/* The ledger entry of job_id into *doc (initialised here); false when there is none. */
bool it_fixture_ledger_get(const it_clients_t *cl, const it_fixture_t *fx, const char *job_id,
                           bson_t *doc);

#endif
