"""Scale benchmark: the core rows and status at 10k, 100k and a million jobs, quiet and under load.

Usage: python bench/bench_scale.py [-n 10000 100000] [--project DIR ...] [--load] [--repeat 3]
                                   [--rows find iterate status] [--json F]

-n builds projects of that many jobs (by plain system calls, bench/build_scale.py) in a tmp dir;
--project uses prebuilt ones (build a million once: `python bench/build_scale.py /tmp/suite-1m
1000000`). Rows, each a fresh CLI or Python process as a user runs it: the first command after
the build (it builds the index; only timed when the project has no index yet); `suite find b.c
3` (state point key); `suite find doc.x 3` (document key); iterating all state points in a
fresh Python; `suite status` (3 operations, 2 labels, bench_flow's workflow). Columns: wall
time, CPU time (user + system of the process and the children it waited for, from wait4) and
peak memory (max RSS). --load repeats every row while one busy-loop process per core runs
(bounded: each stops itself after 15 min; the script stops them when done), reported beside the
quiet numbers; quiet and loaded runs alternate, the best of --repeat counts.

--venv DIR also runs every row as a user who installed suite with pip runs it: a venv at DIR
(made if missing) into which this checkout is installed, not editable, C modules built
(`pip install --no-deps --force-reinstall .`; a new venv gets the dependencies too), its
console script and its Python, without PYTHONPATH, in turns with this machine's Python
(`--no-this-python`: not). `--venv DIR:CHECKOUT` installs another checkout, so `--venv
/tmp/v-base:/work/wt/x-base /tmp/v` is an A/B in turns as users run it. Each
interpreter's start-up floor is printed as two rows: `python -c pass` and `python -c "import
suite"`, so the reader sees which part of a row is the interpreter's.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench_flow import SUITE_WORKFLOW
from build_scale import build
from common import REPO, add_python_option, suite_python

ITERATE = ("import suite; p = suite.get_project(); "
           "print(sum(1 for j in p if j.sp()['seed'] >= 0))")

# the console script beside this Python, not a version manager's shim (pyenv's adds a bash
# and a second exec to every command)
SUITE = os.path.join(os.path.dirname(sys.executable), "suite")
if not os.path.exists(SUITE):
    SUITE = "suite"
#: the interpreter of suite's processes and the command line of its CLI (--python)
PYTHON, SUITE_ARGV = sys.executable, [SUITE]

BUSY = "import time\nend = time.time() + 900\nwhile time.time() < end:\n    pass\n"


def run(args, cwd, env=None):
    """``(wall s, cpu s, max rss MiB, stdout)`` of one fresh process (and what it waited for);
    a failure is an error, never a time."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(proc.pid, 0)
        dt = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(args)}: exit {proc.returncode}\n"
                               f"{err.read().decode()[-2000:]}")
        return dt, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, out.read().decode()


class Load:
    """One bounded busy-loop process per core while in the ``with`` block."""

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", BUSY])
                      for _ in range(os.cpu_count() or 1)]
        time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait()


class Side:
    """Who runs suite's processes: an interpreter, the command line of the CLI, an
    environment (None: this one)."""

    def __init__(self, label, python, suite_argv, env=None):
        self.label, self.python, self.suite_argv, self.env = label, python, suite_argv, env


def venv_side(spec):
    """The :class:`Side` of a venv at ``spec`` (``DIR`` or ``DIR:CHECKOUT``) holding this
    checkout (or CHECKOUT, e.g. a base worktree for an A/B) installed as a user installs it
    (the venv made, with the dependencies, if missing; the checkout reinstalled)."""
    path, _, checkout = spec.partition(":")
    python = os.path.join(path, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
        deps = []
    else:
        deps = ["--no-deps", "--force-reinstall"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([python, "-m", "pip", "install", "-q", *deps, checkout or REPO], check=True,
                   env=env)
    found = subprocess.run([python, "-c", "import suite; print(suite.__file__)"], env=env,
                           check=True, capture_output=True, text=True, cwd="/").stdout.strip()
    if not found.startswith(os.path.abspath(path)):
        raise SystemExit(f"--venv {path}: suite loads from {found}, not from the venv")
    return Side(f"venv {path}" + (f" ({checkout})" if checkout else ""), python, [os.path.join(path, "bin", "suite")], env)


def rows_for(path, n, side=None):
    """Row name -> (command line, check of its output) for ``side`` (default: this Python)."""
    side = side or Side("this Python", PYTHON, SUITE_ARGV)
    expect_sp = sum(1 for i in range(n) if i % 7 == 3)
    return {
        "python -c pass (the interpreter's start)": ([side.python, "-c", "pass"],
                                                     lambda out: out == ""),
        "python -c 'import suite'": ([side.python, "-c", "import suite"], lambda out: out == ""),
        "find b.c 3 (state point key)": ([*side.suite_argv, "find", "b.c", "3"],
                                         lambda out: len(out.split()) == expect_sp),
        "find doc.x 3 (document key)": ([*side.suite_argv, "find", "doc.x", "3"],
                                        lambda out: len(out.split()) == len(range(3, n, 100))),
        "iterate all state points, fresh process": ([side.python, "-c", ITERATE],
                                                    lambda out: int(out) == n),
        "status (3 operations, 2 labels)": ([*side.suite_argv, "status"],
                                            lambda out: "first" in out),
    }


def bench_project(path, n, repeat, load, only=None, sides=None):
    """Results by side label, then row: the best of ``repeat`` by wall, quiet and (``load``)
    loaded; the sides take turns within each round."""
    sides = sides or [Side("this Python", PYTHON, SUITE_ARGV)]
    with open(os.path.join(path, "workflow.py"), "w") as f:
        f.write(SUITE_WORKFLOW)
    res = {side.label: {} for side in sides}
    if not os.path.exists(os.path.join(path, ".suite", "index.sqlite")):
        os.sync()
        wall, cpu, rss, out = run([*sides[0].suite_argv, "find", "b.c", "3"], path,
                                  sides[0].env)
        res[sides[0].label]["first command (builds the index)"] = {"quiet": [wall, cpu, rss]}
    for row in rows_for(path, n, sides[0]):
        if only and not any(word in row for word in only) and "python -c" not in row:
            continue
        best = {side.label: {} for side in sides}
        for k in range(repeat):
            for side in (sides if k % 2 == 0 else sides[::-1]):
                args, check = rows_for(path, n, side)[row]
                for mode in (("quiet", "load") if k % 2 == 0 else ("load", "quiet")):
                    if mode == "load" and not load:
                        continue
                    if mode == "load":
                        with Load():
                            m = run(args, path, side.env)
                    else:
                        m = run(args, path, side.env)
                    if not check(m[3]):
                        raise AssertionError(f"{row}: unexpected output {m[3][:300]!r}")
                    old = best[side.label].get(mode)
                    best[side.label][mode] = (list(m[:3]) if old is None or m[0] < old[0]
                                              else old)
        for side in sides:
            res[side.label][row] = best[side.label]
    return res


def count_jobs(path):
    return sum(1 for e in os.scandir(os.path.join(path, "workspace")) if len(e.name) == 32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, nargs="*", default=[10000, 100000])
    ap.add_argument("--project", nargs="*", default=[])
    ap.add_argument("--load", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default="bench/results-scale.json")
    ap.add_argument("--rows", nargs="*", default=None,
                    help="only the rows whose names contain one of these words (find, iterate, "
                    "status)")
    ap.add_argument("--venv", metavar="DIR[:CHECKOUT]", nargs="*", default=[],
                    help="also run every row with this checkout (or CHECKOUT) pip-installed "
                    "into a venv at DIR (made if missing), in turns with this machine's Python")
    ap.add_argument("--no-this-python", action="store_true",
                    help="only the --venv sides")
    add_python_option(ap)
    args = ap.parse_args()
    if args.python:
        global PYTHON, SUITE_ARGV
        PYTHON = suite_python(args.python)
        SUITE_ARGV = [PYTHON, "-m", "suite"]
    # an installed suite has compiled modules; without them (PYTHONDONTWRITEBYTECODE, as in
    # the test environment) every command compiled its modules again: 0.1-0.15 s each
    import suite

    subprocess.run([PYTHON, "-m", "compileall", "-q", os.path.dirname(suite.__file__)],
                   check=True, stdout=subprocess.DEVNULL)
    sides = [Side("this Python" if not args.python else f"--python {PYTHON}", PYTHON,
                  SUITE_ARGV)]
    sides += [venv_side(spec) for spec in args.venv]
    if args.no_this_python and args.venv:
        sides = sides[1:]
    results = {}
    projects = [(None, n) for n in args.n] + [(p, None) for p in args.project]
    for path, n in projects:
        root = None
        if path is None:
            root = tempfile.mkdtemp(prefix=f"bench-scale-{n}-")
            path = os.path.join(root, "p")
            build(path, n)
        else:
            n = count_jobs(path)
        try:
            load_before = os.getloadavg()
            res = bench_project(path, n, args.repeat, args.load, args.rows, sides)
            load = [load_before[0], os.getloadavg()[0]]
        finally:
            if root:
                shutil.rmtree(root, ignore_errors=True)
        results[n] = {**res, "load average (1 min) before / after": load}
        print(f"\nN = {n:,} jobs ({path if root is None else 'built in a tmp dir'}); "
              f"load average {load}")
        for label, rows in res.items():
            print(f"\n{label}: {sides[[s.label for s in sides].index(label)].python}")
            print(f"{'row':42s} {'wall s':>8s} {'cpu s':>7s} {'MiB':>6s}   "
                  f"{'loaded wall':>11s} {'cpu s':>7s}")
            for row, m in rows.items():
                q = m["quiet"]
                line = f"{row:42s} {q[0]:8.3f} {q[1]:7.2f} {q[2]:6.0f}"
                if "load" in m:
                    line += f"   {m['load'][0]:11.3f} {m['load'][1]:7.2f}"
                print(line, flush=True)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
