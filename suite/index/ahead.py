"""Reading new jobs ahead of their inserts: a forked child reads, parses and flattens parts of
the jobs while this process inserts what is ready into SQLite, so the two cores work at once
(before, both read and then one inserted while the other waited).

The child takes the parts from the front and sends each result by ``marshal``; when none is
ready, this process does a part itself, from the back, so neither waits for the other until
they meet. A child that fails (or is killed) only leaves its parts to this process: the result
never misses a part.
"""

import contextlib
import marshal
import os
import struct

from ..jsonio import read_exactly, write_all
from .freshness import PARALLEL_STAT_MIN
from .store import chunks

#: jobs per part: small enough that the two processes meet closely at the end
PART = 5000
_HEADER = struct.Struct("<QQ")  # part number, length of its marshal text


def prepared(fn, items, ws, part=None):
    """Yield ``fn(p, ws)`` for consecutive parts ``p`` of ``items``, each once, in some
    order: in two processes from :data:`~suite.index.freshness.PARALLEL_STAT_MIN` items on
    (where the machine can fork and has two cores). ``fn``'s result must be marshal's:
    lists, tuples, strings, numbers, None. Close the generator (``contextlib.closing``) to
    stop the child early."""
    parts = list(chunks(items, part or PART))
    if (len(items) < PARALLEL_STAT_MIN or len(parts) < 2 or not hasattr(os, "fork")
            or (os.cpu_count() or 1) < 2):
        for p in parts:
            yield fn(p, ws)
        return
    import signal  # here, and select in _meet: every query imports this module, few fork

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: only reads files and writes to the pipe; no cleanup handlers
        status = 1
        try:
            os.close(r)
            for k, p in enumerate(parts):
                data = marshal.dumps(fn(p, ws))
                write_all(w, _HEADER.pack(k, len(data)) + data)
            status = 0
        finally:
            os._exit(status)
    os.close(w)
    try:
        yield from _meet(fn, parts, ws, r)
    finally:
        os.close(r)  # a child still writing gets EPIPE
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _meet(fn, parts, ws, r):
    import select

    front, back = 0, len(parts)  # the child's next part; this process has done [back:]
    child = True
    while front < back:
        ready = child and select.select([r], [], [], 0)[0]
        if child and not ready and back - front == 1:
            # only the part the child is on is left: wait for it rather than do it twice
            ready = select.select([r], [], [])[0]
        if ready:
            message = _read_message(r)
            if message is None:  # the child failed or was killed: its parts are ours
                child = False
                continue
            front += 1  # the child sends its parts in order
            yield marshal.loads(message[1])
        else:
            back -= 1
            yield fn(parts[back], ws)


def _read_message(r):
    """``(part number, marshal text)`` from the pipe, or None at its end (or a short one)."""
    header = read_exactly(r, _HEADER.size)
    if header is None:
        return None
    k, size = _HEADER.unpack(header)
    data = read_exactly(r, size)
    return None if data is None else (k, data)

