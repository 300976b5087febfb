"""Daemons the tests start die with the test process, even a SIGKILLed one (whose fixtures'
teardowns never run): :func:`guard` starts a watchdog, a small process of its own session
that waits on a pipe only this process writes to. When the pipe ends (this process closed
it, or died), the watchdog ends the daemons it was told of: SIGTERM, SIGKILL after a grace.

Daemons that fork themselves (munged, slurmctld, slurmd, sge_qmaster, sge_execd) are named
by their pid files, read when the pipe ends; each pid is ended only if its program is the one
named (a pid file may outlive its process, and its pid be another's since)."""

import json
import os
import subprocess
import sys
import time


class Guard:
    """A running watchdog; :meth:`release` after the fixture's own teardown."""

    def __init__(self, proc, fd):
        self._proc, self._fd = proc, fd

    def release(self):
        """End the watchdog: it ends what it guards that is still running (nothing, after
        the fixture's teardown) and leaves. Idempotent."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._proc.wait()


def guard(targets, grace=5):
    """Watch over ``targets``: ``(pid, or a pid file's path or glob, program name)`` pairs
    (the pid files are read when the pipe ends: a daemon not started yet is named). Returns a
    :class:`Guard`. The pipe's write end stays in this process only (not inheritable: no
    daemon started later holds it)."""
    read_end, write_end = os.pipe()  # both close on exec; the watchdog's is handed over
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, json.dumps([[str(t), n] for t, n in targets]),
             str(grace)],
            stdin=read_end, stdout=subprocess.DEVNULL, start_new_session=True)
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    return Guard(proc, write_end)


def gone(pids, seconds=10):
    """Whether every process of ``pids`` has ended (a zombie counts as ended) within
    ``seconds``."""
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# The watchdog itself: no import of the tests (it must start fast and depend on nothing).
_WATCHDOG = r"""
import glob, json, os, signal, sys, time
targets, grace = json.loads(sys.argv[1]), float(sys.argv[2])
signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C of the tests is theirs to handle
while os.read(0, 4096):
    pass

def pids_of(target):  # a pid, a pid file, or a glob of pid files
    if target.isdigit():
        return [int(target)]
    out = []
    for path in glob.glob(target):
        try:
            with open(path) as f:
                out.append(int(f.read().strip()))
        except (OSError, ValueError):
            pass
    return out

def names(pid):  # its command name, and its first argument's (sshd rewrites the latter)
    out = set()
    for part, parse in (("comm", lambda b: b.strip()),
                        ("cmdline", lambda b: os.path.basename(b.split(b"\0")[0]))):
        try:
            with open(f"/proc/{pid}/{part}", "rb") as f:
                out.add(parse(f.read()).decode(errors="replace"))
        except OSError:
            pass
    return out

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

pids = [pid for t, name in targets for pid in pids_of(t)
        if pid > 1 and pid != os.getpid() and name in names(pid)]
for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = [p for p in pids if alive(p)]
    if not pids:
        break
"""
