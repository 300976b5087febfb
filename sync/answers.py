"""Checks of what the far side answers, before any of it is used: each hangs off its
operation's entry in :mod:`sync.ops`. A wrong shape is a :class:`protocol.ProtocolError`; a job
id or path that could escape the project is a :class:`SyncError`."""

from suite.errors import InvalidStatepointError

from . import protocol
from .replica import RESERVED, SyncError, check_document, check_id, check_identity, check_rel


def shaped(op, value, ok, host):
    """``value``, the answer to ``op``, if ``ok(value)``; else a ProtocolError."""
    if not ok(value):
        raise protocol.ProtocolError(f"{host} answered {op} with something of the wrong shape")
    return value


def identity(value, host):
    return check_identity(value, host)


def ids(value, host):
    return [check_id(job_id) for job_id in shaped("find_ids", value,
                                                  lambda v: isinstance(v, list), host)]


def integer(op):
    return lambda value, host: shaped(op, value, lambda v: type(v) is int, host)


def anything(value, host):
    return value


def ints(value, n):
    """Whether ``value`` is a list of ``n`` integers (not booleans)."""
    return isinstance(value, list) and len(value) == n and all(type(v) is int for v in value)


def check_note(note, host):
    """A refused write's note from ``host`` (see :attr:`sync.replica.Replica.changed`), checked:
    it names an item of the local record. Raises :class:`protocol.ProtocolError` for a wrong
    shape, :class:`SyncError` for a bad job id or path. A new job refused for its state point
    has a third key: ``{"job": id, "path": None, "unreadable": why}``."""
    unreadable = isinstance(note, dict) and "unreadable" in note
    keys = {"job", "path", "unreadable"} if unreadable else {"job", "path"}
    if not isinstance(note, dict) or set(note) != keys or not all(
            v is None or isinstance(v, str) for v in note.values()) or (unreadable and (
                note["path"] is not None or note["job"] is None or note["unreadable"] is None)):
        raise protocol.ProtocolError(f"{host} answered a write with something of the wrong "
                                     "shape")
    if note["job"] is not None:
        check_id(note["job"])
    if note["path"] is not None:
        check_rel(note["path"])
    return note


def check_snapshot(snapshot, host):
    """A snapshot from ``host`` (see :meth:`sync.replica.Replica.snapshot`), checked before any
    of it is used (links, skipped paths and unreadable jobs too). Raises
    :class:`protocol.ProtocolError` for a wrong shape, :class:`SyncError` for job ids or paths
    that could escape, reserved files listed as ordinary ones and a
    project document JSON cannot hold. A job whose document holds what JSON cannot (NaN,
    Infinity, bad keys) is moved to ``snapshot["refused"]`` (``{id: reason}``): the sync
    reports it and leaves it alone on both sides."""
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("jobs"), dict) \
            or not isinstance(snapshot.get("project_doc"), dict):
        raise protocol.ProtocolError(f"{host} sent a snapshot that is not one")
    refused, good_rels = {}, set()  # most jobs hold files of the same names: checked once
    for job_id, entry in snapshot["jobs"].items():
        reason = _check_entry(job_id, entry, host, good_rels)
        if reason is not None:
            refused[job_id] = reason
    unreadable = snapshot.setdefault("unreadable", {})
    if not isinstance(unreadable, dict) or not all(
            isinstance(v, str) for v in unreadable.values()):
        raise protocol.ProtocolError(f"{host} sent a snapshot that is not one")
    for job_id in unreadable:
        check_id(job_id)
    if "since" in snapshot:  # the jobs left out as steady (Replica.snapshot's since)
        since = snapshot["since"]
        if not isinstance(since, dict) or not isinstance(since.get("record"), str) or \
                not isinstance(since.get("gone"), list):
            raise protocol.ProtocolError(f"{host} sent a snapshot that is not one")
        for job_id in since["gone"]:
            check_id(job_id)
    try:
        check_document(snapshot["project_doc"], f"project document on {host}")
    except InvalidStatepointError as exc:
        raise SyncError(f"{exc}: refused; fix it there") from None
    for job_id in refused:
        del snapshot["jobs"][job_id]
    snapshot["refused"] = refused
    return snapshot


def check_range(snapshot, ids, exclude, lo, hi, host):
    """A snapshot of a range of ids (:meth:`sync.replica.Replica.snapshot_range`), already
    :func:`check_snapshot`-ed: raises :class:`protocol.ProtocolError` for a job outside the
    range ``lo <= id < hi`` or not of ``ids``, or a count that is not a count."""
    from .ranges import in_range

    count = snapshot.get("count")
    if type(count) is not int or count < 0:
        raise protocol.ProtocolError(f"{host} sent a range's snapshot without its count")
    wanted = None if ids is None else set(ids)
    for part in (snapshot["jobs"], snapshot["unreadable"], snapshot["refused"]):
        for job_id in part:
            if (hi == "" or not in_range(job_id, lo, hi)) or \
                    (wanted is not None and job_id not in wanted):
                raise protocol.ProtocolError(f"{host} listed job {job_id}, which was not "
                                             "asked for")
    return snapshot


def _check_entry(job_id, entry, host, good_rels):
    """One job of a snapshot, checked (see :func:`check_snapshot`); the reason its document
    is refused, or None."""
    check_id(job_id)
    if not isinstance(entry, dict) or not isinstance(entry.get("files"), dict) \
            or not isinstance(entry.get("doc"), dict):
        raise protocol.ProtocolError(f"{host} sent a snapshot entry of the wrong shape "
                                     f"for job {job_id}")
    for rel, state in entry["files"].items():
        if rel not in good_rels:
            if check_rel(rel) in RESERVED:
                raise SyncError(f"{host} listed {rel} of job {job_id} as an ordinary "
                                "file: refused")
            good_rels.add(rel)
        if not _file_state(state):
            raise protocol.ProtocolError(f"{host} sent a snapshot entry of the wrong "
                                         f"shape for {job_id}/{rel}")
    skipped = entry.get("skipped", {})
    if not isinstance(skipped, dict) or not all(
            isinstance(v, str) for v in skipped.values()) \
            or type(entry.get("links", 0)) is not int:
        raise protocol.ProtocolError(f"{host} sent a snapshot entry of the wrong shape "
                                     f"for job {job_id}")
    for rel in skipped:
        check_rel(rel)
    try:
        check_document(entry["doc"], f"job {job_id}: document on {host}")
    except InvalidStatepointError as exc:
        return str(exc)
    return None


def _file_state(state):
    """Whether ``state`` is [size, mtime_ns, inode] (the inode comes back as part of what a
    write expects) or [size, mtime_ns, inode, target] for a link kept inside the job (its
    target is checked where the link is made, Replica.write_link), size >= 0."""
    return (ints(state, 3) or (type(state) is list and len(state) == 4 and
                               ints(state[:3], 3) and type(state[3]) is str)) and state[0] >= 0


def check_active(value, host):
    """The far side's work queued or running (see :func:`sync.active.active_work`), checked:
    a wrong shape is a :class:`protocol.ProtocolError`, a bad job id a :class:`SyncError`."""
    def ok(v):
        return isinstance(v, dict) and set(v) == {"active", "error"} and \
            (v["error"] is None or isinstance(v["error"], str)) and \
            isinstance(v["active"], list) and all(
                isinstance(i, list) and len(i) == 4 and all(isinstance(s, str) for s in i)
                for i in v["active"])

    shaped("active_work", value, ok, host)
    for _, job_id, _, _ in value["active"]:
        check_id(job_id)
    return value
