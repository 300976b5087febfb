/* Reading a directory without the GIL: every entry's name and d_type, . and .. left out.
 *
 * Shared by the modules that walk job directories (suite/_fsstat.c, sync/_listing.c,
 * suite/provenance/_capture.c, archive/_tarpack.c). On Linux it reads the kernel's records
 * with getdents64 into a buffer on the stack: two system calls fewer per directory than
 * fdopendir (its fstat and fcntl) and no allocation; elsewhere readdir on a dup of the fd.
 * The buffer is 32 KiB, as glibc's readdir uses: with 8 KiB, scan_dir of 2,000 entries on
 * ext4 took 3.1 ms instead of 2.0 (each getdents64 call has its own cost there).
 * No Python API. */
#ifndef SUITE_C_DIRREAD_H
#define SUITE_C_DIRREAD_H

#include <dirent.h>
#include <errno.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

/* Called for each entry: d_type is DT_UNKNOWN where the file system does not say. 0 goes on;
 * anything else stops the listing and is what dir_each returns. */
typedef int (*dir_entry_fn)(void *ctx, const char *name, unsigned char d_type);

static inline int
dir_is_dot(const char *name)
{
    return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

#ifdef __linux__
struct suite_dirent64 {  /* the kernel's linux_dirent64 */
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};
#endif

/* Pass every entry of the directory open at fd but . and .. to each(ctx, name, d_type), in
 * the order the file system lists them. fd stays open (read to its end). Returns 0, the first
 * nonzero value each returned, or an errno value when reading the directory fails. */
static inline int
dir_each(int fd, dir_entry_fn each, void *ctx)
{
#ifdef __linux__
    union { char bytes[32768]; unsigned long long align; } buf;
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf.bytes, sizeof buf.bytes);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return 0;
        for (long at = 0; at < n;) {
            struct suite_dirent64 *e = (struct suite_dirent64 *)(buf.bytes + at);
            if (e->d_reclen == 0 || at + e->d_reclen > n)  /* never from a sane kernel */
                return EIO;
            at += e->d_reclen;
            if (dir_is_dot(e->d_name))
                continue;
            int r = each(ctx, e->d_name, e->d_type);
            if (r != 0)
                return r;
        }
    }
#else
    int copy = dup(fd);
    if (copy < 0)
        return errno;
    DIR *dir = fdopendir(copy);
    if (dir == NULL) {
        int err = errno;
        close(copy);
        return err;
    }
    int r = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(dir);
        if (e == NULL) {
            r = errno;
            break;
        }
        if (!dir_is_dot(e->d_name) && (r = each(ctx, e->d_name, e->d_type)) != 0)
            break;
    }
    closedir(dir);
    return r;
#endif
}

#endif
