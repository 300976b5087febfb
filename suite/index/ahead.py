"""Reading new jobs ahead of their inserts: a forked child reads, parses and flattens parts of
the jobs while this process inserts what is ready into SQLite, so the two cores work at once
(before, both read and then one inserted while the other waited).

The child takes the parts from the front and sends each result by ``marshal``; when none is
ready, this process does a part itself, from the back, so neither waits for the other until
they meet. A child that fails (or is killed) only leaves its parts to this process: the result
never misses a part.
"""

import marshal
import os

from .. import forked
from .freshness import PARALLEL_STAT_MIN
from .store import chunks

#: jobs per part: small enough that the two processes meet closely at the end
PART = 5000


def prepared(fn, items, ws, part=None):
    """Yield ``fn(p, ws)`` for consecutive parts ``p`` of ``items``, each once, in some
    order: in two processes from :data:`~suite.index.freshness.PARALLEL_STAT_MIN` items on
    (where a child may be forked, :func:`suite.forked.can_fork`, and the machine has two
    cores). ``fn``'s result must be marshal's: lists, tuples, strings, numbers, None. Raises
    what ``fn`` raises here. Close the generator (``contextlib.closing``) to stop the child
    early."""
    parts = list(chunks(items, part or PART))
    if (len(items) < PARALLEL_STAT_MIN or len(parts) < 2 or (os.cpu_count() or 1) < 2
            or not forked.can_fork()):
        for p in parts:
            yield fn(p, ws)
        return
    try:
        child = forked.Child(lambda: (fn(p, ws) for p in parts), "reading new jobs",
                             codec=marshal, each=True)
    except OSError:  # no process or pipe to be had now: every part here
        for p in parts:
            yield fn(p, ws)
        return
    try:
        yield from _meet(fn, parts, ws, child)
    finally:
        child.cancel()  # a child still writing is stopped; reaped


def _meet(fn, parts, ws, child):
    front, back = 0, len(parts)  # the child's next part; this process has done [back:]
    alive = True
    while front < back:
        # only the part the child is on left: wait for it rather than do it twice
        ready = alive and child.ready(None if back - front == 1 else 0)
        if ready:
            try:
                answer = child.receive()
            except Exception:  # noqa: BLE001 - it failed or was killed: its parts are ours
                alive = False
                continue
            front += 1  # the child sends its parts in order
            yield answer
        else:
            back -= 1
            yield fn(parts[back], ws)
