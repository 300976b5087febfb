"""What a query costs right after one document was edited, on a large project.

Usage: PYTHONPATH=CHECKOUT python bench/bench_edit.py DIR [--rounds 15]

DIR is a project built by bench/build_scale.py (100,000 jobs for the issue-16/18 rows). One
process: the index is brought up to date, then each round sets ``job.doc.x`` of one job and
times ``find doc.x VALUE`` (which checks every document's stat, re-reads the edited one and
replaces its key rows) against the find of the previous round's value (also one job) with no
edit before it. Median of the rounds,
wall and CPU of this process; the difference is what the edit's update costs.
"""

import argparse
import os
import resource
import statistics
import sys
import time


def cpu():
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # the forked stat helper
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn):
    c, t = cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - t, cpu() - c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    import suite

    project = suite.get_project(os.path.abspath(args.dir))
    ids = project.find_jobs().ids()
    project.find_jobs({"doc.x": 1}).ids()
    plain, edited = [], []
    project.open_job(id=ids[0]).doc.x = 1000
    project.find_jobs({"doc.x": 1000}).ids()
    for k in range(1, args.rounds + 1):
        # the same answer (one job) both times: only the edit's update differs
        plain.append(timed(lambda k=k: project.find_jobs({"doc.x": 1000 + k - 1}).ids()))
        job = project.open_job(id=ids[k * 7919 % len(ids)])
        job.doc.x = 1000 + k
        edited.append(timed(lambda k=k: project.find_jobs({"doc.x": 1000 + k}).ids()))
    for label, rows in (("find, nothing edited", plain), ("find after one edit", edited)):
        print(f"{label:22} n={len(ids)}: wall {statistics.median(r[0] for r in rows):.3f} s"
              f"  CPU {statistics.median(r[1] for r in rows):.3f} s", file=sys.stdout)


if __name__ == "__main__":
    main()
