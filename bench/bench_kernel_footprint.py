"""What a record's system calls cost the thread that makes them, alone and between user work.

Usage: python bench/bench_kernel_footprint.py [--pages 0 256 1024] [--iterations 50000]
                                              [--rounds 6] [--json F]

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
  would leave to the loop.

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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *dir;
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
    char *m = aligned_alloc(4096, (size_t)(pages + 1) * 4096);
    for (long i = 0; i < (pages + 1) * 4096; i++)
        m[i] = (char)i;
    pthread_t th;
    if (mode == 4 && pthread_create(&th, NULL, helper, NULL) != 0)
        return 1;
    volatile long sink = 0;
    double t0 = cpu(RUSAGE_THREAD), p0 = cpu(RUSAGE_SELF);
    for (long k = 0; k < n; k++) {
        for (long p = 0; p < pages; p++)
            sink += m[p * 4096 + (k * 64) % 4096];
        if (mode == 1)
            syscall(SYS_getppid);
        else if (mode == 2)
            listing(0);
        else if (mode == 3)
            listing(1);
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

MODES = ("work", "+ getppid", "+ scan before", "+ scan after", "+ scan after, other thread")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, nargs="+", default=[0, 256, 1024])
    ap.add_argument("--iterations", type=int, default=50000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--json")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-footprint-")
    try:
        with open(os.path.join(tmp, "loop.c"), "w") as f:
            f.write(SOURCE)
        exe = os.path.join(tmp, "loop")
        subprocess.run(["cc", "-O2", "-pthread", "-o", exe, os.path.join(tmp, "loop.c")],
                       check=True)
        job = os.path.join(tmp, "0123456789abcdef0123456789abcdef")
        os.mkdir(job)
        for name, text in (("signac_statepoint.json", '{"a": 1}'),
                           ("signac_job_document.json", '{"step": 1}'),
                           ("suite_flow_log.jsonl", "{}\n")):
            with open(os.path.join(job, name), "w") as f:
                f.write(text)
        got = {(p, m): [] for p in args.pages for m in range(len(MODES))}
        load = os.getloadavg()[0]
        for _ in range(args.rounds):  # in turns: a drift of the machine hits every row
            for p in args.pages:
                for m in range(len(MODES)):
                    out = subprocess.run([exe, str(p), str(m), str(args.iterations), job],
                                         check=True, capture_output=True, text=True).stdout
                    got[p, m].append(tuple(map(float, out.split())))
        rows = {}
        print(f"load average (1 min) {load:.1f} .. {os.getloadavg()[0]:.1f}; "
              f"{args.rounds} rounds of {args.iterations:,} iterations; µs an iteration")
        print(f"{'pages':>5}  {'pattern':<28} {'thread best':>11} {'median':>8} "
              f"{'process best':>12} {'median':>8}  {'thread - work':>13}")
        for p in args.pages:
            base = min(t for t, _ in got[p, 0])
            for m, name in enumerate(MODES):
                thread = sorted(t for t, _ in got[p, m])
                process = sorted(c for _, c in got[p, m])
                row = {"thread best": thread[0], "thread median": statistics.median(thread),
                       "process best": process[0], "process median": statistics.median(process),
                       "thread best - work best": thread[0] - base}
                rows[f"{p} pages, {name}"] = row
                print(f"{p:>5}  {name:<28} {thread[0]:>11.2f} {row['thread median']:>8.2f} "
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
