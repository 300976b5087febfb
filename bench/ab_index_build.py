"""A/B of the first command in a project without an index (it builds the index): ``suite find
b.c 3`` by two or more checkouts, taking turns.

Usage: python bench/ab_index_build.py PROJECT TREE [TREE ...] [--rounds 3] [--floor]
       [--cache-every 10000] [--json F]

Each round, for each tree in turn: the project's ``.suite`` is removed and the CLI runs with
that tree on ``PYTHONPATH`` (compile the trees first). Prints wall, CPU (user + system of the
command and its children from ``wait4``: the forked reader and the threads included) and peak
memory per run, and the medians per tree. The project must be one of your own (its index is
written): for a large pristine project, a directory with its ``.signac/config`` and a
``workspace`` link.

``--floor`` adds a row that takes its turn with the trees: ``bench/readfloor.c`` (compiled
here with ``cc``) lists the workspace and reads every job's state point and document by plain
system calls in the build's order, its thread count and part size (suite's constants): the
kernel's part of the build, which no change in suite removes. Before each run the page cache's
state is printed: of every ``--cache-every``-th job's two files, how many are wholly in the
cache (``fincore``; no cache is dropped, and every run warms the files for the next).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FLOOR = "floor"


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


def build_floor(tmp):
    """The floor's program, compiled into ``tmp``."""
    exe = os.path.join(tmp, "readfloor")
    subprocess.run(["cc", "-O2", "-pthread", "-o", exe, os.path.join(HERE, "readfloor.c")],
                   check=True)
    return exe


def run_floor(project, exe):
    sys.path.insert(0, os.path.dirname(HERE))
    from suite.index import ahead, reading  # the build's thread count and part size

    argv = [exe, os.path.join(project, "workspace"), str(reading.READ_THREADS),
            str(ahead.PART)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"readfloor: exit status {proc.returncode}")
    words = out.split()
    detail = {words[k]: float(words[k + 1]) for k in range(0, len(words), 2)}
    return {"wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime,
            "cpu": ru.ru_utime + ru.ru_stime, "peak_mib": ru.ru_maxrss / 1024,
            "load": os.getloadavg()[0], "detail": detail}


def cache_sample(project, every):
    """``(files wholly cached, files)`` of every ``every``-th job's state point and document
    (the jobs in name order), by ``fincore``; None where it cannot tell."""
    ws = os.path.join(project, "workspace")
    names = sorted(n for n in os.listdir(ws) if len(n) == 32)[::every]
    files = [os.path.join(ws, n, f) for n in names
             for f in ("signac_statepoint.json", "signac_job_document.json")]
    try:
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw", "--output",
                              "RES,SIZE", *files], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return sum(int(res) >= int(size) for res, size in rows), len(files)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("project")
    ap.add_argument("trees", nargs="+")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--floor", action="store_true",
                    help="a floor row: the same files read by plain system calls")
    ap.add_argument("--cache-every", type=int, default=10000)
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = args.trees + ([FLOOR] if args.floor else [])
    out = {t: [] for t in rows}
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_floor(tmp) if args.floor else None
        for r in range(args.rounds):
            order = rows if r % 2 == 0 else rows[::-1]
            for tree in order:
                cached = cache_sample(args.project, args.cache_every)
                m = (run_floor(args.project, exe) if tree == FLOOR
                     else run_once(args.project, tree))
                m["cached"] = cached
                out[tree].append(m)
                print(f"round {r} {tree:30s} wall {m['wall']:8.2f}  cpu {m['cpu']:8.2f} "
                      f"(user {m['user']:.2f} sys {m['sys']:.2f})  peak {m['peak_mib']:.0f} "
                      f"MiB  load {m['load']:.1f}  cached before "
                      f"{'?' if cached is None else '{}/{}'.format(*cached)}", flush=True)
                if "detail" in m:
                    print("    " + "  ".join(f"{k} {v:g}" for k, v in m["detail"].items()),
                          flush=True)
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
