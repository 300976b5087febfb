"""What indexing costs around a first sync: the far side's CPU, this side's, and the first
command after it on the receiving side.

Usage: PYTHONPATH=CHECKOUT python bench/bench_sync_index.py [-n 10000] [--repeat 3]

Rows (each the best of --repeat rounds, fresh projects each round, under TMPDIR):
* push: a first push over the local transport (a pipe to `suite _sync-server`: the whole
  protocol without SSH); wall and CPU of this side, CPU of the far side (its rusage once it is
  reaped: it indexes the jobs it landed before the sync returns), then `suite find doc.x 5`
  there in a fresh process (wall, CPU);
* pull: a first pull over the local transport; this side's wall and CPU (indexing here is on
  the clock), then the first find here;
* local: a first sync to a local path (both replicas in this process), then the first find
  there.
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from bench_archive import build  # noqa: E402


def children_cpu():
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def self_cpu():
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def reap():
    """Wait for the threads that reap the far side (it ends after this side returns)."""
    for t in threading.enumerate():
        if t is not threading.main_thread():
            t.join()


def first_find(path):
    c, t = children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "suite", "find", "doc.x", "5"], cwd=path,
                   check=True, capture_output=True)
    return time.perf_counter() - t, children_cpu() - c


def one_round(root, src_path, kind):
    import suite
    import sync

    dst = os.path.join(root, f"dst-{kind}")
    shutil.rmtree(dst, ignore_errors=True)
    if kind == "pull":
        here, there = suite.init_project(dst), src_path
        options = {"pull": True, "ssh": "local"}
    else:
        here, there = suite.Project(src_path), dst
        options = {"push": True, "init": True}
        if kind == "push":
            options["ssh"] = "local"
    c0, k0, t = self_cpu(), children_cpu(), time.perf_counter()
    result = sync.sync(here, there, **options)
    wall, mine = time.perf_counter() - t, self_cpu() - c0
    assert result.exit_status == 0, result.format()
    reap()
    far = children_cpu() - k0
    find_wall, find_cpu = first_find(dst)
    shutil.rmtree(dst)
    return {"sync wall": wall, "sync CPU here": mine, "far CPU": far,
            "first find wall": find_wall, "first find CPU": find_cpu}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="syncidx-")
    try:
        src = build(os.path.join(root, "src"), args.n).path
        for kind in ("push", "pull", "local"):
            rounds = [one_round(root, src, kind) for _ in range(args.repeat)]
            best = {k: min(r[k] for r in rounds) for k in rounds[0]}
            cells = "  ".join(f"{k} {v:.2f}" for k, v in best.items()
                              if kind == "push" or k != "far CPU")
            print(f"{kind:6} n={args.n}: {cells}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
