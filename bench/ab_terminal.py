"""Terminal against file, in turns across checkouts: suite's export, import and local sync.

Usage: python bench/ab_terminal.py [-n 20000] [--rounds 5] [--tree base=/work/wt/x-base ...]
                                   [--only export import sync] [--json F]

Issue 18's bar: a terminal run of export, import or sync of 20,000 jobs within 5 % of the same
run with output to a file. Each command runs as a user runs it (the console script, a fresh
process) on a pty read by another process as a terminal emulator reads
(bench/common.py, on_terminal), and with stdout and stderr to a file. Every (checkout, command,
terminal or file) runs once a round, the order reversed every other round; the table gives,
for each, the best and the median of the rounds of the command's own CPU (user + system, from
wait4: the reader's is not in it) and of its wall time, and the terminal/file ratios of those.
Then one more terminal run of each under ``strace -f -y -e trace=write,writev``: how many
writes the command made to the terminal; and the bytes and redraws a second the terminal saw.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from bench_archive import SUITE, build
from common import REPO, best_median, in_turns, on_terminal, to_file


def command_cases(root, trees, only):
    """name -> function, for each checkout, command and output; a function makes what its
    command needs (a fresh project, a fresh target) before it starts the clock."""
    import suite

    src = build(os.path.join(root, "src"), ARGS.n)
    len(list(src))  # the index, built once (as in a project in use)
    arc = os.path.join(root, "a.tar.zst")
    subprocess.run([SUITE, "export", arc, "-q"], cwd=src.path, check=True)
    count = [0]

    def fresh(kind):
        count[0] += 1
        path = os.path.join(root, f"{kind}-{count[0]}")
        return path

    def case(tree, what, mode, prefix=()):
        env = {**os.environ, "PYTHONPATH": tree}

        def run():
            if what == "export":
                target = fresh("out") + ".tar.zst"
                args, cwd, made = [SUITE, "export", target], src.path, target
            elif what == "import":
                dst = suite.init_project(fresh("imp")).path
                args, cwd, made = [SUITE, "import", arc], dst, dst
            else:
                dst = suite.init_project(fresh("sync")).path
                args, cwd, made = [SUITE, "sync", dst], src.path, dst
            args = [*prefix, *args]
            try:
                if mode == "terminal":
                    return on_terminal(args, cwd, env)
                return to_file(args, cwd, os.path.join(root, "log"), env)
            finally:
                if os.path.isdir(made):
                    shutil.rmtree(made)
                elif os.path.exists(made):
                    os.unlink(made)
        return run

    cases = {}
    for name, tree in trees:
        for what in only:
            for mode in ("terminal", "file"):
                cases[(name, what, mode)] = case(tree, what, mode)
    return cases, case


def traced(case, tree, what, root):
    """``(terminal run, writes)``: the writes to the terminal by the command and its
    children, from one run on a terminal under strace (``-y`` names each fd's file)."""
    log = os.path.join(root, "strace.log")
    out = case(tree, what, "terminal",
               ["strace", "-f", "-qq", "-y", "-e", "trace=write,writev", "-o", log])()
    with open(log) as f:
        writes = sum(1 for line in f if re.search(r"writev?\(\d+</dev/pts/\d+>", line))
    os.unlink(log)
    return out, writes


ARGS = None


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tree", action="append", default=[], metavar="NAME=PATH",
                    help="a checkout to run (repeatable); default: this one")
    ap.add_argument("--only", nargs="*", default=["export", "import", "sync"],
                    choices=["export", "import", "sync"])
    ap.add_argument("--no-strace", action="store_true")
    ap.add_argument("--json", default="bench/results-terminal.json")
    ARGS = args = ap.parse_args()
    trees = [tuple(t.split("=", 1)) for t in args.tree] or [("this", REPO)]
    root = tempfile.mkdtemp(prefix="bench-terminal-")
    loads = [os.getloadavg()[0]]
    try:
        cases, case = command_cases(root, trees, args.only)
        runs = in_turns(cases, args.rounds)
        loads.append(os.getloadavg()[0])
        writes = {}
        if not args.no_strace and shutil.which("strace"):
            for name, tree in trees:
                for what in args.only:
                    writes[(name, what)] = traced(case, tree, what, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nN = {args.n:,} jobs, on {os.environ.get('TMPDIR', '/tmp')}; {args.rounds} rounds "
          f"in turns; load average {min(loads):.1f}-{max(loads):.1f}")
    print(f"{'checkout':10s} {'command':7s} {'cpu term/file best':>22s} {'median':>22s} "
          f"{'wall term/file best':>22s} {'median':>22s}  writes bytes redraws/s")
    results = {"n": args.n, "rounds": args.rounds, "load": loads, "rows": []}
    for name, _ in trees:
        for what in args.only:
            t = best_median(runs[(name, what, "terminal")])
            f = best_median(runs[(name, what, "file")])
            cells = []
            for key in ("cpu", "wall"):
                for i in (0, 1):
                    cells.append(f"{t[key][i]:.3f}/{f[key][i]:.3f} {t[key][i] / f[key][i]:.3f}")
            term = runs[(name, what, "terminal")][-1]
            w = writes.get((name, what))
            extra = (f"{w[1] if w else '':>6} {term['bytes']:5d} "
                     f"{term['redraws'] / term['wall']:5.1f}")
            print(f"{name:10s} {what:7s} " + " ".join(f"{c:>22s}" for c in cells) + "  " + extra)
            results["rows"].append({"checkout": name, "command": what, "terminal": t, "file": f,
                                    "terminal runs": runs[(name, what, "terminal")],
                                    "file runs": runs[(name, what, "file")],
                                    "writes to the terminal": w[1] if w else None})
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
