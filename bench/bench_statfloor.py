"""The kernel's floor under a document query: what one lookup costs on this machine, against
the CPU of a fresh ``suite find doc.x 3``.

Usage: python bench/bench_statfloor.py PROJECT [--repeat 3] [--threads 2 4 8] [--load] [--find]
                                        [--json F]

A document query checks every document's signature first (a ``stat`` per document, relative
to the open workspace: two names looked up, the job directory in the workspace and the
document in it), so its CPU time can never fall below the number of jobs times one such
``stat``. Rows, each timed by the process's own rusage (user + system), best of --repeat:
``getppid`` (a system call's entry and exit alone), a ``stat`` of each job directory (one
lookup), a ``stat`` of each document (two: the freshness check's), a ``stat`` of a name no job
holds (two lookups, the second failing: what status pays for an ``isfile`` condition whose file
is absent, as the bench workflow's ``second.txt``), the freshness check's C
loop (``stat_changed_packed``) in one thread and split as ``suite.native.in_threads`` splits
it (with its default number of threads, and with each of --threads); with --find also fresh
``suite find doc.x 3`` processes (wall, user, system; wait4). --load times the threaded rows
and the finds again while one busy loop per core runs (bench_scale's), best of --repeat by
wall: on busy cores the scheduler shares them by thread, so the number of threads decides the
check's share.

Reads only: the job ids come from listing the workspace, the signatures from the index opened
read-only (where its signature cache exists: run ``suite find doc.x 3`` once in the project
first). PROJECT may be a copy whose workspace is a symbolic link to a pristine one.
"""

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_scale import Load  # noqa: E402

from suite import layout, native  # noqa: E402
from suite.index import columns  # noqa: E402

SUITE = os.path.join(os.path.dirname(sys.executable), "suite")


def timed(fn):
    """``(wall s, user s, system s)`` of ``fn()`` in this process (all its threads)."""
    r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    fn()
    dt, r1 = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF)
    return dt, r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime


def packed_signatures(project):
    """The index's packed signatures (ids text, signature bytes), or None where its cache
    is not there (read-only: nothing is written)."""
    path = os.path.join(project, ".suite", "index.sqlite")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        row = db.execute("SELECT blob FROM sigcache WHERE tag = ?",
                         (columns.CACHE_TAG,)).fetchone()
    except sqlite3.Error:
        return None
    import marshal

    value = marshal.loads(row[0]) if row else None
    return value if value is not None and columns.is_packed(value) else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("project")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--find", action="store_true", help="also time fresh `suite find doc.x 3`")
    ap.add_argument("--threads", type=int, nargs="*", default=[],
                    help="also split the check over these numbers of threads")
    ap.add_argument("--load", action="store_true",
                    help="time the threaded rows and the finds also with both cores busy")
    ap.add_argument("--json")
    args = ap.parse_args()
    fsstat = native.load("suite._fsstat")
    if fsstat is None:
        sys.exit("the native modules are not built (python setup.py build_ext --inplace)")
    ws = os.path.join(args.project, "workspace")
    with os.scandir(ws) as it:
        names = [e.name for e in it if layout.is_job_id(e.name)]
    n = len(names)
    fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    suffix = "/" + layout.DOCUMENT

    def getppid():
        g = os.getppid
        for _ in range(n):
            g()

    rows = {
        "getppid (entry and exit)": getppid,
        "stat job directory (1 lookup)": lambda: fsstat.regular_files(fd, names, ""),
        "stat document (2 lookups)": lambda: fsstat.regular_files(fd, names, suffix),
        # a name no job holds: on tmpfs a failed lookup keeps no negative dentry, so each
        # one allocates and frees one (status's isfile("second.txt") of the bench workflow)
        "stat missing name (2 lookups, failing)": lambda: fsstat.regular_files(
            fd, names, "/bench-statfloor-absent"),
    }
    packed = packed_signatures(args.project)
    if packed is not None:
        ids, sigs = packed
        m = len(ids) // (columns.ID_WIDTH + 1)
        rows["freshness check, 1 thread"] = lambda: fsstat.stat_changed_packed(
            fd, ids, columns.ID_WIDTH, sigs, suffix, 0, m)
        for ways in [native.IO_THREADS] + [t for t in args.threads if t != native.IO_THREADS]:
            rows[f"freshness check, in_threads ({ways})"] = (
                lambda ways=ways: native.in_threads(
                    lambda lo, hi: fsstat.stat_changed_packed(fd, ids, columns.ID_WIDTH, sigs,
                                                              suffix, lo, hi), m, ways))
    results = {"jobs": n, "load average before": os.getloadavg()[0], "rows": {}}
    for name, fn in rows.items():
        best = min((timed(fn) for _ in range(args.repeat)), key=lambda r: r[1] + r[2])
        results["rows"][name] = {"wall s": best[0], "user s": best[1], "system s": best[2],
                                 "cpu us per job": (best[1] + best[2]) / n * 1e6}
        if args.load and "in_threads" in name:
            with Load():
                loaded = min((timed(fn) for _ in range(args.repeat)), key=lambda r: r[0])
            results["rows"][name]["loaded"] = {"wall s": loaded[0], "user s": loaded[1],
                                               "system s": loaded[2]}
    os.close(fd)
    if args.find:
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        def find():
            t = time.perf_counter()
            proc = subprocess.Popen([SUITE, "find", "doc.x", "3"], cwd=args.project, env=env,
                                    stdout=subprocess.DEVNULL)
            _, status, ru = os.wait4(proc.pid, 0)
            if status:
                sys.exit(f"suite find failed: {status}")
            return time.perf_counter() - t, ru.ru_utime, ru.ru_stime

        best = min((find() for _ in range(args.repeat)), key=lambda r: r[1] + r[2])
        row = results["rows"]["suite find doc.x 3 (fresh process)"] = {
            "wall s": best[0], "user s": best[1], "system s": best[2],
            "cpu us per job": (best[1] + best[2]) / n * 1e6}
        if args.load:
            with Load():
                loaded = min((find() for _ in range(args.repeat)), key=lambda r: r[0])
            row["loaded"] = {"wall s": loaded[0], "user s": loaded[1], "system s": loaded[2]}
    results["load average after"] = os.getloadavg()[0]
    print(f"{args.project}: {n:,} jobs, load average {results['load average before']:.1f}"
          f" -> {results['load average after']:.1f}, best of {args.repeat} by CPU")
    print(f"{'row':42s} {'wall s':>8s} {'user s':>7s} {'sys s':>7s} {'CPU µs/job':>11s}"
          + ("   loaded wall   cpu s" if args.load else ""))
    for name, r in results["rows"].items():
        line = (f"{name:42s} {r['wall s']:8.3f} {r['user s']:7.3f} {r['system s']:7.3f}"
                f" {r['cpu us per job']:11.2f}")
        if "loaded" in r:
            q = r["loaded"]
            line += f"   {q['wall s']:11.3f} {q['user s'] + q['system s']:7.3f}"
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
