/* `joytify-loadtest generate`: users, their stats documents, musicians and playbacks shaped like
 * those of the original system's test data generator, but with a catalogue of songs and artists
 * of skewed popularity so that per-song and per-artist figures mean something. Every id and
 * value comes from the seed: the same seed gives the same documents, whatever the batch sizes,
 * so benchmark runs compare like with like. */
#include "generate.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gen_catalog.h"
#include "gen_history.h"
#include "gen_progress.h"
#include "gen_rng.h"
#include "jt_cleanup_job.h"
#include "jt_time.h"
#include "jt_indexes.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_startup.h"
#include "db_command.h"

#define DAY_MS            (86400 * INT64_C(1000))
#define PLAYBACK_BULK     10000 /* documents per unordered insert */
#define USER_BULK         1000
#define OPTED_IN_PERCENT  85 /* most users keep the monthly statistics notification on */
#define OLD_SHARE_PERCENT 70 /* of a user's playbacks: 90..60 days ago, the rest the last 30 */

static const jt_opt_t generate_opts[] = {
    {"users", 'u', JT_OPT_INT, "200", 1, 10000000, NULL, false, "N", "users to generate"},
    {"playbacks-per-user", 0, JT_OPT_INT, "500", 0, 1000000, NULL, false, "N",
     "playbacks per user"},
    {"artists", 0, JT_OPT_INT, "2000", 1, 1000000, NULL, false, "N", "artists in the catalogue"},
    {"songs", 0, JT_OPT_INT, "20000", 1, 10000000, NULL, false, "N", "songs in the catalogue"},
    {"seed", 0, JT_OPT_INT, "1", 0, 0x7fffffff, NULL, false, "S",
     "random seed (same seed, same documents)"},
    {"test-mode", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL,
     "write the test-* collections (musicians are shared)"},
    {"now", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "TS",
     "playback times count back from this UTC time (default: now; fixes the data for a seed)"},
    {"drop", 0, JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL,
     "drop users, stats, playbacks, notifications, the job ledger and the notifier's record "
     "first (tasks of the dropped jobs still on the topics carry their runs' nonces: workers "
     "refuse them, nothing done, so a job run again on the new data meets none of them)"},
    {"history-months", 0, JT_OPT_INT, "0", 0, JT_GEN_HISTORY_MAX_MONTHS, NULL, false, "N",
     "give every stats document N monthly entries for the months before the generated ones "
     "(each from 30 % of --playbacks-per-user drawn playbacks, built as the worker builds "
     "entries): stored history, as the application's users have"},
    {"only-playbacks-before", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "TS",
     "insert only the playbacks created before TS, nothing else: puts back what a cleanup with "
     "that cutoff deleted from a dataset made with the same options (same documents, same ids)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

const jt_opt_t *const jt_generate_tables[] = {generate_opts, jt_opts_mongo, jt_opts_log, NULL};

typedef struct {
        const jt_config_t *cfg;
        mongoc_client_t *client;
        const char *db;
        bool test_mode;
        uint64_t seed;
        int64_t now_ms;
        int64_t only_before_ms; /* INT64_MAX: everything; else only playbacks before it */
        int64_t users, per_user;
        int64_t inserted; /* playbacks */
        jt_gen_catalog_t *catalog;
        jt_gen_history_t history;
        mongoc_collection_t *users_coll, *stats_coll, *playbacks_coll;
        jt_gen_progress_t progress;
} gen_t;

static bool fail_mongo(const char *what, const bson_error_t *error) {
        char text[sizeof(error->message)];

        fprintf(stderr, "joytify-loadtest generate: %s: %s\n", what,
                jt_mongo_error_text(error, text, sizeof(text)));
        return false;
}

static bool drop_all(gen_t *g) {
        static const char *const bases[] = {"users", "stats", "playbacks", "notifications"};
        bson_error_t error;

        for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
                mongoc_collection_t *c = jt_db_command_collection(g->client, g->cfg, bases[i]);
                bool ok =
                    mongoc_collection_drop(c, &error) || error.code == 26; /* NamespaceNotFound */
                mongoc_collection_destroy(c);
                if (!ok)
                        return fail_mongo("dropping a collection", &error);
        }
        /* The job ledger and the notifier's record of posts: a dropped dataset's jobs would make
         * the same job ids "already exist" and their outcomes "already posted". The bench's
         * record of the dataset it generated (bench_dataset.h) describes what is dropped here:
         * kept, it would let `bench --reuse-data` take this generation for that one. */
        static const char *const ledgers[][2] = {
            {"jobs", "_id"}, {"notifier_posts", "job"}, {"bench_dataset", "_id"}};
        for (size_t i = 0; i < sizeof(ledgers) / sizeof(ledgers[0]); i++) {
                mongoc_collection_t *c =
                    mongoc_client_get_collection(g->client, g->db, ledgers[i][0]);
                bson_t *filter =
                    g->test_mode ? BCON_NEW(ledgers[i][1], BCON_REGEX("^test-", "")) : bson_new();
                bool ok = mongoc_collection_delete_many(c, filter, NULL, NULL, &error);
                bson_destroy(filter);
                mongoc_collection_destroy(c);
                if (!ok)
                        return fail_mongo("clearing the job ledger", &error);
        }
        return true;
}

/* Refuses to add a second dataset on top of one: ids would collide and figures would mix. */
static bool check_empty(gen_t *g) {
        bson_error_t error;
        bson_t filter = BSON_INITIALIZER;
        int64_t n =
            mongoc_collection_count_documents(g->users_coll, &filter, NULL, NULL, NULL, &error);
        bson_destroy(&filter);
        if (n < 0)
                return fail_mongo("counting users", &error);
        if (n > 0) {
                fprintf(stderr,
                        "joytify-loadtest generate: database %s already has %" PRId64
                        " %susers: add --drop to start clean\n",
                        g->db, n, g->test_mode ? "test-" : "");
                return false;
        }
        return true;
}

static bool run_bulk(mongoc_bulk_operation_t *bulk, const char *what) {
        bson_t reply;
        bson_error_t error;
        bool ok = mongoc_bulk_operation_execute(bulk, &reply, &error) != 0;

        bson_destroy(&reply);
        mongoc_bulk_operation_destroy(bulk);
        return ok || fail_mongo(what, &error);
}

static mongoc_bulk_operation_t *new_bulk(mongoc_collection_t *coll) {
        bson_t opts = BSON_INITIALIZER;
        BSON_APPEND_BOOL(&opts, "ordered", false);
        mongoc_bulk_operation_t *bulk =
            mongoc_collection_create_bulk_operation_with_opts(coll, &opts);
        bson_destroy(&opts);
        return bulk;
}

/* Musicians are upserted by id: shared by the test-* and the real collections, and the same
 * seed's catalogue again is a no-op. */
static bool insert_musicians(gen_t *g) {
        mongoc_collection_t *coll = mongoc_client_get_collection(g->client, g->db, "musicians");
        mongoc_bulk_operation_t *bulk = NULL;
        bson_t *upsert = BCON_NEW("upsert", BCON_BOOL(true));
        bool ok = true;

        for (size_t i = 0; ok && i < g->catalog->artist_count; i++) {
                bson_t *sel = BCON_NEW("_id", BCON_OID(&g->catalog->artists[i]));
                bson_t *doc = BCON_NEW("name", BCON_UTF8(g->catalog->artist_names[i]), "createdAt",
                                       BCON_DATE_TIME(g->now_ms - 120 * DAY_MS));
                if (!bulk)
                        bulk = new_bulk(coll);
                mongoc_bulk_operation_replace_one_with_opts(bulk, sel, doc, upsert, NULL);
                bson_destroy(doc);
                bson_destroy(sel);
                if ((i + 1) % USER_BULK == 0 || i + 1 == g->catalog->artist_count) {
                        ok = run_bulk(bulk, "writing musicians");
                        bulk = NULL;
                }
        }
        if (bulk)
                mongoc_bulk_operation_destroy(bulk);
        bson_destroy(upsert);
        mongoc_collection_destroy(coll);
        return ok;
}

/* The template user of the original generator, with its own email, username and preferences. */
static void user_doc(gen_t *g, int64_t i, const bson_oid_t *id, jt_gen_rng_t *rng, bson_t *doc) {
        char email[64], username[32];
        bool monthly = jt_gen_rng_below(rng, 100) < OPTED_IN_PERCENT;
        int64_t joined = g->now_ms - 120 * DAY_MS;
        bson_t notifications, prefs, inner;

        snprintf(email, sizeof(email), "user%" PRId64 "@loadtest.joytify.local", i);
        snprintf(username, sizeof(username), "user%" PRId64, i);
        BSON_APPEND_OID(doc, "_id", id);
        BSON_APPEND_UTF8(doc, "email", email);
        BSON_APPEND_UTF8(doc, "username", username);
        BSON_APPEND_UTF8(doc, "password",
                         "$2b$10$loadtestloadtestloadteuO7yTx0sUq1bX2n3mTqf9Q1rKd2eFhG");
        BSON_APPEND_UTF8(doc, "profileImage",
                         "https://joytify.local/default-user-image.png"); /* like the template */
        BSON_APPEND_BOOL(doc, "verified", true);
        BSON_APPEND_ARRAY_BEGIN(doc, "notifications", &notifications);
        bson_append_array_end(doc, &notifications);
        BSON_APPEND_DOCUMENT_BEGIN(doc, "userPreferences", &prefs);
        BSON_APPEND_DOCUMENT_BEGIN(&prefs, "notifications", &inner);
        BSON_APPEND_BOOL(&inner, "monthlyStatistic", monthly);
        BSON_APPEND_BOOL(&inner, "followingArtistUpdate", true);
        BSON_APPEND_BOOL(&inner, "systemAnnouncement", true);
        bson_append_document_end(&prefs, &inner);
        bson_append_document_end(doc, &prefs);
        BSON_APPEND_DATE_TIME(doc, "createdAt", joined);
        BSON_APPEND_DATE_TIME(doc, "updatedAt", joined);
}

/* One user's playbacks into bulk (flushed every PLAYBACK_BULK documents). */
static bool user_playbacks(gen_t *g, int64_t user_index, const bson_oid_t *user, jt_gen_rng_t *rng,
                           mongoc_bulk_operation_t **bulk, size_t *queued) {
        int64_t old_n = g->per_user * OLD_SHARE_PERCENT / 100;

        for (int64_t i = 0; i < g->per_user; i++) {
                /* 70%: evenly over 90..60 days ago (all due for cleanup); 30%: the last 30 days. */
                int64_t from = i < old_n ? g->now_ms - 90 * DAY_MS : g->now_ms - 30 * DAY_MS;
                int64_t at = from + (int64_t)jt_gen_rng_below(rng, (uint64_t)(30 * DAY_MS));
                size_t song = jt_gen_catalog_pick_song(g->catalog, rng);
                bson_oid_t id;
                bson_t doc = BSON_INITIALIZER;

                if (at >=
                    g->only_before_ms) { /* drawn all the same: the next ones stay identical */
                        jt_gen_progress_add(&g->progress, 1);
                        continue;
                }

                jt_gen_rng_oid(&id, at / 1000, g->seed, 'P', (uint64_t)user_index, (uint64_t)i);
                BSON_APPEND_OID(&doc, "_id", &id);
                BSON_APPEND_OID(&doc, "user", user);
                BSON_APPEND_OID(&doc, "song", &g->catalog->songs[song]);
                BSON_APPEND_OID(&doc, "artist",
                                &g->catalog->artists[g->catalog->song_artist[song]]);
                BSON_APPEND_UTF8(&doc, "state", i % 2 == 0 ? "completed" : "playing");
                BSON_APPEND_DOUBLE(&doc, "duration", (double)(30 + i % 300));
                BSON_APPEND_DATE_TIME(&doc, "createdAt", at);
                BSON_APPEND_DATE_TIME(&doc, "updatedAt", at);
                mongoc_bulk_operation_insert(*bulk, &doc);
                bson_destroy(&doc);
                g->inserted++;
                if (++*queued == PLAYBACK_BULK) {
                        if (!run_bulk(*bulk, "inserting playbacks"))
                                return false;
                        jt_gen_progress_add(&g->progress, (int64_t)*queued);
                        *bulk = new_bulk(g->playbacks_coll);
                        *queued = 0;
                }
        }
        return true;
}

/* A user's stats document: no entry, or --history-months of them. */
static bool stats_doc(gen_t *g, int64_t u, const bson_oid_t *user, bson_t *doc) {
        bson_t entries;
        bson_oid_t stats_id;
        jt_error_t err;
        int64_t created = g->now_ms - 120 * DAY_MS;
        bool ok;

        jt_gen_rng_oid(&stats_id, created / 1000, g->seed, 'T', (uint64_t)u, 0);
        BSON_APPEND_OID(doc, "_id", &stats_id);
        BSON_APPEND_OID(doc, "user", user);
        BSON_APPEND_ARRAY_BEGIN(doc, "stats", &entries);
        jt_error_clear(&err);
        ok = jt_gen_history_append(&g->history, (uint64_t)u, &entries, &err);
        bson_append_array_end(doc, &entries);
        if (!ok) {
                fprintf(stderr, "joytify-loadtest generate: history of user %" PRId64 ": %s\n", u,
                        err.message);
                return false;
        }
        /* The document existed since its user's first stored month (a valid month: its entry
         * was built). */
        if (g->history.months > 0) {
                int64_t start, end;
                jt_time_month_bounds_ms(g->history.first_year, g->history.first_month, &start,
                                        &end);
                if (start < created)
                        created = start;
        }
        BSON_APPEND_DATE_TIME(doc, "createdAt", created);
        BSON_APPEND_DATE_TIME(doc, "updatedAt", created);
        return true;
}

static bool restoring(const gen_t *g) {
        return g->only_before_ms != INT64_MAX;
}

static bool insert_users(gen_t *g) {
        mongoc_bulk_operation_t *users = new_bulk(g->users_coll);
        mongoc_bulk_operation_t *stats = new_bulk(g->stats_coll);
        mongoc_bulk_operation_t *plays = new_bulk(g->playbacks_coll);
        size_t queued = 0;
        bool ok = true;

        for (int64_t u = 0; ok && u < g->users; u++) {
                jt_gen_rng_t rng;
                bson_oid_t id;
                bson_t doc = BSON_INITIALIZER;

                jt_gen_rng_seed(&rng, g->seed, 'U', (uint64_t)u); /* per user: order-free */
                jt_gen_rng_oid(&id, (g->now_ms - 120 * DAY_MS) / 1000, g->seed, 'U', (uint64_t)u,
                               0);
                user_doc(g, u, &id, &rng, &doc);
                if (restoring(g)) { /* the user's document is there: only its draws are needed */
                        bson_destroy(&doc);
                        ok = user_playbacks(g, u, &id, &rng, &plays, &queued);
                        continue;
                }
                mongoc_bulk_operation_insert(users, &doc);
                bson_reinit(&doc);
                ok = stats_doc(g, u, &id, &doc);
                if (ok)
                        mongoc_bulk_operation_insert(stats, &doc);
                bson_destroy(&doc);
                ok = ok && user_playbacks(g, u, &id, &rng, &plays, &queued);
                if (ok && ((u + 1) % USER_BULK == 0 || u + 1 == g->users)) {
                        ok = run_bulk(users, "inserting users") &&
                             run_bulk(stats, "inserting stats documents");
                        users = u + 1 < g->users ? new_bulk(g->users_coll) : NULL;
                        stats = u + 1 < g->users ? new_bulk(g->stats_coll) : NULL;
                }
        }
        if (ok && queued > 0) {
                ok = run_bulk(plays, "inserting playbacks");
                plays = NULL;
                if (ok)
                        jt_gen_progress_add(&g->progress, (int64_t)queued);
        }
        if (users)
                mongoc_bulk_operation_destroy(users);
        if (stats)
                mongoc_bulk_operation_destroy(stats);
        if (plays)
                mongoc_bulk_operation_destroy(plays);
        return ok;
}

/* A time option (UTC), or fallback_ms when it is not given. */
static bool parse_time(const jt_config_t *cfg, const char *opt, int64_t fallback_ms, int64_t *ms) {
        const char *text = jt_config_str(cfg, opt);
        int64_t t;
        jt_error_t err;

        if (!text) {
                *ms = fallback_ms;
                return true;
        }
        if (!jt_time_parse_iso(text, &t, &err)) {
                fprintf(stderr, "joytify-loadtest generate: --%s %s: %s\n", opt, text, err.message);
                return false;
        }
        *ms = t * 1000;
        return true;
}

/* Putting playbacks back: the dataset must be there and must not have them any more, or the
 * same ids would be inserted twice. */
static bool check_restorable(gen_t *g) {
        bool there = false;
        jt_error_t err;

        if (!jt_cleanup_job_any_before(g->playbacks_coll, g->only_before_ms, &there, &err)) {
                fprintf(stderr, "joytify-loadtest generate: %s\n", err.message);
                return false;
        }
        if (there)
                fprintf(stderr,
                        "joytify-loadtest generate: %s already has playbacks created before "
                        "--only-playbacks-before: a cleanup with that cutoff must remove them "
                        "first\n",
                        g->db);
        return !there;
}

/* The options that cannot be checked one by one; an exit code, or -1 when they are fine. */
static int check_options(const jt_config_t *cfg, gen_t *g) {
        if (!parse_time(cfg, "now", (int64_t)time(NULL) * 1000, &g->now_ms) ||
            !parse_time(cfg, "only-playbacks-before", INT64_MAX, &g->only_before_ms))
                return JT_EXIT_USAGE;
        if (restoring(g) && jt_config_bool(cfg, "drop")) {
                fprintf(stderr, "joytify-loadtest generate: --only-playbacks-before puts playbacks "
                                "back into a dataset: it cannot be combined with --drop\n");
                return JT_EXIT_USAGE;
        }
        if (jt_config_int(cfg, "songs") < jt_config_int(cfg, "artists")) {
                fprintf(stderr,
                        "joytify-loadtest generate: --songs %lld is less than --artists "
                        "%lld: every artist needs a song\n",
                        jt_config_int(cfg, "songs"), jt_config_int(cfg, "artists"));
                return JT_EXIT_USAGE;
        }
        return -1;
}

/* What was written, in s seconds. */
static void print_summary(const gen_t *g, double s) {
        int64_t total = g->users * g->per_user;

        if (restoring(g)) {
                printf("put back %" PRId64 " playbacks created before %s into %s%s in %.1f "
                       "s (%.0f playbacks/s)\n",
                       g->inserted, jt_config_str(g->cfg, "only-playbacks-before"),
                       g->test_mode ? "test-* collections of " : "", g->db, s,
                       s > 0 ? (double)g->inserted / s : 0.0);
                return;
        }
        printf("generated %" PRId64 " users, %" PRId64 " stats documents, %" PRId64
               " playbacks, %zu musicians, %zu songs in %s%s in %.1f s (%.0f playbacks/s)\n",
               g->users, g->users, total, g->catalog->artist_count, g->catalog->song_count,
               g->test_mode ? "test-* collections of " : "", g->db, s,
               s > 0 ? (double)total / s : 0.0);
        if (g->history.months > 0) {
                int y, m;
                jt_gen_history_month(&g->history, g->history.months - 1, &y, &m);
                printf("every stats document has %d monthly entries, %04d-%02d to %04d-%02d\n",
                       g->history.months, g->history.first_year, g->history.first_month, y, m);
        }
}

/* Everything after the connection: the catalogue, the checks (or the drop), the indexes, the
 * musicians, then the users with their stats documents and playbacks. */
static bool generate(gen_t *g, mongoc_client_pool_t *pool) {
        const jt_config_t *cfg = g->cfg;
        jt_error_t err;
        bool ok;

        if (!g->catalog) {
                fprintf(stderr, "joytify-loadtest generate: out of memory for the catalogue\n");
                return false;
        }
        /* History ends before the oldest generated playback's month (90 days back). */
        jt_gen_history_init(&g->history, g->catalog, g->seed,
                            (int)jt_config_int(cfg, "history-months"),
                            g->per_user * (100 - OLD_SHARE_PERCENT) / 100, g->now_ms - 90 * DAY_MS);
        if (restoring(g) ? !check_restorable(g)
                         : (jt_config_bool(cfg, "drop") && !drop_all(g)) || !check_empty(g))
                return false;
        jt_error_clear(&err);
        if (!jt_indexes_ensure(pool, g->db, g->test_mode, &err)) {
                fprintf(stderr, "joytify-loadtest generate: %s\n", err.message);
                return false;
        }
        if (!restoring(g) && !insert_musicians(g))
                return false;
        /* Restoring: the bar counts every playback drawn, inserted or not. */
        jt_gen_progress_start(&g->progress, "playbacks", g->users * g->per_user);
        ok = insert_users(g);
        jt_gen_progress_end(&g->progress);
        return ok;
}

int jt_generate_run(const jt_config_t *cfg) {
        gen_t g = {.cfg = cfg,
                   .db = jt_config_str(cfg, "db"),
                   .test_mode = jt_config_bool(cfg, "test-mode"),
                   .seed = (uint64_t)jt_config_int(cfg, "seed"),
                   .users = jt_config_int(cfg, "users"),
                   .per_user = jt_config_int(cfg, "playbacks-per-user")};
        mongoc_client_pool_t *pool;
        jt_error_t err;
        int rc = check_options(cfg, &g);
        int64_t t0;

        if (rc >= 0)
                return rc;
        jt_error_clear(&err);
        if (!(pool = jt_startup_mongo(cfg, "joytify-loadtest", &err)))
                return jt_startup_fail(cfg, &err);
        t0 = jt_time_mono_ms();
        g.catalog = jt_gen_catalog_new(g.seed, (size_t)jt_config_int(cfg, "artists"),
                                       (size_t)jt_config_int(cfg, "songs"));
        g.client = mongoc_client_pool_pop(pool);
        g.users_coll = jt_db_command_collection(g.client, cfg, "users");
        g.stats_coll = jt_db_command_collection(g.client, cfg, "stats");
        g.playbacks_coll = jt_db_command_collection(g.client, cfg, "playbacks");
        rc = JT_EXIT_FAILURE;
        if (generate(&g, pool)) {
                print_summary(&g, (double)(jt_time_mono_ms() - t0) / 1000);
                rc = JT_EXIT_OK;
        }
        mongoc_collection_destroy(g.users_coll);
        mongoc_collection_destroy(g.stats_coll);
        mongoc_collection_destroy(g.playbacks_coll);
        mongoc_client_pool_push(pool, g.client);
        jt_gen_catalog_destroy(g.catalog);
        jt_mongo_pool_destroy(pool);
        return rc;
}
