/* `joytify-loadtest floor stats|cleanup`: the least work the database can do for a job's result,
 * the physical limit the fleet is compared with. stats: one cursor over the month's playbacks
 * with only the fields an entry needs (the computation itself costs next to nothing beside it).
 * cleanup: one deleteMany of every playback older than the cutoff. */
#include "floor.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jt_time.h"
#include "jt_job_ids.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_startup.h"
#include "db_command.h"

static const jt_opt_t floor_opts[] = {
    {"month", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "YYYY-MM",
     "stats: the month read (default: the previous complete UTC month)"},
    {"retention-days", 0, JT_OPT_INT, "60", 7, 36500, NULL, false, "DAYS",
     "cleanup: delete what is older than now minus this"},
    {"at", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "TS",
     "cleanup: count the cutoff from this UTC time instead of now"},
    {"test-mode", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL, "work on the test-* collections"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

const jt_opt_t *const jt_floor_tables[] = {floor_opts, jt_opts_mongo, jt_opts_log, NULL};

static int floor_stats(const jt_config_t *cfg, mongoc_client_t *client) {
        char month[8];
        int64_t start_ms, end_ms, n = 0;
        bson_error_t error;
        const bson_t *doc;
        double sum = 0;
        int64_t t0;
        bson_t *filter, *opts;
        mongoc_collection_t *coll;
        mongoc_cursor_t *cursor;
        int rc = JT_EXIT_OK;

        if (!jt_db_command_month(cfg, "floor", month, &start_ms, &end_ms))
                return JT_EXIT_USAGE;
        filter = BCON_NEW("createdAt", "{", "$gte", BCON_DATE_TIME(start_ms), "$lt",
                          BCON_DATE_TIME(end_ms), "}");
        opts = BCON_NEW("projection", "{", "user", BCON_INT32(1), "song", BCON_INT32(1), "artist",
                        BCON_INT32(1), "duration", BCON_INT32(1), "createdAt", BCON_INT32(1), "}",
                        "batchSize", BCON_INT32(10000));
        coll = jt_db_command_collection(client, cfg, "playbacks");
        t0 = jt_time_mono_ms();
        cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
        while (mongoc_cursor_next(cursor, &doc)) {
                bson_iter_t it;
                if (bson_iter_init_find(&it, doc, "duration") && BSON_ITER_HOLDS_NUMBER(&it))
                        sum += bson_iter_as_double(&it); /* touch the data, as a worker would */
                n++;
        }
        if (mongoc_cursor_error(cursor, &error)) {
                fprintf(stderr, "joytify-loadtest floor: reading the month: %s\n",
                        jt_mongo_error_text(&error, error.message, sizeof(error.message)));
                rc = JT_EXIT_FAILURE;
        } else {
                double s = (double)(jt_time_mono_ms() - t0) / 1000;
                printf("floor stats %s: %" PRId64 " playbacks read in %.2f s (%.0f/s), total "
                       "duration %.0f s\n",
                       month, n, s, s > 0 ? (double)n / s : 0.0, sum);
        }
        mongoc_cursor_destroy(cursor);
        mongoc_collection_destroy(coll);
        bson_destroy(opts);
        bson_destroy(filter);
        return rc;
}

static int floor_cleanup(const jt_config_t *cfg, mongoc_client_t *client) {
        int64_t cutoff_ms;
        char cutoff_iso[JT_TIME_ISO_BUF];
        bson_error_t error;
        bson_t reply, *filter;
        mongoc_collection_t *coll;
        int64_t t0;
        int rc = JT_EXIT_OK;

        if (!jt_db_command_cutoff(cfg, "floor", &cutoff_ms, cutoff_iso))
                return JT_EXIT_USAGE;
        filter = BCON_NEW("createdAt", "{", "$lt", BCON_DATE_TIME(cutoff_ms), "}");
        coll = jt_db_command_collection(client, cfg, "playbacks");
        t0 = jt_time_mono_ms();
        if (!mongoc_collection_delete_many(coll, filter, NULL, &reply, &error)) {
                fprintf(stderr, "joytify-loadtest floor: deleting before %s: %s\n", cutoff_iso,
                        jt_mongo_error_text(&error, error.message, sizeof(error.message)));
                rc = JT_EXIT_FAILURE;
        } else {
                double s = (double)(jt_time_mono_ms() - t0) / 1000;
                bson_iter_t it;
                int64_t n =
                    bson_iter_init_find(&it, &reply, "deletedCount") && BSON_ITER_HOLDS_NUMBER(&it)
                        ? bson_iter_as_int64(&it)
                        : -1;
                printf("floor cleanup: %" PRId64 " playbacks older than %s deleted in %.2f s "
                       "(%.0f/s)\n",
                       n, cutoff_iso, s, s > 0 ? (double)n / s : 0.0);
        }
        bson_destroy(&reply);
        mongoc_collection_destroy(coll);
        bson_destroy(filter);
        return rc;
}

int jt_floor_run(const jt_config_t *cfg) {
        return jt_db_command_run(cfg, "floor", floor_stats, floor_cleanup);
}
