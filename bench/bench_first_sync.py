"""The first sync of two equal copies of a project (no records: every file hashed on both
sides), checkouts in turns: wall, CPU and peak memory of this side and of the far side.

Usage: python bench/bench_first_sync.py PROJECT --work DIR [--side LABEL:CHECKOUT ...]
       [--rounds N] [--json FILE] [--checksum] [--in-process] [--resume]

PROJECT is never written: each run makes two copies under DIR (``cp -al`` of its workspace:
suite replaces files by rename; its .signac and .suite copied, without identity or records),
syncs them by the CLI through a pipe to a far process (``--ssh local``: the same client and
server as over SSH, without the cipher), and deletes them. Each side (default: this checkout)
runs on its own code (PYTHONPATH); the sides take turns, round by round. This side's CPU and
peak come from ``wait4``, the far side's from GNU time around its server (its index refresh
after the client included, as a user's far side does it). ``--in-process``: the far copy
given as a plain path (both projects in the one process: the far columns are 0).
``--resume``: a first sync is killed half-way first (SIGKILL after a save, not measured), as
a power cut would; the sync measured is its rerun (this side holds a record, the far side
none).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import fresh_replica  # noqa: E402


def _copy(project, to):
    os.makedirs(to)
    subprocess.run(["cp", "-al", os.path.join(project, "workspace"),
                    os.path.join(to, "workspace")], check=True)
    for name in (".signac", ".suite"):
        if os.path.isdir(os.path.join(project, name)):
            shutil.copytree(os.path.join(project, name), os.path.join(to, name))
    fresh_replica(to)  # a copy is another replica: its own identity, no records


def _far_lines(log):
    try:
        with open(log) as f:  # time's own lines ("Command exited ...") left out
            return [ln.split() for ln in f if ln.split()[:1] and ln.split()[0][0].isdigit()]
    except FileNotFoundError:
        return []


#: a first sync SIGKILLed once it has decided half the jobs, just after saving its record
KILLED = """
import os, sys
import suite, sync
from sync.engine import Sync
half, decide = int(sys.argv[3]), Sync._decide
def killed(self, ids, steady, base, record, lid, rid, *rest):
    done = decide(self, ids, steady, base, record, lid, rid, *rest)
    if done >= half:  # the record saved here, then a power cut
        self._save(record, lid, rid), os.kill(os.getpid(), 9)
    return done
Sync._decide = killed
sync.sync(suite.get_project(sys.argv[1]), sys.argv[2], ssh="local", remote_suite=sys.executable + " -m suite")
"""


def _killed_half_way(here, far, env, jobs):
    proc = subprocess.run([sys.executable, "-c", KILLED, here, far, str(jobs // 2)],
                          cwd=here, env=env, stdout=subprocess.DEVNULL)
    if proc.returncode != -9:
        raise SystemExit(f"the first sync to kill half-way ended with {proc.returncode}")


def run_once(project, work, checkout, checksum, in_process=False, resume=False):
    here, far = os.path.join(work, "here"), os.path.join(work, "far")
    log = os.path.join(work, "far-time")
    for path in (here, far):
        shutil.rmtree(path, ignore_errors=True)
    if os.path.exists(log):
        os.unlink(log)
    _copy(project, here)
    _copy(project, far)
    subprocess.run(["sync"], check=True)  # the copies' writeback not counted
    env = {**os.environ, "PYTHONPATH": checkout}
    if resume:
        _killed_half_way(here, far, env, sum(1 for _ in os.scandir(f"{here}/workspace")))
    remote = f"/usr/bin/time -a -o {log} -f '%U %S %M' {sys.executable} -m suite"
    argv = [sys.executable, "-m", "suite", "sync", far, "-q",
            *([] if in_process else ["--ssh", "local", "--remote-suite", remote]),
            *(["--checksum"] if checksum else [])]
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=here, env=env, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    for _ in range(0 if in_process else 72000):  # the far side ends after the client
        if _far_lines(log):  # (its index refresh)
            break
        time.sleep(0.05)
    user, system, peak = _far_lines(log)[0] if not in_process else (0, 0, 0)
    row = {"wall": wall, "cpu_here": ru.ru_utime + ru.ru_stime, "user_here": ru.ru_utime,
           "system_here": ru.ru_stime, "peak_here_mib": ru.ru_maxrss / 1024,
           "cpu_far": float(user) + float(system), "peak_far_mib": int(peak) / 1024,
           "exit": code, "load": load}
    for path in (here, far):
        shutil.rmtree(path, ignore_errors=True)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("project")
    ap.add_argument("--work", required=True, help="where the copies are made (deleted after)")
    ap.add_argument("--side", action="append", default=[],
                    help="LABEL:CHECKOUT (default: this checkout), repeatable")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--checksum", action="store_true")
    ap.add_argument("--in-process", action="store_true",
                    help="the far copy as a plain path: no far process")
    ap.add_argument("--resume", action="store_true",
                    help="measure the rerun of a first sync killed half-way")
    ap.add_argument("--json")
    args = ap.parse_args()
    sides = [s.split(":", 1) for s in args.side] or [["this", HERE]]
    project = os.path.abspath(args.project)
    n = sum(1 for _ in os.scandir(os.path.join(project, "workspace")))
    os.makedirs(args.work, exist_ok=True)
    rows = []
    try:
        for round_ in range(args.rounds):
            for label, checkout in sides:
                row = run_once(project, os.path.abspath(args.work), checkout, args.checksum,
                               args.in_process, args.resume)
                row.update(side=label, round=round_, jobs=n)
                rows.append(row)
                print(f"{label:>8} round {round_}: wall {row['wall']:7.1f} s  CPU here "
                      f"{row['cpu_here']:6.2f} s (user {row['user_here']:.2f})  far "
                      f"{row['cpu_far']:6.2f} s  peak here {row['peak_here_mib']:5.0f} MiB  "
                      f"far {row['peak_far_mib']:5.0f} MiB  exit {row['exit']}  load "
                      f"{row['load']:.1f}", flush=True)
    finally:
        shutil.rmtree(args.work, ignore_errors=True)
    print(f"\n{'side':>8} | jobs | best CPU here | far | peak here | far | KB a job here")
    for label, _ in sides:
        mine = [r for r in rows if r["side"] == label]
        best = min(mine, key=lambda r: r["cpu_here"])
        print(f"{label:>8} | {n} | {best['cpu_here']:.2f} s | "
              f"{min(r['cpu_far'] for r in mine):.2f} s | "
              f"{max(r['peak_here_mib'] for r in mine):.0f} MiB | "
              f"{max(r['peak_far_mib'] for r in mine):.0f} MiB | "
              f"{max(r['peak_here_mib'] for r in mine) * 1024 / n:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
