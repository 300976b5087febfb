"""A/B of suite's native modules against their pure-Python references on bench_scale's rows.

Usage: python bench/bench_native.py PROJECT [--rounds 5] [--load] [--rows find status]
                                    [--side LABEL[:NAME=VALUE,...] ...] [--json F]

Each round runs every row once per side, by default "native" and "pure"
(``SUITE_PURE_PYTHON=1``), the order of the sides reversed from round to round, each a fresh
process as a user runs it, quiet and (with --load) again while one busy loop per core runs.
``--side`` defines other sides by their environment (e.g. a switch a change under test reads,
or PYTHONPATH=another checkout); ``project=DIR`` among them runs that side in a copy of the
project (sides whose index caches differ would otherwise rebuild each other's).
Prints min / median of wall and CPU time (user + system of the process and its children, from
wait4) per row and side; writes JSON.
PROJECT: one built by bench/build_scale.py whose index exists (run any `suite find` once).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

from bench_flow import SUITE_WORKFLOW
from bench_scale import Load, count_jobs, rows_for, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_side(spec):
    """``"label:A=1,B=2"`` -> ``("label", {"A": "1", "B": "2"})``"""
    label, _, assignments = spec.partition(":")
    return label, dict(a.split("=", 1) for a in assignments.split(",") if a)


def side_env(extra):
    extra = {k: v for k, v in extra.items() if k != "project"}
    env = dict(os.environ)
    env.pop("SUITE_PURE_PYTHON", None)
    # the suite of this checkout in every process (the console script imports whatever
    # PYTHONPATH finds first)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def measure(path, rows, rounds, load, sides):
    """``{row: {"native quiet": [(wall, cpu)...], "pure quiet": ..., ...}}``"""
    out = {row: {} for row in rows}
    modes = ["quiet"] + (["load"] if load else [])
    saved = dict(os.environ)
    for k in range(rounds):
        order = list(sides.items()) if k % 2 == 0 else list(sides.items())[::-1]
        for row, (args, check) in rows.items():
            for mode in modes:
                for side, extra in order:
                    os.environ.clear()
                    os.environ.update(side_env(extra))
                    where = extra.get("project", path)
                    try:
                        if mode == "load":
                            with Load():
                                m = run(args, where)
                        else:
                            m = run(args, where)
                    finally:
                        os.environ.clear()
                        os.environ.update(saved)
                    if not check(m[3]):
                        raise AssertionError(f"{row} ({side}): unexpected output {m[3][:300]!r}")
                    out[row].setdefault(f"{side} {mode}", []).append(m[:2])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--load", action="store_true")
    ap.add_argument("--rows", nargs="*", default=None,
                    help="only the rows whose names contain one of these words")
    ap.add_argument("--side", nargs="*", default=["native", "pure:SUITE_PURE_PYTHON=1"],
                    help="LABEL[:NAME=VALUE,...]: the sides compared and their environments")
    ap.add_argument("--json", default="bench/results-native.json")
    args = ap.parse_args()
    sides = dict(parse_side(s) for s in args.side)
    # an installed suite has compiled modules (PYTHONDONTWRITEBYTECODE may be set here)
    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    *(os.path.join(ROOT, d) for d in ("suite", "sync", "archive", "schedulers"))],
                   check=True, stdout=subprocess.DEVNULL)
    path = os.path.abspath(args.project)
    with open(os.path.join(path, "workflow.py"), "w") as f:
        f.write(SUITE_WORKFLOW)
    rows = {row: spec for row, spec in rows_for(path, count_jobs(path)).items()
            if not args.rows or any(word in row for word in args.rows)}
    before = os.getloadavg()[0]
    res = measure(path, rows, args.rounds, args.load, sides)
    print(f"\n{path}: {count_jobs(path):,} jobs, {args.rounds} rounds, load average "
          f"{before:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"{'row':42s} {'side':14s} {'wall min/med':>15s} {'cpu min/med':>15s}")
    for row, sides in res.items():
        for side, ms in sides.items():
            walls, cpus = [m[0] for m in ms], [m[1] for m in ms]
            print(f"{row:42s} {side:14s} {min(walls):7.3f}/{statistics.median(walls):<7.3f} "
                  f"{min(cpus):7.3f}/{statistics.median(cpus):<7.3f}", flush=True)
    with open(args.json, "w") as f:
        json.dump(res, f, indent=2)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
