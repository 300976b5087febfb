"""A sync's second data stream: for a large push, file writes also go over a second stream
to a second far process (``suite _sync-server PATH --data``, :data:`sync.server.DATA_OPS`),
opened beside the first (:meth:`sync.transports.Transport.second`: a second channel of the
paramiko connection, a second ``ssh`` over an open ControlMaster, a second local process).

Why: a push of many megabytes is paced by the far sshd's channel window (2 MiB; over a 40 ms
round trip ~50-100 MiB/s a channel), not by either side's CPU; two channels have two windows.
Each far process writes its files as the first does (a temporary file beside the target,
renamed into place), so what a stream killed mid-way leaves is what one stream leaves today.
The record is saved only after both streams' writes are answered (:meth:`Client.flush`).

The stream is opened in a thread while the first carries on, and only where it pays
(:func:`pays`): a far process's start is paid only by syncs whose bytes, over one window a
round trip, would take longer than that start; if it cannot be opened (an older suite there,
no master connection, a version apart) the first stream carries everything.
"""

import threading

from .client import Client
from .replica import SyncError

#: the bytes a channel carries a round trip, at most: the far sshd's window for a session
#: channel (OpenSSH: 64 packets of 32 KiB), paramiko's too
WINDOW = 2 << 20

#: what a second stream costs, in CPU seconds: the far side's second sshd session, shell and
#: server (its start, and the work of its writes beyond moving them from the first), and this
#: side's second channel or ssh (docs/benchmarks.md, issue 18, session 15)
COST = 0.3


def pays(nbytes, measured):
    """Whether a second stream for ``nbytes`` of writes saves more time than it costs.
    ``measured``: ``(round trip s, far start s)`` from :meth:`Client.round_trip` (None: not
    known, and then no). Paced by the window, the bytes take ``nbytes / WINDOW`` round trips
    over one stream and half as many over two: the saving is ``nbytes * rtt / (2 * WINDOW)``
    seconds, against :data:`COST`."""
    if measured is None:
        return False
    return nbytes * measured[0] / (2 * WINDOW) > COST


class DataStream(Client):
    """The client of the second stream: a :class:`Client` whose failed writes name their
    file and the stream (one stream's errors are told apart from the other's)."""

    names_writes = True
    measures = False
    second_stream = False  # it is the second stream: it opens no other

    def failed(self, message, what):
        return SyncError(f"{message} (writing {what} over the second data stream)")


class Second:
    """The second stream being opened (in a thread), then open, or given up."""

    def __init__(self, transport, label):
        self.client, self.error = None, None
        self._lock, self._closed = threading.Lock(), False
        self._thread = threading.Thread(target=self._open, args=(transport, label),
                                        name="sync-data-stream", daemon=True)
        self._thread.start()

    def _open(self, transport, label):
        try:
            far = transport.second()
            if far is None:
                return
            client = DataStream(far, label)
        except Exception as exc:  # an older suite there, a refused session: one stream
            self.error = exc
            return
        with self._lock:
            if not self._closed:
                self.client = client
                return
        client.close()  # the sync ended while this opened: nothing went over it

    def ready(self):
        """The open stream's client if it is ready and sound now (never waits), else None."""
        client = self.client
        return None if client is None or client.broken else client

    def wait(self):
        """Wait for the opening to end; the client (None: one stream carries all)."""
        self._thread.join()
        return self.client

    def close(self):
        """Close the stream (its writes answered first). One still opening is not waited
        for: the sync is over, and it closes itself once open (a sync that ended before the
        far process started pays nothing for it)."""
        with self._lock:
            self._closed, client = True, self.client
        if client is not None:
            client.close()
