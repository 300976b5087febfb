"""A/B of the first command in a project without an index (it builds the index): ``suite find
b.c 3`` by two or more checkouts, taking turns.

Usage: python bench/ab_index_build.py PROJECT TREE [TREE ...] [--rounds 3] [--json F]

Each round, for each tree in turn: the project's ``.suite`` is removed and the CLI runs with
that tree on ``PYTHONPATH`` (compile the trees first). Prints wall, CPU (user + system of the
command and its children from ``wait4``: the forked reader and the threads included) and peak
memory per run, and the medians per tree. The project must be one of your own (its index is
written): for a large pristine project, a directory with its ``.signac/config`` and a
``workspace`` link.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import time


def run_once(project, tree):
    shutil.rmtree(os.path.join(project, ".suite"), ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=tree)
    argv = [sys.executable, "-m", "suite", "find", "b.c", "3"]
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: the CLI, its output discarded
        try:
            os.chdir(project)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.execve(sys.executable, argv, env)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{tree}: exit status {status}")
    return {"wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime,
            "cpu": ru.ru_utime + ru.ru_stime, "peak_mib": ru.ru_maxrss / 1024,
            "load": os.getloadavg()[0]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("project")
    ap.add_argument("trees", nargs="+")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    out = {t: [] for t in args.trees}
    for r in range(args.rounds):
        order = args.trees if r % 2 == 0 else args.trees[::-1]
        for tree in order:
            m = run_once(args.project, tree)
            out[tree].append(m)
            print(f"round {r} {tree:30s} wall {m['wall']:8.2f}  cpu {m['cpu']:8.2f} "
                  f"(user {m['user']:.2f} sys {m['sys']:.2f})  peak {m['peak_mib']:.0f} MiB  "
                  f"load {m['load']:.1f}", flush=True)
    print(f"{'tree':30s} {'wall med':>9s} {'cpu med':>9s} {'cpu min':>9s} {'user med':>9s} "
          f"{'sys med':>9s}")
    for tree, ms in out.items():
        med = {k: statistics.median(m[k] for m in ms) for k in ("wall", "cpu", "user", "sys")}
        print(f"{tree:30s} {med['wall']:9.2f} {med['cpu']:9.2f} "
              f"{min(m['cpu'] for m in ms):9.2f} {med['user']:9.2f} {med['sys']:9.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
