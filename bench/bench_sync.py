"""Sync benchmark: suite sync vs rsync, both over SSH to a real sshd on 127.0.0.1.

Usage: python bench/bench_sync.py [-n 10000] [--repeat 3] [--latency MS] [--json F]
                                  [--ssh paramiko|openssh]

Each job has 3 small files (~30,000 files at 10,000 jobs). Rows: first sync (push), a sync
with nothing to do, a first pull of all jobs into an empty project, and a sync after changing
1% of documents and adding 1 MiB to 1% of jobs, then changing 1 KiB in each of those files
(both tools send deltas). --latency adds a round-trip time (a relaying proxy, bench/latency.py),
to see what a wide-area link does to each tool. --ssh picks suite's transport (paramiko, the
default, or openssh: the system ssh, as rsync uses).
rsync runs as `rsync -a --delete` of the workspace over the same sshd. The tools alternate
and each row is the best of --repeat rounds (the file system's speed drifts on this VM).
Set TMPDIR=/dev/shm to measure on a RAM disk, without the disk's noise.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from bench_archive import build  # same projects: 3 small files per job


def start_sshd(root):
    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{root}/{name}"],
                       check=True)
    shutil.copy(f"{root}/client.pub", f"{root}/authorized_keys")
    port = free_port()
    with open(f"{root}/sshd_config", "w") as f:
        f.write(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root}/host\n"
                f"AuthorizedKeysFile {root}/authorized_keys\nPidFile {root}/pid\n"
                "PermitRootLogin yes\nPasswordAuthentication no\nUsePAM no\nStrictModes no\n"
                # the far side runs this checkout, as the near side does
                f"SetEnv PYTHONPATH={os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}\n")
    os.makedirs("/run/sshd", exist_ok=True)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", f"{root}/sshd_config", "-E",
                             f"{root}/log"])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, port


def client_home(root, port):
    """A HOME whose ssh config names the server (at ``port``) 'bench' and knows its key."""
    home = f"{root}/home"
    os.makedirs(f"{home}/.ssh")
    with open(f"{home}/.ssh/config", "w") as f:
        f.write(f"Host bench\n  HostName 127.0.0.1\n  Port {port}\n  User root\n"
                f"  IdentityFile {root}/client\n")
    key = open(f"{root}/host.pub").read().split()[:2]
    with open(f"{home}/.ssh/known_hosts", "w") as f:
        f.write(f"[127.0.0.1]:{port} {key[0]} {key[1]}\n")
    return home


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best of each counts")
    ap.add_argument("--json", default="bench/results-sync.json")
    ap.add_argument("--latency", type=float, default=0, metavar="MS",
                    help="round-trip time to add (a relay delaying each way by half)")
    ap.add_argument("--ssh", choices=["paramiko", "openssh"], default="paramiko",
                    help="suite's transport (rsync always runs the system ssh)")
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="bench-sync-")
    proc, port = start_sshd(root)
    if args.latency:
        from latency import DelayProxy

        port = DelayProxy(port, args.latency / 1000).port
    home = client_home(root, port)
    os.environ["HOME"] = home
    os.environ.pop("SSH_AUTH_SOCK", None)
    import suite
    import sync

    try:
        src = build(f"{root}/src", args.n)
        ssh = (f"ssh -p {port} -i {root}/client -o UserKnownHostsFile={home}/.ssh/known_hosts "
               "-o StrictHostKeyChecking=yes")
        remote_suite = f"{sys.executable} -m suite"
        # the system ssh reads the login user's ~/.ssh, not $HOME's: name the config
        transport = {"ssh": args.ssh, "ssh_command": (
            f"ssh -F {home}/.ssh/config -o UserKnownHostsFile={home}/.ssh/known_hosts "
            "-o StrictHostKeyChecking=yes -o BatchMode=yes")}

        def suite_sync(dst):
            t = time.perf_counter()
            r = sync.sync(src, f"bench:{dst}", remote_suite=remote_suite, **transport)
            assert r.exit_status == 0, r.format()
            return time.perf_counter() - t

        def rsync(dst):
            t = time.perf_counter()
            subprocess.run(["rsync", "-a", "--delete", "-e", ssh, f"{src.workspace}/",
                            f"root@127.0.0.1:{dst}/"], check=True)
            return time.perf_counter() - t

        # this VM's file system speed drifts over minutes: the two tools alternate, each
        # round on fresh destinations, and the best round of each counts
        rows = {}
        ids = src.find_jobs().ids()

        def suite_pull(remote, here):
            t = time.perf_counter()
            r = sync.sync(suite.init_project(here), f"bench:{remote}",
                          remote_suite=remote_suite, **transport)
            assert r.exit_status == 0, r.format()
            return time.perf_counter() - t

        def rsync_pull(remote, here):
            t = time.perf_counter()
            subprocess.run(["rsync", "-a", "-e", ssh, f"root@127.0.0.1:{remote}/", f"{here}/"],
                           check=True)
            return time.perf_counter() - t

        def pair(key, round_, suite_dst, rsync_dst, fns=(suite_sync, rsync), here=None):
            args_ = ((suite_dst,), (rsync_dst,)) if here is None else \
                ((suite_dst, f"{here}-suite"), (rsync_dst, f"{here}-rsync"))
            first = (fns[0], args_[0]), (fns[1], args_[1])
            order = first if round_ % 2 == 0 else first[::-1]
            times = {fn: fn(*a) for fn, a in order}
            old = rows.get(key, (float("inf"), float("inf")))
            rows[key] = (min(old[0], times[fns[0]]), min(old[1], times[fns[1]]))

        for round_ in range(args.repeat):
            dst = suite.init_project(f"{root}/dst{round_}").path
            rs_dst = f"{root}/rsync-dst{round_}"
            os.makedirs(rs_dst)
            pair("first sync", round_, dst, rs_dst)
            time.sleep(2)  # let the far side finish indexing, as between two real syncs
            pair("nothing to do", round_, dst, rs_dst)
            # the other way: every job new on the far side, pulled into an empty project
            pair("first pull", round_, dst, rs_dst + "/", (suite_pull, rsync_pull),
                 here=f"{root}/pulled{round_}")
            shutil.rmtree(f"{root}/pulled{round_}-suite", ignore_errors=True)
            shutil.rmtree(f"{root}/pulled{round_}-rsync", ignore_errors=True)
            for k, job_id in enumerate(ids[round_:: 100]):
                job = src.open_job(id=job_id)
                job.doc["changed"] = [round_, k]
                with open(job.fn(f"big{round_}.bin"), "wb") as f:
                    f.write(os.urandom(1 << 20))
            pair("1% docs changed + 1 MiB to 1% of jobs", round_, dst, rs_dst)
            for job_id in ids[round_:: 100]:  # files both sides hold: deltas
                with open(src.open_job(id=job_id).fn(f"big{round_}.bin"), "r+b") as f:
                    f.seek(1 << 19)
                    f.write(os.urandom(1024))
            pair("1 KiB changed in each of those files", round_, dst, rs_dst)
            shutil.rmtree(dst, ignore_errors=True)
            shutil.rmtree(rs_dst, ignore_errors=True)
        rtt = f", {args.latency:g} ms round trips added" if args.latency else ""
        print(f"\nN = {args.n:,} jobs over SSH on loopback{rtt}, suite through {args.ssh}")
        print(f"{'operation':42s} {'suite s':>9s} {'rsync s':>9s} {'suite/rsync':>12s}")
        for key, (s, r) in rows.items():
            print(f"{key:42s} {s:9.3f} {r:9.3f} {s / r:12.2f}")
        with open(args.json, "w") as f:
            json.dump({args.n: rows, "latency_ms": args.latency, "ssh": args.ssh}, f,
                      indent=2)
        print(f"\nwrote {args.json}")
    finally:
        proc.terminate()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
