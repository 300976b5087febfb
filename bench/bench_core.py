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
    return time.perf_counter() - t  # (common.timed also returns the result)


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


def _set_docs(p, ids, part):
    for k, i in enumerate(ids[part], start=part.start):
        p.open_job(id=i).doc["x"] = k


ITERATE = {
    "suite": "import suite; p = suite.get_project(); "
             "print(sum(1 for j in p if j.sp()['seed'] >= 0))",
    "signac": "import signac; p = signac.get_project(); "
              "print(sum(1 for j in p if j.statepoint()['seed'] >= 0))",
}


def _projects(root, tools):
    out = {}
    for tool in tools:
        path = os.path.join(root, tool)
        os.makedirs(path)
        if tool == "suite":
            import suite

            out[tool] = suite.init_project(path)
        else:
            import signac

            out[tool] = signac.init_project(path)
    return out


def bench(root, n, tools):
    """``{tool: {row: seconds}}``. The file system's speed drifts over minutes here, so the
    tools take turns: bulk rows alternate in chunks of 1,000 jobs, other rows per row."""
    projects = _projects(root, tools)
    res = {tool: {} for tool in tools}

    def turns(row, fn, chunks=None):
        parts = [None] if chunks is None else chunks
        for k, part in enumerate(parts):
            for tool in (tools if k % 2 == 0 else tools[::-1]):
                dt = timed(lambda: fn(tool, part))
                res[tool][row] = res[tool].get(row, 0.0) + dt

    blocks = [range(i, min(n, i + 1000)) for i in range(0, n, 1000)]
    turns("init", lambda t, r: [projects[t].open_job(sp_of(i)).init() for i in r], blocks)
    outs = {}

    def cli(row, make_args, check=None):
        def one(tool, _):
            dt, outs[tool] = run_cli(make_args(tool), projects[tool].path)
            if check:
                check(outs[tool])
        for tool in (tools if len(res[tools[0]]) % 2 == 0 else tools[::-1]):
            dt = timed(lambda: one(tool, None))
            res[tool][row] = dt

    py = [PY, "-c"]
    cli("iterate sps, fresh process (first call, builds index)",
        lambda t: py + [ITERATE[t]], lambda out: int(out) == n or _fail(out))
    cli("iterate sps, fresh process", lambda t: py + [ITERATE[t]])
    expect = sum(1 for i in range(n) if i % 7 == 3)
    cli("find b.c 3 (CLI, first call)", lambda t: [t, "find", "b.c", "3"])
    cli("find b.c 3 (CLI)", lambda t: [t, "find", "b.c", "3"],
        lambda out: len(out.split()) == expect or _fail(out))
    ids = {t: sorted(j.id for j in projects[t]) for t in tools}
    sample = random.Random(1).sample(ids[tools[0]], min(1000, n))
    turns("open 1,000 jobs by id",
          lambda t, _: [projects[t].open_job(id=i).statepoint() for i in sample])
    id_blocks = [slice(i, i + 1000) for i in range(0, n, 1000)]
    turns("set doc key on every job", lambda t, s: _set_docs(projects[t], ids[t], s),
          id_blocks)
    cli("find doc.x 3 (CLI, first call after docs set)", lambda t: [t, "find", "doc.x", "3"])
    cli("find doc.x 3 (CLI)", lambda t: [t, "find", "doc.x", "3"],
        lambda out: len(out.split()) == 1 or _fail(out))
    # 1% of documents changed behind the tools' backs (as rsync or an editor would)
    changed = random.Random(2).sample(ids[tools[0]], max(1, n // 100))
    for t in tools:
        for job_id in changed:
            fn = os.path.join(projects[t].workspace, job_id, "signac_job_document.json")
            with open(fn, "w") as f:
                json.dump({"x": -1, "changed": True}, f)
    cli("find doc.changed (CLI, first call after 1% changed behind its back)",
        lambda t: [t, "find", "doc.changed", "true"],
        lambda out: len(out.split()) == len(changed) or _fail(out))
    cli("find doc.changed (CLI)", lambda t: [t, "find", "doc.changed", "true"])
    return res


def _fail(out):
    raise AssertionError(f"unexpected output: {out[:300]!r}")


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
            tools = ["suite"] if args.no_signac else ["suite", "signac"]
            both = bench(root, n, tools)
            s, g = both["suite"], both.get("signac", {})
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
