/* Help and version text (jt_help.h): every line broken at spaces to fit the terminal, so that
 * `--help` reads in a narrow window as in a wide one. */
#include "jt_help.h"

#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef JT_AVRO_C_VERSION
#define JT_AVRO_C_VERSION "unknown"
#endif

/* Where an option's description starts, and the indent of its continuation lines. */
#define OPT_COLUMN 35
/* Below this width, descriptions go on the lines under their option, from NARROW_COLUMN. */
#define OPT_NARROW    72
#define NARROW_COLUMN 8
/* A space that is no line break, unless what it holds together is longer than a line: keeps
 * "(env: JT_X)" on one line. */
#define NBSP '\x01'

int jt_help_width(FILE *out) {
        const char *columns = getenv("COLUMNS");
        struct winsize ws;
        long width = 80;

        if (columns && *columns) {
                char *end = NULL;
                long n = strtol(columns, &end, 10);
                if (*end == '\0' && n > 0)
                        width = n;
        } else if (isatty(fileno(out)) && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 &&
                   ws.ws_col > 0) {
                width = ws.ws_col;
        }
        return width < 40 ? 40 : width > 1000 ? 1000 : (int)width;
}

/* Writes text from column col of the current line, breaking at spaces before width; every
 * further line starts with indent spaces. A blank line in text starts a new paragraph; a
 * single newline is a space. A word longer than a line stays whole. */
static void wrap(FILE *out, const char *text, int col, int indent, int width) {
        bool line_start = true;

        for (const char *p = text; *p;) {
                size_t n;

                if (*p == '\n' && p[1] == '\n') {
                        fprintf(out, "\n\n%*s", indent, "");
                        col = indent;
                        line_start = true;
                        p += 2;
                        continue;
                }
                if (*p == ' ' || *p == '\n' || *p == NBSP) {
                        p++;
                        continue;
                }
                n = strcspn(p, " \n");
                if ((int)n > width - indent) /* too long for any line: break it after all */
                        n = strcspn(p, " \n\001");
                if (!line_start && col + 1 + (int)n > width) {
                        fprintf(out, "\n%*s", indent, "");
                        col = indent;
                        line_start = true;
                }
                if (!line_start) {
                        fputc(' ', out);
                        col++;
                }
                for (size_t i = 0; i < n; i++)
                        fputc(p[i] == NBSP ? ' ' : p[i], out);
                col += (int)n;
                line_start = false;
                p += n;
        }
        fputc('\n', out);
}

/* Appends " " head value tail to buf (size bytes), its spaces but the first unbreakable. */
static void append_unbroken(char *buf, size_t size, const char *head, const char *value,
                            const char *tail) {
        size_t len = strlen(buf);

        if (len + 1 >= size)
                return;
        snprintf(buf + len, size - len, " %s%s%s", head, value, tail);
        for (char *c = buf + len + 1; *c; c++)
                if (*c == ' ')
                        *c = NBSP;
}

/* The option's column: "  -X, --name ARG", or the variable of an environment-only secret. */
static void option_left(const jt_opt_t *o, char *left, size_t size) {
        int len;

        if (o->type == JT_OPT_ENV) {
                snprintf(left, size, "      %s", o->env);
                return;
        }
        if (o->short_name && o->name[1] == '\0')
                len = snprintf(left, size, "  -%c", o->short_name);
        else if (o->short_name)
                len = snprintf(left, size, "  -%c, --%s", o->short_name, o->name);
        else
                len = snprintf(left, size, "      --%s", o->name);
        if (o->type != JT_OPT_BOOL && len > 0 && (size_t)len < size)
                snprintf(left + len, size - (size_t)len, " %s",
                         o->arg ? o->arg : (o->type == JT_OPT_INT ? "N" : "VALUE"));
}

/* Its text: the doc, then range, default and variable, each kept on one line. */
static void option_text(const jt_opt_t *o, char *desc, size_t size) {
        char range[64];

        if (o->type == JT_OPT_ENV) {
                snprintf(desc, size, "%s (from the environment\001only, never an option)", o->doc);
                return;
        }
        snprintf(desc, size, "%s", o->doc);
        if (o->type == JT_OPT_INT) {
                snprintf(range, sizeof(range), "%lld..%lld", o->min, o->max);
                append_unbroken(desc, size, "[", range, "]");
        }
        if (o->def && !o->secret)
                append_unbroken(desc, size, "(default: ", o->def, ")");
        if (o->env)
                append_unbroken(desc, size, "(env: ", o->env, ")");
}

static void print_option(FILE *out, const jt_opt_t *o, int width) {
        /* In a narrow terminal the text goes under the option, indented less. */
        int column = width >= OPT_NARROW ? OPT_COLUMN : NARROW_COLUMN;
        char left[96], desc[2048];
        int len;

        option_left(o, left, sizeof(left));
        option_text(o, desc, sizeof(desc));
        len = fprintf(out, "%s", left);
        if (len >= column - 1) { /* a long option name: its text starts on the next line */
                fprintf(out, "\n%*s", column, "");
                len = column;
        } else {
                len += fprintf(out, "%*s", column - len, "");
        }
        wrap(out, desc, len, column, width);
}

static void print_exit_codes(FILE *out, int width) {
        fputc('\n', out);
        wrap(out,
             "Exit codes: 0 success, 1 failure, 2 bad usage or configuration (a restart does "
             "not help), 75 Kafka or MongoDB unreachable at start (try again later).",
             0, 0, width);
}

void jt_help_print_command(const jt_program_t *prog, const jt_command_t *cmd, FILE *out,
                           int width) {
        const char *name = cmd->name ? cmd->name : "";

        fprintf(out, "Usage: %s%s%s [options]%s%s\n\n", prog->name, *name ? " " : "", name,
                cmd->operands ? " " : "", cmd->operands ? cmd->operands : "");
        wrap(out, cmd->summary, 0, 0, width);
        if (cmd->details) {
                fputc('\n', out);
                wrap(out, cmd->details, 0, 0, width);
        }
        fprintf(out, "\nOptions:\n");
        for (const jt_opt_t *const *t = cmd->tables; t && *t; t++)
                for (const jt_opt_t *o = *t; o->name; o++)
                        print_option(out, o, width);
        for (const jt_opt_t *o = jt_config_builtins(); o->name; o++)
                print_option(out, o, width);
        if (cmd->example) {
                /* never wrapped: a line to copy */
                fprintf(out, "\nExample:\n  %s\n", cmd->example);
        }
        print_exit_codes(out, width);
}

void jt_help_print_program(const jt_program_t *prog, FILE *out, int width) {
        fprintf(out, "Usage: %s COMMAND [options]\n\n", prog->name);
        wrap(out, prog->summary, 0, 0, width);
        fprintf(out, "\nCommands:\n");
        for (const jt_command_t *c = prog->commands; c->run; c++) {
                int len = fprintf(out, "  %-12s ", c->name);
                wrap(out, c->summary, len, 15, width);
        }
        fprintf(out, "\nRun '%s COMMAND --help' for a command's options.\n", prog->name);
        print_exit_codes(out, width);
}

void jt_help_print_version(const jt_program_t *prog, FILE *out) {
        fprintf(out,
                "%s %s\n"
                "librdkafka %s\n"
                "libmongoc %s\n"
                "avro-c %s (its pkg-config version when this program was built)\n",
                prog->name, JT_VERSION, rd_kafka_version_str(), mongoc_get_version(),
                JT_AVRO_C_VERSION);
        if (prog->curl_version)
                fprintf(out, "libcurl %s\n", prog->curl_version());
}
