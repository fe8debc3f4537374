/* Option tables to values: getopt_long parsing, environment fallbacks, validation, --help. */
#include "jt_config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jt_log.h"
#include "jt_secret.h"

typedef struct {
        const jt_opt_t *opt;
        char *text;       /* string form, owned; NULL when unset */
        long long number; /* JT_OPT_INT */
        bool flag;        /* JT_OPT_BOOL */
        bool set;         /* given on the command line or by the environment */
        jt_kv_t *kvs;     /* JT_OPT_KV */
        size_t kv_count;
} config_value_t;

struct jt_config_s {
        char *display_name;
        config_value_t *values;
        size_t count;
        char **args;
        int arg_count;
};

/* Options every command answers, whatever its tables say. */
static const jt_opt_t builtin_opts[] = {
    {"help", 'h', JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL, "show this help and exit"},
    {"version", 'V', JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL, "print the version and exit"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};

static size_t count_options(const jt_command_t *cmd) {
        size_t n = 0;
        for (const jt_opt_t *o = builtin_opts; o->name; o++)
                n++;
        for (const jt_opt_t *const *t = cmd->tables; t && *t; t++)
                for (const jt_opt_t *o = *t; o->name; o++)
                        n++;
        return n;
}

static config_value_t *find_value(const jt_config_t *cfg, const char *name) {
        for (size_t i = 0; i < cfg->count; i++)
                if (strcmp(cfg->values[i].opt->name, name) == 0)
                        return &cfg->values[i];
        return NULL;
}

static config_value_t *must_find(const jt_config_t *cfg, const char *name) {
        config_value_t *v = find_value(cfg, name);
        if (!v) {
                jt_log_error("internal error: option --%s is not in this command's tables", name);
                abort();
        }
        return v;
}

/* Shows a value in an error message unless it is secret. */
static const char *shown(const jt_opt_t *opt, const char *text) {
        return opt->secret ? "<secret>" : text;
}

static bool assign_value(config_value_t *v, const char *text, const char *origin, jt_error_t *err) {
        const jt_opt_t *opt = v->opt;

        switch (opt->type) {
        case JT_OPT_BOOL:
                v->flag = true;
                break;
        case JT_OPT_INT: {
                char *end = NULL;
                errno = 0;
                long long n = strtoll(text, &end, 10);
                if (errno != 0 || end == text || *end != '\0')
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "%s%s must be an integer in %lld..%lld (got \"%s\")",
                                            origin, opt->name, opt->min, opt->max,
                                            shown(opt, text));
                if (n < opt->min || n > opt->max)
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "%s%s must be %lld..%lld (got %s)", origin, opt->name,
                                            opt->min, opt->max, shown(opt, text));
                v->number = n;
                break;
        }
        case JT_OPT_KV: {
                const char *eq = strchr(text, '=');
                if (!eq || eq == text)
                        return jt_error_set(err, JT_ERR_CONFIG, 0,
                                            "%s%s expects key=value (got \"%s\")", origin,
                                            opt->name, shown(opt, text));
                jt_kv_t *grown = realloc(v->kvs, (v->kv_count + 1) * sizeof(*grown));
                if (!grown)
                        return jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory");
                v->kvs = grown;
                v->kvs[v->kv_count].key = strndup(text, (size_t)(eq - text));
                v->kvs[v->kv_count].value = strdup(eq + 1);
                v->kv_count++;
                return true;
        }
        case JT_OPT_STRING:
        case JT_OPT_ENV:
                break;
        }
        free(v->text);
        v->text = strdup(text ? text : "true");
        return true;
}

/* Applies defaults, then environment variables, before the command line overrides both. */
static bool apply_defaults(jt_config_t *cfg, jt_error_t *err) {
        for (size_t i = 0; i < cfg->count; i++) {
                config_value_t *v = &cfg->values[i];
                const char *env = v->opt->env ? getenv(v->opt->env) : NULL;
                char origin[128];

                if (v->opt->def && v->opt->type != JT_OPT_BOOL && v->opt->type != JT_OPT_KV &&
                    !assign_value(v, v->opt->def, "default of --", err))
                        return false;
                if (env && *env && v->opt->type == JT_OPT_ENV)
                        jt_secret_add(env, strlen(env));
                if (env && *env) {
                        snprintf(origin, sizeof(origin), "environment %s for --", v->opt->env);
                        if (!assign_value(v, env, origin, err))
                                return false;
                        v->set = true;
                }
        }
        return true;
}

static void free_values(jt_config_t *cfg) {
        for (size_t i = 0; i < cfg->count; i++) {
                config_value_t *v = &cfg->values[i];
                free(v->text);
                for (size_t k = 0; k < v->kv_count; k++) {
                        free(v->kvs[k].key);
                        free(v->kvs[k].value);
                }
                free(v->kvs);
        }
        free(cfg->values);
}

void jt_config_destroy(jt_config_t *cfg) {
        if (!cfg)
                return;
        free_values(cfg);
        for (int i = 0; i < cfg->arg_count; i++)
                free(cfg->args[i]);
        free(cfg->args);
        free(cfg->display_name);
        free(cfg);
}

/* getopt_long's tables for every option of cfg: long option i returns 256 + i. */
static void fill_getopt(const jt_config_t *cfg, struct option *longopts, char *shortopts,
                        size_t size) {
        for (size_t i = 0; i < cfg->count; i++) {
                const jt_opt_t *o = cfg->values[i].opt;
                longopts[i].name = o->name;
                /* An environment-only secret is known to getopt only to be refused by name,
                 * with or without a value attached. */
                longopts[i].has_arg = o->type == JT_OPT_BOOL  ? no_argument
                                      : o->type == JT_OPT_ENV ? optional_argument
                                                              : required_argument;
                longopts[i].val = 256 + (int)i;
                if (o->short_name) {
                        size_t len = strlen(shortopts);
                        if (len + 3 < size) {
                                shortopts[len++] = (char)o->short_name;
                                if (o->type != JT_OPT_BOOL)
                                        shortopts[len++] = ':';
                                shortopts[len] = '\0';
                        }
                }
        }
}

/* The error for getopt's '?' (unknown option) or ':' (missing value) at argument arg. */
static void getopt_error(int c, const char *arg, jt_error_t *err) {
        if (c == ':')
                jt_error_set(err, JT_ERR_CONFIG, 0, "option %s needs a value", arg);
        else if (optopt)
                jt_error_set(err, JT_ERR_CONFIG, 0, "unknown option -%c", optopt);
        else /* never the "=value" part: it may be a secret typed by mistake */
                jt_error_set(err, JT_ERR_CONFIG, 0, "unknown option %.*s", (int)strcspn(arg, "="),
                             arg);
}

/* The error for arguments left after the options of a command that takes none: each named
 * (escaped: it may be anything typed), since a stray word often means a forgotten "--". */
static void refuse_operands(int count, char **args, jt_error_t *err) {
        char list[512] = "", shown_arg[128];
        size_t len = 0;

        for (int i = 0; i < count && len < sizeof(list); i++) {
                jt_log_escape(args[i], shown_arg, sizeof(shown_arg));
                len += (size_t)snprintf(list + len, sizeof(list) - len, "%s\"%s\"", i ? " " : "",
                                        shown_arg);
        }
        jt_error_set(err, JT_ERR_CONFIG, 0,
                     "unexpected argument%s %s: this command takes only options (--name value)",
                     count > 1 ? "s" : "", list);
}

/* Copies the positional arguments of a command that takes some. False when out of memory. */
static bool keep_operands(jt_config_t *cfg, int count, char **args) {
        cfg->arg_count = count;
        if (count == 0)
                return true;
        cfg->args = calloc((size_t)count, sizeof(char *));
        if (!cfg->args)
                return false;
        for (int i = 0; i < count; i++)
                if (!(cfg->args[i] = strdup(args[i])))
                        return false;
        return true;
}

jt_config_t *jt_config_parse(const jt_command_t *cmd, int argc, char **argv, jt_error_t *err) {
        jt_config_t *cfg = calloc(1, sizeof(*cfg));
        struct option *longopts = NULL;
        char shortopts[256] = ":"; /* leading ':' makes getopt report a missing value as ':' */
        size_t n = count_options(cmd);
        size_t k = 0;

        if (!cfg)
                goto oom;
        cfg->display_name = strdup(argv[0]);
        cfg->values = calloc(n, sizeof(*cfg->values));
        longopts = calloc(n + 1, sizeof(*longopts));
        if (!cfg->display_name || !cfg->values || !longopts)
                goto oom;
        for (const jt_opt_t *o = builtin_opts; o->name; o++)
                cfg->values[k++].opt = o;
        for (const jt_opt_t *const *t = cmd->tables; t && *t; t++)
                for (const jt_opt_t *o = *t; o->name; o++)
                        cfg->values[k++].opt = o;
        cfg->count = n;

        fill_getopt(cfg, longopts, shortopts, sizeof(shortopts));
        if (!apply_defaults(cfg, err))
                goto fail;

        optind = 0; /* GNU: full re-initialisation, so that parse can run more than once */
        opterr = 0;
        for (;;) {
                int c = getopt_long(argc, argv, shortopts, longopts, NULL);
                size_t idx = n;

                if (c == -1)
                        break;
                if (c == '?' || c == ':') {
                        getopt_error(c, argv[optind - 1], err);
                        goto fail;
                }
                if (c >= 256)
                        idx = (size_t)(c - 256);
                else
                        for (size_t i = 0; i < n; i++)
                                if (cfg->values[i].opt->short_name == c)
                                        idx = i;
                if (idx >= n) {
                        jt_error_set(err, JT_ERR_CONFIG, 0, "unknown option -%c", c);
                        goto fail;
                }
                if (cfg->values[idx].opt->type == JT_OPT_ENV) {
                        jt_error_set(err, JT_ERR_CONFIG, 0,
                                     "--%s cannot be given on the command line (every local user "
                                     "sees a command line in ps): set the environment variable "
                                     "%s instead",
                                     cfg->values[idx].opt->name, cfg->values[idx].opt->env);
                        goto fail;
                }
                if (!assign_value(&cfg->values[idx], optarg, "--", err))
                        goto fail;
                cfg->values[idx].set = true;
        }
        if (!cmd->operands && optind < argc) {
                refuse_operands(argc - optind, argv + optind, err);
                goto fail;
        }
        if (!keep_operands(cfg, argc - optind, argv + optind))
                goto oom;
        free(longopts);
        return cfg;

oom:
        jt_error_set(err, JT_ERR_SYSTEM, ENOMEM, "out of memory parsing options");
fail:
        free(longopts);
        jt_config_destroy(cfg);
        return NULL;
}

const char *jt_config_str(const jt_config_t *cfg, const char *name) {
        return must_find(cfg, name)->text;
}

long long jt_config_int(const jt_config_t *cfg, const char *name) {
        return must_find(cfg, name)->number;
}

bool jt_config_bool(const jt_config_t *cfg, const char *name) {
        return must_find(cfg, name)->flag;
}

bool jt_config_is_set(const jt_config_t *cfg, const char *name) {
        return must_find(cfg, name)->set;
}

const jt_kv_t *jt_config_kv(const jt_config_t *cfg, const char *name, size_t *count) {
        config_value_t *v = must_find(cfg, name);
        *count = v->kv_count;
        return v->kvs;
}

char *const *jt_config_args(const jt_config_t *cfg, int *count) {
        *count = cfg->arg_count;
        return cfg->args;
}

const char *jt_config_command_line_name(const jt_config_t *cfg) {
        return cfg->display_name;
}

const jt_opt_t *jt_config_builtins(void) {
        return builtin_opts;
}
