/* Whether a relative name in an archive is clean as it stands: what archive/safety.clean_name
 * returns unchanged. Shared by the export's and the import's C checks (archive/_tarpack.c,
 * archive/_importjobs.c), which must agree with each other and with that reference. No
 * Python API. */
#ifndef SUITE_C_CLEANNAME_H
#define SUITE_C_CLEANNAME_H

#include <stddef.h>
#include <string.h>

/* 1 if name[:n] is not empty, holds no backslash, is not absolute, has no drive letter and no
 * empty, "." or ".." part; else 0 */
static inline int
clean_as_is(const char *name, size_t n)
{
    if (n == 0 || name[0] == '/' || (n > 1 && name[1] == ':') || memchr(name, '\\', n))
        return 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || name[i] == '/') {
            size_t len = i - start;
            if (len == 0 || (len == 1 && name[start] == '.')
                || (len == 2 && name[start] == '.' && name[start + 1] == '.'))
                return 0;
            start = i + 1;
        }
    }
    return 1;
}

#endif
