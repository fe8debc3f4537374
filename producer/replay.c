/* `joytify-producer replay`: the operator's tools after a fix. Checks that the options fit the
 * mode, then runs it: offsets (replay_offsets.c), dead letters (replay_dlq.c), or the DLQ
 * listed or one dead letter at a time (replay_dlq_one.c). */
#include "replay.h"

#include <stdbool.h>

#include "jt_options.h"
#include "jt_startup.h"
#include "replay_dlq.h"
#include "replay_dlq_one.h"
#include "replay_offsets.h"

static bool is_blank(const char *s) {
        return !s || !*s;
}

/* --dlq's three forms: a full replay, --list, or one message by --partition and --offset. */
static bool check_dlq_mode(const jt_config_t *cfg, jt_error_t *err) {
        bool one = jt_config_is_set(cfg, "partition") || jt_config_is_set(cfg, "offset");

        if (jt_config_bool(cfg, "list") && (one || jt_config_bool(cfg, "discard")))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--list moves nothing: it takes no --partition, --offset or "
                                    "--discard");
        if (jt_config_bool(cfg, "json") && !jt_config_bool(cfg, "list"))
                return jt_error_set(err, JT_ERR_CONFIG, 0, "--json only applies with --list");
        if (one && !(jt_config_is_set(cfg, "partition") && jt_config_is_set(cfg, "offset")))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "one dead letter needs both --partition and --offset");
        if (jt_config_bool(cfg, "discard") && !one)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--discard needs the dead letter's --partition and --offset");
        if (one && jt_config_is_set(cfg, "filter-job"))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--filter-job does not apply to one dead letter: "
                                    "--partition and --offset name it");
        if (jt_config_bool(cfg, "force") && !one)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--force applies to offsets, or to one dead letter handled "
                                    "before; a full --dlq replay has no use for it");
        return true;
}

/* Options of one mode make no sense in the other: say so instead of silently ignoring them. */
static bool check_mode(const jt_config_t *cfg, bool dlq, jt_error_t *err) {
        static const char *const offsets_only[] = {"topic", "group", "to-timestamp", "to-offset"};
        static const char *const dlq_only[] = {"filter-job", "list",   "json",
                                               "partition",  "offset", "discard"};

        if (dlq) {
                for (size_t i = 0; i < sizeof(offsets_only) / sizeof(offsets_only[0]); i++)
                        if (jt_config_is_set(cfg, offsets_only[i]))
                                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                                    "--%s does not apply to --dlq, which re-sends "
                                                    "the messages of --dlq-topic",
                                                    offsets_only[i]);
                if (jt_config_is_set(cfg, "filter-job") &&
                    is_blank(jt_config_str(cfg, "filter-job")))
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "--filter-job needs a job id (got \"\")");
                return check_dlq_mode(cfg, err);
        }
        for (size_t i = 0; i < sizeof(dlq_only) / sizeof(dlq_only[0]); i++)
                if (jt_config_is_set(cfg, dlq_only[i]))
                        return jt_error_set(err, JT_ERR_CONFIG, 0, "--%s only applies with --dlq",
                                            dlq_only[i]);
        if (is_blank(jt_config_str(cfg, "topic")))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--topic is required: the topic whose offsets move (or give "
                                    "--dlq to re-send dead-lettered tasks)");
        if (is_blank(jt_config_str(cfg, "group")))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--group is required: the consumer group whose offsets move");
        return true;
}

int jt_replay_run(const jt_config_t *cfg) {
        bool dlq = jt_config_bool(cfg, "dlq");
        jt_error_t err;

        jt_error_clear(&err);
        if (!jt_options_apply_log(cfg, "producer", &err) || !check_mode(cfg, dlq, &err))
                return jt_startup_fail(cfg, &err);
        if (!dlq)
                return jt_replay_offsets_run(cfg);
        if (jt_config_bool(cfg, "list"))
                return jt_replay_dlq_one_list(cfg);
        if (jt_config_is_set(cfg, "partition"))
                return jt_replay_dlq_one_run(cfg);
        return jt_replay_dlq_run(cfg);
}
