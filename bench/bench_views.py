"""Views and diff benchmark: suite vs signac 2.4.1 side by side.

Usage: python bench/bench_views.py [-n 10000 100000] [--json F]

Rows (each a fresh CLI process, as a user runs them): view creation, re-run with nothing
changed, re-run after adding 1% of jobs; `suite diff` of 10 jobs (by id).
State points: {"a": i, "b": {"c": i % 7, "d": "x" * (i % 5)}, "seed": i % 10}.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

from common import creation_floor, sp_of, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, nargs="+", default=[10000])
    ap.add_argument("--json", default="bench/results-views.json")
    args = ap.parse_args()
    import suite

    results = {}
    for n in args.n:
        root = tempfile.mkdtemp(prefix=f"bench-views-{n}-")
        try:
            p = suite.init_project(os.path.join(root, "p"))
            for i in range(n):
                p.open_job(sp_of(i)).init()
            p.find_jobs().ids()  # warm the index, as any earlier command would
            row = {}
            # a view is one symlink per job: this disk's cost for as many is the floor
            row[f"floor: {n:,} symlinks by plain syscalls"] = creation_floor(root, n, "symlink")
            row["suite view (create)"] = wall(["suite", "view", "sv"], p.path)
            row["suite view (nothing changed)"] = wall(["suite", "view", "sv"], p.path)
            row["signac view (create)"] = wall(["signac", "view", "-p", "gv"], p.path)
            row["signac view (nothing changed)"] = wall(["signac", "view", "-p", "gv"], p.path)
            for i in range(n, n + n // 100):
                p.open_job(sp_of(i)).init()
            row["suite view (+1% jobs)"] = wall(["suite", "view", "sv"], p.path)
            row["signac view (+1% jobs)"] = wall(["signac", "view", "-p", "gv"], p.path)
            ids = p.find_jobs().ids()[:10]
            row["suite diff of 10 jobs"] = wall(["suite", "diff", *ids], p.path)
            results[n] = row
        finally:
            shutil.rmtree(root, ignore_errors=True)
        print(f"\nN = {n:,} jobs")
        for key, t in row.items():
            print(f"{key:36s} {t:8.3f} s")
        sys.stdout.flush()
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
