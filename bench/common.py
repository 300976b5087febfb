"""Helpers shared by the benchmark scripts: timing, and the file system's own floor.

On this kind of VM, creating a file or symlink costs anywhere from 5 us (RAM disk) to 800 us
(the virtual disk in a slow phase, e.g. after large deletions), and the cost drifts over
minutes. Work that must create N files can never beat N times that cost, so benchmarks whose
rows create files print a floor row measured in the same run. ``TMPDIR=/dev/shm`` runs them on
a RAM disk, where the tools' own costs show.
"""

import os
import resource
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def where(path):
    """``path`` and what it is on: ``"/dev/shm/x (a RAM disk)"``, ``"/tmp/x (a disk)"`` (the
    file system of the longest mount point above it; a path not made yet, its parent's)."""
    real = os.path.realpath(path)
    best, kind = "", ""
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            mount = parts[1].replace("\\040", " ")
            inside = real == mount or real.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best):
                best, kind = mount, parts[2]
    return f"{path} ({'a RAM disk' if kind in ('tmpfs', 'ramfs') else 'a disk'})"


def timed(fn):
    """``(seconds, result)`` of calling ``fn``."""
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def cpu_seconds():
    """User + system seconds of this process (all threads) and of the children it waited for."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed_cpu(fn):
    """``(wall seconds, CPU seconds, result)`` of calling ``fn`` (CPU: see cpu_seconds; a
    child process counts once it has been waited for)."""
    c, t = cpu_seconds(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t, cpu_seconds() - c, out


def wall(args, cwd, ok=(0,), env=None):
    """Seconds a command takes (a fresh process, as a user runs it); a failure is an error,
    never a time."""
    t = time.perf_counter()
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    if r.returncode not in ok:
        raise RuntimeError(f"{' '.join(args)}: exit {r.returncode}\n{r.stderr[-2000:]}")
    return time.perf_counter() - t


def sp_of(i):
    """The state point of job ``i`` in the core and views benchmarks."""
    return {"a": i, "b": {"c": i % 7, "d": "x" * (i % 5)}, "seed": i % 10}


def creation_floor(root, n, kind="file", tag=""):
    """Seconds this file system takes to create ``n`` empty files or symlinks spread over 100
    directories, or (``kind="job"``) ``n`` directories each holding one file in one directory
    as a workspace holds its jobs, by plain system calls: no tool that creates as many can be
    faster. ``tag`` tells apart several measurements under one root."""
    base = os.path.join(root, f"floor-{kind}-{n}{tag}")
    # jobs all live in one workspace directory; files and links are spread as views spread them
    dirs = [base] if kind == "job" else [os.path.join(base, str(k)) for k in range(100)]
    for d in dirs:
        os.makedirs(d)
    t = time.perf_counter()
    for i in range(n):
        path = os.path.join(dirs[i % len(dirs)], f"{i:032x}")
        if kind == "symlink":
            os.symlink("../target", path)
        elif kind == "job":
            os.mkdir(path)
            os.close(os.open(path + "/f", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return time.perf_counter() - t


def path_without(root, names):
    """A PATH value like this one, minus the commands ``names`` (symlinks to every other
    command of each PATH directory, under ``root``)."""
    hidden = os.path.join(root, "path-without")
    os.makedirs(hidden, exist_ok=True)
    for d in os.environ.get("PATH", "").split(os.pathsep):
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for name in entries:
            link = os.path.join(hidden, name)
            if name not in names and not os.path.lexists(link):
                os.symlink(os.path.join(d, name), link)
    return hidden


def add_python_option(parser):
    """``--python PATH`` for a benchmark's argument parser (see :func:`suite_python`)."""
    parser.add_argument("--python", metavar="PATH",
                        help="run suite's processes (the CLI, far sides of syncs) with this "
                             "interpreter on this checkout's code, e.g. a venv without this "
                             "machine's site hooks (docs/benchmarks.md); default: this one")


def suite_python(path=None):
    """The interpreter that runs suite's processes: ``path`` (``--python``) or this one.

    Another interpreter runs this checkout's code: the checkout goes first on PYTHONPATH in
    this process's environment, which every process the benchmark starts inherits. The path
    is made absolute, not resolved: a venv's ``python`` is a link, and only through the
    link is it the venv's."""
    if path is None:
        return sys.executable
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != REPO]
    os.environ["PYTHONPATH"] = os.pathsep.join([REPO, *rest])
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        raise SystemExit(f"--python {path}: not an executable file")
    return path


def on_terminal(args, cwd, env=None, rows=24, columns=80):
    """Run a command as on a terminal and return what :func:`to_file` returns, plus
    ``bytes`` drawn, the terminal's ``reads``, ``redraws`` (carriage returns) and the
    terminal's own CPU seconds (``reader cpu``).

    The command's stdin, stdout and stderr are a pty of ``rows`` x ``columns``; its other end
    is read by another process, in chunks of up to 64 KiB, as a terminal emulator reads: the
    reader's CPU is neither this process's nor the command's (in session 13 the reader ran in
    the benchmark's own process and its time was shared with what was measured)."""
    import fcntl
    import pty  # noqa: F401  (the platform has ptys; openpty is os's)
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    report_r, report_w = os.pipe()
    reader = os.fork()
    if reader == 0:  # the terminal: read until the last writer has closed its end
        code = 0
        try:
            os.close(slave)
            os.close(report_r)
            nbytes = reads = redraws = 0
            tail = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: no writer is left
                    break
                if not chunk:
                    break
                nbytes, reads = nbytes + len(chunk), reads + 1
                redraws += chunk.count(b"\r") - chunk.count(b"\r\n")  # not a newline's
                tail = (tail + chunk)[-2000:]
            os.write(report_w, f"{nbytes} {reads} {redraws}\n".encode() + tail)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(report_w)
    os.close(master)
    t = time.perf_counter()
    try:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=slave, stdout=slave,
                                stderr=slave, start_new_session=True)
        _, status, ru = os.wait4(proc.pid, 0)
        took = time.perf_counter() - t
    finally:
        os.close(slave)
    with os.fdopen(report_r, "rb") as f:
        report = f.read()
    _, _, reader_ru = os.wait4(reader, 0)
    head, _, tail = report.partition(b"\n")
    nbytes, reads, redraws = map(int, head.split())
    if status:
        raise RuntimeError(f"{' '.join(args)}: status {status}\n{tail!r}")
    return {"wall": took, "user": ru.ru_utime, "sys": ru.ru_stime, "bytes": nbytes,
            "reads": reads, "redraws": redraws,
            "reader cpu": reader_ru.ru_utime + reader_ru.ru_stime}


def to_file(args, cwd, path, env=None):
    """Run a command with stdout and stderr to the file ``path``; return ``wall`` seconds and
    its (and its waited-for children's) ``user`` and ``sys`` CPU seconds, from ``wait4``."""
    t = time.perf_counter()
    with open(path, "wb") as f:
        # a session of its own, as on_terminal's: with sched_autogroup each session is
        # scheduled as one group, and under load a command alone in its group got twice the
        # share of one in the benchmark's (file runs read 2x the wall of terminal runs)
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=f, stderr=f,
                                start_new_session=True)
        _, status, ru = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t
    if status:
        with open(path, "rb") as f:
            raise RuntimeError(f"{' '.join(args)}: status {status}\n{f.read()[-2000:]!r}")
    return {"wall": took, "user": ru.ru_utime, "sys": ru.ru_stime}


def in_turns(cases, rounds):
    """Call each of ``cases`` (name -> function returning a dict as :func:`to_file` does)
    once a round, in the opposite order every other round (the load drifts); return name ->
    the list of its dicts."""
    out = {name: [] for name in cases}
    names = list(cases)
    for k in range(rounds):
        for name in names if k % 2 == 0 else names[::-1]:
            out[name].append(cases[name]())
    return out


def best_median(runs):
    """``{"wall": (best, median), "cpu": (best, median), "user": ...}`` of runs as
    :func:`in_turns` answers them (cpu: user + system)."""
    import statistics

    summary = {}
    for key in ("wall", "cpu", "user", "sys"):
        values = [r["wall"] if key == "wall" else r["user"] + r["sys"] if key == "cpu"
                  else r[key] for r in runs]
        summary[key] = (min(values), statistics.median(values))
    return summary


def fresh_replica(dest):
    """Make the project copy at ``dest`` another sync replica: its own identity, no sync
    records (removes ``.suite/id`` and ``.suite/sync``)."""
    import shutil

    for name in ("id", "sync"):
        path = os.path.join(dest, ".suite", name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.unlink(path)
