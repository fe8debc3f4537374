/* Foreign JSON on the status topic (another system's alarm) made into bounded text for a
 * message, in memory that does not grow with the input's size or nesting: a small, shallow
 * document is parsed and pretty-printed by jansson; anything larger or deeper is re-indented
 * token by token from the raw bytes and cut, with no tree built. Pretty-printing the whole tree
 * first took 80 MB for a 20 KB array nested 2,000 deep (indentation grows with the depth). */
#ifndef JT_NOTIFIER_FOREIGN_H
#define JT_NOTIFIER_FOREIGN_H

#include <stdbool.h>
#include <stddef.h>

#define JT_FOREIGN_TEXT_MAX        3500        /* characters of JSON a message shows */
#define JT_FOREIGN_PARSE_MAX_BYTES (64 * 1024) /* larger documents are not parsed */
#define JT_FOREIGN_PARSE_MAX_DEPTH 32          /* nor deeper ones */
#define JT_FOREIGN_INDENT_MAX      16          /* deeper levels are shown at this indentation */

typedef struct {
        char *text;   /* the JSON, indented by 2, at most JT_FOREIGN_TEXT_MAX characters (cut
                         with "…"), valid UTF-8, no control characters but line breaks */
        char *alarm;  /* a CloudWatch alarm's AlarmName (parsed documents only), else NULL */
        bool parsed;  /* false: too large or too deep to parse, text is the raw text re-indented */
        size_t bytes; /* size of the input */
        size_t depth; /* deepest nesting of the input */
} jt_foreign_t;

/* Renders bytes[0..len) when they hold a JSON object or array; false (out cleared) for anything
 * else. A parsed document is checked by jansson; a larger or deeper one only structurally
 * (strings closed, brackets matched, nothing after the value). Memory: O(len / 8) for the
 * structural check plus what a document of JT_FOREIGN_PARSE_MAX_BYTES takes. */
bool jt_foreign_render(const void *bytes, size_t len, jt_foreign_t *out);

void jt_foreign_clear(jt_foreign_t *f);

/* The text of jt_foreign_render alone (malloc'd), or NULL when bytes are not a JSON object or
 * array: the simple signature for fuzzing and tests. */
char *jt_foreign_format(const void *bytes, size_t len);

#endif
