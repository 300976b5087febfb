"""A project's own ``suite submit -n K --hold`` on the tests' real single-node SLURM, beside
the floor: the same number of bare ``sbatch --hold`` calls from a shell loop.

Usage: python bench/bench_submit.py [-n 10000] [--submit 1000] [--repeat 2]
[--other CHECKOUT] [--json F]

Rows (wall seconds, best of the repeats, each a fresh ``suite`` process):
* ``submit -n K --hold``: K scripts rendered, K ``sbatch`` calls, K book records;
* ``submit -n K --pretend``: the scripts rendered and printed, nothing submitted;
* ``K x sbatch --hold`` (shell loop): what the scheduler alone costs.
``--other`` times another checkout's code on the same project in the same run, alternating
with this one (before/after comparisons on a machine whose load drifts). Jobs are cancelled
and the book removed after each row.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.bench_remote import WORKFLOW, _cancel_all, _slurm  # noqa: E402
from bench.common import wall  # noqa: E402


def _forget(path):
    for name in ("submissions.json", "submissions.journal"):
        try:
            os.remove(os.path.join(path, ".suite", "flow", name))
        except FileNotFoundError:
            pass


def _sbatch_floor(path, k, env):
    script = os.path.join(path, "floor.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n#SBATCH --job-name=floor\ntrue\n")
    loop = f"for i in $(seq {k}); do sbatch --parsable --hold {script} >/dev/null || exit 1; done"
    return wall(["sh", "-c", loop], path, env=env)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--submit", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--other", help="another checkout to time beside this one")
    ap.add_argument("--json")
    args = ap.parse_args()
    import suite

    root = tempfile.mkdtemp(prefix="bench-submit-")
    gen, conf = _slurm(root)
    try:
        path = os.path.join(root, "proj")
        project = suite.init_project(path)
        with open(os.path.join(path, "workflow.py"), "w") as f:
            f.write(WORKFLOW)
        with suite.buffered():
            for i in range(args.n):
                project.open_job({"i": i, "group": i % 10}).init()
        base = {**os.environ, "SLURM_CONF": conf, "SUITE_SCHEDULER": "slurm"}
        checkouts = {"this": REPO, **({"other": args.other} if args.other else {})}
        envs = {name: {**base, "PYTHONPATH": where} for name, where in checkouts.items()}
        suite_cmd = [sys.executable, "-m", "suite"]
        wall([*suite_cmd, "status"], path, env=envs["this"])  # the index, built once
        k = str(args.submit)
        rows = {}
        for _ in range(args.repeat):
            for name, env in envs.items():
                for mode in ("--hold", "--pretend"):
                    t = wall([*suite_cmd, "submit", "-o", "simulate", "-n", k, mode], path,
                             env=env)
                    key = f"{name}: submit -n {k} {mode}"
                    rows[key] = min(rows.get(key, t), t)
                    _cancel_all(base)
                    _forget(path)
            t = _sbatch_floor(path, args.submit, base)
            rows[f"{k} x sbatch --hold (shell loop)"] = min(
                rows.get(f"{k} x sbatch --hold (shell loop)", t), t)
            _cancel_all(base)
        load = os.getloadavg()
        for key, t in rows.items():
            print(f"{key:45s} {t:8.2f}")
        print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"n": args.n, "submit": args.submit, "rows": rows,
                           "load": load}, f, indent=1)
    finally:
        next(gen, None)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
