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
    "sync._landing",
    "sync._readfiles",
    "suite.index._readmany",
    "suite.provenance._capture",
    "suite._copyjson",
    "suite._spcanon",
    "archive._importjobs",
    "suite._slots",
    "suite.index._keyrows",
    "suite._attrhook",
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


#: from this many items on, :func:`in_threads` splits the work
THREADS_MIN = 4096
#: the threads of the loops of file lookups (``stat`` per job): on a cold cache each lookup
#: waits for the disk, and the threads overlap those waits (a third of the million's
#: documents, cold: 103 s by one thread, 13 s by four, 12.5 s by eight, at the same CPU time);
#: on cores kept busy by other processes the scheduler shares them by thread, so eight
#: threads against two busy ones get 8/10 of two cores where four got 4/6 (the document
#: check of 100,000 jobs under bench_scale's --load: docs/benchmarks.md, session 16)
IO_THREADS = 8
#: parts of the work per thread of :func:`in_threads`, taken in turn by whichever thread is
#: free: on a busy machine the scheduler gives the threads unequal time, and with one part
#: each the slowest decided the end
PARTS_PER_THREAD = 2


def _cores():
    return (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count()) or 1


def two_cores():
    """Whether this process may run on two cores or more (a second thread can help)."""
    return _cores() >= 2


def idle_core():
    """Whether a second core looks idle (:func:`core_idle` of this machine's numbers). For
    work that a second thread only speeds up when a core would otherwise wait (on a busy
    machine the thread costs CPU and gains nothing)."""
    try:
        with open("/proc/loadavg", "rb") as f:  # "0.52 0.58 0.59 2/345 6789"
            fields = f.read().split()
        load, running = float(fields[0]), int(fields[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):  # not Linux: the load average alone
        try:
            load, running = os.getloadavg()[0], None
        except (AttributeError, OSError):  # not known here: assume busy
            return False
    return core_idle(_cores(), load, running)


def core_idle(cores, load, running=None):
    """Whether, of ``cores`` cores, one looks idle, given the load average of the last
    minute and the tasks ``running`` now (this one included; None: not known). The load
    average counts this command's own work too: a sync run again and again (a script, a
    benchmark) keeps it near 1 on its own, so it may reach ``cores - 0.5`` (half a core in
    use by others on average) while no other task runs now (``running - 1 < cores - 1``).
    Without the count of tasks, the load average alone must stay below ``cores - 1``."""
    if cores < 2:
        return False
    if running is None:
        return load < cores - 1
    return load < cores - 0.5 and running - 1 < cores - 1


def in_threads(fn, n, ways=IO_THREADS):
    """``fn(0, n)``, a list, as the concatenation of ``fn`` over consecutive parts of
    ``range(n)``, done by the calling thread and ``ways - 1`` threads meanwhile, from
    :data:`THREADS_MIN` items on where two cores are available. Each thread takes the next
    part not yet taken until none is left (:data:`PARTS_PER_THREAD` parts a thread), so a
    thread the scheduler ran less does not leave the others idle at the end. For native
    functions that release the interpreter lock around their system calls: their waits
    overlap, without the copy-on-write cost of a second process (and under load without more
    CPU time than one thread). Raises what ``fn`` raises for the earliest part that failed
    (the order one call would meet them in); parts after a failed one are not begun."""
    if n < THREADS_MIN or ways < 2 or not two_cores():
        return fn(0, n)
    import itertools
    import threading

    count = min(n, ways * PARTS_PER_THREAD)
    bounds = [n * k // count for k in range(count + 1)]
    results = [None] * count
    taken = itertools.count()  # next() on it is atomic under the interpreter lock
    first_failed = [count]

    def run():
        for k in taken:
            if k >= first_failed[0]:  # past the end, or after a part that failed
                return
            try:
                results[k] = fn(bounds[k], bounds[k + 1])
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                results[k] = exc
                first_failed[0] = min(first_failed[0], k)

    threads = []

    def start_the_rest():
        # started here, not by the caller: a start waits until the new thread runs, which
        # on a busy machine took up to 20-90 ms for 3-15 threads; the caller works meanwhile
        for k in range(2, ways):
            thread = threading.Thread(target=run, name=f"suite-native-part-{k}", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # no more threads to be had now: those running take all
                break
            threads.append(thread)
        run()

    starter = threading.Thread(target=start_the_rest, name="suite-native-part-1", daemon=True)
    try:
        starter.start()
    except RuntimeError:  # no thread to be had now: every part here
        starter = None
    try:
        run()
    finally:
        if starter is not None:
            starter.join()  # after it, ``threads`` is complete
        for thread in threads:
            thread.join()
    if first_failed[0] < count:
        raise results[first_failed[0]]
    out = []
    for value in results:
        out += value
    return out
