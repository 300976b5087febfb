"""Archive benchmark: suite export/import vs `tar --zstd` and signac 2.4.1, side by side.

Usage: python bench/bench_archive.py [-n 1000 10000 100000] [--signac-max 10000] [--json F]

Each job has 3 small files (state point, document, a data file). Rows: the project index's first
refresh after the build (timed apart from the exports); `tar --zstd -cf` of the workspace; suite
export to .tar.zst; `tar --zstd -xf` and suite import of that archive into an empty project
(taking turns over 2 rounds, the best of each: creating files is what drifts on this disk);
signac export to .tar.gz and signac import of a .tar (signac only up to --signac-max jobs).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from common import timed


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--signac-max", type=int, default=10000)
    ap.add_argument("--json", default="bench/results-archive.json")
    args = ap.parse_args()
    import archive
    import suite

    results = {}
    for n in args.n:
        root = tempfile.mkdtemp(prefix=f"bench-archive-{n}-")
        try:
            p = build(os.path.join(root, "p"), n)
            row = {}
            # the first query after a bulk build brings the project's index up to date (it
            # reads every state point and document once); any suite command pays it, so it is
            # timed on its own instead of inside the first export
            row["suite index refresh (first query)"], _ = timed(lambda: len(list(p)))
            row["tar --zstd -cf workspace"], _ = timed(lambda: subprocess.run(
                ["tar", "--zstd", "-cf", os.path.join(root, "plain.tar.zst"), "workspace"],
                cwd=p.path, check=True))
            target = os.path.join(root, "suite.tar.zst")
            row["suite export .tar.zst"], _ = timed(lambda: archive.export_jobs(p, target))
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
                    row[key] = min(row.get(key, float("inf")), timed(fn)[0])
            row["suite export .tar.gz"], _ = timed(
                lambda: archive.export_jobs(p, os.path.join(root, "suite.tar.gz")))
            if n <= args.signac_max:
                import signac

                sp = signac.get_project(p.path)
                row["signac export .tar.gz"], _ = timed(
                    lambda: sp.export_to(os.path.join(root, "sg.tar.gz")))
                sp.export_to(os.path.join(root, "sg.tar"))
                r = signac.init_project(os.path.join(root, "r"))
                row["signac import .tar"], _ = timed(
                    lambda: r.import_from(os.path.join(root, "sg.tar")))
            results[n] = row
        finally:
            shutil.rmtree(root, ignore_errors=True)
        base = row["tar --zstd -cf workspace"]
        print(f"\nN = {n:,} jobs (3 small files each)")
        print(f"{'operation':34s} {'seconds':>9s} {'x tar --zstd':>13s}")
        for key, t in row.items():
            print(f"{key:34s} {t:9.3f} {t / base:13.2f}")
        sys.stdout.flush()
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
