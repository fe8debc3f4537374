/* --help and --version: a command's own options, wrapped to the terminal's width, with an
 * example; the versions of the libraries the program runs on. */
#ifndef JT_HELP_H
#define JT_HELP_H

#include <stdio.h>

#include "jt_config.h"

/* Columns to wrap help to: $COLUMNS when it is a number, else the width of the terminal out
 * writes to, else 80 (not a terminal); at least 40. */
int jt_help_width(FILE *out);

/* The command's help: usage, summary, details, its options (defaults, ranges, environment
 * variables), an example and the exit codes, wrapped to width columns. */
void jt_help_print_command(const jt_program_t *prog, const jt_command_t *cmd, FILE *out, int width);

/* The program's help: its commands, one line each, wrapped to width columns. */
void jt_help_print_program(const jt_program_t *prog, FILE *out, int width);

/* "PROGRAM VERSION" then librdkafka's, libmongoc's and avro-c's versions (avro-c has no
 * version call: its pkg-config version at build time), and libcurl's where linked. */
void jt_help_print_version(const jt_program_t *prog, FILE *out);

#endif
