/* Foreign JSON made into bounded text (foreign.h): one structural pass over the raw bytes, then
 * jansson for a small shallow document or a token-by-token re-indentation that stops once the
 * text is long enough. */
#include "foreign.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"

static bool is_space(unsigned char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* One pass over the raw text: true when it is one object or array with its strings closed, its
 * brackets matched and nothing but whitespace after it; *depth is its deepest nesting. One bit
 * per level says whether it is an object, so that "[}" is refused. */
static bool scan(const unsigned char *p, size_t len, size_t *depth_out) {
        uint8_t *is_object = NULL;
        size_t depth = 0, max = 0, i = 0;
        bool in_string = false, done = false, ok = false;

        *depth_out = 0;
        while (i < len && is_space(p[i]))
                i++;
        if (i == len || (p[i] != '{' && p[i] != '['))
                return false;
        if (!(is_object = calloc(len / 8 + 1, 1)))
                return false;
        for (; i < len; i++) {
                unsigned char c = p[i];
                if (in_string) {
                        if (c == '\\')
                                i++; /* the escaped character; at the end, the string is open */
                        else if (c == '"')
                                in_string = false;
                        else if (c < 0x20)
                                goto out; /* raw control characters are not JSON */
                        continue;
                }
                if (done) {
                        if (!is_space(c))
                                goto out;
                        continue;
                }
                switch (c) {
                case '"':
                        in_string = true;
                        break;
                case '{':
                case '[':
                        if (c == '{')
                                is_object[depth / 8] |= (uint8_t)(1u << (depth % 8));
                        else
                                is_object[depth / 8] &= (uint8_t) ~(1u << (depth % 8));
                        if (++depth > max)
                                max = depth;
                        break;
                case '}':
                case ']':
                        if (depth == 0)
                                goto out;
                        depth--;
                        if (((is_object[depth / 8] >> (depth % 8)) & 1) != (c == '}'))
                                goto out;
                        done = depth == 0;
                        break;
                default:
                        if ((c < 0x20 && !is_space(c)) || c == 0x7f)
                                goto out;
                }
        }
        ok = done && !in_string;
        *depth_out = max;
out:
        free(is_object);
        return ok;
}

/* Text of bounded size: bytes past the room are dropped (the room holds JT_FOREIGN_TEXT_MAX + 1
 * characters of up to 4 bytes, so that the cut afterwards sees that there was more). */
typedef struct {
        char buf[(JT_FOREIGN_TEXT_MAX + 1) * 4 + 1];
        size_t len, chars;
        bool full;
} text_t;

static void put(text_t *t, unsigned char c) {
        bool starts_char = (c & 0xC0) != 0x80;

        if (t->full || t->len + 1 >= sizeof(t->buf) ||
            (starts_char && t->chars > JT_FOREIGN_TEXT_MAX)) {
                t->full = true;
                return;
        }
        t->buf[t->len++] = (char)c;
        t->chars += starts_char;
}

static void newline(text_t *t, size_t depth) {
        size_t indent = depth < JT_FOREIGN_INDENT_MAX ? depth : JT_FOREIGN_INDENT_MAX;

        put(t, '\n');
        for (size_t i = 0; i < indent * 2; i++)
                put(t, ' ');
}

/* The raw text laid out as jansson's JSON_INDENT(2) would (one value per line, "key": value,
 * empty containers as {} and []), indentation capped at JT_FOREIGN_INDENT_MAX levels, control
 * characters as '?'. Stops as soon as the text is full: the work is bounded by the output. The
 * input passed scan(), so brackets are balanced. */
static void reindent(const unsigned char *p, size_t len, text_t *t) {
        size_t depth = 0;
        bool in_string = false, opened = false;

        for (size_t i = 0; i < len && !t->full; i++) {
                unsigned char c = p[i];
                if (in_string) {
                        if (c == '\\' && i + 1 < len) {
                                put(t, c);
                                c = p[++i];
                        } else if (c == '"') {
                                in_string = false;
                        }
                        put(t, c < 0x20 || c == 0x7f ? '?' : c);
                        continue;
                }
                if (is_space(c))
                        continue;
                if (c == '}' || c == ']') {
                        depth -= depth > 0;
                        if (!opened)
                                newline(t, depth);
                        put(t, c);
                        opened = false;
                        continue;
                }
                if (opened)
                        newline(t, depth);
                opened = false;
                if (c == ',') {
                        put(t, ',');
                        newline(t, depth);
                } else if (c == ':') {
                        put(t, ':');
                        put(t, ' ');
                } else if (c == '{' || c == '[') {
                        put(t, c);
                        depth++;
                        opened = true;
                } else {
                        in_string = c == '"';
                        put(t, c < 0x20 || c == 0x7f ? '?' : c);
                }
        }
        t->buf[t->len] = '\0';
}

static void with_parser(const void *bytes, size_t len, jt_foreign_t *out, bool *json) {
        json_error_t jerr;
        json_t *doc = json_loadb(bytes, len, 0, &jerr);
        const char *alarm, *state;
        char *pretty;

        *json = doc && (json_is_object(doc) || json_is_array(doc));
        if (!*json)
                goto done;
        alarm = json_string_value(json_object_get(doc, "AlarmName"));
        state = json_string_value(json_object_get(doc, "NewStateValue"));
        if (alarm && state)
                out->alarm = strdup(alarm);
        pretty = json_dumps(doc, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        out->text = jt_message_cut(pretty ? pretty : "null", JT_FOREIGN_TEXT_MAX);
        out->parsed = true;
        free(pretty);
done:
        json_decref(doc);
}

bool jt_foreign_render(const void *bytes, size_t len, jt_foreign_t *out) {
        text_t *t;
        bool json = true;

        memset(out, 0, sizeof(*out));
        out->bytes = len;
        if (!bytes || !scan(bytes, len, &out->depth))
                return false;
        if (len <= JT_FOREIGN_PARSE_MAX_BYTES && out->depth <= JT_FOREIGN_PARSE_MAX_DEPTH) {
                with_parser(bytes, len, out, &json);
        } else if ((t = malloc(sizeof(*t))) != NULL) {
                t->len = t->chars = 0;
                t->full = false;
                reindent(bytes, len, t);
                out->text = jt_message_cut(t->buf, JT_FOREIGN_TEXT_MAX);
                free(t);
        }
        if (!json) {
                jt_foreign_clear(out);
                return false;
        }
        if (!out->text)
                out->text = strdup("");
        return true;
}

void jt_foreign_clear(jt_foreign_t *f) {
        free(f->text);
        free(f->alarm);
        memset(f, 0, sizeof(*f));
}

char *jt_foreign_format(const void *bytes, size_t len) {
        jt_foreign_t f;
        char *text;

        if (!jt_foreign_render(bytes, len, &f))
                return NULL;
        text = f.text;
        f.text = NULL;
        jt_foreign_clear(&f);
        return text;
}
