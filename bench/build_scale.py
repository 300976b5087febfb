"""Build a large project once, by plain system calls, for bench_scale.py.

Usage: python bench/build_scale.py DIR N [--start K]

Each job has the state point of ``common.sp_of(i)``, a small document ``{"x": i % 100, "i": i}``
and one small file ``out.txt``, written directly in the signac-2 layout (as another tool or a
restored backup would leave them): the first suite command afterwards builds the index. Jobs
already present are kept, so an interrupted build resumes with ``--start``.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import sp_of  # noqa: E402

from suite import layout  # noqa: E402
from suite.jsonio import write_all  # noqa: E402
from suite.statepoint import canonical  # noqa: E402


def _write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data)  # a short write would leave a truncated job file
    finally:
        os.close(fd)


def build(root, n, start=0):
    os.makedirs(os.path.join(root, layout.CONFIG_DIR), exist_ok=True)
    cfg = os.path.join(root, layout.CONFIG_FILE)
    if not os.path.exists(cfg):
        _write(cfg, f"schema_version = {layout.SCHEMA_VERSION}\n".encode())
    ws = os.path.join(root, layout.WORKSPACE)
    os.makedirs(ws, exist_ok=True)
    t0 = time.perf_counter()
    for i in range(start, n):
        text, job_id = canonical(sp_of(i))
        d = os.path.join(ws, job_id)
        try:
            os.mkdir(d)
        except FileExistsError:
            pass
        _write(os.path.join(d, layout.STATEPOINT), text)
        _write(os.path.join(d, layout.DOCUMENT), json.dumps({"x": i % 100, "i": i}).encode())
        _write(os.path.join(d, "out.txt"), f"{i}\n".encode())
        if i % 50000 == 0:
            print(f"{i:,} jobs, {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"built {n:,} jobs in {time.perf_counter() - t0:.0f} s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("n", type=int)
    ap.add_argument("--start", type=int, default=0)
    args = ap.parse_args()
    build(os.path.abspath(args.dir), args.n, args.start)


if __name__ == "__main__":
    main()
