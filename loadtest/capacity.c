/* `joytify-loadtest capacity`: how many users fit in a storage limit, computed from the real
 * collections (collStats) instead of written by hand as in the original README. A user costs
 * the fixed documents (users, stats, their share of notifications) plus the playbacks kept by
 * the retention: an active user plays 30 a day, a regular one 10 (the original's figures), each
 * playback costing its average stored size plus its share of the indexes. */
#include "capacity.h"

#include <inttypes.h>
#include <stdio.h>

#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_startup.h"

#define ACTIVE_PLAYS_PER_DAY  30
#define REGULAR_PLAYS_PER_DAY 10

static const jt_opt_t capacity_opts[] = {
    {"storage-limit-mb", 0, JT_OPT_INT, "512", 1, 100000000, NULL, false, "MB",
     "storage available to the cluster (M0: 512)"},
    {"alert-percent", 0, JT_OPT_INT, "80", 1, 100, NULL, false, "PCT",
     "the monitoring threshold, as a share of the limit"},
    {"retention-days", 0, JT_OPT_INT, "60", 7, 36500, NULL, false, "DAYS",
     "days of playbacks kept by the cleanup job"},
    {"test-mode", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL, "measure the test-* collections"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

const jt_opt_t *const jt_capacity_tables[] = {capacity_opts, jt_opts_mongo, jt_opts_log, NULL};

typedef struct {
        double count, size, storage, indexes; /* documents; bytes */
} coll_stats_t;

static double num(const bson_t *doc, const char *key) {
        bson_iter_t it;
        return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it)
                   ? bson_iter_as_double(&it)
                   : 0;
}

/* collStats of one collection; a missing collection counts as empty. */
static bool coll_stats(mongoc_database_t *db, const char *name, coll_stats_t *out) {
        bson_t *cmd = BCON_NEW("collStats", BCON_UTF8(name));
        bson_t reply;
        bson_error_t error;
        bool ok = mongoc_database_command_simple(db, cmd, NULL, &reply, &error);

        *out = (coll_stats_t){0};
        if (ok) {
                out->count = num(&reply, "count");
                out->size = num(&reply, "size");
                out->storage = num(&reply, "storageSize");
                out->indexes = num(&reply, "totalIndexSize");
        } else if (error.code == 26 /* NamespaceNotFound */) {
                ok = true;
        } else {
                fprintf(stderr, "joytify-loadtest capacity: collStats %s: %s\n", name,
                        jt_mongo_error_text(&error, error.message, sizeof(error.message)));
        }
        bson_destroy(&reply);
        bson_destroy(cmd);
        return ok;
}

static void print_row(const char *what, double bytes_per_user, double limit_bytes, int alert) {
        printf("%-14s %12.0f %14.0f %18.0f\n", what, bytes_per_user,
               bytes_per_user > 0 ? limit_bytes / bytes_per_user : 0,
               bytes_per_user > 0 ? limit_bytes * alert / 100.0 / bytes_per_user : 0);
}

int jt_capacity_run(const jt_config_t *cfg) {
        static const char *const names[] = {"users", "stats", "notifications", "playbacks"};
        coll_stats_t st[4];
        const char *prefix = jt_config_bool(cfg, "test-mode") ? "test-" : "";
        double limit = (double)jt_config_int(cfg, "storage-limit-mb") * 1024 * 1024;
        int alert = (int)jt_config_int(cfg, "alert-percent");
        int days = (int)jt_config_int(cfg, "retention-days");
        mongoc_client_pool_t *pool;
        mongoc_client_t *client;
        mongoc_database_t *db;
        jt_error_t err;
        bool ok = true;

        if (!(pool = jt_startup_mongo(cfg, "joytify-loadtest", &err)))
                return jt_startup_fail(cfg, &err);
        client = mongoc_client_pool_pop(pool);
        db = mongoc_client_get_database(client, jt_config_str(cfg, "db"));
        for (int i = 0; ok && i < 4; i++) {
                char name[64];
                snprintf(name, sizeof(name), "%s%s", prefix, names[i]);
                ok = coll_stats(db, name, &st[i]);
        }
        mongoc_database_destroy(db);
        mongoc_client_pool_push(pool, client);
        jt_mongo_pool_destroy(pool);
        if (!ok)
                return JT_EXIT_FAILURE;
        if (st[0].count < 1 || st[3].count < 1) {
                fprintf(stderr,
                        "joytify-loadtest capacity: database %s has %.0f %susers and %.0f "
                        "playbacks: generate data first (joytify-loadtest generate)\n",
                        jt_config_str(cfg, "db"), st[0].count, prefix, st[3].count);
                return JT_EXIT_FAILURE;
        }
        {
                double users = st[0].count;
                /* Stored bytes (documents and indexes) per document, so projections match what
                 * the storage limit counts. */
                double per_playback = (st[3].storage + st[3].indexes) / st[3].count;
                double fixed = 0;
                for (int i = 0; i < 3; i++)
                        fixed += (st[i].storage + st[i].indexes) / users;
                double total = 0, index_total = 0;
                for (int i = 0; i < 4; i++) {
                        total += st[i].storage + st[i].indexes;
                        index_total += st[i].indexes;
                }
                printf("database %s%s: %.0f users, %.0f playbacks; stored %.1f MB, of which "
                       "indexes %.1f%%\n",
                       jt_config_str(cfg, "db"), *prefix ? " (test-*)" : "", users, st[3].count,
                       total / 1048576, total > 0 ? 100 * index_total / total : 0);
                printf("per playback %.0f bytes stored (document %.0f + indexes), per user fixed "
                       "%.0f bytes (users, stats, notifications)\n",
                       per_playback, st[3].size / st[3].count, fixed);
                printf("\nwith %d days of playbacks kept, a storage limit of %lld MB, alert at "
                       "%d%%:\n",
                       days, jt_config_int(cfg, "storage-limit-mb"), alert);
                printf("%-14s %12s %14s %18s\n", "user kind", "bytes/user", "users at limit",
                       "users at alert");
                print_row("active", fixed + per_playback * ACTIVE_PLAYS_PER_DAY * days, limit,
                          alert);
                print_row("regular", fixed + per_playback * REGULAR_PLAYS_PER_DAY * days, limit,
                          alert);
                print_row("this dataset", total / users, limit, alert);
        }
        return JT_EXIT_OK;
}
