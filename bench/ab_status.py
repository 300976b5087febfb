"""`suite status` of one project by several checkouts and worker settings, in turns: where its
CPU goes between the parent (the serial part) and the forked workers.

Usage: python bench/ab_status.py PROJECT [--tree NAME=PATH ...] [--parallel 1 2] [--rounds 5]
                                 [--load] [--json F]

Each run is a fresh process, ``python -c`` calling the CLI's ``main`` as the console script does
(``suite status``; with ``--parallel N``: ``suite status --parallel N``, which goes through
click), with ``PYTHONPATH`` set to the tree. Per run: wall; CPU (user + system, from ``wait4``)
of the whole; the parent's own CPU and that of the workers it reaped (its ``RUSAGE_SELF`` and
``RUSAGE_CHILDREN`` at the end of ``main``: under load the parent's part runs on one core, the
workers' on two); minor page faults of both. The cases take turns within each round, in reversed
order every other round; --load runs one busy loop per core throughout (as bench_scale.py's
--load). Every case must print the same bytes (checked: a difference is an error). The table
gives the median and the best of the rounds.
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench_scale import BUSY

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# runs the CLI as the console script does, then reports this process's own rusage and its
# reaped children's on the descriptor named by AB_STATUS_FD
WRAPPER = """
import os, resource, sys
from suite.cli import main
sys.argv[0] = "suite"
try:
    main()
finally:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    os.write(int(os.environ["AB_STATUS_FD"]), ("%r" % ([s.ru_utime + s.ru_stime, s.ru_minflt,
             c.ru_utime + c.ru_stime, c.ru_minflt],)).encode())
"""


def run(tree, project, parallel):
    """``{wall, cpu, parent, workers, faults, out}`` of one ``suite status``."""
    args = ["status"] + ([] if parallel is None else ["--parallel", str(parallel)])
    r, w = os.pipe()
    env = {**os.environ, "PYTHONPATH": tree, "AB_STATUS_FD": str(w)}
    with tempfile.TemporaryFile() as out:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", WRAPPER, *args], cwd=project, env=env,
                                stdout=out, pass_fds=(w,))
        os.close(w)
        with os.fdopen(r, "rb") as report:
            own = report.read()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        if os.waitstatus_to_exitcode(status):
            raise RuntimeError(f"{tree}: suite {' '.join(args)} failed")
        out.seek(0)
        digest = hashlib.md5(out.read()).hexdigest()
    parent, parent_faults, workers, worker_faults = eval(own)  # noqa: S307 - our own repr
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "parent": parent,
            "workers": workers, "faults": parent_faults + worker_faults, "out": digest}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project")
    ap.add_argument("--tree", action="append", default=[],
                    help="NAME=PATH of a checkout (default: this one)")
    ap.add_argument("--parallel", nargs="*", default=[None],
                    help="worker settings to run (default: none given, the project's own)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--load", action="store_true")
    ap.add_argument("--json", default="bench/results-ab-status.json")
    args = ap.parse_args()
    trees = [t.split("=", 1) for t in args.tree] or [["this", HERE]]
    cases = [(name, path, None if p in (None, "default") else int(p))
             for name, path in trees for p in args.parallel]
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(os.cpu_count() or 1)] \
        if args.load else []
    results = {case: [] for case in cases}
    load = [os.getloadavg()[0]]
    try:
        time.sleep(0.2 if busy else 0)
        for k in range(args.rounds):
            for case in (cases if k % 2 == 0 else cases[::-1]):
                results[case].append(run(case[1], args.project, case[2]))
    finally:
        for b in busy:
            b.terminate()
        for b in busy:
            b.wait()
    load.append(os.getloadavg()[0])
    outputs = {r["out"] for runs in results.values() for r in runs}
    print(f"{args.project}: {args.rounds} rounds{' under --load' if busy else ''}, load average "
          f"{load[0]:.1f} -> {load[1]:.1f}; outputs {'identical' if len(outputs) == 1 else 'DIFFER'}")
    print(f"{'case':28s} {'wall med/best':>15s} {'CPU med/best':>13s} {'parent med':>10s} "
          f"{'workers med':>11s} {'faults med':>10s}")
    table = {}
    for (name, _, parallel), runs in results.items():
        label = f"{name} --parallel {parallel if parallel is not None else '(default)'}"

        def med(key, runs=runs):
            return statistics.median(r[key] for r in runs)

        def best(key, runs=runs):
            return min(r[key] for r in runs)

        table[label] = runs
        print(f"{label:28s} {med('wall'):7.3f}/{best('wall'):6.3f} {med('cpu'):6.3f}/"
              f"{best('cpu'):5.3f} {med('parent'):10.3f} {med('workers'):11.3f} "
              f"{med('faults'):10.0f}")
    with open(args.json, "w") as f:
        json.dump({"project": args.project, "load": load, "rounds": args.rounds,
                   "under_load": bool(busy), "cases": table}, f, indent=1)
    if len(outputs) != 1:
        raise SystemExit("the cases printed different outputs")


if __name__ == "__main__":
    main()
