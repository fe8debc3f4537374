/* The stack's addresses and the built programs, as the jt_stack fixture gives them. */
#include "it_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "it_cmocka.h"

const char *it_env(const char *name) {
        const char *v = getenv(name);
        if (!v || !*v)
                fail_msg("%s is not set: run this test through ctest (fixture jt_stack)", name);
        return v;
}

jt_kafka_opts_t it_env_kafka_opts(void) {
        jt_kafka_opts_t opts = {.brokers = it_env("JT_KAFKA_BROKERS"),
                                .settings = NULL,
                                .setting_count = 0,
                                .timeout_ms = 15000};
        return opts;
}

bool it_env_program(char *path, size_t size, const char *build_dir, const char *rel) {
        if (!build_dir || !*build_dir)
                build_dir = getenv("JT_BUILD_DIR");
        if (!build_dir || !*build_dir) {
                fprintf(stderr, "JT_BUILD_DIR is not set and no build directory was given\n");
                return false;
        }
        snprintf(path, size, "%s/%s", build_dir, rel);
        if (access(path, X_OK) != 0) {
                fprintf(stderr, "%s must be built\n", path);
                return false;
        }
        return true;
}
