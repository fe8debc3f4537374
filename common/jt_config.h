/* Command-line configuration driven by option tables {name, type, default, doc}: one table
 * gives parsing, environment fallbacks, range validation and --help (redis config.c style). */
#ifndef JT_CONFIG_H
#define JT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "jt_error.h"

typedef enum {
        JT_OPT_STRING, /* --name VALUE */
        JT_OPT_INT,    /* --name N, checked against [min, max] */
        JT_OPT_BOOL,   /* --name, no value: true when given */
        JT_OPT_KV,     /* -X key=value, repeatable, kept in order */
        JT_OPT_ENV,    /* a secret read from its environment variable only (env must be set):
                        * --name on the command line is refused, since every local user sees
                        * a command line in ps; the value joins the process's secrets
                        * (jt_secret_add), so no log line or error shows it */
} jt_opt_type_t;

typedef struct {
        const char *name; /* long name without dashes; NULL ends a table */
        int short_name;   /* single-letter alias, 0 when none */
        jt_opt_type_t type;
        const char *def; /* default as text, NULL for none */
        long long min;   /* inclusive bounds for JT_OPT_INT */
        long long max;
        const char *env; /* environment variable used when the option is absent, or NULL */
        bool secret;     /* value never shown in --help, errors or logs */
        const char *arg; /* placeholder shown in --help: "URI", "N", "YYYY-MM" */
        const char *doc;
} jt_opt_t;

typedef struct {
        char *key;
        char *value;
} jt_kv_t;

typedef struct jt_config_s jt_config_t;

typedef struct {
        const char *name;                   /* sub-command, NULL for a single-command program */
        const char *summary;                /* one line for the program's --help */
        const jt_opt_t *const *tables;      /* NULL-terminated list of option tables */
        int (*run)(const jt_config_t *cfg); /* returns the process exit code */
        const char *details;                /* extra paragraphs for the command's --help */
        const char *operands; /* usage of its positional arguments ("stats|cleanup"), which the
                               * command checks itself; NULL: none, any is refused (exit 2) */
        const char *example;  /* one command line shown under "Example:" in --help */
} jt_command_t;

typedef struct {
        const char *name; /* "joytify-producer" */
        const char *summary;
        const jt_command_t *commands; /* ends with an entry whose run is NULL */
        /* libcurl's version for --version, in the programs that link it (jt_url_curl_version);
         * NULL elsewhere */
        const char *(*curl_version)(void);
} jt_program_t;

/* Exit codes shared by every program: 2 is never worth a restart (systemd's
 * RestartPreventExitStatus=2), 75 (sysexits' EX_TEMPFAIL: Kafka or MongoDB did not answer at
 * start) is. */
enum { JT_EXIT_OK = 0, JT_EXIT_FAILURE = 1, JT_EXIT_USAGE = 2, JT_EXIT_TEMPFAIL = 75 };

/* Parses argv (argv[0] is the command name) against the command's tables. Returns NULL and
 * fills err (domain JT_ERR_CONFIG) on an unknown option, a missing or malformed value, a
 * value out of range, or a positional argument to a command without operands; the message
 * names the option or the arguments. */
jt_config_t *jt_config_parse(const jt_command_t *cmd, int argc, char **argv, jt_error_t *err);

void jt_config_destroy(jt_config_t *cfg);

/* Accessors by long name. Asking for a name that is not in the tables aborts: it is a
 * programming error, not an input error. */
const char *jt_config_str(const jt_config_t *cfg, const char *name); /* NULL when unset */
long long jt_config_int(const jt_config_t *cfg, const char *name);
bool jt_config_bool(const jt_config_t *cfg, const char *name);
/* True when the value came from the command line or the environment, not the default. */
bool jt_config_is_set(const jt_config_t *cfg, const char *name);
/* The key=value pairs of a JT_OPT_KV option, in the order given. */
const jt_kv_t *jt_config_kv(const jt_config_t *cfg, const char *name, size_t *count);
/* Arguments left after the options. */
char *const *jt_config_args(const jt_config_t *cfg, int *count);
/* The program and command names, for messages: "joytify-producer stats". */
const char *jt_config_command_line_name(const jt_config_t *cfg);

/* The options every command answers whatever its tables say (--help, --version), ending with
 * a row whose name is NULL: for --help (jt_help.h). */
const jt_opt_t *jt_config_builtins(void);

#endif
