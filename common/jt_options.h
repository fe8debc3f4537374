/* Option tables shared by several programs: logging, Kafka clients and topics, MongoDB. */
#ifndef JT_OPTIONS_H
#define JT_OPTIONS_H

#include "jt_config.h"

/* --log-level, --log-format */
extern const jt_opt_t jt_opts_log[];
/* --brokers, -X key=value, topic names and the settings of the topics a program creates
 * (--task-partitions, --replication-factor, --min-insync-replicas, --*-retention) */
extern const jt_opt_t jt_opts_kafka[];
/* --mongo-uri (secret: may carry credentials), --db, --mongo-timeout, --write-concern,
 * --write-timeout */
extern const jt_opt_t jt_opts_mongo[];

/* --retention-days: keep playbacks younger than this; the cleanup's cutoff, and the oldest
 * month whose statistics may still be computed. One row, in the cleanup table and in the
 * producer's stats command, so that both mean the same. */
/* clang-format off */
#define JT_OPT_RETENTION_DAYS                                                                      \
        {"retention-days", 0, JT_OPT_INT, "60", 7, 36500, NULL, false, "DAYS",                     \
         "keep playbacks younger than this; no statistics for a month starting earlier"}
/* clang-format on */

/* --retention-days, --range-hours, --batch-size, --batch-delay-ms, --time-budget: the shape of a
 * cleanup job (the producer's, and the one a statistics job starts when it finishes) */
extern const jt_opt_t jt_opts_cleanup[];

/* Applies --log-level and --log-format and names the program in log lines. Returns false on a
 * bad level or format. */
bool jt_options_apply_log(const jt_config_t *cfg, const char *program, jt_error_t *err);

#endif
