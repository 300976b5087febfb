"""The suite process on the far side of an SSH sync (``suite _sync-server PATH``): it serves
the :class:`sync.replica.Replica` operations over stdin/stdout frames."""

import os
import sys
import threading
import time
import traceback

from suite.jsonio import ANY

from . import protocol
from .replica import Replica

#: operations the client may call, and whether they take/return a payload
OPS = {"identity", "load_record", "save_record", "snapshot", "doc_mtime", "statepoint",
       "digest", "read", "write", "delete_file", "write_doc", "write_project_doc", "create_job",
       "delete_job", "find_ids", "signatures", "make_deltas", "apply_delta",
       "read_files", "digests", "read_stream", "write_open", "write_chunk", "write_close",
       "write_link", "heartbeat", "try_lock", "lock", "unlock"}

WRITES = {"write", "write_link", "delete_file", "write_doc", "create_job", "delete_job",
          "apply_delta",
          "write_close"}


class _Output:
    """The answer stream, shared by the request loop and the heartbeat thread: whole frames,
    one at a time."""

    def __init__(self, stream):
        self.stream, self.lock, self.last = stream, threading.Lock(), time.monotonic()
        self.beating = False

    def send(self, header, payload=b""):
        with self.lock:
            protocol.write_frame(self.stream, header, payload)
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
                            protocol.write_frame(self.stream, {"heartbeat": True})
                            self.last = time.monotonic()
                except (OSError, ValueError):  # the client has gone
                    return

        threading.Thread(target=beat, daemon=True).start()


def serve(path, stdin=None, stdout=None, init=False):
    """Serve the project at ``path`` (``~`` is this side's home; ``init``: create a project
    there if there is none) until the client closes; return the exit status."""
    stdin = stdin or sys.stdin.buffer
    out = _Output(stdout or sys.stdout.buffer)
    try:
        replica = Replica(os.path.expanduser(path), init=init)
    except Exception as exc:  # report, then stop: the client shows it
        out.send({"ok": False, "error": str(exc), "type": type(exc).__name__})
        return 1
    out.send({"ok": True, "version": protocol.VERSION, "label": replica.label})
    streams = {}  # token -> FileWriter
    try:
        return _serve(replica, stdin, out, streams)
    except protocol.ProtocolError as exc:  # the client spoke badly: say so, and stop
        try:
            out.send({"ok": False, "error": f"the far side refused a request: {exc}",
                      "type": "ProtocolError"})
        except OSError:
            pass
        return 2
    finally:
        for writer in streams.values():  # transfers the client did not finish
            writer.abort()


def _serve(replica, stdin, stdout, streams):
    wrote = False
    while True:
        header, payload = protocol.read_frame(stdin)
        if header is None or header.get("op") == "close":
            if wrote or replica.index_cold:
                # the client has gone: bring the index up to date now, not in the next query
                try:
                    replica.project.index.refresh(documents=True)
                except Exception:  # a cache: the next query refreshes it anyway
                    pass
            return 0
        op = header.get("op")
        try:
            if op not in OPS:
                raise ValueError(f"unknown operation {op!r}")
            args = header.get("args", [])
            wrote = wrote or op in WRITES
            if op == "heartbeat":
                stdout.heartbeats(min(max(float(args[0]), 0.5), 3600.0))
                result, out = None, b""
            elif op == "write":
                result = replica.write(*args, payload, header["mtime"], _expect(header))
                out = b""
            elif op == "create_job":
                meta = header["files"]
                pieces = protocol.split_payload(payload, [size for _, size, _ in meta])
                files = [(rel, data, mtime) for (rel, _, mtime), data in
                         zip(meta, pieces, strict=True)]
                result, out = replica.create_job(*args, files), b""
            elif op == "signatures":
                sigs = replica.signatures_later(*args)()
                result, out = [len(sig) for sig in sigs], b"".join(sigs)
            elif op == "make_deltas":
                requests, sizes = args
                made = replica.make_deltas_later(
                    requests, protocol.split_payload(payload, sizes))()
                result = [None if m is None else [len(m[0]), m[1]] for m in made]
                out = b"".join(m[0] for m in made if m is not None)
            elif op == "apply_delta":
                result = replica.apply_delta(*args, payload, header["mtime"], _expect(header))
                out = b""
            elif op == "read_stream":
                # several frames: the mtime, one per chunk ("more"), then the end
                mtime, chunks = replica.read_chunks(*args)
                stdout.send({"ok": True, "more": True, "mtime": mtime})
                for chunk in chunks:
                    stdout.send({"ok": True, "more": True}, chunk)
                result, out = None, b""
            elif op == "write_open":
                token, job_id, rel, *expect = args  # no expect: an unchecked write
                streams[token] = replica.open_stream(job_id, rel, *expect[:1])
                result, out = None, b""
            elif op == "write_chunk":
                streams[args[0]].write(payload)
                result, out = None, b""
            elif op == "write_close":
                result, out = streams.pop(args[0]).close(args[1]), b""
            elif op == "read_files":
                got = replica.read_files(*args)
                result, out = [[len(d), m] for d, m in got], b"".join(d for d, _ in got)
            elif op == "statepoint":
                result, out = None, replica.statepoint(*args)
            elif op == "read":
                data, mtime = replica.read(*args)
                result, out = mtime, data
            else:
                result, out = getattr(replica, op)(*args), b""
            replica.changed.clear()  # each refused write's note went back in its answer
            stdout.send({"ok": True, "result": result}, out)
        except Exception as exc:
            stdout.send({"ok": False, "error": str(exc), "type": type(exc).__name__,
                      "trace": traceback.format_exc(limit=3)})


def _expect(header):
    """What a write expects to replace (see :meth:`Replica.write`); a request without one is
    an unchecked write (still refused for reserved files and jobs that do not exist)."""
    return header["expect"] if "expect" in header else ANY
