/* A program's front door: `prog --help`, `prog --version`, `prog CMD --help` and
 * `prog CMD [options]`, parsed with jt_config and run; the exit code goes back to main(). */
#include "jt_cli.h"

#include "jt_help.h"

#include <stdio.h>
#include <string.h>

static const jt_command_t *find_command(const jt_program_t *prog, const char *name) {
        for (const jt_command_t *c = prog->commands; c->run; c++)
                if (c->name && strcmp(c->name, name) == 0)
                        return c;
        return NULL;
}

int jt_cli_main(const jt_program_t *prog, int argc, char **argv) {
        const jt_command_t *cmd = prog->commands;
        bool single = cmd->run && !cmd->name;
        char display[128];
        jt_error_t err;
        jt_config_t *cfg;
        int sub_argc = argc;
        char **sub_argv = argv;
        int rc;

        jt_error_clear(&err);
        if (!single) {
                if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                        FILE *out = argc < 2 ? stderr : stdout;
                        jt_help_print_program(prog, out, jt_help_width(out));
                        return argc < 2 ? JT_EXIT_USAGE : JT_EXIT_OK;
                }
                if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
                        jt_help_print_version(prog, stdout);
                        return JT_EXIT_OK;
                }
                cmd = find_command(prog, argv[1]);
                if (!cmd) {
                        fprintf(stderr, "%s: unknown command \"%s\"; run '%s --help'\n", prog->name,
                                argv[1], prog->name);
                        return JT_EXIT_USAGE;
                }
                snprintf(display, sizeof(display), "%s %s", prog->name, cmd->name);
                sub_argc = argc - 1;
                sub_argv = argv + 1;
        } else {
                snprintf(display, sizeof(display), "%s", prog->name);
        }

        char *saved = sub_argv[0];
        sub_argv[0] = display;
        cfg = jt_config_parse(cmd, sub_argc, sub_argv, &err);
        sub_argv[0] = saved;
        if (!cfg) {
                fprintf(stderr, "%s: %s\nRun '%s --help' for the options.\n", display, err.message,
                        display);
                return err.domain == JT_ERR_CONFIG ? JT_EXIT_USAGE : JT_EXIT_FAILURE;
        }
        if (jt_config_bool(cfg, "help")) {
                jt_help_print_command(prog, cmd, stdout, jt_help_width(stdout));
                rc = JT_EXIT_OK;
        } else if (jt_config_bool(cfg, "version")) {
                jt_help_print_version(prog, stdout);
                rc = JT_EXIT_OK;
        } else {
                rc = cmd->run(cfg);
        }
        jt_config_destroy(cfg);
        return rc;
}
