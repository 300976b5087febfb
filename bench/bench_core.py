"""Core benchmark: suite vs signac 2.4.1 side by side on projects of N jobs.

Usage: python bench/bench_core.py [-n 1000 10000 100000] [--json results-core.json] [--no-signac]

State points are {"a": i, "b": {"c": i % 7, "d": "x" * (i % 5)}, "seed": i % 10}. Each row is
timed for both tools in the same run; "fresh process" rows start a new Python (or the CLI), as a
user would. Prints a table with the ratio signac/suite and writes JSON.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

from common import creation_floor, sp_of

PY = sys.executable


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run_py(code, cwd):
    t = time.perf_counter()
    r = subprocess.run([PY, "-c", code], cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode:
        raise RuntimeError(r.stderr)
    return dt, r.stdout


def run_cli(args, cwd):
    t = time.perf_counter()
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode:
        raise RuntimeError(r.stderr)
    return dt, r.stdout


def bench_suite(root, n):
    import suite

    res = {}
    path = os.path.join(root, "suite")
    p = suite.init_project(path)
    res["init"] = timed(lambda: [p.open_job(sp_of(i)).init() for i in range(n)])
    code = "import suite; p = suite.get_project(); print(sum(1 for j in p if j.sp()['seed'] >= 0))"
    res["iterate sps, fresh process (first call, builds index)"], out = run_py(code, path)
    assert int(out) == n
    res["iterate sps, fresh process"], out = run_py(code, path)
    res["find b.c 3 (CLI, first call)"], out = run_cli(["suite", "find", "b.c", "3"], path)
    res["find b.c 3 (CLI)"], out = run_cli(["suite", "find", "b.c", "3"], path)
    expect = sum(1 for i in range(n) if i % 7 == 3)
    assert len(out.split()) == expect, (len(out.split()), expect)
    ids = [j.id for j in p]
    sample = random.Random(1).sample(ids, min(1000, n))
    res["open 1,000 jobs by id"] = timed(lambda: [p.open_job(id=i).sp() for i in sample])
    res["set doc key on every job"] = timed(lambda: _set_docs(p, ids))
    res["find doc.x 3 (CLI, first call after docs set)"], out = run_cli(
        ["suite", "find", "doc.x", "3"], path)
    res["find doc.x 3 (CLI)"], out = run_cli(["suite", "find", "doc.x", "3"], path)
    assert len(out.split()) == 1, out
    # 1% of documents changed behind suite's back (as rsync or an editor would)
    for job_id in random.Random(2).sample(ids, max(1, n // 100)):
        fn = os.path.join(p.workspace, job_id, "signac_job_document.json")
        with open(fn, "w") as f:
            json.dump({"x": -1, "changed": True}, f)
    res["find doc.changed (CLI, first call after 1% changed behind its back)"], out = run_cli(
        ["suite", "find", "doc.changed", "true"], path)
    assert len(out.split()) == max(1, n // 100)
    res["find doc.changed (CLI)"], out = run_cli(["suite", "find", "doc.changed", "true"], path)
    return res


def _set_docs(p, ids):
    for k, i in enumerate(ids):
        p.open_job(id=i).doc["x"] = k


def bench_signac(root, n):
    import signac

    res = {}
    path = os.path.join(root, "signac")
    os.makedirs(path)
    p = signac.init_project(path)
    res["init"] = timed(lambda: [p.open_job(sp_of(i)).init() for i in range(n)])
    code = ("import signac; p = signac.get_project(); "
            "print(sum(1 for j in p if j.statepoint()['seed'] >= 0))")
    res["iterate sps, fresh process (first call, builds index)"], _ = run_py(code, path)
    res["iterate sps, fresh process"], _ = run_py(code, path)
    res["find b.c 3 (CLI, first call)"], _ = run_cli(["signac", "find", "b.c", "3"], path)
    res["find b.c 3 (CLI)"], _ = run_cli(["signac", "find", "b.c", "3"], path)
    ids = [j.id for j in p]
    sample = random.Random(1).sample(ids, min(1000, n))
    res["open 1,000 jobs by id"] = timed(lambda: [p.open_job(id=i).statepoint() for i in sample])
    res["set doc key on every job"] = timed(lambda: _set_docs(p, ids))
    res["find doc.x 3 (CLI, first call after docs set)"], _ = run_cli(
        ["signac", "find", "doc.x", "3"], path)
    res["find doc.x 3 (CLI)"], _ = run_cli(["signac", "find", "doc.x", "3"], path)
    for job_id in random.Random(2).sample(ids, max(1, n // 100)):
        fn = os.path.join(p.workspace, job_id, "signac_job_document.json")
        with open(fn, "w") as f:
            json.dump({"x": -1, "changed": True}, f)
    res["find doc.changed (CLI, first call after 1% changed behind its back)"], _ = run_cli(
        ["signac", "find", "doc.changed", "true"], path)
    res["find doc.changed (CLI)"], _ = run_cli(["signac", "find", "doc.changed", "true"], path)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--json", default="bench/results-core.json")
    ap.add_argument("--no-signac", action="store_true")
    ap.add_argument("--tmp", default=None, help="directory for the projects (default: a tmp dir)")
    args = ap.parse_args()
    results = {}
    for n in args.n:
        root = tempfile.mkdtemp(prefix=f"bench-core-{n}-", dir=args.tmp)
        try:
            s = bench_suite(root, n)
            g = {} if args.no_signac else bench_signac(root, n)
            # init makes a directory and a state point file per job: the disk's floor for that
            floor = creation_floor(root, n, "job")
        finally:
            shutil.rmtree(root, ignore_errors=True)
        results[n] = {"suite": s, "signac": g}
        print(f"\nN = {n:,} jobs")
        print(f"{'operation':72s} {'signac s':>10s} {'suite s':>10s} {'ratio':>8s}")
        for key, t in s.items():
            o = g.get(key)
            ratio = f"{o / t:8.1f}" if o else "       -"
            print(f"{key:72s} {o if o is not None else float('nan'):10.3f} {t:10.3f} {ratio}")
        print(f"{f'floor: {n:,} directories with one file each, by plain syscalls':72s} "
              f"{'':10s} {floor:10.3f}")
        results[n]["floor: init"] = floor
        sys.stdout.flush()
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
