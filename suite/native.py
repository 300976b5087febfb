"""Optional native speedups: C modules built with suite where a C compiler is present.

Each function of a native module has a pure-Python reference that gives the same answers (the
tests compare the two); suite works without them, only slower. ``SUITE_PURE_PYTHON=1`` in the
environment makes :func:`load` return None, so the reference runs (for tests and
comparisons).
"""

import importlib
import os

#: the extension modules setup.py builds (each optional)
MODULES = (
    "suite._fsstat",
    "archive._tarpack",
    "sync._listing",
    "sync._compare",
    "sync._delta",
    "suite.index._readmany",
    "suite.provenance._capture",
    "suite._copyjson",
)


def disabled():
    """True when ``SUITE_PURE_PYTHON`` asks for the pure-Python references."""
    return os.environ.get("SUITE_PURE_PYTHON", "") not in ("", "0")


def load(name):
    """The native module ``name`` (one of :data:`MODULES`), or None where it was not built,
    does not import, or :func:`disabled`. Never raises."""
    if disabled():
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def missing():
    """Names of :data:`MODULES` that do not import here (whatever :func:`disabled` says)."""
    out = []
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            out.append(name)
    return out


#: from this many items on, :func:`two_threads` uses two threads
THREADS_MIN = 4096


def two_threads(fn, n):
    """``fn(0, n)``, a list, as ``fn(0, n // 2) + fn(n // 2, n)`` with the second half done in
    a second thread meanwhile, from :data:`THREADS_MIN` items on where two cores are
    available. For native functions that release the interpreter lock around their system
    calls: the two halves' waits overlap, without the copy-on-write cost of a second process
    (and under load without more CPU time than one thread). Raises what ``fn`` raises for
    the first half, else for the second (the order one call would meet them in)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if n < THREADS_MIN or (cores or 1) < 2:
        return fn(0, n)
    import threading

    half = n // 2
    second = {}

    def run():
        try:
            second["value"] = fn(half, n)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            second["error"] = exc

    thread = threading.Thread(target=run, name="suite-native-half", daemon=True)
    thread.start()
    try:
        first = fn(0, half)
    finally:
        thread.join()
    if "error" in second:
        raise second["error"]
    return first + second["value"]
