/* `joytify-producer topics`: creates whichever of the four topics is missing, with
 * --task-partitions, --replication-factor, --min-insync-replicas and the retention of each
 * kind, and warns about an existing topic whose settings differ (never altering it). What an
 * operator runs once with a principal allowed to create topics, so that the fleet itself can
 * run without that right. */
#include "topics_cmd.h"

#include <stdio.h>

#include "jt_kafka.h"
#include "jt_options.h"
#include "jt_startup.h"

int jt_topics_cmd_run(const jt_config_t *cfg) {
        jt_kafka_opts_t opts = jt_kafka_opts_from_config(cfg);
        rd_kafka_t *rk = NULL;
        jt_error_t err;
        int rc = 0;

        jt_error_clear(&err);
        if (!jt_options_apply_log(cfg, "producer", &err) ||
            !(rk = jt_kafka_producer_new(&opts, &err)) ||
            !jt_startup_reach_and_ensure_topics(cfg, rk, &err))
                rc = jt_startup_fail(cfg, &err);
        else
                printf("topics %s, %s, %s, %s exist\n", jt_config_str(cfg, "stats-topic"),
                       jt_config_str(cfg, "cleanup-topic"), jt_config_str(cfg, "status-topic"),
                       jt_config_str(cfg, "dlq-topic"));
        jt_kafka_destroy(rk);
        return rc;
}
