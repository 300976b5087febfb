"""A compressing stream written by a thread of its own, fed by a bounded queue.

The compressors (zstandard, zlib, bz2, lzma) release the GIL while they compress, so a thread
that hands them the export's bytes compresses beside the walk and the Python of the export
(tar overlaps the same way: its compressor is a second process).
"""

import queue
import threading

#: chunks (about a MiB each, archive.tarformat.CHUNK) waiting at most: the export's loop
#: waits when compression is this far behind
DEPTH = 8


class ThreadedSink:
    """Writes to ``out`` (a file-like object) in a thread started at the first write.

    :meth:`write` queues its bytes and returns; an exception of ``out.write`` in the thread
    is raised again by the next :meth:`write` or by :meth:`close` (the bytes after it are
    dropped). :meth:`close` waits for the queued bytes, then closes ``out`` in the calling
    thread; :meth:`abort` stops the thread without closing ``out``.
    """

    def __init__(self, out, depth=DEPTH):
        self._out = out
        self._queue = queue.Queue(depth)
        self._thread = None
        self._error = None

    def _run(self):
        write = self._out.write
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    write(data)
                except BaseException as exc:  # noqa: BLE001 - raised again in the writer's thread
                    self._error = exc

    def write(self, data):
        if self._error is not None:
            raise self._error
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="suite-compress",
                                            daemon=True)
            self._thread.start()
        self._queue.put(data)

    def _stop(self):
        if self._thread is not None:
            self._queue.put(None)  # the thread drains the queue, so there is room soon
            self._thread.join()
            self._thread = None

    def close(self):
        self._stop()
        if self._error is not None:
            raise self._error
        self._out.close()

    def abort(self):
        self._stop()
