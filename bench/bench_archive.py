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
--progress-n: the CLI's export and import on a terminal (a pty: the progress bar is drawn)
against the same commands with output to a file.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from common import timed_cpu


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


def on_terminal(args, cwd):
    """``(wall s, user CPU s, bytes drawn)`` of a command whose stdout and stderr are a
    terminal (a pty, read as fast as it writes, as a terminal emulator does). User time only:
    the system time of creating 20,000 jobs' files swung 3x between identical runs here."""
    import pty
    import time

    t = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.execv(args[0], args)
    out = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out.append(chunk)
    _, status, ru = os.wait4(pid, 0)
    os.close(fd)
    if status:
        raise RuntimeError(f"{' '.join(args)}: status {status}\n{b''.join(out)[-2000:]!r}")
    return time.perf_counter() - t, ru.ru_utime, sum(map(len, out))


def to_file(args, cwd, path):
    """``(wall s, user CPU s)`` of a command whose stdout and stderr go to a file."""
    import time

    t = time.perf_counter()
    with open(path, "wb") as f:
        proc = subprocess.Popen(args, cwd=cwd, stdout=f, stderr=f)
        _, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args)}: exit {proc.returncode}")
    return time.perf_counter() - t, ru.ru_utime


def progress_rows(n, rounds=4):
    """Export and import of ``n`` jobs by the CLI, on a terminal (progress bar drawn) and
    with output to a file (no bar), taking turns; the best of ``rounds`` each."""
    import suite

    root = tempfile.mkdtemp(prefix=f"bench-progress-{n}-")
    best = {}
    try:
        p = build(os.path.join(root, "p"), n)
        len(list(p))  # the index, built once
        arc = os.path.join(root, "a.tar.zst")
        subprocess.run([SUITE, "export", arc, "-q"], cwd=p.path, check=True)
        drawn = 0
        for k in range(rounds):
            for mode in (("terminal", "file") if k % 2 == 0 else ("file", "terminal")):
                out = os.path.join(root, f"exp-{k}-{mode}.tar.zst")
                q = suite.init_project(os.path.join(root, f"q-{k}-{mode}"))
                log = os.path.join(root, "log")
                for what, args, cwd in (("export", [SUITE, "export", out], p.path),
                                        ("import", [SUITE, "import", arc], q.path)):
                    if mode == "terminal":
                        t, c, nbytes = on_terminal(args, cwd)
                        drawn = max(drawn, nbytes)
                    else:
                        t, c = to_file(args, cwd, log)
                    key = f"{what} ({mode})"
                    best[key] = min(best.get(key, float("inf")), t)
                    best[key + " cpu"] = min(best.get(key + " cpu", float("inf")), c)
                shutil.rmtree(q.path)
                os.unlink(out)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nN = {n:,} jobs, CLI, best of {rounds} alternating rounds; "
          f"load average {os.getloadavg()[0]:.1f}; at most {drawn:,} bytes drawn on the terminal")
    for what in ("export", "import"):
        term, file = best[f"{what} (terminal)"], best[f"{what} (file)"]
        cterm, cfile = best[f"{what} (terminal) cpu"], best[f"{what} (file) cpu"]
        print(f"  {what}: terminal {term:.3f} s, file {file:.3f} s, terminal/file {term / file:.3f}"
              f"; user CPU {cterm:.2f} / {cfile:.2f} s, terminal/file {cterm / cfile:.3f}")
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
