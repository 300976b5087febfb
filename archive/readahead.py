"""Decompression a few chunks ahead of the reader, in a second thread.

``tar --zstd -xf`` is two processes: zstd decompresses on one core while tar writes the files
on the other. :class:`ReadAhead` does the same inside one process: a thread reads the
decompressed stream (zstandard releases the interpreter lock while it decompresses) into a
bounded queue of chunks, and the scan takes them from there. The bytes, their order and every
error are the stream's own: an exception of the stream is raised by the ``read`` that would
have met it.
"""

import threading
from collections import deque

#: the size of each read from the stream (as archive.tarreader reads it)
CHUNK = 1 << 20
#: chunks read ahead at most (memory bound: DEPTH × CHUNK)
DEPTH = 4


class ReadAhead:
    """``read(n)`` over ``source`` (an object with ``read(n)``), filled by a thread.

    Call :meth:`close` (or use it as a context manager) before closing ``source``: it stops
    the thread and waits for it."""

    def __init__(self, source, chunk=CHUNK, depth=DEPTH):
        self._src, self._chunk, self._depth = source, chunk, depth
        self._ready = deque()  # chunks read, b"" at the end, or an exception to raise
        self._cond = threading.Condition()
        self._stop = False
        self._head, self._at = b"", 0  # the chunk being handed out, and how far
        self._done = False
        self._thread = threading.Thread(target=self._fill, name="suite-readahead", daemon=True)
        self._thread.start()

    def _fill(self):
        while True:
            try:
                data = self._src.read(self._chunk)
            except BaseException as exc:  # noqa: BLE001 - handed to the reader to raise
                data = exc
            with self._cond:
                while len(self._ready) >= self._depth and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                self._ready.append(data)
                self._cond.notify_all()
            if not isinstance(data, bytes) or not data:
                return  # the end, or an error: nothing more is read

    def read(self, n=-1):
        """Up to ``n`` bytes (the rest of the stream when negative); b"" at its end. Raises
        what the stream's ``read`` raised, at the same place in the data."""
        if n < 0:
            parts = []
            while chunk := self.read(1 << 30):
                parts.append(chunk)
            return b"".join(parts)
        if self._at >= len(self._head):
            if self._done or n == 0:
                return b""
            with self._cond:
                while not self._ready:
                    self._cond.wait()
                data = self._ready.popleft()
                self._cond.notify_all()
            if not isinstance(data, bytes):
                self._done = True
                raise data
            if not data:
                self._done = True
                return b""
            self._head, self._at = data, 0
        if self._at == 0 and n >= len(self._head):
            out, self._head = self._head, b""
            return out
        out = self._head[self._at:self._at + n]
        self._at += len(out)
        return out

    def close(self):
        """Stop the thread and wait for it (it finishes the read it is in)."""
        with self._cond:
            self._stop = True
            self._ready.clear()
            self._cond.notify_all()
        self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
