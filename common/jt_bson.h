/* Small BSON builders and readers the programs share. */
#ifndef JT_BSON_H
#define JT_BSON_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

/* Appends `field: {$in: [ids[0], ..., ids[n-1]]}` to doc. */
void jt_bson_append_oid_in(bson_t *doc, const char *field, const bson_oid_t *ids, size_t n);

/* The number (or date, as ms since the epoch) at a dotted path of doc; fallback when absent
 * or of another type. */
int64_t jt_bson_get_int64(const bson_t *doc, const char *dotted, int64_t fallback);

/* The string at a dotted path of doc into out (size bytes, truncated); "" when absent or of
 * another type. */
void jt_bson_get_utf8(const bson_t *doc, const char *dotted, char *out, size_t size);

#endif
