/* Opening a file without moving its access time: what suite reads to index or to record
 * (a job's files, its directory) is no use of them, and under relatime (the usual mount)
 * each first read or listing after a write would write the inode again. The kernel refuses
 * O_NOATIME (EPERM) for a file of another owner: *noatime is then cleared (atomically, so it
 * may be shared by threads without the GIL) and the file opened without it, as are the
 * files after it (the result is the same). */
#ifndef SUITE_QUIETOPEN_H
#define SUITE_QUIETOPEN_H

#include <errno.h>
#include <fcntl.h>

#ifndef O_NOATIME
#define O_NOATIME 0
#endif

/* openat(dir_fd, name, flags | *noatime), again without the flag on EPERM, again on EINTR;
 * -1 with errno set on failure */
static inline int
open_quietly(int dir_fd, const char *name, int flags, int *noatime)
{
    for (;;) {
        int extra = __atomic_load_n(noatime, __ATOMIC_RELAXED);
        int fd = openat(dir_fd, name, flags | extra);
        if (fd >= 0)
            return fd;
        if (errno == EPERM && extra)
            __atomic_store_n(noatime, 0, __ATOMIC_RELAXED);
        else if (errno != EINTR)
            return -1;
    }
}

#endif
