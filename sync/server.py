"""The suite process on the far side of an SSH sync (``suite _sync-server PATH``): it serves
the :class:`sync.replica.Replica` operations over stdin/stdout frames."""

import sys
import traceback

from . import protocol
from .replica import Replica

#: operations the client may call, and whether they take/return a payload
OPS = {"identity", "load_record", "save_record", "snapshot", "doc_mtime", "statepoint",
       "digest", "read", "write", "delete_file", "write_doc", "write_project_doc", "create_job",
       "delete_job", "find_ids", "signatures", "make_deltas", "apply_delta",
       "read_files", "digests", "read_stream", "write_open", "write_chunk", "write_close",
       "write_link"}

WRITES = {"write", "write_link", "delete_file", "write_doc", "create_job", "delete_job", "apply_delta",
          "write_close"}


def serve(path, stdin=None, stdout=None):
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    try:
        replica = Replica(path)
    except Exception as exc:  # report, then stop: the client shows it
        protocol.write_frame(stdout, {"ok": False, "error": str(exc), "type": type(exc).__name__})
        return 1
    protocol.write_frame(stdout, {"ok": True, "version": protocol.VERSION,
                                  "label": replica.label})
    streams = {}  # token -> FileWriter
    try:
        return _serve(replica, stdin, stdout, streams)
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
            if op == "write":
                result, out = replica.write(*args, payload, header["mtime"]), b""
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
                result, out = replica.apply_delta(*args, payload, header["mtime"]), b""
            elif op == "read_stream":
                # several frames: the mtime, one per chunk ("more"), then the end
                mtime, chunks = replica.read_chunks(*args)
                protocol.write_frame(stdout, {"ok": True, "more": True, "mtime": mtime})
                for chunk in chunks:
                    protocol.write_frame(stdout, {"ok": True, "more": True}, chunk)
                result, out = None, b""
            elif op == "write_open":
                token, job_id, rel = args
                streams[token] = replica.open_stream(job_id, rel)
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
            protocol.write_frame(stdout, {"ok": True, "result": result}, out)
        except Exception as exc:
            protocol.write_frame(stdout, {"ok": False, "error": str(exc),
                                          "type": type(exc).__name__,
                                          "trace": traceback.format_exc(limit=3)})
