"""Forked workers for ``status``: :func:`map_forked` runs a function over parts in child
processes made by ``fork``, each with this process's memory as it stands (the parsed workflow,
project and index columns: nothing pickled), and brings back their ``marshal``-able answers.

Condition and label functions are user Python, so threads would not run them at once; forked
processes do, one per core. A worker that fails in any way (an exception, a signal, an answer
cut short) makes the whole map answer None: the caller then does the work itself, in this
process, so a failing condition is reported exactly as without workers.
"""

import marshal
import os
import signal
import sys
import threading

from ..jsonio import read_to_end, write_all

#: the most workers, whatever is asked (a worker each is copied memory)
WORKERS_MAX = 8
#: CPU seconds (user + system) of each worker of the last map that finished, in part order:
#: the benchmarks' measure of how evenly the parts were shared
last_cpu = []


def available():
    """Whether forked workers may be used here: ``fork`` exists and this process runs no
    other thread (a thread holding a lock at the fork would leave it held in the child)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def map_forked(fn, parts):
    """``[fn(0, parts[0]), fn(1, parts[1]), ...]``, each called in a forked child, or None when
    a child did not answer (the caller does the work itself then). Values must be marshal-able.
    A KeyboardInterrupt (Ctrl-C) here kills and reaps the children before it goes on; the
    children are always reaped before this returns or raises."""
    for stream in (sys.stdout, sys.stderr):
        try:  # what is buffered here would be written again by every child
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    children = []  # (pid, read end)
    unread = set()  # read ends not closed yet
    reaped = set()
    try:
        for k, part in enumerate(parts):
            try:
                _start(fn, k, part, children, unread)
            except OSError:  # no process or pipe to be had now: the caller does the work
                return None
        answers = []
        for _, r in children:
            answers.append(read_to_end(r) or None)  # none: no answer came
            unread.discard(r)
            os.close(r)
        ok = True
        last_cpu.clear()
        for pid, _ in children:
            _, status, usage = os.wait4(pid, 0)
            reaped.add(pid)
            ok = ok and os.waitstatus_to_exitcode(status) == 0
            last_cpu.append(usage.ru_utime + usage.ru_stime)
        if not ok or any(a is None for a in answers):
            return None
        return [marshal.loads(a) for a in answers]
    finally:
        left = [pid for pid, _ in children if pid not in reaped]
        for pid in left:  # interrupted, or a failure while starting or reading
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in left:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        for r in unread:
            os.close(r)


def _start(fn, k, part, children, unread):
    """Fork the worker for part ``k``, adding ``(pid, read end of its answer)`` to
    ``children`` and the read end to ``unread``. SIGINT is held back until both are noted: a
    KeyboardInterrupt raised in the child before it is inside its own handler would run this
    process's code on in the child, and one raised here before the child is noted would
    leave it running."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            raise
        if pid == 0:
            _child(fn, k, part, w, [r, *(fd for _, fd in children)], held)  # never returns
        os.close(w)
        children.append((pid, r))
        unread.add(r)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _child(fn, k, part, w, inherited, held):
    code = 1
    try:
        for fd in inherited:  # the parent's read ends
            os.close(fd)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        try:
            data = marshal.dumps(fn(k, part))
        except BaseException:  # noqa: BLE001 - the parent judges again and reports it
            data = None
        if data is not None:
            write_all(w, data)
            code = 0
        for stream in (sys.stdout, sys.stderr):  # what the user's functions printed
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
    finally:
        os._exit(code)
