/* Cron expressions in UTC: parsing into bitmasks, next and previous fire times. The calendar
 * arithmetic is jt_time's, so no time zone leaks in. */
#include "jt_cron.h"

#include "jt_time.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define YEAR_MIN 0
#define YEAR_MAX 9999

typedef jt_time_civil_t civil_t;

/* --- Parsing -----------------------------------------------------------------------------------
 */

typedef struct {
        const char *name;
        int lo, hi;
        const char *const *names; /* three-letter names of lo, lo + 1, ...; NULL when none */
        const char *name_range;   /* for messages: "JAN-DEC" */
} field_spec_t;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                          "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

enum { F_MINUTE, F_HOUR, F_DAY, F_MONTH, F_WEEKDAY, F_COUNT };

static const field_spec_t field_specs[F_COUNT] = {
    {"minute", 0, 59, NULL, NULL},
    {"hour", 0, 23, NULL, NULL},
    {"day-of-month", 1, 31, NULL, NULL},
    {"month", 1, 12, month_names, "JAN-DEC"},
    {"day-of-week", 0, 7, day_names, "SUN-SAT"},
};

static const struct {
        const char *name;
        const char *fields;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* Where an error is reported from: the whole expression, and the field being read. */
typedef struct {
        const char *expr;
        const field_spec_t *spec;
        const char *item; /* the list item being read, and its length */
        int item_len;
        jt_error_t *err;
} parse_ctx_t;

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Reads a number or a name at *p (before end) into *value, checked against the field's range. */
static bool parse_value(parse_ctx_t *ctx, const char **p, const char *end, int *value) {
        const field_spec_t *spec = ctx->spec;
        const char *start = *p;
        const char *q = start;

        if (q == end)
                return jt_error_set(ctx->err, JT_ERR_CONFIG, 0,
                                    "cron \"%s\": %s \"%.*s\" is missing a number after \"%c\"",
                                    ctx->expr, spec->name, ctx->item_len, ctx->item, q[-1]);
        if (isdigit((unsigned char)*q)) {
                long n = 0;
                /* Saturate rather than overflow: the message quotes the text anyway. */
                for (; q < end && isdigit((unsigned char)*q); q++)
                        n = n > 100000 ? n : n * 10 + (*q - '0');
                if (n < spec->lo || n > spec->hi)
                        return jt_error_set(ctx->err, JT_ERR_CONFIG, 0,
                                            "cron \"%s\": %s %.*s is out of range %d-%d", ctx->expr,
                                            spec->name, (int)(q - start), start, spec->lo,
                                            spec->hi);
                *value = (int)n;
                *p = q;
                return true;
        }
        if (spec->names && isalpha((unsigned char)*q)) {
                while (q < end && isalpha((unsigned char)*q))
                        q++;
                for (int i = 0; spec->names[i]; i++) {
                        if (q - start == 3 && strncasecmp(start, spec->names[i], 3) == 0) {
                                *value = spec->lo + i;
                                *p = q;
                                return true;
                        }
                }
        } else {
                q = end;
        }
        if (spec->names)
                return jt_error_set(ctx->err, JT_ERR_CONFIG, 0,
                                    "cron \"%s\": %s \"%.*s\" is not a number %d-%d or a name %s",
                                    ctx->expr, spec->name, (int)(q - start), start, spec->lo,
                                    spec->hi, spec->name_range);
        return jt_error_set(ctx->err, JT_ERR_CONFIG, 0,
                            "cron \"%s\": %s \"%.*s\" is not a number %d-%d", ctx->expr, spec->name,
                            (int)(q - start), start, spec->lo, spec->hi);
}

/* Reads the step after a '/'. Steps beyond the field's largest value would only ever select
 * the start, which is more likely a typo than an intent. */
static bool parse_step(parse_ctx_t *ctx, const char **p, const char *end, int *step) {
        const field_spec_t *spec = ctx->spec;
        const char *start = *p;
        const char *q = start;
        long n = 0;

        if (q == end)
                return jt_error_set(ctx->err, JT_ERR_CONFIG, 0,
                                    "cron \"%s\": %s \"%.*s\" is missing a step after \"/\"",
                                    ctx->expr, spec->name, ctx->item_len, ctx->item);
        for (; q < end && isdigit((unsigned char)*q); q++)
                n = n > 100000 ? n : n * 10 + (*q - '0');
        if (q == start)
                return jt_error_set(ctx->err, JT_ERR_CONFIG, 0,
                                    "cron \"%s\": %s step \"%.*s\" is not a number 1-%d", ctx->expr,
                                    spec->name, (int)(end - start), start, spec->hi);
        if (n < 1 || n > spec->hi)
                return jt_error_set(ctx->err, JT_ERR_CONFIG, 0,
                                    "cron \"%s\": %s step %.*s is out of range 1-%d", ctx->expr,
                                    spec->name, (int)(q - start), start, spec->hi);
        *step = (int)n;
        *p = q;
        return true;
}

/* One list item: `*`, `*\/s`, `v`, `a-b` or `a-b/s`. */
static bool parse_item(parse_ctx_t *ctx, uint64_t *bits) {
        const field_spec_t *spec = ctx->spec;
        const char *p = ctx->item;
        const char *end = ctx->item + ctx->item_len;
        int from = spec->lo, to = spec->hi, step = 1;

        if (*p == '*') {
                p++;
        } else {
                if (!parse_value(ctx, &p, end, &from))
                        return false;
                to = from;
                if (p < end && *p == '-') {
                        p++;
                        if (!parse_value(ctx, &p, end, &to))
                                return false;
                        if (to < from)
                                return jt_error_set(ctx->err, JT_ERR_CONFIG, 0,
                                                    "cron \"%s\": %s range %.*s is reversed "
                                                    "(the start must not exceed the end)",
                                                    ctx->expr, spec->name, (int)(p - ctx->item),
                                                    ctx->item);
                } else if (p < end && *p == '/') {
                        /* Vixie cron rejects `5/15`; others read it as 5-59/15. Saying so beats
                         * guessing. */
                        return jt_error_set(ctx->err, JT_ERR_CONFIG, 0,
                                            "cron \"%s\": %s \"%.*s\" has a step but no range "
                                            "(write %.*s-%d%.*s)",
                                            ctx->expr, spec->name, ctx->item_len, ctx->item,
                                            (int)(p - ctx->item), ctx->item, spec->hi,
                                            (int)(end - p), p);
                }
        }
        if (p < end && *p == '/') {
                p++;
                if (!parse_step(ctx, &p, end, &step))
                        return false;
        }
        if (p < end)
                return jt_error_set(ctx->err, JT_ERR_CONFIG, 0,
                                    "cron \"%s\": %s \"%.*s\" has unexpected \"%.*s\" after "
                                    "\"%.*s\"",
                                    ctx->expr, spec->name, ctx->item_len, ctx->item, (int)(end - p),
                                    p, (int)(p - ctx->item), ctx->item);
        for (int v = from; v <= to; v += step)
                *bits |= UINT64_C(1) << v;
        return true;
}

/* One whitespace-free field: a comma-separated list of items. */
static bool parse_field(parse_ctx_t *ctx, const char *field, int len, uint64_t *bits) {
        const char *end = field + len;
        const char *p = field;

        *bits = 0;
        for (;;) {
                const char *comma = memchr(p, ',', (size_t)(end - p));
                const char *item_end = comma ? comma : end;

                if (item_end == p)
                        return jt_error_set(ctx->err, JT_ERR_CONFIG, 0,
                                            "cron \"%s\": %s has an empty list item in \"%.*s\"",
                                            ctx->expr, ctx->spec->name, len, field);
                ctx->item = p;
                ctx->item_len = (int)(item_end - p);
                if (!parse_item(ctx, bits))
                        return false;
                if (!comma)
                        return true;
                p = comma + 1;
        }
}

/* Only the day fields can make an expression impossible, and only through AND semantics: with
 * OR, every week has a matching weekday. Under AND, each existing month-day meets every weekday
 * within the 400-year Gregorian cycle, so the question is whether any allowed day exists in any
 * allowed month (February counted with its 29th). Exact, so no horizon search is needed. */
static bool can_fire(const jt_cron_t *cron) {
        if (!cron->days_star && !cron->weekdays_star)
                return true;
        for (int m = 1; m <= 12; m++) {
                int last = m == 2 ? 29 : jt_time_days_in_month(2001, m);
                uint32_t possible = (uint32_t)(((UINT64_C(1) << (last + 1)) - 1) & ~UINT64_C(1));
                if ((cron->months & (1u << m)) && (cron->days & possible))
                        return true;
        }
        return false;
}

static bool parse_fields(const char *expr, const char *text, jt_cron_t *cron, jt_error_t *err) {
        const char *field[F_COUNT];
        int len[F_COUNT];
        int count = 0;
        uint64_t bits[F_COUNT];
        parse_ctx_t ctx = {expr, NULL, NULL, 0, err};

        for (const char *p = text; *p;) {
                while (is_space(*p))
                        p++;
                if (!*p)
                        break;
                const char *start = p;
                while (*p && !is_space(*p))
                        p++;
                if (count < F_COUNT) {
                        field[count] = start;
                        len[count] = (int)(p - start);
                }
                count++;
        }
        if (count != F_COUNT)
                return jt_error_set(err, JT_ERR_CONFIG, 0, "cron \"%s\": expected 5 fields, got %d",
                                    expr, count);
        for (int f = 0; f < F_COUNT; f++) {
                ctx.spec = &field_specs[f];
                if (!parse_field(&ctx, field[f], len[f], &bits[f]))
                        return false;
        }

        cron->minutes = bits[F_MINUTE];
        cron->hours = (uint32_t)bits[F_HOUR];
        cron->days = (uint32_t)bits[F_DAY];
        cron->months = (uint16_t)bits[F_MONTH];
        /* 7 is Sunday too; folding it here keeps the matcher to one bit per weekday. */
        cron->weekdays = (uint8_t)((bits[F_WEEKDAY] | bits[F_WEEKDAY] >> 7) & 0x7f);
        /* Vixie cron decides OR versus AND by the first character, not by the resulting set. */
        cron->days_star = field[F_DAY][0] == '*';
        cron->weekdays_star = field[F_WEEKDAY][0] == '*';

        if (!can_fire(cron))
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "cron \"%s\": never fires: day-of-month %.*s does not occur "
                                    "in month %.*s",
                                    expr, len[F_DAY], field[F_DAY], len[F_MONTH], field[F_MONTH]);
        return true;
}

bool jt_cron_parse(const char *expr, jt_cron_t *cron, jt_error_t *err) {
        const char *p = expr;
        const char *text = expr;
        bool ok = false;

        memset(cron, 0, sizeof(*cron));
        if (!expr) {
                jt_error_set(err, JT_ERR_CONFIG, 0, "cron expression is missing");
                goto done;
        }
        while (is_space(*p))
                p++;
        if (*p == '@') {
                const char *start = p;
                size_t n;

                while (*p && !is_space(*p))
                        p++;
                n = (size_t)(p - start);
                while (is_space(*p))
                        p++;
                text = NULL;
                for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
                        if (strlen(macros[i].name) == n &&
                            strncasecmp(start, macros[i].name, n) == 0)
                                text = macros[i].fields;
                if (!text) {
                        jt_error_set(err, JT_ERR_CONFIG, 0,
                                     "cron \"%s\": unknown macro %.*s (expected @yearly, "
                                     "@annually, @monthly, @weekly, @daily, @midnight, @hourly "
                                     "or 5 fields)",
                                     expr, (int)n, start);
                        goto done;
                }
                if (*p) {
                        jt_error_set(err, JT_ERR_CONFIG, 0,
                                     "cron \"%s\": unexpected \"%s\" after %.*s", expr, p, (int)n,
                                     start);
                        goto done;
                }
        }
        ok = parse_fields(expr, text, cron, err);
done:
        if (!ok)
                memset(cron, 0, sizeof(*cron));
        return ok;
}

/* --- Evaluation ---------------------------------------------------------------------------- */

static bool day_matches(const jt_cron_t *cron, const civil_t *c) {
        bool dom = cron->days & (1u << c->day);
        bool dow = cron->weekdays & (1u << jt_time_weekday(c));

        if (cron->days_star || cron->weekdays_star)
                return dom && dow;
        return dom || dow;
}

/* The lowest set bit at or above `from`, or -1. */
static int bit_at_or_above(uint64_t mask, int from) {
        mask >>= from;
        return mask ? from + __builtin_ctzll(mask) : -1;
}

/* The highest set bit at or below `from` (< 63), or -1. */
static int bit_at_or_below(uint64_t mask, int from) {
        mask &= (UINT64_C(2) << from) - 1;
        return mask ? 63 - __builtin_clzll(mask) : -1;
}

static void first_of_next_month(civil_t *c) {
        if (++c->month > 12) {
                c->month = 1;
                c->year++;
        }
        c->day = 1;
        c->hour = 0;
        c->minute = 0;
}

static void start_of_next_day(civil_t *c) {
        if (++c->day > jt_time_days_in_month(c->year, c->month)) {
                first_of_next_month(c);
                return;
        }
        c->hour = 0;
        c->minute = 0;
}

static void end_of_previous_month(civil_t *c) {
        if (--c->month < 1) {
                c->month = 12;
                c->year--;
        }
        c->day = jt_time_days_in_month(c->year, c->month);
        c->hour = 23;
        c->minute = 59;
}

static void end_of_previous_day(civil_t *c) {
        if (--c->day < 1) {
                end_of_previous_month(c);
                return;
        }
        c->hour = 23;
        c->minute = 59;
}

static bool is_empty(const jt_cron_t *cron) {
        return !cron->minutes || !cron->hours || !cron->days || !cron->months || !cron->weekdays;
}

/* Each step either returns or moves to the next candidate month, day, hour or minute, so a
 * search costs at most a few hundred steps per year scanned, whatever the expression. */
int64_t jt_cron_next(const jt_cron_t *cron, int64_t after) {
        civil_t c;

        if (is_empty(cron) || after >= JT_CRON_TIME_MAX)
                return JT_CRON_NONE;
        if (after < JT_CRON_TIME_MIN) {
                jt_time_to_civil(JT_CRON_TIME_MIN, &c);
        } else {
                /* The next whole minute: fires are strictly after `after`. */
                jt_time_to_civil(after, &c);
                c.second = 0;
                if (++c.minute > 59) {
                        c.minute = 0;
                        if (++c.hour > 23)
                                start_of_next_day(&c);
                }
        }
        while (c.year <= YEAR_MAX) {
                int h, m;

                if (!(cron->months & (1u << c.month))) {
                        first_of_next_month(&c);
                        continue;
                }
                if (!day_matches(cron, &c) || (h = bit_at_or_above(cron->hours, c.hour)) < 0) {
                        start_of_next_day(&c);
                        continue;
                }
                if (h != c.hour) {
                        c.hour = h;
                        c.minute = 0;
                }
                if ((m = bit_at_or_above(cron->minutes, c.minute)) < 0) {
                        c.minute = 0;
                        if (++c.hour > 23)
                                start_of_next_day(&c);
                        continue;
                }
                c.minute = m;
                return jt_time_from_civil(&c);
        }
        return JT_CRON_NONE;
}

int64_t jt_cron_prev(const jt_cron_t *cron, int64_t at_or_before) {
        civil_t c;

        if (is_empty(cron) || at_or_before < JT_CRON_TIME_MIN)
                return JT_CRON_NONE;
        jt_time_to_civil(at_or_before > JT_CRON_TIME_MAX ? JT_CRON_TIME_MAX : at_or_before, &c);
        c.second = 0;
        while (c.year >= YEAR_MIN) {
                int h, m;

                if (!(cron->months & (1u << c.month))) {
                        end_of_previous_month(&c);
                        continue;
                }
                if (!day_matches(cron, &c) || (h = bit_at_or_below(cron->hours, c.hour)) < 0) {
                        end_of_previous_day(&c);
                        continue;
                }
                if (h != c.hour) {
                        c.hour = h;
                        c.minute = 59;
                }
                if ((m = bit_at_or_below(cron->minutes, c.minute)) < 0) {
                        if (c.hour == 0) {
                                end_of_previous_day(&c);
                        } else {
                                c.hour--;
                                c.minute = 59;
                        }
                        continue;
                }
                c.minute = m;
                return jt_time_from_civil(&c);
        }
        return JT_CRON_NONE;
}

size_t jt_cron_month_fires(const jt_cron_t *cron, int64_t after, int64_t upto, int64_t *out,
                           size_t max, size_t *written) {
        int64_t t = jt_cron_prev(cron, upto);
        size_t months = 0;

        *written = 0;
        if (t == JT_CRON_NONE)
                return 0;
        if (after == JT_CRON_NONE) {
                if (max > 0)
                        out[(*written)++] = t;
                return 1;
        }
        /* Newest first, one step back per month: the latest fire before the month's start. */
        while (t != JT_CRON_NONE && t > after) {
                if (*written < max)
                        out[(*written)++] = t;
                months++;
                t = jt_cron_prev(cron, jt_time_month_start(t) - 1);
        }
        for (size_t i = 0; i < *written / 2; i++) {
                int64_t swap = out[i];
                out[i] = out[*written - 1 - i];
                out[*written - 1 - i] = swap;
        }
        return months;
}
