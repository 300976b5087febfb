"""Sync benchmark: suite sync vs rsync, both over SSH to a real sshd on 127.0.0.1.

Usage: python bench/bench_sync.py [-n 10000] [--repeat 3] [--latency MS] [--json F]
                                  [--ssh paramiko|openssh] [--control-master] [--local]
                                  [--no-ssh-rows] [--warm-dst-index]
                                  [--progress-n 20000] [--profile DIR]
                                  [--rows first,noop,pull,change,deltas]
                                  [--second-stream auto|on|off]

Each job has 3 small files (~30,000 files at 10,000 jobs). Rows: first sync (push), a sync
with nothing to do, a first pull of all jobs into an empty project, and a sync after changing
1% of documents and adding 1 MiB to 1% of jobs, then changing 1 KiB in each of those files
(both tools send deltas). --latency adds a round-trip time (a relaying proxy, bench/latency.py,
in a process of its own, as a network is), to see what a wide-area link does to each tool. --ssh picks suite's transport (paramiko, the
default, or openssh: the system ssh, as rsync uses); --control-master opens one master
connection first and both tools' ssh ride on it (no login per sync, as for a user with
ControlMaster auto).
rsync runs as `rsync -a --delete` of the workspace over the same sshd. The tools alternate
and each row is the best of --repeat rounds (the file system's speed drifts on this VM).
Set TMPDIR=/dev/shm to measure on a RAM disk, without the disk's noise. Beside each wall time
the CPU time of this side (the process and the children it waited for: ssh, rsync) is given,
and for the SSH rows that of the far side (sshd's session and what it ran: suite's server, its
index refresh after the client has gone included, or rsync's; read once it has ended).
--local adds rows for a local sync (the CLI, `suite sync /other/project`, both projects on this
machine) against `rsync -a --delete` of the workspace; --no-ssh-rows leaves out the SSH rows.
--progress-n times the CLI's first local sync of that many jobs on a terminal (a pty read by
another process, as a terminal emulator reads: the progress bar and the per-job lines drawn)
against output to a file, in turns.
--noop-project DIR: a sync with nothing to do over SSH of an existing (large) project, read
only, against rsync: the far copy is made once with rsync under --noop-dest (its sync identity
and records removed), a first suite sync writes the records, then both tools run with nothing
to do, taking turns; suite runs as the CLI, and its peak memory (this side) is reported.
--noop-link makes those copies by hard links (`cp -al`) of the workspace's files instead.
--profile DIR writes a cProfile of suite's side of each SSH row to DIR/ROW-ROUND.prof and of
the far side (`SUITE_PROFILE`) to DIR/ROW-ROUND-server.prof.
--rows times only the SSH rows named (the first sync runs anyway, untimed, and the 1 % change
before deltas); --second-stream on/off forces suite's second data stream for a large push
(sync.datastream.pays) or turns it off, auto prints which way each push went. SUITE_PURE_PYTHON=1 in the
environment turns the native modules off on both sides (A/B against them).
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

from bench_archive import SUITE, build  # 3 small files per job
from common import (
    add_python_option,
    best_median,
    cpu_seconds,
    fresh_replica,
    in_turns,
    on_terminal,
    suite_python,
    to_file,
    where,
)

#: the interpreter of suite's far sides and the command line of its CLI (--python)
PYTHON, SUITE_ARGV = sys.executable, [SUITE]


def start_sshd(root, profile=None):
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
                f"SetEnv PYTHONPATH={os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}"
                + (f" SUITE_PROFILE={profile}" if profile else "")
                # SUITE_PURE_PYTHON=1 here: the far side runs the pure-Python references too
                + (" SUITE_PURE_PYTHON=1" if os.environ.get("SUITE_PURE_PYTHON", "") not in
                   ("", "0") else "") + "\n")
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


def measured(fn, *args):
    """``(wall s, CPU s)`` of ``fn(*args)`` (CPU: this process and waited-for children)."""
    c, t = cpu_seconds(), time.perf_counter()
    fn(*args)
    return time.perf_counter() - t, cpu_seconds() - c


#: the sshd of the SSH rows (its pid: the far sides' CPU is read from it)
SSHD = {}


def far_cpu():
    """CPU seconds of the far sides that have ended: the sshd listener's waited-for children
    (its sessions, and through them rsync's server), /proc's cutime + cstime; with a
    ControlMaster also those of the master's session, which stays and reaps what rides on it."""
    total = 0
    for pid in [SSHD["pid"], *SSHD.get("staying", ())]:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[13]) + int(fields[14])
    return total / os.sysconf("SC_CLK_TCK")


def _children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return f.read().split()


def _descendants(pid):
    out, todo = [], [str(pid)]
    while todo:
        kids = _children(todo.pop())
        out += kids
        todo += kids
    return out


def far_measured(fn, *args):
    """``(wall s, CPU s, far CPU s)``: :func:`measured`, then the far side's CPU once it has
    ended. suite's server indexes after the client has gone, its session ended: this process
    is a subreaper (main), so the server comes here as an orphan and is reaped here with its
    CPU (wait4), counted as the far side's, untimed."""
    far = far_cpu()
    wall, cpu = measured(fn, *args)
    orphans = reap_far()
    return wall, cpu, far_cpu() - far + orphans


def reap_far():
    """CPU seconds of the far sides that came here as orphans, once all have ended."""
    orphans = 0.0
    for _ in range(1200):
        while True:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
            if not pid:
                break
            orphans += usage.ru_utime + usage.ru_stime
        # what stays (the relay, a ControlMaster and its far session) is not waited for
        stay = {str(SSHD.get("relay")), *SSHD.get("staying", ())}
        mine = [c for c in _children(os.getpid()) if c not in stay]
        if set(_descendants(SSHD["pid"])) <= stay and mine == [str(SSHD["pid"])]:
            break
        time.sleep(0.05)
    return orphans


class Rows:
    """The best wall and CPU time of each tool per row, the tools taking turns by round."""

    def __init__(self):
        self.rows = {}

    def pair(self, key, round_, suite_fn, rsync_fn):
        order = [("suite", suite_fn), ("rsync", rsync_fn)]
        for tool, fn in order if round_ % 2 == 0 else order[::-1]:
            got = fn()  # wall, CPU here(, CPU of the far side)
            best = self.rows.setdefault(key, {}).setdefault(tool, [float("inf")] * len(got))
            best[:] = [min(b, g) for b, g in zip(best, got, strict=True)]

    def print(self):
        far = any(len(t["suite"]) > 2 for t in self.rows.values())
        print(f"{'operation':42s} {'suite s':>9s} {'rsync s':>9s} {'suite/rsync':>12s} "
              f"{'CPU suite':>10s} {'CPU rsync':>10s}"
              + (f" {'far suite':>10s} {'far rsync':>10s}" if far else ""))
        for key, t in self.rows.items():
            (s, sc, *sf), (r, rc, *rf) = t["suite"], t["rsync"]
            print(f"{key:42s} {s:9.3f} {r:9.3f} {s / r:12.2f} {sc:10.2f} {rc:10.2f}"
                  + (f" {sf[0]:10.2f} {rf[0]:10.2f}" if sf and rf else ""))


#: the SSH rows by the names --rows takes
ROW_NAMES = {"first sync": "first", "nothing to do": "noop", "first pull": "pull",
             "1% docs changed + 1 MiB to 1% of jobs": "change",
             "1 KiB changed in each of those files": "deltas"}


#: the second stream's decisions with --second-stream auto: [bytes, round trip s, opened]
DECIDED = []


def second_stream(choice):
    """--second-stream: ``on`` opens the second data stream for every push it may carry
    (the size floor kept, the link not asked), ``off`` never, ``auto`` as suite decides."""
    import sync.engine

    try:
        import sync.datastream as datastream
    except ImportError:
        datastream = None
    if choice == "auto" and hasattr(datastream, "pays"):  # which way each push went
        real = datastream.pays

        def heard(nbytes, measured):
            opened = real(nbytes, measured)
            DECIDED.append([nbytes, measured and measured[0], opened])
            return opened

        datastream.pays = heard
    if choice == "off":
        sync.engine.Sync.SECOND_STREAM_MIN = 1 << 62
    elif choice == "on":
        if hasattr(datastream, "pays"):  # (a checkout from before the rule: always on)
            datastream.pays = lambda nbytes, measured: True


def ssh_rows(args, root, src, port, home, rows):
    import suite
    import sync

    ssh = (f"ssh -p {port} -i {root}/client -o UserKnownHostsFile={home}/.ssh/known_hosts "
           "-o StrictHostKeyChecking=yes")
    remote_suite = f"{PYTHON} -m suite"
    # the system ssh reads the login user's ~/.ssh, not $HOME's: name the config
    transport = {"ssh": args.ssh, "ssh_command": (
        f"ssh -F {home}/.ssh/config -o UserKnownHostsFile={home}/.ssh/known_hosts "
        "-o StrictHostKeyChecking=yes -o BatchMode=yes")}
    if args.control_master:  # one login now; every ssh (suite's and rsync's) rides on it
        master = f"-o ControlPath={root}/cm -o ControlMaster=no"
        subprocess.run([*transport["ssh_command"].split(), "-o", f"ControlPath={root}/cm",
                        "-o", "ControlMaster=yes", "-o", "ControlPersist=yes", "-N", "-f",
                        "bench"], check=True, stdin=subprocess.DEVNULL)
        # the master (come here as an orphan: a subreaper) and its far session stay
        SSHD["staying"] = set(_descendants(SSHD["pid"])) | set(_children(os.getpid())) - {
            str(SSHD["pid"]), str(SSHD.get("relay"))}
        ssh += f" {master}"
        transport["ssh_command"] += f" {master}"
    profiled = {"key": None}

    def run_sync(project, dst):
        if not args.profile:
            r = sync.sync(project, f"bench:{dst}", remote_suite=remote_suite, **transport)
            assert r.exit_status == 0, r.format()
            return
        import cProfile

        before = set(os.listdir(args.profile))
        prof = cProfile.Profile()
        r = prof.runcall(sync.sync, project, f"bench:{dst}", remote_suite=remote_suite,
                         **transport)
        assert r.exit_status == 0, r.format()
        name = profiled["key"]
        prof.dump_stats(f"{args.profile}/{name}.prof")
        for _ in range(50):  # the far side writes its statistics as it ends
            new = [f for f in set(os.listdir(args.profile)) - before
                   if f.startswith("sync-server-")]
            if new:
                time.sleep(0.2)
                os.replace(f"{args.profile}/{new[0]}", f"{args.profile}/{name}-server.prof")
                break
            time.sleep(0.1)

    def rsync(frm, to):
        subprocess.run(["rsync", "-a", "--delete", "-e", ssh, frm, to], check=True)

    def pair(key, round_, suite_fn, rsync_fn):
        if ROW_NAMES[key] not in args.rows:  # not timed (the first sync still runs: the
            if ROW_NAMES[key] == "first" or (ROW_NAMES[key] == "change" and  # rows after
                                             "deltas" in args.rows):  # it need its copies)
                suite_fn()
                rsync_fn()
            return
        profiled["key"] = f"{key.split()[0]}-{key.split()[1]}-{round_}"
        rows.pair(key, round_, suite_fn, rsync_fn)

    ids = src.find_jobs().ids()
    for round_ in range(args.repeat):
        dst = suite.init_project(f"{root}/dst{round_}").path
        rs_dst = f"{root}/rsync-dst{round_}"
        os.makedirs(rs_dst)
        ws, far = f"{src.workspace}/", f"root@127.0.0.1:{rs_dst}/"
        push = (lambda: far_measured(run_sync, src, dst), lambda: far_measured(rsync, ws, far))
        pair("first sync", round_, *push)
        time.sleep(2)  # let the far side finish indexing, as between two real syncs
        pair("nothing to do", round_, *push)
        # the other way: every job new on the far side, pulled into an empty project
        here = f"{root}/pulled{round_}"
        pair("first pull", round_,
             lambda: far_measured(lambda: run_sync(suite.init_project(f"{here}-suite"), dst)),
             lambda: far_measured(rsync, far, f"{here}-rsync/"))
        shutil.rmtree(f"{here}-suite", ignore_errors=True)
        shutil.rmtree(f"{here}-rsync", ignore_errors=True)
        for k, job_id in enumerate(ids[round_:: 100]):
            job = src.open_job(id=job_id)
            job.doc["changed"] = [round_, k]
            with open(job.fn(f"big{round_}.bin"), "wb") as f:
                f.write(os.urandom(1 << 20))
        pair("1% docs changed + 1 MiB to 1% of jobs", round_, *push)
        for job_id in ids[round_:: 100]:  # files both sides hold: deltas
            with open(src.open_job(id=job_id).fn(f"big{round_}.bin"), "r+b") as f:
                f.seek(1 << 19)
                f.write(os.urandom(1024))
        pair("1 KiB changed in each of those files", round_, *push)
        shutil.rmtree(dst, ignore_errors=True)
        shutil.rmtree(rs_dst, ignore_errors=True)
        for job_id in ids[round_:: 100]:  # the next round starts from the same project
            os.unlink(src.open_job(id=job_id).fn(f"big{round_}.bin"))


def local_rows(args, root, src, rows):
    """`suite sync OTHER` (the CLI, as a user runs it) against `rsync -a --delete`, both
    projects on this machine."""
    import suite

    # an installed suite has its modules compiled, as rsync is: where the environment says not
    # to write bytecode (PYTHONDONTWRITEBYTECODE), the CLI gets a bytecode cache of its own,
    # filled by one untimed sync, instead of compiling ~70 modules on every run
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = f"{root}/pycache"
    warm = suite.init_project(f"{root}/local-warm")
    warm.open_job({"warm": 1}).init()
    subprocess.run([*SUITE_ARGV, "sync", f"{root}/local-warm-dst", "--init", "-q"], cwd=warm.path,
                   check=True, env=env)

    def cli(dst):
        subprocess.run([*SUITE_ARGV, "sync", dst, "-q"], cwd=src.path, check=True, env=env)

    def rsync(dst):
        subprocess.run(["rsync", "-a", "--delete", f"{src.workspace}/", f"{dst}/"], check=True)

    ids = src.find_jobs().ids()
    for round_ in range(args.repeat):
        dst = suite.init_project(f"{root}/local-dst{round_}").path
        rs_dst = f"{root}/local-rsync-dst{round_}"
        os.makedirs(rs_dst)
        push = (lambda: measured(cli, dst), lambda: measured(rsync, rs_dst))
        rows.pair("local: first sync", round_, *push)
        if args.warm_dst_index:  # untimed: what a sync that indexes the jobs it writes leaves
            len(list(suite.get_project(dst)))
        time.sleep(2)
        rows.pair("local: nothing to do", round_, *push)
        for k, job_id in enumerate(ids[round_:: 100]):
            job = src.open_job(id=job_id)
            job.doc["changed_here"] = [round_, k]
            with open(job.fn(f"local{round_}.bin"), "wb") as f:
                f.write(os.urandom(1 << 20))
        rows.pair("local: 1% docs changed + 1 MiB to 1%", round_, *push)
        shutil.rmtree(dst, ignore_errors=True)
        shutil.rmtree(rs_dst, ignore_errors=True)
        for job_id in ids[round_:: 100]:
            os.unlink(src.open_job(id=job_id).fn(f"local{round_}.bin"))


def progress_rows(root, n, rounds=5):
    """The CLI's first local sync of ``n`` jobs on a terminal (a pty read by another
    process: progress bar and per-job lines drawn) and with output to a file, in turns; the
    best and the median of ``rounds``, of the command's own CPU and of its wall time."""
    import suite

    p = build(f"{root}/progress-src", n)
    len(list(p))  # the index, built once
    made = [0]

    def case(mode):
        def run():
            made[0] += 1
            dst = suite.init_project(f"{root}/progress-{made[0]}").path
            cmd = [*SUITE_ARGV, "sync", dst]
            try:
                if mode == "terminal":
                    return on_terminal(cmd, p.path)
                return to_file(cmd, p.path, f"{root}/progress.log")
            finally:
                shutil.rmtree(dst)
        return run

    runs = in_turns({mode: case(mode) for mode in ("terminal", "file")}, rounds)
    shutil.rmtree(p.path)
    t, f = best_median(runs["terminal"]), best_median(runs["file"])
    drawn = max(r["bytes"] for r in runs["terminal"])
    print(f"\nN = {n:,} jobs, CLI first local sync, {rounds} rounds in turns; "
          f"{drawn:,} bytes drawn on the terminal")
    print(f"  CPU (user+sys) best {t['cpu'][0]:.3f} / {f['cpu'][0]:.3f} s, terminal/file "
          f"{t['cpu'][0] / f['cpu'][0]:.3f}, median {t['cpu'][1] / f['cpu'][1]:.3f}; wall best "
          f"{t['wall'][0]:.3f} / {f['wall'][0]:.3f} s, {t['wall'][0] / f['wall'][0]:.3f}, "
          f"median {t['wall'][1] / f['wall'][1]:.3f}")
    return {"terminal": t, "file": f}


def noop_rows(args, root, port, home, rows):
    """A sync with nothing to do of ``args.noop_project`` (never written) over SSH."""
    project = os.path.abspath(args.noop_project)
    dest = os.path.join(os.path.abspath(args.noop_dest), "copy")
    os.makedirs(args.noop_dest, exist_ok=True)
    ssh = (f"ssh -p {port} -i {root}/client -o UserKnownHostsFile={home}/.ssh/known_hosts "
           "-o StrictHostKeyChecking=yes")
    # the far side's CPU and peak memory: GNU time around its server, one line a sync
    far_log = os.path.join(root, "far-time")
    remote_suite = f"/usr/bin/time -a -o {far_log} -f '%U %S %M' {PYTHON} -m suite"
    src_rs = f"{dest}-rsync"
    t = time.perf_counter()
    reused = args.noop_keep and os.path.isdir(f"{dest}/workspace") and os.path.isdir(src_rs)
    if reused:  # made by an earlier run (or by hand, the same way), with its records if any
        print(f"copies reused: {dest}, {src_rs}", flush=True)
    elif args.noop_link:  # the workspace's files hard-linked (a no-op writes none of them);
        # its index and everything else under .signac and .suite are the copy's own files
        os.makedirs(dest)
        subprocess.run(["cp", "-al", f"{project}/workspace", f"{dest}/workspace"], check=True)
        for name in (".signac", ".suite"):
            if os.path.isdir(os.path.join(project, name)):
                shutil.copytree(os.path.join(project, name), os.path.join(dest, name))
    else:
        subprocess.run(["rsync", "-a", "--delete", f"{project}/", f"{dest}/"], check=True)
    if not reused:
        fresh_replica(dest)  # a copy is another replica: its own identity, no records
        print(f"copy made by {'cp -al' if args.noop_link else 'rsync'} in "
              f"{time.perf_counter() - t:.1f} s", flush=True)
        # the first sync hashes every file (no record yet) and leaves the records on both
        # sides; the source must not change: suite syncs into it only if the copy differs,
        # and it does not
        subprocess.run(["cp", "-al", f"{dest}/workspace", src_rs] if args.noop_link else
                       ["rsync", "-a", f"{dest}/workspace/", f"{src_rs}/"], check=True)
    # rsync's CPU and peak memory on each side: GNU time around it here and around its server
    rs_log, rs_far_log = os.path.join(root, "rsync-time"), os.path.join(root, "rsync-far-time")

    def cli():
        c, t = cpu_seconds(), time.perf_counter()
        proc = subprocess.Popen([*SUITE_ARGV, "sync", f"bench:{dest}", "-q", "--ssh", args.ssh,
                                 "--remote-suite", remote_suite], cwd=project)
        _, status, ru = os.wait4(proc.pid, 0)
        assert status == 0, status
        cli.last = ru.ru_maxrss
        cli.peak = max(getattr(cli, "peak", 0), ru.ru_maxrss)
        wall, cpu = time.perf_counter() - t, cpu_seconds() - c
        for _ in range(72000):  # the far side ends after the client (its index refresh)
            try:  # time's own lines ("Command exited ...") left out
                with open(far_log) as f:
                    lines = [ln for ln in f if ln.split()[:1] and ln.split()[0][0].isdigit()]
            except FileNotFoundError:
                lines = []
            if len(lines) >= cli.runs:
                break
            time.sleep(0.05)
        user, system, peak = lines[cli.runs - 1].split()
        reap_far()  # its server (already counted by time) if it came here: not rsync's CPU
        cli.runs += 1
        cli.far_last = int(peak)
        cli.far_peak = max(getattr(cli, "far_peak", 0), int(peak))
        return wall, cpu, float(user) + float(system)

    def rsync(*options):
        for log in (rs_log, rs_far_log):
            if os.path.exists(log):
                os.unlink(log)
        got = far_measured(lambda: subprocess.run(
            ["/usr/bin/time", "-o", rs_log, "-f", "%U %S %M", "rsync", "-a", *options,
             "--delete", "-e", ssh,
             f"--rsync-path=/usr/bin/time -o {rs_far_log} -f '%U %S %M' rsync",
             f"{project}/workspace/", f"root@127.0.0.1:{src_rs}/"], check=True))
        peaks = []
        for log in (rs_log, rs_far_log):
            with open(log) as f:  # time's own lines ("Command exited ...") left out
                last = [ln for ln in f if ln.split()[:1] and ln.split()[0][0].isdigit()][-1]
            peaks.append(int(last.split()[2]))
        rsync.peak, rsync.far_peak = max(rsync.peak, peaks[0]), max(rsync.far_peak, peaks[1])
        print(f"  rsync -a {' '.join(options)}: wall {got[0]:.1f} s, CPU here {got[1]:.2f} s, far "
              f"{got[2]:.2f} s; peak here {peaks[0] / 1024:.0f} MiB, far {peaks[1] / 1024:.0f} "
              f"MiB; load {os.getloadavg()[0]:.1f}", flush=True)
        return got

    def suite():
        got = cli()
        print(f"  suite sync: wall {got[0]:.1f} s, CPU here {got[1]:.2f} s, far {got[2]:.2f} s; "
              f"peak here {cli.last / 1024:.0f} MiB, far {cli.far_last / 1024:.0f} MiB; load "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        return got

    rsync.peak = rsync.far_peak = 0
    cli.runs = 1
    if not os.path.isdir(os.path.join(dest, ".suite", "sync")):  # no records: a first sync
        print("first suite sync (no records: every file hashed on both sides) ...", flush=True)
        t = time.perf_counter()
        suite()
        print(f"first suite sync (records written) in {time.perf_counter() - t:.1f} s",
              flush=True)
        if args.noop_first:  # rsync's likes: its quick check (size and mtime, its no-op) and
            rsync()  # --checksum (every file read on both sides, as suite's first sync)
            rsync("-c")
            rsync.peak = rsync.far_peak = 0
    cli.peak = cli.far_peak = 0
    time.sleep(2)
    for round_ in range(args.repeat):
        rows.pair("nothing to do, existing project", round_, suite, rsync)
    print(f"peak memory of suite sync: this side {cli.peak / 1024:.0f} MiB, far side "
          f"{cli.far_peak / 1024:.0f} MiB; of rsync: this side {rsync.peak / 1024:.0f} MiB, "
          f"far side {rsync.far_peak / 1024:.0f} MiB")
    rows.peaks = {"this side MiB": cli.peak / 1024, "far side MiB": cli.far_peak / 1024,
                  "rsync this side MiB": rsync.peak / 1024,
                  "rsync far side MiB": rsync.far_peak / 1024}
    if not args.noop_keep:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.rmtree(src_rs, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best of each counts")
    ap.add_argument("--json", default="bench/results-sync.json")
    ap.add_argument("--latency", type=float, default=0, metavar="MS",
                    help="round-trip time to add (a relay delaying each way by half)")
    ap.add_argument("--ssh", choices=["paramiko", "openssh"], default="paramiko",
                    help="suite's transport (rsync always runs the system ssh)")
    ap.add_argument("--control-master", action="store_true",
                    help="with --ssh openssh: suite and rsync ride on one master connection "
                         "opened first (no login per sync, as with ControlMaster auto)")
    ap.add_argument("--local", action="store_true", help="also the local sync rows")
    ap.add_argument("--no-ssh-rows", action="store_true", help="leave out the SSH rows")
    ap.add_argument("--warm-dst-index", action="store_true",
                    help="local rows: build the destination's index after the first sync, "
                         "untimed (else it stays cold: a local sync does not build it)")
    ap.add_argument("--progress-n", type=int, default=0, metavar="N",
                    help="also the CLI's sync of N jobs on a terminal against a file")
    ap.add_argument("--noop-project", metavar="DIR", help="no-op sync of this project")
    ap.add_argument("--noop-link", action="store_true",
                    help="make the far copies of --noop-project by hard links (cp -al) of its "
                         "workspace's files, its index and records copied (the same file "
                         "system; for a million jobs: no 12 GB copy)")
    ap.add_argument("--noop-dest", metavar="DIR", default="/tmp/syncperf-noop",
                    help="where the far copy of --noop-project is made (deleted after)")
    ap.add_argument("--noop-keep", action="store_true",
                    help="keep the copies under --noop-dest after the run, and reuse them (and "
                         "their records: no first sync) when they are there")
    ap.add_argument("--noop-first", action="store_true",
                    help="after suite's first sync (copies without records), time rsync's "
                         "likes once: -a (its quick check) and -ac (every file read)")
    ap.add_argument("--profile", metavar="DIR", help="cProfile both sides of each SSH row")
    ap.add_argument("--rows", default=",".join(ROW_NAMES.values()),
                    help="the SSH rows to time, of " + ",".join(ROW_NAMES.values())
                    + " (the first sync runs anyway, untimed; the 1 %% change if deltas)")
    ap.add_argument("--second-stream", choices=["auto", "on", "off"], default="auto",
                    help="suite's second data stream: as suite decides, for every large "
                    "push, or never (A/B of sync.datastream.pays)")
    add_python_option(ap)
    args = ap.parse_args()
    args.rows = set(args.rows.split(","))
    if not args.rows <= set(ROW_NAMES.values()):
        ap.error(f"--rows takes {','.join(ROW_NAMES.values())}")
    second_stream(args.second_stream)
    if args.python:
        global PYTHON, SUITE_ARGV
        PYTHON = suite_python(args.python)
        SUITE_ARGV = [PYTHON, "-m", "suite"]
    if args.profile:
        args.profile = os.path.abspath(args.profile)
        os.makedirs(args.profile, exist_ok=True)
    root = tempfile.mkdtemp(prefix="bench-sync-")
    import ctypes

    # PR_SET_CHILD_SUBREAPER: far sides that outlive their session come here (far_measured)
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
    proc, port = start_sshd(root, args.profile)
    SSHD["pid"] = proc.pid
    relay = None
    if args.latency:
        import latency

        relay, port = latency.start(port, args.latency / 1000)
        SSHD["relay"] = relay.pid  # a child that stays (far_measured waits for the others)
    home = client_home(root, port)
    os.environ["HOME"] = home
    os.environ.pop("SSH_AUTH_SOCK", None)
    load = [os.getloadavg()[0]]
    try:
        rows = Rows()
        if args.noop_project:
            noop_rows(args, root, port, home, rows)
            load.append(os.getloadavg()[0])
        if (not args.no_ssh_rows or args.local) and not args.noop_project:
            src = build(f"{root}/src", args.n)
            len(list(src))  # the index, built once (as in a project in use)
        if not args.no_ssh_rows and not args.noop_project:
            ssh_rows(args, root, src, port, home, rows)
            load.append(os.getloadavg()[0])
        if args.local and not args.noop_project:
            local_rows(args, root, src, rows)
            load.append(os.getloadavg()[0])
        rtt = f", {args.latency:g} ms round trips added" if args.latency else ""
        n = len(os.listdir(os.path.join(args.noop_project, "workspace"))) \
            if args.noop_project else args.n
        # where the projects are, not $TMPDIR's name: a no-op's project and far copy are
        # where --noop-project and --noop-dest say
        on = (f"{where(args.noop_project)}, far copies in {where(args.noop_dest)}"
              if args.noop_project else where(root))
        print(f"\nN = {n:,} jobs, in {on}{rtt}, suite "
              f"over SSH through {args.ssh}"
              f"{' on a ControlMaster' if args.control_master else ''}"
              f"{'' if args.second_stream == 'auto' else f', second stream {args.second_stream}'}"
              f"; best of {args.repeat} alternating rounds; "
              f"load average {min(load):.1f}-{max(load):.1f}")
        rows.print()
        if DECIDED:
            print("second stream: " + "; ".join(
                f"{b / (1 << 20):.0f} MiB at {'?' if t is None else f'{t * 1000:.1f} ms'}: "
                f"{'opened' if o else 'not opened'}" for b, t, o in DECIDED))
        results = {n: rows.rows, "latency_ms": args.latency, "ssh": args.ssh,
                   "load": load, "second_stream": args.second_stream,
                   "second_stream_decisions": DECIDED}
        if getattr(rows, "peaks", None):
            results["peak memory of suite sync"] = rows.peaks
        if args.progress_n:
            results["progress"] = progress_rows(root, args.progress_n)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nwrote {args.json}")
    finally:
        if args.control_master:
            subprocess.run(["ssh", "-o", f"ControlPath={root}/cm", "-O", "exit", "bench"],
                           capture_output=True)
        proc.terminate()
        if relay is not None:
            relay.kill()
            relay.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
