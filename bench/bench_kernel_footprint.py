"""What a record's system calls cost the thread that makes them, alone and between user work.

Usage: python bench/bench_kernel_footprint.py [--pages 0 256 1024] [--iterations 50000]
                                              [--rounds 6] [--dirs 1000] [--modes 5 6 ...]
                                              [--json F]

A provenance record lists its job directory twice (before and after the operation) and
``stat``s the new document: 9 system calls. Measured in a tight loop they cost ~5 µs a
listing on this VM; in ``suite run`` records on cost ~43 µs a job more than off. This loop
puts each pattern between user work that reads one cache line of each of ``--pages`` pages
(a stand-in for the interpreter's working set between two records) and reports, per
iteration, the CPU of the loop's thread and of the process (``getrusage``: the thread's
own, then all threads'), best and median of ``--rounds`` rounds taken in turns:

* ``work``: the user work alone;
* ``+ getppid``: one system call's entry and exit;
* ``+ scan before``: ``open`` (absolute path, ``O_DIRECTORY``) + ``getdents64`` × 2 + ``close``;
* ``+ scan after``: the same with an ``fstatat`` of a file in it (the record's 5 calls);
* ``+ scan after, other thread``: the scan after handed to a helper thread (a mutex, and a
  condition variable signalled when the helper waits): what moving it off the loop's core
  would leave to the loop;
* ``+ record, ...`` (``--modes 5 ...``): a whole record's calls with the user work between its
  two scans, cycling through ``--dirs`` job directories: today's 9 calls; the scan before's
  descriptor kept for the scan after, checked by ``fstat`` and a ``stat`` of the path, then
  ``lseek`` (the checked form); the same without the path's ``stat``; one ``getdents64`` a
  listing; no ``fstatat`` of the document; the last three at once; and both listings opened
  relative to a kept descriptor of the workspace (``fstat`` of it each time). The patterns
  marked unsafe are lower bounds of what a call saves, not designs: each misses a change
  the record must show (docs/benchmarks.md, session 16).

The C loop is compiled here with ``cc -O2 -pthread`` into a temporary directory (removed at
the end); the listed directory is made there too: 3 small files, like a job directory.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

SOURCE = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *dir;
static char **dirs;     /* the record modes: --dirs job directories, one record each in turn */
static long n_dirs;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long posted, done;
static int waiting, quit;

static void listing(int with_stat)
{
    char buf[32768];
    struct stat st;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) { perror("open"); exit(1); }
    syscall(SYS_getdents64, fd, buf, sizeof buf);
    syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (with_stat && fstatat(fd, "signac_job_document.json", &st, AT_SYMLINK_NOFOLLOW) != 0) {
        perror("fstatat"); exit(1);
    }
    close(fd);
}

/* A whole record's calls for directory d, the user work between its two scans:
 * 5 today's (open by path, getdents64 x 2, [close]; work; open, getdents64 x 2, fstatat,
 * close); 6 the scan before's descriptor kept, checked by fstat and a stat of the path, then
 * lseek; 7 the same without the stat of the path (not safe: the path's renames unseen);
 * 8 today's with one getdents64 a listing (not safe: a short read is not the end);
 * 9 today's without the fstatat (not safe: the document rewritten in place unseen);
 * 10 the three unsafe ones at once (7, 8 and 9: their ceiling together);
 * 11 today's, both listings opened relative to a kept descriptor of the workspace checked
 *    by an fstat each (not safe either: the workspace's path renamed unseen). */
static int ws = -1;

static int open_job(int mode, const char *d)
{
    struct stat st;
    if (mode != 11)
        return open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ws < 0) {
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", d);
        *strrchr(parent, '/') = 0;
        ws = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fstat(ws, &st) != 0) { perror("fstat"); exit(1); }
    return openat(ws, strrchr(d, '/') + 1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void record(int mode, const char *d, long pages, long k, char *m, volatile long *sink)
{
    char buf[32768];
    struct stat st, now;
    int one = mode == 8 || mode == 10, kept = mode == 6 || mode == 7 || mode == 10;
    int fd = open_job(mode, d);
    if (fd < 0) { perror("open"); exit(1); }
    syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (!one)
        syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (!kept)
        close(fd);
    for (long p = 0; p < pages; p++)
        *sink += m[p * 4096 + (k * 64) % 4096];
    if (kept) {
        if (fstat(fd, &st) != 0) { perror("fstat"); exit(1); }
        if (mode == 6 && (stat(d, &now) != 0 || now.st_ino != st.st_ino)) {
            perror("stat"); exit(1);
        }
        lseek(fd, 0, SEEK_SET);
    }
    else
        fd = open_job(mode, d);
    syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (!one)
        syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (mode != 9 && mode != 10 && fstatat(fd, "signac_job_document.json", &st, AT_SYMLINK_NOFOLLOW) != 0) {
        perror("fstatat"); exit(1);
    }
    close(fd);
}

static void *helper(void *arg)
{
    pthread_mutex_lock(&mu);
    for (;;) {
        while (done == posted && !quit) {
            waiting = 1;
            pthread_cond_wait(&cv, &mu);
            waiting = 0;
        }
        if (done == posted)
            break;
        pthread_mutex_unlock(&mu);
        listing(1);
        pthread_mutex_lock(&mu);
        done++;
    }
    pthread_mutex_unlock(&mu);
    return arg;
}

static double cpu(int who)
{
    struct rusage r;
    getrusage(who, &r);
    return r.ru_utime.tv_sec + r.ru_stime.tv_sec
        + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
}

int main(int argc, char **argv)
{
    long pages = atol(argv[1]), n = atol(argv[3]);
    int mode = atoi(argv[2]);
    dir = argv[4];
    dirs = argv + 4;
    n_dirs = argc - 4;
    char *m = aligned_alloc(4096, (size_t)(pages + 1) * 4096);
    for (long i = 0; i < (pages + 1) * 4096; i++)
        m[i] = (char)i;
    pthread_t th;
    if (mode == 4 && pthread_create(&th, NULL, helper, NULL) != 0)
        return 1;
    volatile long sink = 0;
    double t0 = cpu(RUSAGE_THREAD), p0 = cpu(RUSAGE_SELF);
    for (long k = 0; k < n; k++) {
        for (long p = 0; mode < 5 && p < pages; p++)
            sink += m[p * 4096 + (k * 64) % 4096];
        if (mode == 1)
            syscall(SYS_getppid);
        else if (mode == 2)
            listing(0);
        else if (mode == 3)
            listing(1);
        else if (mode >= 5) {
            record(mode, dirs[k % n_dirs], pages, k, m, &sink);
            continue;
        }
        else if (mode == 4) {
            pthread_mutex_lock(&mu);
            posted++;
            if (waiting)
                pthread_cond_signal(&cv);
            pthread_mutex_unlock(&mu);
        }
    }
    double thread = cpu(RUSAGE_THREAD) - t0;
    if (mode == 4) {
        pthread_mutex_lock(&mu);
        quit = 1;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&mu);
        pthread_join(th, NULL);
    }
    printf("%.6f %.6f\n", thread / n * 1e6, (cpu(RUSAGE_SELF) - p0) / n * 1e6);
    return 0;
}
"""

MODES = ("work", "+ getppid", "+ scan before", "+ scan after", "+ scan after, other thread",
         "+ record, today", "+ record, fd kept (fstat+stat)", "+ record, fd kept (fstat; unsafe)",
         "+ record, 1 getdents (unsafe)", "+ record, no fstatat (unsafe)",
         "+ record, 7-9 unsafe at once", "+ record, open relative (unsafe)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, nargs="+", default=[0, 256, 1024])
    ap.add_argument("--iterations", type=int, default=50000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--dirs", type=int, default=1000,
                    help="job directories the record patterns cycle through")
    ap.add_argument("--modes", type=int, nargs="+",
                    help="pattern numbers (0 = the work alone, always first; default: all)")
    ap.add_argument("--json")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-footprint-")
    try:
        with open(os.path.join(tmp, "loop.c"), "w") as f:
            f.write(SOURCE)
        exe = os.path.join(tmp, "loop")
        subprocess.run(["cc", "-O2", "-pthread", "-o", exe, os.path.join(tmp, "loop.c")],
                       check=True)
        jobs = []
        for k in range(args.dirs):
            job = os.path.join(tmp, "workspace", f"{k:032x}")
            os.makedirs(job)
            for name, text in (("signac_statepoint.json", '{"a": 1}'),
                               ("signac_job_document.json", '{"step": 1}'),
                               ("suite_flow_log.jsonl", "{}\n")):
                with open(os.path.join(job, name), "w") as f:
                    f.write(text)
            jobs.append(job)
        modes = sorted({0, *args.modes}) if args.modes else range(len(MODES))
        got = {(p, m): [] for p in args.pages for m in modes}
        load = os.getloadavg()[0]
        for _ in range(args.rounds):  # in turns: a drift of the machine hits every row
            for p in args.pages:
                for m in modes:  # the first 5 patterns on one directory, records on all
                    out = subprocess.run([exe, str(p), str(m), str(args.iterations),
                                          *(jobs if m >= 5 else jobs[:1])],
                                         check=True, capture_output=True, text=True).stdout
                    got[p, m].append(tuple(map(float, out.split())))
        rows = {}
        print(f"load average (1 min) {load:.1f} .. {os.getloadavg()[0]:.1f}; "
              f"{args.rounds} rounds of {args.iterations:,} iterations; µs an iteration")
        print(f"{'pages':>5}  {'pattern':<36} {'thread best':>11} {'median':>8} "
              f"{'process best':>12} {'median':>8}  {'thread - work':>13}")
        for p in args.pages:
            base = min(t for t, _ in got[p, 0])
            for m in modes:
                name = MODES[m]
                thread = sorted(t for t, _ in got[p, m])
                process = sorted(c for _, c in got[p, m])
                row = {"thread best": thread[0], "thread median": statistics.median(thread),
                       "process best": process[0], "process median": statistics.median(process),
                       "thread best - work best": thread[0] - base}
                rows[f"{p} pages, {name}"] = row
                print(f"{p:>5}  {name:<36} {thread[0]:>11.2f} {row['thread median']:>8.2f} "
                      f"{process[0]:>12.2f} {row['process median']:>8.2f}  "
                      f"{thread[0] - base:>13.2f}")
        rows["load average (1 min) at the start"] = load
        rows["load average (1 min) at the end"] = os.getloadavg()[0]
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
