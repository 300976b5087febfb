"""Archive benchmark: suite export/import vs `tar --zstd` and signac 2.4.1, side by side.

Usage: python bench/bench_archive.py [-n 1000 10000 100000] [--signac-max 10000] [--json F]
                                     [--progress-n 20000]

Each job has 3 small files (state point, document, a data file). Rows: the project index's first
refresh after the build (timed apart from the exports); `tar --zstd -cf` of the workspace; suite
export to .tar.zst; `tar --zstd -xf` and suite import of that archive into an empty project
(taking turns over 2 rounds, the best of each: creating files is what drifts on this disk);
signac export to .tar.gz and signac import of a .tar (signac only up to --signac-max jobs).
Columns: wall and CPU time (this process's threads and the children it waited for), and both as
a multiple of tar's (export of `tar --zstd -cf`, import of `tar --zstd -xf`).
--progress-n: the CLI's export and import on a terminal (a pty read by another process, as a
terminal emulator reads: the progress bar is drawn) against the same commands with output to a
file, in turns (bench/ab_terminal.py does the same for several checkouts and sync).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from common import best_median, in_turns, on_terminal, timed_cpu, to_file


def build(path, n):
    import suite

    p = suite.init_project(path)
    with suite.buffered():
        for i in range(n):
            job = p.open_job({"a": i, "b": {"c": i % 7}, "seed": i % 10}).init()
            job.doc["x"] = i
            with open(job.fn("result.txt"), "w") as f:
                f.write(f"{i} " * 20)
    return p


SUITE = os.path.join(os.path.dirname(sys.executable), "suite")


def progress_rows(n, rounds=5):
    """Export and import of ``n`` jobs by the CLI, on a terminal (a pty read by another
    process: the progress bar is drawn) and with output to a file (no bar), in turns; the
    best and the median of ``rounds`` each, of the command's own CPU and of its wall time."""
    import suite

    root = tempfile.mkdtemp(prefix=f"bench-progress-{n}-")
    try:
        p = build(os.path.join(root, "p"), n)
        len(list(p))  # the index, built once
        arc = os.path.join(root, "a.tar.zst")
        subprocess.run([SUITE, "export", arc, "-q"], cwd=p.path, check=True)
        made = [0]

        def case(what, mode):
            def run():
                made[0] += 1
                out = os.path.join(root, f"exp-{made[0]}.tar.zst")
                q = suite.init_project(os.path.join(root, f"q-{made[0]}"))
                args, cwd = (([SUITE, "export", out], p.path) if what == "export"
                             else ([SUITE, "import", arc], q.path))
                try:
                    if mode == "terminal":
                        return on_terminal(args, cwd)
                    return to_file(args, cwd, os.path.join(root, "log"))
                finally:
                    shutil.rmtree(q.path)
                    if os.path.exists(out):
                        os.unlink(out)
            return run

        runs = in_turns({(what, mode): case(what, mode) for what in ("export", "import")
                         for mode in ("terminal", "file")}, rounds)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    drawn = max(r["bytes"] for what in ("export", "import") for r in runs[(what, "terminal")])
    print(f"\nN = {n:,} jobs, CLI, {rounds} rounds in turns; load average "
          f"{os.getloadavg()[0]:.1f}; at most {drawn:,} bytes drawn on the terminal")
    best = {}
    for what in ("export", "import"):
        t, f = best_median(runs[(what, "terminal")]), best_median(runs[(what, "file")])
        for mode, s in (("terminal", t), ("file", f)):
            best[f"{what} ({mode})"], best[f"{what} ({mode}) cpu"] = s["wall"][0], s["cpu"][0]
        print(f"  {what}: CPU (user+sys) best {t['cpu'][0]:.3f} / {f['cpu'][0]:.3f} s, "
              f"terminal/file {t['cpu'][0] / f['cpu'][0]:.3f}, median "
              f"{t['cpu'][1] / f['cpu'][1]:.3f}; wall best {t['wall'][0]:.3f} / "
              f"{f['wall'][0]:.3f} s, {t['wall'][0] / f['wall'][0]:.3f}, median "
              f"{t['wall'][1] / f['wall'][1]:.3f}")
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, nargs="*", default=[1000, 10000])
    ap.add_argument("--signac-max", type=int, default=10000)
    ap.add_argument("--json", default="bench/results-archive.json")
    ap.add_argument("--progress-n", type=int, default=0,
                    help="also time CLI export/import of that many jobs on a terminal (pty) "
                         "against output to a file")
    args = ap.parse_args()
    import archive
    import suite

    results = {}
    for n in args.n:
        root = tempfile.mkdtemp(prefix=f"bench-archive-{n}-")
        try:
            p = build(os.path.join(root, "p"), n)
            row, cpu = {}, {}

            def both(key, fn):
                """Wall and CPU time of ``fn`` under ``key``, the best wall of the calls."""
                w, c, _ = timed_cpu(fn)
                if w < row.get(key, float("inf")):
                    row[key], cpu[key] = w, c
            # the first query after a bulk build brings the project's index up to date (it
            # reads every state point and document once); any suite command pays it, so it is
            # timed on its own instead of inside the first export
            both("suite index refresh (first query)", lambda: len(list(p)))
            target = os.path.join(root, "suite.tar.zst")
            # the tools take turns over 3 rounds (load from other work varies), best of each
            for round_ in range(3):
                def tar_c():
                    subprocess.run(["tar", "--zstd", "-cf", os.path.join(root, "plain.tar.zst"),
                                    "workspace"], cwd=p.path, check=True)

                def export():
                    if os.path.exists(target):
                        os.unlink(target)
                    archive.export_jobs(p, target)

                for key, fn in (("tar --zstd -cf workspace", tar_c),
                                ("suite export .tar.zst", export))[::1 if round_ % 2 else -1]:
                    both(key, fn)
            # extraction creates every file, and this disk's cost for that drifts (worst
            # after deletions): tar and suite take turns over 2 rounds, the best of each counts
            tar_x, imp = "tar --zstd -xf (extract reference)", "suite import .tar.zst"
            for round_ in range(2):
                def untar():
                    out = os.path.join(root, f"x{round_}")
                    os.makedirs(out)
                    subprocess.run(["tar", "--zstd", "-xf", os.path.join(root, "plain.tar.zst"),
                                    "-C", out], check=True)

                def unpack():
                    q = suite.init_project(os.path.join(root, f"q{round_}"))
                    res = archive.import_jobs(q, target)
                    assert len(res.imported) == n

                for key, fn in ((tar_x, untar), (imp, unpack))[:: 1 if round_ == 0 else -1]:
                    both(key, fn)
            both("suite export .tar.gz",
                 lambda: archive.export_jobs(p, os.path.join(root, "suite.tar.gz")))
            if n <= args.signac_max:
                import signac

                sp = signac.get_project(p.path)
                both("signac export .tar.gz", lambda: sp.export_to(os.path.join(root, "sg.tar.gz")))
                sp.export_to(os.path.join(root, "sg.tar"))
                r = signac.init_project(os.path.join(root, "r"))
                both("signac import .tar", lambda: r.import_from(os.path.join(root, "sg.tar")))
            results[n] = {"wall": row, "cpu": cpu, "load average": os.getloadavg()[0]}
        finally:
            shutil.rmtree(root, ignore_errors=True)
        base, cbase = row["tar --zstd -cf workspace"], cpu["tar --zstd -cf workspace"]
        xbase, xcbase = row[tar_x], cpu[tar_x]
        print(f"\nN = {n:,} jobs (3 small files each); load average {os.getloadavg()[0]:.1f}")
        print(f"{'operation':34s} {'wall s':>8s} {'cpu s':>7s} {'wall x tar':>11s} "
              f"{'cpu x tar':>10s}")
        for key, t in row.items():
            # import is compared with tar's extraction, everything else with tar -cf
            b, cb = (xbase, xcbase) if key == imp else (base, cbase)
            c = cpu.get(key)
            print(f"{key:34s} {t:8.3f} {c if c is not None else float('nan'):7.2f} "
                  f"{t / b:11.2f} {c / cb if c is not None else float('nan'):10.2f}")
        sys.stdout.flush()
    if args.progress_n:
        results["progress"] = progress_rows(args.progress_n)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
