/* <cmocka.h> with the headers it needs before it, for the test kit's files and the programs. */
#ifndef JT_IT_CMOCKA_H
#define JT_IT_CMOCKA_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#endif
