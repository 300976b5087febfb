"""Forked workers for ``status``: :func:`map_forked` runs a function over parts in child
processes (:func:`suite.forked.map_parts`), each with this process's memory as it stands (the
parsed workflow, project and index columns: nothing pickled), and brings back their
``marshal``-able answers.

Condition and label functions are user Python, so threads would not run them at once; forked
processes do, one per core. A worker that fails in any way (an exception, a signal, an answer
cut short) makes the whole map answer None: the caller then does the work itself, in this
process, so a failing condition is reported exactly as without workers.
"""

from .. import forked

#: the most workers, whatever is asked (a worker each is copied memory)
WORKERS_MAX = 8
#: CPU seconds (user + system) of each worker of the last map that finished, in part order:
#: the benchmarks' measure of how evenly the parts were shared
last_cpu = []


def available():
    """Whether forked workers may be used here (:func:`suite.forked.can_fork`)."""
    return forked.can_fork()


def map_forked(fn, parts):
    """``[fn(0, parts[0]), fn(1, parts[1]), ...]``, each called in a forked child, or None when
    a child did not answer or could not be started (the caller does the work itself then).
    Values must be marshal-able. A KeyboardInterrupt (Ctrl-C) here kills and reaps the
    children before it goes on; the children are always reaped before this returns or
    raises."""
    cpu = []
    try:
        answers = forked.map_parts(fn, parts, what="status worker", cpu=cpu)
    except Exception:  # noqa: BLE001 - judged again here, where the error is reported
        return None
    last_cpu[:] = cpu
    return answers
