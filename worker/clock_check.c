/* The worker's clock against the database server's (clock_check.h). */
#include "clock_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt_time.h"
#include "jt_log.h"
#include "jt_mongo.h"

/* The server's time in a reply: hello's localTime, or the first document of an aggregate's
 * first batch holding "now". */
static bool reply_time(const bson_t *reply, int64_t *ms) {
        bson_iter_t it, batch;

        if (bson_iter_init_find(&it, reply, "localTime") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
                *ms = bson_iter_date_time(&it);
                return true;
        }
        if (bson_iter_init(&it, reply) &&
            bson_iter_find_descendant(&it, "cursor.firstBatch.0.now", &batch) &&
            BSON_ITER_HOLDS_DATE_TIME(&batch)) {
                *ms = bson_iter_date_time(&batch);
                return true;
        }
        return false;
}

/* One command timed by this host's clock; *found false when the reply holds no time. */
static bool timed_command(mongoc_client_t *client, const bson_t *cmd, int64_t *local_ms,
                          int64_t *server_ms, bool *found, jt_error_t *err) {
        bson_t reply;
        bson_error_t error;
        int64_t before = jt_time_wall_ms(), after, mono = jt_time_mono_ms();
        bool ok = mongoc_client_command_simple(client, "admin", cmd, NULL, &reply, &error);

        /* The server read its clock somewhere in the round trip: its middle is the best guess,
         * off by at most half the round trip (measured on the monotonic clock). */
        after = before + (jt_time_mono_ms() - mono);
        *found = ok && reply_time(&reply, server_ms);
        *local_ms = before + (after - before) / 2;
        bson_destroy(&reply);
        if (ok)
                return true;
        if (jt_mongo_error_is_transient(&error))
                return jt_error_set_transient(err, JT_ERR_MONGO, (int)error.code,
                                              "reading the database server's clock: %s",
                                              error.message);
        return jt_error_set(err, JT_ERR_MONGO, (int)error.code,
                            "reading the database server's clock: %s", error.message);
}

bool jt_clock_check_measure(mongoc_client_t *client, int64_t *skew_ms, int64_t *local_ms,
                            int64_t *server_ms, jt_error_t *err) {
        bson_t *hello = BCON_NEW("hello", BCON_INT32(1));
        bson_t *now = BCON_NEW("aggregate", BCON_INT32(1), "pipeline", "[", "{", "$documents", "[",
                               "{", "}", "]", "}", "{", "$project", "{", "now", BCON_UTF8("$$NOW"),
                               "}", "}", "]", "cursor", "{", "}");
        bool found = false, ok;

        *skew_ms = *local_ms = *server_ms = 0;
        ok = timed_command(client, hello, local_ms, server_ms, &found, err);
        if (ok && !found)
                ok = timed_command(client, now, local_ms, server_ms, &found, err);
        if (ok && !found)
                ok = jt_error_set(err, JT_ERR_MONGO, 0,
                                  "reading the database server's clock: neither hello's "
                                  "localTime nor an aggregate of $$NOW gave a date");
        if (ok)
                *skew_ms = *local_ms - *server_ms;
        bson_destroy(hello);
        bson_destroy(now);
        return ok;
}

static int64_t max_skew_ms(const jt_task_env_t *env) {
        return jt_config_int(env->cfg, "max-clock-skew") * 1000;
}

/* Measures into *state and reports it: the gauge, and a log line (an error when over). */
static bool measure(const jt_task_env_t *env, jt_clock_check_t *state, jt_error_t *err) {
        mongoc_client_t *client = mongoc_client_pool_pop(env->pool);
        char local[JT_TIME_ISO_BUF], server[JT_TIME_ISO_BUF];
        bool ok = jt_clock_check_measure(client, &state->skew_ms, &state->local_ms,
                                         &state->server_ms, err);

        mongoc_client_pool_push(env->pool, client);
        if (!ok)
                return false;
        state->measured = true;
        state->at_mono_ms = jt_time_mono_ms();
        jt_metrics_set_clock_skew(env->metrics, (double)state->skew_ms / 1e3);
        jt_time_format_iso(state->local_ms / 1000, local, sizeof(local));
        jt_time_format_iso(state->server_ms / 1000, server, sizeof(server));
        if (llabs(state->skew_ms) > max_skew_ms(env))
                jt_log_error("clock skew: this host's clock (%s) differs from the database "
                             "server's (%s) by %.1f s, more than --max-clock-skew %" PRId64
                             " s: cleanup tasks are refused until they agree",
                             local, server, (double)state->skew_ms / 1e3, max_skew_ms(env) / 1000);
        else
                jt_log_info("clock skew against the database server: %.3f s (limit %" PRId64 " s)",
                            (double)state->skew_ms / 1e3, max_skew_ms(env) / 1000);
        return true;
}

void jt_clock_check_start(jt_task_env_t *env, jt_clock_check_t *state) {
        jt_error_t err;

        jt_error_clear(&err);
        memset(state, 0, sizeof(*state));
        pthread_mutex_init(&state->lock, NULL);
        env->clock = state;
        if (!measure(env, state, &err))
                jt_log_error("clock skew: %s; cleanup tasks measure again before they delete",
                             err.message);
}

/* Under state->lock. */
static jt_task_outcome_t check_locked(const jt_task_env_t *env, jt_clock_check_t *state,
                                      jt_error_t *err) {
        char local[JT_TIME_ISO_BUF], server[JT_TIME_ISO_BUF];

        /* A skew over the limit is measured again at once: a corrected clock is seen by the
         * next task, not ten minutes later. */
        if (!state->measured || llabs(state->skew_ms) > max_skew_ms(env) ||
            jt_time_mono_ms() - state->at_mono_ms >= JT_CLOCK_CHECK_EVERY_MS) {
                state->measured = false;
                if (!measure(env, state, err)) {
                        if (err->transient)
                                return JT_TASK_RETRY;
                        jt_error_prefix(err, "refused (the clock check needs the database "
                                             "server's time; nothing deleted)");
                        return JT_TASK_PERMANENT;
                }
        }
        if (llabs(state->skew_ms) <= max_skew_ms(env))
                return JT_TASK_DONE;
        jt_time_format_iso(state->local_ms / 1000, local, sizeof(local));
        jt_time_format_iso(state->server_ms / 1000, server, sizeof(server));
        jt_error_set(err, JT_ERR_INPUT, 0,
                     "refused: this worker's clock (%s) differs from the database server's (%s) "
                     "by %.1f s, more than --max-clock-skew %" PRId64 " s; nothing deleted",
                     local, server, (double)state->skew_ms / 1e3, max_skew_ms(env) / 1000);
        return JT_TASK_PERMANENT;
}

void jt_clock_check_clear(jt_clock_check_t *state) {
        pthread_mutex_destroy(&state->lock);
}

jt_task_outcome_t jt_clock_check_before_delete(const jt_task_env_t *env, jt_error_t *err) {
        jt_clock_check_t *state = env->clock;
        jt_task_outcome_t outcome;

        if (!state) {
                jt_error_set(err, JT_ERR_INPUT, 0,
                             "refused: this worker has no clock check; nothing deleted");
                return JT_TASK_PERMANENT;
        }
        pthread_mutex_lock(&state->lock);
        outcome = check_locked(env, state, err);
        pthread_mutex_unlock(&state->lock);
        return outcome;
}
