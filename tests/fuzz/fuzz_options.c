/* Fuzz target: command-line parsing (common/jt_config.c) against the shared option tables
 * (common/jt_options.c) plus one row of every type, then every accessor, and the write
 * concern read from what was parsed (common/jt_mongo.c). A secret's value must never appear in
 * an error. Input: the arguments, one per line. */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "jt_config.h"
#include "jt_fuzz.h"
#include "jt_mongo.h"
#include "jt_options.h"

#define MAX_ARGS 64

/* clang-format off */
static const jt_opt_t fuzz_opts[] = {
    {"name", 'n', JT_OPT_STRING, NULL, 0, 0, NULL, false, "TEXT", "a string"},
    {"count", 'c', JT_OPT_INT, "5", -1000, 1000, NULL, false, "N", "an int with a range"},
    {"wide", 0, JT_OPT_INT, "0", INT64_MIN, INT64_MAX, NULL, false, "N", "an int, any value"},
    {"flag", 'f', JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL, "a flag"},
    {"token", 't', JT_OPT_STRING, NULL, 0, 0, NULL, true, "SECRET", "a secret"},
    {"kv", 'k', JT_OPT_KV, NULL, 0, 0, NULL, false, "K=V", "pairs"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};
/* clang-format on */

static const jt_opt_t *const tables[] = {jt_opts_log,     jt_opts_kafka, jt_opts_mongo,
                                         jt_opts_cleanup, fuzz_opts,     NULL};
static const jt_command_t command = {
    "fuzz", "the fuzz target's command", tables, NULL, NULL, "ARGS", NULL};

/* Reads every option the way the programs do. */
static void read_all(const jt_config_t *cfg) {
        jt_mongo_write_concern_t wc;
        jt_error_t err;
        size_t count;
        int args;

        for (const jt_opt_t *const *t = tables; *t; t++)
                for (const jt_opt_t *o = *t; o->name; o++) {
                        jt_config_is_set(cfg, o->name);
                        if (o->type == JT_OPT_STRING)
                                jt_config_str(cfg, o->name);
                        else if (o->type == JT_OPT_INT)
                                jt_config_int(cfg, o->name);
                        else if (o->type == JT_OPT_BOOL)
                                jt_config_bool(cfg, o->name);
                        else
                                jt_config_kv(cfg, o->name, &count);
                }
        jt_config_args(cfg, &args);
        jt_config_command_line_name(cfg);
        jt_mongo_write_concern_parse(jt_config_str(cfg, "write-concern"),
                                     jt_config_int(cfg, "write-timeout"), &wc, &err);
}

/* Secrets given ahead of the input's arguments: whatever goes wrong after them, an error must
 * not show them. */
#define CANARY_URI   "mongodb://app:CanaryPassw0rd@db:27017/x"
#define CANARY_TOKEN "CanaryToken0123456789"

static void check_error(const jt_error_t *err, const uint8_t *data, size_t size) {
        /* Not when the input itself has the text (libFuzzer learns it from the comparisons). */
        if (memmem(data, size, "CanaryPassw0rd", 14) || memmem(data, size, CANARY_TOKEN, 21))
                return;
        if (strstr(err->message, "CanaryPassw0rd") || strstr(err->message, CANARY_TOKEN))
                jt_fuzz_finding("options-secret", "a secret value is in the error: %s",
                                err->message);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void)argc;
        (void)argv;
        /* The tables' environment fallbacks: parse only what the input says. */
        unsetenv("JT_LOG_LEVEL");
        unsetenv("JT_KAFKA_BROKERS");
        unsetenv("JT_MONGO_URI");
        unsetenv("JT_MONGO_DB");
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = jt_fuzz_cstr(data, size), *argv[MAX_ARGS + 1];
        int argc = 0;
        jt_config_t *cfg;
        jt_error_t err;

        argv[argc++] = "fuzz";
        argv[argc++] = "--mongo-uri=" CANARY_URI;
        argv[argc++] = "--token";
        argv[argc++] = CANARY_TOKEN;
        /* strtok_r would merge empty lines; an empty argument is a case worth keeping. */
        for (char *p = text; p && argc < MAX_ARGS;) {
                char *nl = strchr(p, '\n');
                if (nl)
                        *nl = '\0';
                if (*p || nl)
                        argv[argc++] = p;
                p = nl ? nl + 1 : NULL;
        }
        argv[argc] = NULL;
        /* The product calls, in one place. */
        jt_error_clear(&err);
        if ((cfg = jt_config_parse(&command, argc, argv, &err)) != NULL)
                read_all(cfg);
        else
                check_error(&err, data, size);
        jt_config_destroy(cfg);
        free(text);
        return 0;
}
