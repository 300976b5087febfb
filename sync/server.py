"""The suite process on the far side of an SSH sync (``suite _sync-server PATH``): it serves
the :class:`sync.replica.Replica` operations over stdin/stdout frames."""

import os
import sys
import threading
import time

from . import ops, protocol
from .replica import Replica


class _Output:
    """The answer stream, shared by the request loop and the heartbeat thread: whole frames,
    one at a time. Answers are gathered and go out when the loop is about to wait for more
    requests (:meth:`flush`), or past :attr:`BATCH` bytes (about a hundred small answers):
    one write, and one SSH packet, per batch instead of per answer, yet soon enough that
    the client, waiting for room in its window of posted writes, goes on while this side
    works through the rest of what it read."""

    BATCH = 4096

    def __init__(self, stream):
        self.stream, self.lock, self.last = stream, threading.Lock(), time.monotonic()
        self.beating = False
        self.pending = bytearray()
        #: when the hello went (monotonic) and this process's CPU seconds by then (see
        #: sync.ops' since_hello)
        self.hello = (0.0, 0.0)

    def send(self, header, payload=b""):
        with self.lock:
            self.pending += protocol.encode_frame(header, payload)
            if len(self.pending) >= self.BATCH:
                self._write()

    def flush(self):
        """Send the answers gathered so far."""
        with self.lock:
            if self.pending:
                self._write()

    def _write(self):  # the lock is held
        self.stream.write(bytes(self.pending))
        self.stream.flush()
        self.pending.clear()
        self.last = time.monotonic()

    def heartbeats(self, every):
        """Send a heartbeat frame whenever nothing was sent for ``every`` seconds, so the
        client's read timeout tells a stopped far side from a busy one."""
        if self.beating:
            return
        self.beating = True

        def beat():
            while True:
                time.sleep(max(0.1, every - (time.monotonic() - self.last)))
                try:
                    with self.lock:
                        if time.monotonic() - self.last >= every:
                            self.pending += protocol.encode_frame({"heartbeat": True})
                            self._write()
                except (OSError, ValueError):  # the client has gone
                    return

        threading.Thread(target=beat, daemon=True).start()


class _Requests:
    """The request stream, read ahead in large blocks; the gathered answers are flushed
    before each block is waited for (the client may be waiting for them)."""

    BLOCK = 256 << 10

    def __init__(self, stream, out):
        self.stream, self.out = stream, out
        self.buf, self.pos = b"", 0
        self._more = getattr(stream, "read1", stream.read)
        #: seconds the last block was waited for (~0: it was there; see since_hello)
        self.waited = 0.0

    def read(self, n):
        if self.pos >= len(self.buf):
            self.out.flush()
            started = time.monotonic()
            self.buf, self.pos = self._more(max(n, self.BLOCK)), 0
            self.waited = time.monotonic() - started
        out = self.buf[self.pos:self.pos + n]
        self.pos += len(out)
        return out


#: what a second stream's server (``--data``) serves: file writes and heartbeats, nothing
#: that reads, locks or saves a record (those stay on the first stream, in its order)
DATA_OPS = frozenset({"heartbeat", "write", "write_open", "write_chunk", "write_close"})


def serve(path, stdin=None, stdout=None, init=False, data=False):
    """Serve the project at ``path`` (``~`` is this side's home; ``init``: create a project
    there if there is none) until the client closes; return the exit status. ``data``: a
    sync's second stream, which serves :data:`DATA_OPS` only (another request is answered
    with an error) and leaves the index to the first.

    With ``SUITE_PROFILE=DIR`` in the environment the session runs under cProfile and its
    statistics are written to ``DIR/sync-server-PID.prof`` (for the benchmarks)."""
    profile_dir = os.environ.get("SUITE_PROFILE")
    if profile_dir:
        import cProfile

        profiler = cProfile.Profile()
        try:
            return profiler.runcall(_serve_session, path, stdin, stdout, init, data)
        finally:
            profiler.dump_stats(os.path.join(profile_dir, f"sync-server-{os.getpid()}.prof"))
    return _serve_session(path, stdin, stdout, init, data)


def _serve_session(path, stdin, stdout, init, data=False):
    stdin = stdin or sys.stdin.buffer
    if stdout is None:
        # frames get a descriptor of their own; fd 1 becomes stderr, so whatever a workflow,
        # a scheduler command or a child process prints never lands inside a frame
        stdout = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
        sys.stdout = sys.stderr
    out = _Output(stdout)
    try:
        replica = Replica(os.path.expanduser(path), init=init and not data)
    except Exception as exc:  # report, then stop: the client shows it
        out.send({"ok": False, "error": str(exc), "type": type(exc).__name__})
        out.flush()
        return 1
    out.send({"ok": True, "version": protocol.VERSION, "label": replica.label})
    # taken before it goes: a time taken after may come late (this process preempted once
    # it has written), and would shorten the round trip
    out.hello = (time.monotonic(), time.process_time())
    out.flush()  # the hello at once: the client waits for it before it sends anything
    streams = {}  # token -> FileWriter
    try:
        if data:
            return _serve(replica, _Requests(stdin, out), out, streams, only=DATA_OPS)
        return _serve(replica, _Requests(stdin, out), out, streams)
    except protocol.ProtocolError as exc:  # the client spoke badly: say so, and stop
        try:
            out.send({"ok": False, "error": f"the far side refused a request: {exc}",
                      "type": "ProtocolError"})
        except OSError:
            pass
        return 2
    finally:
        try:
            out.flush()
        except (OSError, ValueError):  # the client has gone
            pass
        for writer in streams.values():  # transfers the client did not finish
            writer.abort()


class _Session:
    """What the operations' handlers share on this side: the replica, the answer stream and
    the streamed writes not closed yet (token -> FileWriter)."""

    def __init__(self, replica, out, streams, stdin=None):
        self.replica, self.out, self.streams = replica, out, streams
        self.stdin = stdin  # read by a streamed operation that listens for a stop


def _serve(replica, stdin, stdout, streams, only=None):
    session, wrote = _Session(replica, stdout, streams, stdin), False
    while True:
        header, payload = protocol.read_frame(stdin)
        if header is None or header.get("op") == "close":
            if only is None and wrote:
                # while the client waits for the end of this stream: once its sync returns,
                # nothing of this side writes into the project (a script may delete it)
                replica.index_new_jobs()
            return 0
        try:
            if only is not None and header.get("op") not in only:
                raise ValueError(f"the data stream takes file writes only, not "
                                 f"{header.get('op')!r}")
            op = ops.lookup(header.get("op"))
            wrote = wrote or op.writes
            if op.mode != "post":  # may take long: the client may be waiting for answers
                stdout.flush()
            result, out = op.run(session, header, payload)
            replica.changed.clear()  # each refused write's note went back in its answer
            stdout.send({"ok": True, "result": result}, out)
        except Exception as exc:
            import traceback  # only for a failed request: not part of every start

            stdout.send({"ok": False, "error": str(exc), "type": type(exc).__name__,
                         "trace": traceback.format_exc(limit=3)})
