/* Hexadecimal digits, shared by the URI percent-decoding and the Avro tool's hex input. */
#include "jt_hex.h"

int jt_hex_value(int c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}
