/* Small BSON builders the programs share. */
#ifndef JT_BSON_H
#define JT_BSON_H

#include <bson/bson.h>
#include <stddef.h>

/* Appends `field: {$in: [ids[0], ..., ids[n-1]]}` to doc. */
void jt_bson_append_oid_in(bson_t *doc, const char *field, const bson_oid_t *ids, size_t n);

#endif
