/* `joytify-producer replay`: moves a consumer group's committed offsets on a topic back (or
 * forward) to a time or an offset, or re-sends dead-lettered tasks to their original topics. */
#ifndef JT_REPLAY_H
#define JT_REPLAY_H

#include "jt_config.h"

/* Name of the consumer group whose committed offsets record how far `replay --dlq` got; a run
 * with --filter-job ID uses "<name>.<ID>" so that it never hides other jobs' messages. */
#define JT_REPLAY_DLQ_GROUP "joytify-dlq-replay"

/* Extra paragraphs of `joytify-producer replay --help`. */
#define JT_REPLAY_HELP                                                                             \
        "Offsets: --topic T --group G and exactly one of --to-timestamp YYYY-MM-DDTHH:MM[:SS]Z\n"  \
        "or --to-offset beginning|end|N. Prints per partition the committed offset, the target\n"  \
        "and how many messages the group re-reads or skips; then moves the offsets and prints\n"   \
        "them as the broker reads them back. Kafka moves a group's offsets only while the group\n" \
        "has no active member: stop the workers first (systemctl stop 'joytify-worker@*', or\n"    \
        "scale the Deployment to 0).\n\n"                                                          \
        "DLQ: --dlq re-sends each message of --dlq-topic, from where the last run stopped up to\n" \
        "the end seen at start, to its jt-original-topic with the same key and value, then\n"      \
        "commits (group " JT_REPLAY_DLQ_GROUP ", or " JT_REPLAY_DLQ_GROUP                          \
        ".ID with --filter-job ID).\n\n"                                                           \
        "Exit status: 0 done, 1 refused by the group or the broker, 2 bad input or a missing "     \
        "topic,\n"                                                                                 \
        "75 an unreachable broker.\n"

/* The command's run function (jt_command_t.run), for a config built from the replay table,
 * jt_opts_kafka and jt_opts_log. Returns 0 on success, 1 when the broker or the group refuses
 * (active members, a per-partition error, a failed delivery), 2 for bad input or a missing
 * topic, 75 for an unreachable broker. */
int jt_replay_run(const jt_config_t *cfg);

#endif
