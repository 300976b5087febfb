"""Daemons the tests start die with the test process, even a SIGKILLed one (whose fixtures'
teardowns never run): :func:`guard` starts a watchdog, a small process of its own session
that waits on a pipe only this process writes to. When the pipe ends (this process closed
it, or died), the watchdog ends the daemons it was told of: SIGTERM, SIGKILL after a grace.

Daemons that fork themselves (munged, slurmctld, slurmd, sge_qmaster, sge_execd) are named
by their pid files, read when the pipe ends; each pid is ended only if its program is the one
named (a pid file may outlive its process, and its pid be another's since). Directories it is
told of (a Grid Engine cell's, outside any temporary directory) are removed after the daemons
have ended."""

import glob
import json
import os
import signal
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


def guard(targets, grace=5, remove=(), descendants=False):
    """Watch over ``targets``: ``(pid, or a pid file's path or glob, program name)`` pairs
    (the pid files are read when the pipe ends: a daemon not started yet is named), with
    ``descendants`` their descendants too (as they are when the pipe ends: a browser's driver,
    the browser it started and the browser's helpers), and remove the directories ``remove``
    once they have ended. Returns a :class:`Guard`. The pipe's write end stays in this process only (not inheritable: no
    daemon started later holds it). The watchdog is this file run as a script (standard
    library only: it starts fast)."""
    read_end, write_end = os.pipe()  # both close on exec; the watchdog's is handed over
    try:
        proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__),
             json.dumps([[str(t), n] for t, n in targets]), str(grace),
             json.dumps([str(p) for p in remove]), str(int(descendants))],
            stdin=read_end, stdout=subprocess.DEVNULL, start_new_session=True)
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    return Guard(proc, write_end)


def alive(pid):
    """Whether the process ``pid`` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def gone(pids, seconds=10):
    """Whether every process of ``pids`` has ended within ``seconds``."""
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def descendants(pid):
    """The processes descended from ``pid`` (children first), from each process's parent in
    /proc."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parents.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]),
                                       []).append(int(name))
            except (OSError, IndexError, ValueError):  # ended meanwhile
                pass
    out, level = [], [pid]
    while level:
        level = [child for p in level for child in parents.get(p, ())]
        out += level
    return out


def _pids_of(target):
    """The pids a target names: a pid, a pid file, or a glob of pid files."""
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


def _names(pid):
    """The process's command name and its first argument's (sshd rewrites the latter)."""
    out = set()
    for part, parse in (("comm", lambda b: b.strip()),
                        ("cmdline", lambda b: os.path.basename(b.split(b"\0")[0]))):
        try:
            with open(f"/proc/{pid}/{part}", "rb") as f:
                out.add(parse(f.read()).decode(errors="replace"))
        except OSError:
            pass
    return out


def _watch(targets, grace, remove, with_descendants=False):
    """The watchdog: wait for the end of stdin, then end the targets still running (and,
    ``with_descendants``, theirs), then remove the directories ``remove``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C of the tests is theirs to handle
    while os.read(0, 4096):
        pass
    pids = [pid for target, name in targets for pid in _pids_of(target)
            if pid > 1 and pid != os.getpid() and name in _names(pid)]
    if with_descendants:  # read before any ends: an orphan's parent is no longer its own
        pids += [child for pid in pids for child in descendants(pid)]
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        gone(pids, wait)
        pids = [pid for pid in pids if alive(pid)]
        if not pids:
            break
    if remove:
        import shutil

        for path in remove:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    _watch(json.loads(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3]),
           sys.argv[4:] == ["1"])
