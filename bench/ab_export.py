"""A/B of the export row in process: two checkouts' ``archive.export_jobs`` to ``.tar.zst``
and ``tar --zstd -cf``, taking turns.

Usage: python bench/ab_export.py BASE_TREE AFTER_TREE [-n 10000] [--rounds 4] [--each 3]
                                 [--json F]

One project of N jobs (as bench_archive.py builds it) is built and indexed once. Each round,
every variant runs in a fresh process (its tree on PYTHONPATH; compile both trees first) that
exports --each times, and tar compresses the workspace --each times. Prints min and median
wall and CPU seconds (user + system of the process and its children, all threads) per
variant, and the medians as a multiple of tar's.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import json, os, sys, time, resource
sys.path.insert(0, {here!r})
from common import timed_cpu
import suite, archive
p = suite.get_project({project!r})
len(list(p))  # the index is fresh before the first timing
out = []
for i in range({each}):
    target = {target!r}
    if os.path.exists(target):
        os.unlink(target)
    w, c, _ = timed_cpu(lambda: archive.export_jobs(p, target))
    out.append((w, c))
print(json.dumps(out))
"""


def run_export(tree, project, target, each):
    env = dict(os.environ, PYTHONPATH=tree)
    code = CHILD.format(here=HERE, project=project, target=target, each=each)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       check=True)
    return json.loads(r.stdout.splitlines()[-1])


def run_tar(project, target, each):
    sys.path.insert(0, HERE)
    from common import timed_cpu

    out = []
    for _ in range(each):
        w, c, _ = timed_cpu(lambda: subprocess.run(["tar", "--zstd", "-cf", target, "workspace"],
                                                   cwd=project, check=True))
        out.append((w, c))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base")
    ap.add_argument("after")
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--each", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    from bench_archive import build

    root = tempfile.mkdtemp(prefix="ab-export-")
    try:
        project = os.path.join(root, "p")
        build(project, args.n)
        times = {"base": [], "after": [], "tar": []}
        loads = []
        for r in range(args.rounds):
            variants = [("base", args.base), ("after", args.after), ("tar", None)]
            for name, tree in variants[r % 3:] + variants[:r % 3]:
                target = os.path.join(root, f"{name}.tar.zst")
                times[name] += (run_tar(project, target, args.each) if tree is None
                                else run_export(tree, project, target, args.each))
            loads.append(os.getloadavg()[0])
        rows = {}
        print(f"{args.n} jobs, {args.rounds} rounds x {args.each}, load {min(loads):.1f}-"
              f"{max(loads):.1f}; seconds, min / median")
        print("| variant | wall | CPU | x tar wall (median) | x tar CPU (median) |")
        print("| --- | --- | --- | --- | --- |")
        med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
               for k, v in times.items()}
        for name, v in times.items():
            walls, cpus = [w for w, _ in v], [c for _, c in v]
            rows[name] = {"wall": walls, "cpu": cpus}
            print(f"| {name} | {min(walls):.3f} / {med[name][0]:.3f} | {min(cpus):.3f} / "
                  f"{med[name][1]:.3f} | {med[name][0] / med['tar'][0]:.2f} | "
                  f"{med[name][1] / med['tar'][1]:.2f} |")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"n": args.n, "loads": loads, "times": rows}, f, indent=1)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
