/* Whether bytes are ASCII: a name that is can be written and sorted as it is (its str has the
 * same characters in the same order), without decoding it. Shared by the C modules that write
 * file names (provenance's file lists; export's tar headers). No Python API. */
#ifndef SUITE_C_ASCII_H
#define SUITE_C_ASCII_H

#include <stddef.h>

/* 1 if none of s[:n] is above 0x7f, else 0 */
static inline int
is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

#endif
