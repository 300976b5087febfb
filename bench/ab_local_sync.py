"""A/B of the local sync rows: two checkouts' CLIs and rsync -a, taking turns.

Usage: python bench/ab_local_sync.py BASE_TREE AFTER_TREE [-n 10000] [--rounds 5]
                                     [--force-idle] [--json F]

One source project of N jobs (3 small files each) is built and indexed once; each round, every variant
makes a first sync into a fresh destination (`suite sync DST --init -q`), then a sync with
nothing to do, against `rsync -a --delete` of the workspace twice; then 1 % of the source's
jobs get a document key and a new 1 MiB file (as bench_sync.py's row) and every variant syncs
again, in the same order ("1%"). Each CLI runs with its
tree on PYTHONPATH (compile both trees first: `python -m compileall -q suite sync archive
schedulers`). --force-idle makes `suite.native.idle_core` answer True in the CLIs (the
second-thread paths on whatever the load: to measure them on a busy machine). Prints min and
median wall and CPU seconds (user + sys of the command and its children) per variant and row.
SUITE_PURE_PYTHON=1 in the environment turns the native modules off in both trees.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def cli(tree, force_idle):
    code = "import suite.native as n; n.idle_core = lambda: True; " if force_idle else ""
    return [sys.executable, "-c", code + "import sys; from suite.cli import main; "
            "sys.argv[0] = 'suite'; main()"], dict(os.environ, PYTHONPATH=tree)


def timed(argv, env=None, cwd=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base")
    ap.add_argument("after")
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--force-idle", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    from bench_archive import build

    root = tempfile.mkdtemp(prefix="ab-local-sync-")
    try:
        project = build(f"{root}/src", args.n)
        len(list(project))  # the source's index, built once (as in a project in use)
        src = project.path
        variants = {"base": cli(args.base, args.force_idle),
                    "after": cli(args.after, args.force_idle), "rsync": None}
        times = {(v, row): [] for v in variants for row in ("first", "noop", "1%")}
        ids = sorted(job.id for job in project)
        loads = []
        for round_ in range(args.rounds):
            order = list(variants) if round_ % 2 == 0 else list(variants)[::-1]
            for name in order:
                dst = f"{root}/dst-{name}-{round_}"
                loads.append(os.getloadavg()[0])
                if name == "rsync":
                    os.makedirs(dst)
                    for row in ("first", "noop"):
                        times[name, row].append(timed(["rsync", "-a", "--delete",
                                                       f"{src}/workspace/", f"{dst}/workspace/"]))
                else:
                    argv, env = variants[name]
                    for row in ("first", "noop"):
                        times[name, row].append(timed([*argv, "sync", dst, "--init", "-q"],
                                                      env, cwd=src))
            chosen = ids[round_::100]
            for k, job_id in enumerate(chosen):
                job = project.open_job(id=job_id)
                job.doc["changed_here"] = [round_, k]
                with open(job.fn(f"ab{round_}.bin"), "wb") as f:
                    f.write(os.urandom(1 << 20))
            for name in order:
                dst = f"{root}/dst-{name}-{round_}"
                if name == "rsync":
                    times[name, "1%"].append(timed(["rsync", "-a", "--delete",
                                                    f"{src}/workspace/", f"{dst}/workspace/"]))
                else:
                    argv, env = variants[name]
                    times[name, "1%"].append(timed([*argv, "sync", dst, "-q"], env, cwd=src))
                shutil.rmtree(dst)
            for job_id in chosen:
                os.unlink(project.open_job(id=job_id).fn(f"ab{round_}.bin"))
        print(f"N = {args.n:,}, {args.rounds} rounds taking turns, load average "
              f"{min(loads):.1f}-{max(loads):.1f}{', idle_core forced' if args.force_idle else ''}")
        print(f"{'variant':8} {'row':6} {'wall min':>9} {'wall med':>9} {'CPU min':>8} {'CPU med':>8}")
        out = {}
        for (name, row), runs in times.items():
            walls, cpus = [w for w, _ in runs], [c for _, c in runs]
            out[f"{name}/{row}"] = {"wall": walls, "cpu": cpus}
            print(f"{name:8} {row:6} {min(walls):9.3f} {statistics.median(walls):9.3f} "
                  f"{min(cpus):8.3f} {statistics.median(cpus):8.3f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"n": args.n, "loads": loads, "runs": out}, f, indent=1)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
