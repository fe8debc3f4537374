/* A program's front door, on the option tables of jt_config. */
#ifndef JT_CLI_H
#define JT_CLI_H

#include "jt_config.h"

/* The whole front door of a program: `prog --help`, `prog --version`, `prog CMD --help`,
 * `prog CMD [options]`. Returns the exit code for main(). */
int jt_cli_main(const jt_program_t *prog, int argc, char **argv);

#endif
