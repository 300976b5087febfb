"""Small helpers about processes (used by interrupted-work cleanup and the direct scheduler)
and this process's garbage collector."""

import atexit
import contextlib
import gc
import os
import sys


@contextlib.contextmanager
def gc_paused():
    """No cyclic garbage collection in the block, for code that builds many objects without
    cycles (JSON values, jobs) and runs no user code: each collection walks every object made
    so far, which grew faster than the number of jobs (a million jobs' document check: 13 s of
    CPU with collections, 8.7 s without; an archive import of 10,000 jobs: 0.2 s of checks
    with, 0.16 s without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def pid_alive(pid):
    """True if a process with ``pid`` runs (a zombie, finished but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def exit_now(code):
    """End this process with the status :func:`sys.exit` gives ``code`` (None: 0; an int),
    without the interpreter's teardown: the exit handlers (:mod:`atexit`, ``weakref.finalize``)
    run, then stdout and stderr are flushed, as at a normal exit, then ``os._exit``. Objects
    are not freed, so no ``__del__`` runs and a file left open without ``close`` loses what
    its buffer holds: only for the end of a console script whose command runs no user code.

    Takes the normal exit (raises :class:`SystemExit`) instead when another thread runs (the
    interpreter would wait for it), when ``code`` is not a status from 0 to 255 (a message
    to print, a status the interpreter truncates) or when a flush fails (the interpreter
    reports it, and exits 120)."""
    if code is None:
        code = 0
    threading = sys.modules.get("threading")
    run_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython's, since 2.x
    if (type(code) is not int or not 0 <= code <= 255 or run_handlers is None
            or (threading is not None and threading.active_count() > 1)):
        raise SystemExit(code)
    run_handlers()  # prints and goes on past a handler that raises, as the interpreter does
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except BaseException:
        raise SystemExit(code) from None
    os._exit(code)
