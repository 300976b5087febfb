/* The floor under an index build: what reading a workspace's job files costs by plain system
 * calls, with nothing made of them. bench/ab_index_build.py compiles and runs it (--floor).
 *
 * Usage: readfloor WORKSPACE THREADS PART
 *
 * Lists WORKSPACE (every 32-character name), sorts the names by their directories' inodes (the
 * order a build reads them in), then, part after part of PART jobs, reads every job's state
 * point (open, read, close) and then its document (open, fstat, read, close), each part split
 * between THREADS threads: the system calls a build makes for these files, no more. Files are
 * opened with O_NOATIME as the build opens them (without it where the kernel refuses).
 * Prints one line: jobs, files read, bytes, and the listing's and the reads' user and system
 * seconds (getrusage of the whole process).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char name[33];
    ino_t ino;
} job;

typedef struct {
    int ws;
    job *jobs;
    size_t start, stop;
    const char *file;
    int do_stat;
    long long files, bytes;
} slice;

static int noatime = O_NOATIME;

static void
read_file(int ws, const char *name, const char *file, int do_stat, slice *s)
{
    char path[64];
    snprintf(path, sizeof path, "%s/%s", name, file);
    int fd;
    for (;;) {
        int extra = __atomic_load_n(&noatime, __ATOMIC_RELAXED);
        fd = openat(ws, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | extra);
        if (fd >= 0 || errno != EPERM || !extra)
            break;
        __atomic_store_n(&noatime, 0, __ATOMIC_RELAXED);
    }
    if (fd < 0)
        return;
    char buf[4096];
    struct stat st;
    if (do_stat)
        fstat(fd, &st);
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        s->bytes += n;
        if (n < (ssize_t)sizeof buf)
            break; /* the file ended: the build's reader stops there too */
    }
    close(fd);
    s->files++;
}

static void *
run(void *arg)
{
    slice *s = arg;
    for (size_t i = s->start; i < s->stop; i++)
        read_file(s->ws, s->jobs[i].name, s->file, s->do_stat, s);
    return NULL;
}

static int
by_inode(const void *a, const void *b)
{
    ino_t x = ((const job *)a)->ino, y = ((const job *)b)->ino;
    return (x > y) - (x < y);
}

static double
seconds(struct timeval t)
{
    return t.tv_sec + t.tv_usec / 1e6;
}

int
main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: readfloor WORKSPACE THREADS PART\n");
        return 2;
    }
    int threads = atoi(argv[2]);
    size_t part = (size_t)atol(argv[3]);
    if (threads < 1 || part < 1)
        return 2;
    struct rusage r0, r1, r2;
    getrusage(RUSAGE_SELF, &r0);
    int ws = open(argv[1], O_RDONLY | O_DIRECTORY);
    DIR *d = ws < 0 ? NULL : fdopendir(dup(ws));
    if (!d) {
        perror(argv[1]);
        return 1;
    }
    size_t n = 0, cap = 1 << 16;
    job *jobs = malloc(cap * sizeof *jobs);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != 32)
            continue;
        if (n == cap)
            jobs = realloc(jobs, (cap *= 2) * sizeof *jobs);
        if (!jobs)
            return 1;
        memcpy(jobs[n].name, e->d_name, 33);
        jobs[n++].ino = e->d_ino;
    }
    closedir(d);
    qsort(jobs, n, sizeof *jobs, by_inode);
    getrusage(RUSAGE_SELF, &r1);
    slice *s = calloc(threads, sizeof *s);
    pthread_t *t = calloc(threads, sizeof *t);
    long long files = 0, bytes = 0;
    for (size_t p = 0; p < n; p += part) {
        size_t stop = p + part < n ? p + part : n;
        size_t step = (stop - p + threads - 1) / threads;
        for (int f = 0; f < 2; f++) {
            for (int k = 0; k < threads; k++) {
                size_t a = p + k * step, b = a + step < stop ? a + step : stop;
                s[k] = (slice){ws, jobs, a < stop ? a : stop, b, f ? "signac_job_document.json"
                               : "signac_statepoint.json", f, 0, 0};
                pthread_create(&t[k], NULL, run, &s[k]);
            }
            for (int k = 0; k < threads; k++) {
                pthread_join(t[k], NULL);
                files += s[k].files;
                bytes += s[k].bytes;
            }
        }
    }
    getrusage(RUSAGE_SELF, &r2);
    printf("jobs %zu files %lld bytes %lld list_user %.3f list_sys %.3f read_user %.3f "
           "read_sys %.3f\n", n, files, bytes,
           seconds(r1.ru_utime) - seconds(r0.ru_utime), seconds(r1.ru_stime) - seconds(r0.ru_stime),
           seconds(r2.ru_utime) - seconds(r1.ru_utime), seconds(r2.ru_stime) - seconds(r1.ru_stime));
    return 0;
}
