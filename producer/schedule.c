/* The scheduler. Each loop (every 100 ms) asks each cron for its latest fire time at or before
 * now and fires it if this process has not yet. The statistics schedule catches up one fire per
 * missed month: at start-up the months after the newest one in the job ledger (the last the
 * fleet fired), at most --catch-up-months of them before the latest, oldest first; months a
 * cleanup may have cut into are refused by the job's own guard, reported and skipped. With no
 * statistics job in the ledger (a first start) only the latest fire runs. The cleanup schedule
 * fires its latest missed fire once (its cutoff covers everything older). Job ids derive from
 * the fire time (statistics: from its month; in test mode from the fire itself, so each fire
 * of a short test schedule is its own job) and the ledger creates each job once, so two
 * schedulers, a restart, or a catch-up of a fire that already ran send nothing twice. A
 * simulated clock (--clock) lets tests run a month of schedule in seconds. */
#include "schedule.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job_report.h"
#include "jt_cleanup_job.h"
#include "jt_job_emit.h"
#include "jt_cron.h"
#include "jt_time.h"
#include "jt_job_ids.h"
#include "jt_kafka.h"
#include "jt_log.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_signal.h"
#include "jt_startup.h"
#include "schedule_catchup.h"

#define RETRY_AFTER_FAILURE_MS 30000
#define MAX_PENDING            (JT_SCHEDULE_CATCH_UP_MAX + 1)

typedef struct {
        bool simulated;
        int64_t real_start_ms;
        int64_t sim_start_ms;
        double speed;
} sched_clock_t;

typedef struct {
        const char *name; /* "stats" or "cleanup" */
        bool enabled;     /* false: --NAME-cron off */
        jt_cron_t cron;
        int64_t last_fired_s; /* the latest fire time handled by this process */
        int64_t retry_at_ms;  /* after a failed or contended fire, when to look again */
        /* Fires to handle, oldest first; pending[next] is the next one. A failed fire stays
         * there, so a catch-up resumes where it stopped and keeps its order. */
        int64_t pending[MAX_PENDING];
        size_t pending_count, next;
        /* Statistics: fires after this stand for a month not in the ledger yet (start-up only;
         * then last_fired_s takes over). JT_CRON_NONE: only the latest fire. */
        int64_t catch_up_after;
} schedule_t;

static int64_t clock_now_ms(const sched_clock_t *clock) {
        int64_t real = jt_time_wall_ms();
        if (!clock->simulated)
                return real;
        return clock->sim_start_ms +
               (int64_t)((double)(real - clock->real_start_ms) * clock->speed);
}

/* "2026-11-01T01:00Z" or "2026-11-01T01:00Zx7200". */
static bool parse_clock(const char *text, sched_clock_t *clock, jt_error_t *err) {
        char start[64];
        const char *x;
        int64_t start_s = 0;

        clock->simulated = false;
        clock->speed = 1.0;
        if (!text)
                return true;
        x = strchr(text, 'x');
        snprintf(start, sizeof(start), "%.*s", x ? (int)(x - text) : (int)strlen(text), text);
        if (!jt_time_parse_iso(start, &start_s, err))
                return jt_error_prefix(err, "--clock");
        if (x) {
                char *end = NULL;
                clock->speed = strtod(x + 1, &end);
                if (!end || *end || !isfinite(clock->speed) || clock->speed < 1 ||
                    clock->speed > 1e7)
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "--clock speed must be 1..10000000 (got \"%s\")",
                                            x + 1);
        }
        clock->simulated = true;
        clock->sim_start_ms = start_s * 1000;
        clock->real_start_ms = jt_time_wall_ms();
        return true;
}

/* Fires one schedule's job through the scheduler's own producer and registry. Returns the
 * exit code the one-shot command would have; *busy and *refused as the outcome says. */
static int fire(const jt_config_t *cfg, const jt_emit_env_t *env, const schedule_t *s,
                int64_t due_s, bool test_mode, bool *busy, bool *refused) {
        char when[JT_TIME_ISO_BUF];
        jt_error_t err;
        bool ok;
        int rc;

        jt_error_clear(&err);
        jt_time_format_iso(due_s, when, sizeof(when));
        jt_log_info("%s schedule fires for %s", s->name, when);
        if (strcmp(s->name, "stats") == 0) {
                jt_stats_job_result_t result;
                jt_stats_job_params_t params;
                char month[8];
                if (!jt_job_ids_month(NULL, due_s * 1000, month, &err)) {
                        jt_log_error("stats fire %s: %s", when, err.message);
                        return JT_EXIT_FAILURE;
                }
                params = jt_job_report_stats_params(cfg, month, test_mode, NULL);
                /* The original's test schedule fires every 5 minutes and each fire runs: in test
                 * mode the fire time is part of the job id. */
                params.fire_s = test_mode ? due_s - due_s % 60 : 0;
                ok = jt_stats_job_emit(env, &params, false, &result, &err);
                rc = jt_job_report_stats(cfg, ok, &result, &err);
                *busy = ok && result.emit.outcome == JT_EMIT_BUSY;
                *refused = ok && result.emit.outcome == JT_EMIT_REFUSED;
                jt_stats_job_result_clear(&result);
                return rc;
        }
        /* A fire time ahead of the real clock would move the cutoff into the retention window;
         * only a simulated clock can get there, and then cleanup must not run. */
        if (due_s * 1000 > jt_time_wall_ms()) {
                jt_log_error("cleanup fire %s is ahead of the real clock: not fired", when);
                return JT_EXIT_FAILURE;
        }
        jt_cleanup_job_result_t result;
        jt_cleanup_job_params_t params = jt_cleanup_job_params_from_config(cfg);
        params.fire_s = due_s;
        params.triggered_by = "schedule";
        params.test_mode = test_mode;
        ok = jt_cleanup_job_emit(env, &params, false, &result, &err);
        rc = jt_job_report_cleanup(cfg, ok, &result, &err);
        *busy = ok && result.emit.outcome == JT_EMIT_BUSY;
        jt_cleanup_job_result_clear(&result);
        return rc;
}

/* The month a statistics fire at fire_s computes ("YYYY-MM"). */
static void fire_month(int64_t fire_s, char out[8]) {
        jt_error_t err;

        jt_error_clear(&err);
        if (!jt_job_ids_month(NULL, fire_s * 1000, out, &err))
                snprintf(out, 8, "?");
}

/* What s fires next for its latest due fire: the catch-up months of the statistics schedule
 * (jt_cron_month_fires) after the ledger's newest month at start-up or this process's last
 * fire afterwards, else the due fire alone. Months left out by --catch-up-months are named. */
static void plan(schedule_t *s, int64_t due, int catch_up_months) {
        bool stats = strcmp(s->name, "stats") == 0;
        int64_t after = s->last_fired_s != JT_CRON_NONE ? s->last_fired_s : s->catch_up_after;
        size_t months = 0;

        s->pending_count = s->next = 0;
        if (stats && after != JT_CRON_NONE && after < due)
                months = jt_cron_month_fires(&s->cron, after, due, s->pending,
                                             (size_t)catch_up_months + 1, &s->pending_count);
        if (s->pending_count == 0) {
                /* No catch-up, or the latest month already fired (a test-mode fire of it is
                 * still a job of its own; otherwise the ledger answers "already exists"). */
                s->pending[0] = due;
                s->pending_count = 1;
                return;
        }
        if (s->pending_count > 1 || months > s->pending_count) {
                char first[8], last[8], when[JT_TIME_ISO_BUF];
                fire_month(s->pending[0], first);
                fire_month(s->pending[s->pending_count - 1], last);
                jt_time_format_iso(s->pending[0], when, sizeof(when));
                jt_log_info("stats schedule catches up %zu month(s), oldest first: %s to %s "
                            "(first fire %s)",
                            s->pending_count, first, last, when);
        }
        if (months > s->pending_count) {
                char oldest[8], newest[8];
                fire_month(jt_cron_prev(&s->cron, jt_time_month_start(s->pending[0]) - 1), newest);
                /* The oldest left out is the month after the one the fires began after. */
                fire_month(jt_cron_next(&s->cron, after), oldest);
                jt_log_warn("stats schedule: %zu missed month(s) %s to %s lie beyond "
                            "--catch-up-months %d: not fired (`joytify-producer stats --month "
                            "YYYY-MM` runs one by hand while it is inside retention)",
                            months - s->pending_count, oldest, newest, catch_up_months);
        }
}

/* At start-up: where the statistics catch-up begins (schedule_catchup.h), logged. */
static bool find_catch_up(const jt_emit_env_t *env, bool test_mode, int catch_up_months,
                          schedule_t *s, jt_error_t *err) {
        mongoc_client_t *client = mongoc_client_pool_pop(env->pool);
        char month[8];
        bool found = false;
        bool ok = jt_schedule_catchup_newest_month(client, env->db, test_mode, month, &found, err);

        mongoc_client_pool_push(env->pool, client);
        s->catch_up_after = JT_CRON_NONE;
        if (!ok)
                return false;
        if (!found) {
                jt_log_info("stats schedule: no %sstatistics job in the ledger: the latest fire "
                            "only, no catch-up",
                            test_mode ? "test-mode " : "");
                return true;
        }
        s->catch_up_after = jt_schedule_catchup_after_month(month);
        jt_log_info("stats schedule: the ledger's newest %sstatistics month is %s; missed months "
                    "after it are caught up (at most %d before the latest)",
                    test_mode ? "test-mode " : "", month, catch_up_months);
        return true;
}

/* Each schedule's cron, or off: either may be, not both (nothing left to run). */
static bool parse_schedules(const jt_config_t *cfg, schedule_t schedules[2], jt_error_t *err) {
        for (int i = 0; i < 2; i++) {
                schedule_t *s = &schedules[i];
                char option[32];
                const char *expr;

                snprintf(option, sizeof(option), "%s-cron", s->name);
                expr = jt_config_str(cfg, option);
                s->last_fired_s = JT_CRON_NONE;
                s->catch_up_after = JT_CRON_NONE;
                s->enabled = strcmp(expr, JT_SCHEDULE_OFF) != 0;
                if (s->enabled && !jt_cron_parse(expr, &s->cron, err))
                        return jt_error_prefix(err, "--%s", option);
        }
        if (!schedules[0].enabled && !schedules[1].enabled)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--stats-cron and --cleanup-cron are both " JT_SCHEDULE_OFF
                                    ": nothing to schedule");
        return true;
}

/* Logs each schedule: its next fire, or that it is off. */
static void log_schedules(const jt_config_t *cfg, schedule_t schedules[2],
                          const sched_clock_t *clock) {
        for (int i = 0; i < 2; i++) {
                char next[JT_TIME_ISO_BUF], option[32];
                snprintf(option, sizeof(option), "%s-cron", schedules[i].name);
                if (!schedules[i].enabled) {
                        jt_log_info("%s schedule off (--%s " JT_SCHEDULE_OFF ")", schedules[i].name,
                                    option);
                        continue;
                }
                jt_time_format_iso(jt_cron_next(&schedules[i].cron, clock_now_ms(clock) / 1000),
                                   next, sizeof(next));
                jt_log_info("%s schedule \"%s\" (UTC), next fire %s%s", schedules[i].name,
                            jt_config_str(cfg, option), next,
                            clock->simulated ? " (simulated clock)" : "");
        }
}

/* Fires s's pending fires in order until one fails or is contended (kept for later). */
static void run_pending(const jt_config_t *cfg, const jt_emit_env_t *env, schedule_t *s,
                        bool test_mode) {
        while (s->next < s->pending_count && !jt_signal_stop_requested()) {
                int64_t due = s->pending[s->next];
                bool busy = false, refused = false;
                if (fire(cfg, env, s, due, test_mode, &busy, &refused) == JT_EXIT_OK && !busy) {
                        s->retry_at_ms = 0;
                } else if (refused) {
                        /* Only more cleanups and a later clock follow: a refused month stays
                         * refused, so it is not tried again; a catch-up goes on with the next. */
                        jt_log_error("%s fire refused (reason above); not retried", s->name);
                        s->retry_at_ms = 0;
                } else if (busy) {
                        /* Look again later: sent by then, or the claim lapsed with its holder
                         * and this scheduler sends the job itself. */
                        s->retry_at_ms = jt_time_wall_ms() + RETRY_AFTER_FAILURE_MS;
                        break;
                } else {
                        s->retry_at_ms = jt_time_wall_ms() + RETRY_AFTER_FAILURE_MS;
                        jt_log_warn("%s fire failed; retrying in %d s", s->name,
                                    RETRY_AFTER_FAILURE_MS / 1000);
                        break;
                }
                if (s->last_fired_s == JT_CRON_NONE || due > s->last_fired_s)
                        s->last_fired_s = due;
                s->next++;
                fflush(stdout);
        }
        fflush(stdout);
}

int jt_schedule_run(const jt_config_t *cfg) {
        schedule_t schedules[2] = {{.name = "stats"}, {.name = "cleanup"}};
        bool test_mode = jt_config_bool(cfg, "test-mode");
        int catch_up_months = (int)jt_config_int(cfg, "catch-up-months");
        mongoc_client_pool_t *pool = NULL;
        jt_avro_registry_t *reg = NULL;
        rd_kafka_t *rk = NULL;
        jt_emit_env_t env;
        sched_clock_t clock;
        jt_error_t err;

        jt_error_clear(&err);
        if (!jt_options_apply_log(cfg, "scheduler", &err))
                return jt_startup_fail(cfg, &err);
        if (!parse_schedules(cfg, schedules, &err) ||
            !parse_clock(jt_config_str(cfg, "clock"), &clock, &err))
                return jt_startup_fail(cfg, &err);
        /* Both servers must answer before the daemon settles in. */
        if (!(pool = jt_startup_mongo(cfg, "joytify-scheduler", &err)) ||
            !(reg = jt_avro_registry_new(&err)) || !(rk = jt_startup_producer(cfg, &err))) {
                jt_avro_registry_destroy(reg);
                jt_mongo_pool_destroy(pool);
                return jt_startup_fail(cfg, &err);
        }
        /* One producer for every fire: a job's send is a few flushes on it. */
        env = jt_job_emit_env_from_config(cfg, pool, rk, reg);
        if (schedules[0].enabled &&
            !find_catch_up(&env, test_mode, catch_up_months, &schedules[0], &err)) {
                jt_kafka_destroy(rk);
                jt_avro_registry_destroy(reg);
                jt_mongo_pool_destroy(pool);
                return jt_startup_fail(cfg, &err);
        }

        jt_signal_install_stop();
        log_schedules(cfg, schedules, &clock);

        while (!jt_signal_stop_requested()) {
                int64_t now_ms = clock_now_ms(&clock);
                for (int i = 0; i < 2 && !jt_signal_stop_requested(); i++) {
                        schedule_t *s = &schedules[i];
                        int64_t due;
                        if (!s->enabled)
                                continue;
                        due = jt_cron_prev(&s->cron, now_ms / 1000);
                        if (s->next == s->pending_count) {
                                if (due == JT_CRON_NONE || due <= s->last_fired_s)
                                        continue;
                                plan(s, due, catch_up_months);
                        }
                        if (jt_time_wall_ms() < s->retry_at_ms)
                                continue;
                        run_pending(cfg, &env, s, test_mode);
                }
                struct timespec pause = {0, 100 * 1000 * 1000};
                nanosleep(&pause, NULL);
        }
        jt_log_info("stopping on signal");
        jt_kafka_destroy(rk);
        jt_avro_registry_destroy(reg);
        jt_mongo_pool_destroy(pool);
        return JT_EXIT_OK;
}
