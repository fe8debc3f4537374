/* What every integration test needs from the fixture: the stack's addresses and the built
 * programs. */
#ifndef JT_IT_ENV_H
#define JT_IT_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "jt_kafka.h"

/* The value of an environment variable the jt_stack fixture sets; fails the test without it. */
const char *it_env(const char *name);

/* jt_kafka options for the fixture's broker ($JT_KAFKA_BROKERS, a 15 s timeout, no settings). */
jt_kafka_opts_t it_env_kafka_opts(void);

/* The path of a built program, rel below the build directory (build_dir, or $JT_BUILD_DIR when
 * build_dir is NULL or empty), into path. false after saying on stderr what is missing (a
 * cmocka group setup's convention): no build directory, or no executable there. */
bool it_env_program(char *path, size_t size, const char *build_dir, const char *rel);

#endif
