"""The sync protocol's operations, each written once: one :class:`Op` per operation, from
which the client's methods (:mod:`sync.client`) and the server's dispatch (:mod:`sync.server`)
are made. An operation's name is the wire name and the :class:`sync.interface.ReplicaAPI`
method the far side runs; adding an operation is one entry here and one method there.

Modes: ``call`` (the answer is read next), ``later`` (sent now, answered while this side goes
on; the client also has ``NAME_later``), ``post`` (a write sent without waiting; its answer is
read in order, a note when it was refused), ``stream`` (the answer comes in several frames).
"""

import time
from collections import namedtuple

from suite.jsonio import ANY

from . import answers, protocol
from .answers import ints, shaped


def _pack(args):
    args = list(args)
    while args and args[-1] is ANY:  # not given: the far side's default, an unchecked write
        args.pop()
    return args, b"", {}


def _unpack(header, payload):
    return header.get("args", [])


def _reply(result):
    return result, b""


def _take_as_is(client, result, payload, args):
    return result


def _serve_replica(name):
    return lambda session, *args: getattr(session.replica, name)(*args)


# a named tuple, not a dataclass: the far side imports this module on every start, and
# dataclasses (with inspect) would be a third of its imports
class Op(namedtuple("Op", "name mode answer writes internal pack unpack reply take serve",
                    defaults=(False, False, _pack, _unpack, _reply, _take_as_is, None))):
    """One operation: how a request travels and what its answer must look like.

    ``pack(args) -> (wire args, payload, extra header keys)`` on the client and
    ``unpack(header, payload) -> args`` on the server; ``reply(result) -> (JSON, payload)``
    on the server and ``take(client, JSON, payload, args) -> value`` on the client, which
    checks the answer's shape (:mod:`sync.answers`) before anything uses it. ``internal``:
    a step of a composite method, not a ReplicaAPI method; ``serve(session, *args)``: the
    far side's handler when it is not the replica's method of that name."""

    __slots__ = ()

    def run(self, session, header, payload):
        """Server side: the answer ``(JSON, payload)`` to one request."""
        handler = self.serve or _serve_replica(self.name)
        return self.reply(handler(session, *self.unpack(header, payload)))


def _checked(check):
    return lambda client, result, payload, args: check(result, client.host)


def _listed(op, item_ok):
    """An answer with one item per request, each ``item_ok``."""
    def take(client, result, payload, args):
        return shaped(op, result, lambda v: isinstance(v, list) and len(v) == len(args[0])
                      and all(item_ok(i) for i in v), client.host)
    return take


def _requests(args):
    return [[list(r) for r in args[0]], *args[1:]], b"", {}


# -- large JSON values ride in the payload (compressed; a header is limited to MAX_HEADER) ----

def _reply_json(result):
    return None, protocol.dump_json(result)


def _reply_record(result):
    from . import record  # its jobs are read from the file as needed: encoded as saved

    return None, record.encode(result)


def _take_json(check=None):
    def take(client, result, payload, args):
        value = protocol.load_json(payload)
        return value if check is None else check(value, client.host)
    return take


def _pack_record(args):
    # an encoded record (replica.encode_record, bytes) goes as it is
    record = args[1]
    return [args[0]], record if isinstance(record, bytes) else protocol.dump_json(record), {}


def _unpack_record(header, payload):
    # written as it came once it is known to be JSON (not encoded a second time); a record
    # in lines checked a range of lines at a time, not decoded whole
    from suite.errors import CorruptFileError

    from . import record

    raw = bytes(payload)
    try:
        record.check(raw, "the record sent")
    except CorruptFileError as exc:
        raise protocol.ProtocolError(f"a payload is not valid JSON ({exc})") from None
    return [*header.get("args", []), raw]


def _pack_patch(args):
    # the lines (no newline in any: one job a line) ride in the payload
    peer, base, digest, removed, at, lines = args
    return [peer, base, digest, list(removed), list(at)], b"\n".join(lines), {}


def _unpack_patch(header, payload):
    args = header.get("args", [])
    at = args[4] if len(args) == 5 and isinstance(args[4], list) else []
    return [*args, bytes(payload).split(b"\n") if at else []]


# -- file contents ride in the payload ------------------------------------------------------

def _pack_data(args):
    """``(job_id, rel, data, mtime_ns, expect)``: data as payload, a missing expect (ANY)
    as an unchecked write."""
    job_id, rel, data, mtime_ns, expect = args
    extra = {"mtime": mtime_ns} if expect is ANY else {"mtime": mtime_ns, "expect": expect}
    return [job_id, rel], data, extra


def _unpack_data(header, payload):
    return [*header.get("args", []), payload, header["mtime"], header.get("expect", ANY)]


def _reply_bytes(result):
    return None, result


def _take_bytes(client, result, payload, args):
    return payload


def _reply_read(result):
    data, mtime = result
    return mtime, data


def _take_read(client, result, payload, args):
    return payload, shaped("read", result, lambda v: type(v) is int, client.host)


def _reply_pieces(pairs):
    """``[(bytes, x)]`` -> ``[[size, x]]`` and the bytes joined; None items stay None."""
    return ([None if p is None else [len(p[0]), p[1]] for p in pairs],
            b"".join(p[0] for p in pairs if p is not None))


def _take_files(client, result, payload, args):
    shaped("read_files", result, lambda v: isinstance(v, list) and len(v) == len(args[0])
           and all(ints(i, 2) for i in v), client.host)
    pieces = protocol.split_payload(payload, [size for size, _ in result])
    return [(piece, mtime) for piece, (_, mtime) in zip(pieces, result, strict=True)]


def _reply_signatures(sigs):
    return [len(s) for s in sigs], b"".join(sigs)


def _take_signatures(client, result, payload, args):
    _listed("signatures", lambda i: type(i) is int)(client, result, payload, args)
    return protocol.split_payload(payload, result)


def _pack_deltas(args):
    requests, signatures = args
    return ([list(r) for r in requests], [len(s) for s in signatures]), b"".join(signatures), {}


def _unpack_deltas(header, payload):
    requests, sizes = header.get("args", [None, None])
    return requests, protocol.split_payload(payload, sizes)


def _take_deltas(client, result, payload, args):
    _listed("make_deltas", lambda i: i is None or ints(i, 2))(client, result, payload, args)
    pieces = iter(protocol.split_payload(payload, [i[0] for i in result if i is not None]))
    return [None if i is None else (next(pieces), i[1]) for i in result]


def pack_jobs(jobs):
    """The wire form of ``create_jobs``: one frame for many new jobs, ``[(job_id, state point
    bytes, doc, [(rel, data, mtime_ns)])]``; each job's state point, then its files, in the
    payload."""
    wire, pieces = [], []
    for job_id, statepoint, doc, files in jobs:
        wire.append([job_id, doc, len(statepoint), [[rel, len(data), mtime]
                                                    for rel, data, mtime in files]])
        pieces.append(statepoint)
        pieces.extend(data for _, data, _ in files)
    return [wire], b"".join(pieces), {}


def _is_wire_job(job):
    # [id, doc, statepoint size, [[rel, size, mtime], ...]] as pack_jobs sends it
    return (isinstance(job, list) and len(job) == 4 and isinstance(job[3], list)
            and all(isinstance(f, list) and len(f) == 3 for f in job[3]))


def _unpack_jobs(header, payload):
    """:func:`pack_jobs` undone; :class:`protocol.ProtocolError` for another shape (nothing
    is written then)."""
    jobs = header.get("args", [None])[0]
    if not isinstance(jobs, list) or not all(map(_is_wire_job, jobs)):
        raise protocol.ProtocolError("create_jobs: the jobs are not [id, doc, size, files]")
    sizes = [n for _, _, sp_size, files in jobs for n in (sp_size, *(f[1] for f in files))]
    pieces = iter(protocol.split_payload(payload, sizes))
    return [[(job_id, next(pieces), doc, [(rel, next(pieces), mtime) for rel, _, mtime in files])
             for job_id, doc, _, files in jobs]]


def _create_jobs(session, jobs):
    # the notes of jobs made there meanwhile (None: all landed), as create_job's answer; a
    # state point that is not its job's is checked here only (the sender does not): that
    # job alone is refused, its note saying why, and the rest land (in one call)
    return session.replica.create_jobs(jobs) or None


def _take_note(client, result, payload, args):
    if result is not None:
        client.changed.append(answers.check_note(result, client.host))
    return result


# -- steps the server keeps state for: heartbeats, streamed reads and writes ------------------

def _heartbeat(session, every):
    session.out.heartbeats(min(max(float(every), 0.5), 3600.0))


def _since_hello(session):
    # asked right after the hello was read: the seconds since the hello went are one round
    # trip and the client's moment between reading the hello and asking, if this side was
    # waiting for it (the block it came in was waited for); if it came while this side
    # still worked on the requests sent ahead, they are more (see Client.round_trip)
    went, start_cpu = session.out.hello
    return [time.monotonic() - went, start_cpu, getattr(session.stdin, "waited", 0.0)]


def _read_stream(session, job_id, rel):
    # several frames: the mtime, one per chunk ("more"), then the end (the usual answer)
    mtime, chunks = session.replica.read_chunks(job_id, rel)
    session.out.send({"ok": True, "more": True, "mtime": mtime})
    for chunk in chunks:
        session.out.send({"ok": True, "more": True}, chunk)


def _write_open(session, token, job_id, rel, *expect):  # no expect: an unchecked write
    session.streams[token] = session.replica.open_stream(job_id, rel, *expect[:1])


def _pack_chunk(args):
    return [args[0]], args[1], {}


def _unpack_chunk(header, payload):
    return [*header.get("args", []), payload]


def _write_chunk(session, token, data):
    session.streams[token].write(data)


def _write_close(session, token, mtime_ns):
    return session.streams.pop(token).close(mtime_ns)


def _flow(name):
    """The far side's workflow operation ``name`` (:mod:`sync.flowops`), loaded when served."""
    def serve(session, *args):
        from . import flowops

        return getattr(flowops, name)(session, *args)

    return serve


def _pack_file(args):
    rel, data, mtime_ns = args
    return [rel, mtime_ns], data, {}


def _unpack_file(header, payload):
    rel, mtime_ns = header.get("args", [None, 0])
    return [rel, payload, mtime_ns]


def _pack_range(args):
    ids, exclude, lo, hi = args
    return [None if ids is None else sorted(ids), list(exclude), lo, hi], b"", {}


def _take_range(client, result, payload, args):
    """A range's snapshot, checked as a snapshot and every job in it checked to be one asked
    for (in the range, of the ids): a job listed in two ranges would be synced twice."""
    snapshot = answers.check_snapshot(protocol.load_json(payload), client.host)
    return answers.check_range(snapshot, *args, client.host)


def _take_object(name):
    return lambda client, result, payload, args: shaped(
        name, result, lambda v: isinstance(v, dict), client.host)


_NOTE = "None, or a note {job, path} when the write was refused (its target changed)"

#: every operation, by name
OPS = {op.name: op for op in [
    Op("identity", "call", "the replica's identity (32 hex digits)",
       take=_checked(answers.identity)),
    Op("load_record", "call", "payload: the record of the last sync with peer (JSON)",
       reply=_reply_record, take=_take_json()),
    Op("save_record", "later", "None", pack=_pack_record, unpack=_unpack_record),
    Op("patch_record", "later", "whether the record was written (False: send it whole)",
       pack=_pack_patch, unpack=_unpack_patch,
       take=_checked(lambda v, h: shaped("patch_record", v, lambda w: type(w) is bool, h))),
    Op("try_lock", "call", "whether the pair's lock was taken"),
    Op("lock", "call", "None, once the pair's lock is taken"),
    Op("unlock", "later", "None"),
    Op("snapshot", "later", "payload: {jobs, project_doc, unreadable(, since)} (JSON), "
       "checked (answers.check_snapshot)",
       pack=lambda a: ([None if a[0] is None else sorted(a[0]), list(a[1]),
                        *([] if a[2] is None else [a[2]])], b"", {}),
       reply=_reply_json, take=_take_json(answers.check_snapshot)),
    Op("snapshot_range", "later", "payload: {jobs, project_doc, unreadable, count} of the "
       "jobs lo <= id < hi (JSON), checked (answers.check_range); not known to a far side "
       "of before session 16, which answers an error (the sync then lists whole)",
       pack=_pack_range, reply=_reply_json, take=_take_range),
    Op("find_ids", "call", "a list of job ids", take=_checked(answers.ids)),
    Op("active_work", "call", "{active: [[operation, job id, scheduler id, state]], error}",
       take=_checked(answers.check_active)),
    Op("doc_mtime", "call", "an integer (ns)", take=_checked(answers.integer("doc_mtime"))),
    Op("statepoint", "call", "payload: the state point file's bytes",
       reply=_reply_bytes, take=_take_bytes),
    Op("digest", "call", "a SHA-256 hex digest",
       take=_checked(lambda v, h: shaped("digest", v, lambda d: isinstance(d, str), h))),
    Op("digests", "later", "one digest per (job, path)", pack=_requests,
       take=_listed("digests", lambda i: isinstance(i, str))),
    Op("read", "call", "mtime_ns; payload: the file", reply=_reply_read, take=_take_read),
    Op("read_files", "later", "[size, mtime_ns] per file; payload: the files",
       pack=_requests, reply=_reply_pieces, take=_take_files),
    Op("signatures", "later", "sizes; payload: one block signature per file",
       pack=_requests, reply=_reply_signatures, take=_take_signatures),
    Op("make_deltas", "later", "[size, mtime_ns] or None per file; payload: the deltas",
       pack=_pack_deltas, unpack=_unpack_deltas, reply=_reply_pieces, take=_take_deltas),
    Op("write", "post", _NOTE, writes=True, pack=_pack_data, unpack=_unpack_data),
    Op("apply_delta", "post", _NOTE, writes=True, pack=_pack_data, unpack=_unpack_data),
    Op("write_link", "post", _NOTE, writes=True),
    Op("delete_file", "post", _NOTE, writes=True),
    Op("write_doc", "post", _NOTE, writes=True),
    Op("write_project_doc", "call", _NOTE, take=_take_note),
    Op("create_jobs", "post", "None, or the notes of the jobs refused (made there meanwhile)",
       writes=True, internal=True, unpack=_unpack_jobs, serve=_create_jobs),
    Op("delete_job", "post", _NOTE, writes=True),
    Op("flow_status", "call", "{status, warning, location, where, book, seen} of the far side",
       serve=_flow("flow_status"), take=_take_object("flow_status")),
    Op("flow_submit", "call", "{ids, records, skipped, output, scheduler, location, where, book, seen}",
       writes=True, serve=_flow("flow_submit"), take=_take_object("flow_submit")),
    Op("load_book", "call", "[location, book, seen]: the far side's submissions",
       serve=_flow("load_book"), take=lambda c, r, p, a: shaped(
           "load_book", r, lambda v: isinstance(v, list) and len(v) == 3
           and isinstance(v[1], dict) and isinstance(v[2], dict), c.host)),
    Op("merge_book", "call", "None", serve=_flow("merge_book")),
    Op("put_project_file", "call", "None", pack=_pack_file, unpack=_unpack_file,
       serve=_flow("put_project_file")),
    Op("flow_run", "stream", "frames: output (stream out/err), exit; then the end",
       internal=True, serve=_flow("flow_run")),
    Op("heartbeat", "later", "None; then a heartbeat frame whenever the far side is quiet",
       internal=True, serve=_heartbeat),
    Op("since_hello", "later", "[seconds since the hello went, CPU seconds of the far "
       "process until its hello, seconds the request was waited for]", internal=True,
       serve=_since_hello),
    Op("read_stream", "stream", "frames: mtime, one per chunk (more), then the end",
       internal=True, serve=_read_stream),
    Op("write_open", "post", "None", internal=True, serve=_write_open),
    Op("write_chunk", "post", "None", internal=True, pack=_pack_chunk, unpack=_unpack_chunk,
       serve=_write_chunk),
    Op("write_close", "post", _NOTE, writes=True, internal=True, serve=_write_close),
]}


def lookup(name):
    """The :class:`Op` called ``name``; ValueError (answered, not fatal) for an unknown one."""
    op = OPS.get(name) if isinstance(name, str) else None
    if op is None:
        raise ValueError(f"unknown operation {name!r}")
    return op
