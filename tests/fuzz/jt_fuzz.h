/* What every fuzz target shares: the libFuzzer entry points, a NUL-terminated copy of the
 * input, and findings (a property a target checks that is not a sanitizer report). */
#ifndef JT_FUZZ_H
#define JT_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's interface: clang -fsanitize=fuzzer supplies main(), the standalone driver
 * (standalone_driver.c) supplies it for gcc builds. A target must not leak, abort or print
 * for any input except to report a failure. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input as a malloc'd C string (bytes after an embedded NUL are cut off, as any C string
 * caller would see them). Never NULL: aborts when out of memory. */
char *jt_fuzz_cstr(const uint8_t *data, size_t size);

/* A property violated: prints "FINDING id: message" and aborts, so that the driver and
 * libFuzzer keep the input, unless id is listed in the environment variable JT_FUZZ_KNOWN
 * (comma-separated ids, for findings reported and awaiting their fix), in which case it is
 * only counted (jt_fuzz_known_count) and the run goes on. */
void jt_fuzz_finding(const char *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Known findings seen so far in this process (the driver prints it at the end). */
unsigned long jt_fuzz_known_count(void);

#endif
