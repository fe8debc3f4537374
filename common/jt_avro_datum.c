/* Bounds check of one Avro binary datum against its writer schema, before avro-c reads it.
 * avro-c's binary decoder trusts the input: a corrupted string length makes it allocate up to
 * 2^63 bytes (or write before the buffer for a negative one), a corrupted array count makes it
 * loop for ever. This walk reads nothing past the input and allocates nothing. */
#include "jt_avro.h"

#include <inttypes.h>
#include <string.h>

/* Nesting deeper than this is no message of ours; recursion stays far from the stack limit. */
#define CHECK_MAX_DEPTH 64

typedef struct {
        const uint8_t *buf;
        size_t len;
        size_t pos;
        jt_error_t *err;
} check_ctx_t;

static bool check_fail(check_ctx_t *c, const char *what) {
        return jt_error_set(c->err, JT_ERR_INPUT, 0, "corrupted datum at byte %zu of %zu: %s",
                            c->pos, c->len, what);
}

/* Zig-zag varint of at most 10 bytes whose value fits 64 bits. */
static bool read_long(check_ctx_t *c, int64_t *out) {
        uint64_t v = 0;
        int shift = 0;
        uint8_t b;

        do {
                if (c->pos >= c->len)
                        return check_fail(c, "input ends inside a varint");
                b = c->buf[c->pos++];
                if (shift == 63 && (b & 0x7e))
                        return check_fail(c, "varint overflows 64 bits");
                v |= (uint64_t)(b & 0x7f) << shift;
                shift += 7;
                if (shift > 63 && (b & 0x80))
                        return check_fail(c, "varint longer than 10 bytes");
        } while (b & 0x80);
        *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
        return true;
}

static bool need(check_ctx_t *c, uint64_t n, const char *what) {
        char msg[96];

        if (n > c->len - c->pos) {
                snprintf(msg, sizeof(msg), "%s of %" PRIu64 " bytes but %zu left", what, n,
                         c->len - c->pos);
                return check_fail(c, msg);
        }
        return true;
}

/* Length-prefixed bytes; returns the start and length, both within the input. */
static bool read_len_bytes(check_ctx_t *c, const uint8_t **p, size_t *n, const char *what) {
        int64_t len;
        char msg[96];

        if (!read_long(c, &len))
                return false;
        if (len < 0) {
                snprintf(msg, sizeof(msg), "%s with negative length %" PRId64, what, len);
                return check_fail(c, msg);
        }
        if (!need(c, (uint64_t)len, what))
                return false;
        *p = c->buf + c->pos;
        *n = (size_t)len;
        c->pos += (size_t)len;
        return true;
}

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF) and no NUL: the
 * strings become C strings, where a NUL would silently cut them short. */
static bool utf8_ok(const uint8_t *s, size_t n) {
        size_t i = 0;

        while (i < n) {
                uint8_t b = s[i];
                uint32_t cp;
                size_t k, extra;

                if (b == 0)
                        return false;
                if (b < 0x80) {
                        i++;
                        continue;
                }
                if (b >= 0xc2 && b <= 0xdf) {
                        extra = 1;
                        cp = b & 0x1f;
                } else if (b >= 0xe0 && b <= 0xef) {
                        extra = 2;
                        cp = b & 0x0f;
                } else if (b >= 0xf0 && b <= 0xf4) {
                        extra = 3;
                        cp = b & 0x07;
                } else {
                        return false;
                }
                if (n - i <= extra)
                        return false;
                for (k = 1; k <= extra; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                i += extra + 1;
        }
        return true;
}

static bool check_value(check_ctx_t *c, avro_schema_t s, int depth);

/* Arrays and maps: blocks of items, a negative count followed by the block's byte size. */
static bool check_blocks(check_ctx_t *c, avro_schema_t items, bool is_map, int depth) {
        int64_t count, size;
        uint64_t total = 0;
        const uint8_t *p;
        size_t n;

        for (;;) {
                if (!read_long(c, &count))
                        return false;
                if (count == 0)
                        return true;
                if (count < 0) {
                        if (count == INT64_MIN)
                                return check_fail(c, "block count out of range");
                        count = -count;
                        if (!read_long(c, &size))
                                return false;
                        /* The size only lets readers skip; the items are checked one by one. */
                        if (size < 0)
                                return check_fail(c, "negative block size");
                        if (!need(c, (uint64_t)size, "block"))
                                return false;
                }
                /* Items of zero bytes (null, empty records) would let a tiny message claim
                 * 2^62 of them; no honest message has more items than the cap has bytes. */
                total += (uint64_t)count;
                if (total > JT_AVRO_MAX_MESSAGE_BYTES)
                        return check_fail(c, "more array or map items than the message size cap");
                while (count-- > 0) {
                        if (is_map) {
                                if (!read_len_bytes(c, &p, &n, "map key"))
                                        return false;
                                if (!utf8_ok(p, n))
                                        return check_fail(c, "map key is not UTF-8 without NUL");
                        }
                        if (!check_value(c, items, depth + 1))
                                return false;
                }
        }
}

/* An enum's index, within the schema's symbols. */
static bool check_enum(check_ctx_t *c, avro_schema_t s) {
        char msg[128];
        int64_t v;

        if (!read_long(c, &v))
                return false;
        if (v < 0 || v >= avro_schema_enum_number_of_symbols(s)) {
                snprintf(msg, sizeof(msg), "enum %s index %" PRId64 " not in 0..%d",
                         avro_schema_name(s), v, avro_schema_enum_number_of_symbols(s) - 1);
                return check_fail(c, msg);
        }
        return true;
}

/* A union's branch index, then the value of that branch. */
static bool check_union(check_ctx_t *c, avro_schema_t s, int depth) {
        char msg[128];
        int64_t v;

        if (!read_long(c, &v))
                return false;
        if (v < 0 || (uint64_t)v >= avro_schema_union_size(s)) {
                snprintf(msg, sizeof(msg), "union branch %" PRId64 " not in 0..%zu", v,
                         avro_schema_union_size(s) - 1);
                return check_fail(c, msg);
        }
        return check_value(c, avro_schema_union_branch(s, (int)v), depth + 1);
}

static bool check_value(check_ctx_t *c, avro_schema_t s, int depth) {
        const uint8_t *p;
        size_t n, i;
        int64_t v;

        if (depth > CHECK_MAX_DEPTH)
                return check_fail(c, "nested too deep");
        if (is_avro_link(s))
                s = avro_schema_link_target(s);

        switch (avro_typeof(s)) {
        case AVRO_NULL:
                return true;
        case AVRO_BOOLEAN:
                if (!need(c, 1, "boolean"))
                        return false;
                if (c->buf[c->pos] > 1)
                        return check_fail(c, "boolean byte is neither 0 nor 1");
                c->pos++;
                return true;
        case AVRO_INT32:
                if (!read_long(c, &v))
                        return false;
                if (v < INT32_MIN || v > INT32_MAX)
                        return check_fail(c, "int out of 32-bit range");
                return true;
        case AVRO_INT64:
                return read_long(c, &v);
        case AVRO_FLOAT:
                if (!need(c, 4, "float"))
                        return false;
                c->pos += 4;
                return true;
        case AVRO_DOUBLE:
                if (!need(c, 8, "double"))
                        return false;
                c->pos += 8;
                return true;
        case AVRO_BYTES:
                return read_len_bytes(c, &p, &n, "bytes");
        case AVRO_STRING:
                if (!read_len_bytes(c, &p, &n, "string"))
                        return false;
                if (!utf8_ok(p, n)) {
                        c->pos -= n; /* point at the string's start */
                        return check_fail(c, "string is not UTF-8 without NUL");
                }
                return true;
        case AVRO_FIXED:
                if (!need(c, (uint64_t)avro_schema_fixed_size(s), "fixed"))
                        return false;
                c->pos += (size_t)avro_schema_fixed_size(s);
                return true;
        case AVRO_ENUM:
                return check_enum(c, s);
        case AVRO_UNION:
                return check_union(c, s, depth);
        case AVRO_RECORD:
                for (i = 0; i < avro_schema_record_size(s); i++)
                        if (!check_value(c, avro_schema_record_field_get_by_index(s, (int)i),
                                         depth + 1))
                                return false;
                return true;
        case AVRO_ARRAY:
                return check_blocks(c, avro_schema_array_items(s), false, depth);
        case AVRO_MAP:
                return check_blocks(c, avro_schema_map_values(s), true, depth);
        default:
                return check_fail(c, "schema has a type this check does not know");
        }
}

bool jt_avro_datum_check(avro_schema_t schema, const void *buf, size_t len, jt_error_t *err) {
        check_ctx_t c = {.buf = buf, .len = len, .pos = 0, .err = err};
        char msg[64];

        if (!check_value(&c, schema, 0))
                return false;
        if (c.pos != len) {
                snprintf(msg, sizeof(msg), "%zu trailing bytes after the datum", len - c.pos);
                return check_fail(&c, msg);
        }
        return true;
}
