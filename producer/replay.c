/* `joytify-producer replay`: the operator's tools after a fix. Checks that the options fit the
 * mode, then runs it: offsets (replay_offsets.c) or dead letters (replay_dlq.c). */
#include "replay.h"

#include <stdbool.h>

#include "jt_options.h"
#include "jt_startup.h"
#include "replay_dlq.h"
#include "replay_offsets.h"

static bool is_blank(const char *s) {
        return !s || !*s;
}

/* Options of one mode make no sense in the other: say so instead of silently ignoring them. */
static bool check_mode(const jt_config_t *cfg, bool dlq, jt_error_t *err) {
        static const char *const offsets_only[] = {"topic", "group", "to-timestamp", "to-offset",
                                                   "force"};

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
                return true;
        }
        if (jt_config_is_set(cfg, "filter-job"))
                return jt_error_set(err, JT_ERR_CONFIG, 0, "--filter-job only applies with --dlq");
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
        return dlq ? jt_replay_dlq_run(cfg) : jt_replay_offsets_run(cfg);
}
