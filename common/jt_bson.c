/* Small BSON builders and readers the programs share. */
#include "jt_bson.h"

#include <stdio.h>

void jt_bson_append_oid_in(bson_t *doc, const char *field, const bson_oid_t *ids, size_t n) {
        bson_t in, arr;

        bson_append_document_begin(doc, field, -1, &in);
        bson_append_array_begin(&in, "$in", -1, &arr);
        for (size_t i = 0; i < n; i++) {
                char key[16];
                const char *k;
                bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
                bson_append_oid(&arr, k, -1, &ids[i]);
        }
        bson_append_array_end(&in, &arr);
        bson_append_document_end(doc, &in);
}

int64_t jt_bson_get_int64(const bson_t *doc, const char *dotted, int64_t fallback) {
        bson_iter_t it, found;

        if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, dotted, &found))
                return fallback;
        if (BSON_ITER_HOLDS_DATE_TIME(&found))
                return bson_iter_date_time(&found);
        if (BSON_ITER_HOLDS_NUMBER(&found))
                return bson_iter_as_int64(&found);
        return fallback;
}

void jt_bson_get_utf8(const bson_t *doc, const char *dotted, char *out, size_t size) {
        bson_iter_t it, found;

        out[0] = '\0';
        if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, dotted, &found) &&
            BSON_ITER_HOLDS_UTF8(&found))
                snprintf(out, size, "%s", bson_iter_utf8(&found, NULL));
}
