/* Small BSON builders the programs share. */
#include "jt_bson.h"

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
