/* Hexadecimal digits, for the parsers that read them (percent escapes, hex-encoded messages). */
#ifndef JT_HEX_H
#define JT_HEX_H

/* The value 0..15 of the hex digit c (either case), or -1 when c is none. */
int jt_hex_value(int c);

#endif
