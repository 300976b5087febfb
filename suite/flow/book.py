"""The book of submissions, ``.suite/flow/submissions.json``: what was submitted where.

Each entry is keyed by the scheduler's id and says which (operation, job id) pairs it runs,
with its ``location``, the identity of the project copy whose scheduler holds it (the same id
sync names this copy by, ``.suite/id``), and ``where``, a name people read (a host name, or
the remote it was submitted to). Entries of this copy are asked of this copy's scheduler;
entries of other copies (keyed ``LOCATION/ID``) came with sync or with ``submit --on`` and
count as queued or running until their own location no longer lists them.

Whoever checks the book and then submits holds :func:`locked` for the whole of it, so two
submissions on one copy (a local ``suite submit`` and one sent by ``submit --on``, or two
of those) never both submit the same operation.

A submit appends each submission it makes to ``.suite/flow/submissions.journal`` (one JSON
line, :func:`append`) and writes the whole book once at its end (:func:`save`, which empties
the journal); :func:`load` reads both, so a submit killed midway keeps every submission it
recorded, and N submissions cost O(N), not a rewrite of the book each.
"""

import contextlib
import json
import os
import socket

from suite import layout
from suite.copyid import identity, is_identity
from suite.errors import CorruptFileError, SuiteError
from suite.jsonio import loads_checked, read_json, write_all, write_atomic

ACTIVE = ("queued", "held", "running")

def _path(project, name):
    return os.path.join(project.path, layout.SUITE_DIR, "flow", name)


def is_entry(entry):
    """Whether ``entry`` has the shape every reader of a book relies on: a scheduler's name,
    (operation, job id) pairs, and (if given) a location and id that are strings."""
    return (isinstance(entry, dict) and isinstance(entry.get("scheduler"), str)
            and isinstance(entry.get("pairs"), list)
            and all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
                    for p in entry["pairs"])
            and all(isinstance(entry.get(k, ""), str) for k in ("location", "id", "where")))


def load(project):
    """This copy's book: ``submissions.json`` with the submissions recorded in its journal
    since (by a submit still running, or one killed before it folded them in). Raises
    CorruptFileError (naming the file) for a book or journal that cannot be read or is not
    a book (:func:`is_entry`)."""
    # the journal first: a save between the two reads folds it into the book we then read,
    # where reading the book first would miss what that save took from the journal
    journal = _read_journal(project)
    path = os.path.join(project.path, layout.SUBMISSIONS)
    try:
        book = read_json(path)
    except FileNotFoundError:
        book = {}
    if not isinstance(book, dict):
        raise CorruptFileError(path, "not a JSON object of submissions")
    for key, entry in book.items():
        if not is_entry(entry):
            raise CorruptFileError(path, f"entry {key!r:.40} is not a submission record")
    book.update(journal)
    return book


def damage_warning(error):
    """What ``suite status`` and the dashboard say of a book or journal that :func:`load`
    refused (``error``, its CorruptFileError): which file, why, what is missing from the
    answer and what to do."""
    return (f"the submission book {error.path} cannot be read ({error.reason}): submitted and "
            "running are not counted, and submit refuses until it is mended; fix or restore "
            "the file, or remove it to forget the submissions it records")


def save(project, book):
    """Write ``book`` as this copy's whole book and empty the journal (it is in ``book``):
    call it holding :func:`locked`, with a book loaded under that lock."""
    path = os.path.join(project.path, layout.SUBMISSIONS)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # one entry a line, each by json's C encoder: readable, and fast where indent= (the
    # pure-Python encoder) took seconds for a large book
    lines = [f"{json.dumps(str(key))}: {json.dumps(entry, sort_keys=True)}"
             for key, entry in sorted(book.items())]
    write_atomic(path, ("{\n" + ",\n".join(lines) + "\n}\n").encode())
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(project.path, layout.SUBMISSIONS_JOURNAL))


def append(project, entries):
    """Add ``entries`` (``{scheduler id: entry}``, as :func:`record` made them) to this
    copy's book by appending them to its journal in one write: a submission is kept as soon as
    it is recorded, in time independent of the book's size (:func:`save` folds the journal
    in). Call it holding :func:`locked`."""
    path = os.path.join(project.path, layout.SUBMISSIONS_JOURNAL)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = "".join(json.dumps({"id": key, "entry": entry}, sort_keys=True) + "\n"
                   for key, entry in entries.items()).encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # a line cut short (a kill, a full disk): :func:`load` does not take it, and a
            # record appended after it would make it a corrupt line in the middle
            os.ftruncate(fd, os.pread(fd, size, 0).rfind(b"\n") + 1)
        write_all(fd, data)
    finally:
        os.close(fd)


def _read_journal(project):
    """``{scheduler id: entry}`` from the journal, later lines winning. A last line without
    its newline is a write cut short (the process killed in it) and not taken."""
    path = os.path.join(project.path, layout.SUBMISSIONS_JOURNAL)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}
    out = {}
    for line in raw.split(b"\n")[:-1]:
        if not line.strip():
            continue
        rec = loads_checked(line, path)
        if not (isinstance(rec, dict) and is_entry(rec.get("entry"))
                and isinstance(rec.get("id"), str)):
            raise CorruptFileError(path, f"a line is not a submission record: {line[:80]!r}")
        out[rec["id"]] = rec["entry"]
    return out


#: lock files this process holds, per thread: ``locked`` inside ``locked`` in one thread
#: goes on (a second flock on a new descriptor would wait for the first forever)
_held = set()


@contextlib.contextmanager
def locked(project, name="submissions"):
    """Hold this copy's book lock (``flock`` on ``.suite/flow/NAME.lock``; waits for whoever
    holds it, other threads of this process included; reentrant in one thread). Other names
    are other locks (``submit-on``: see :mod:`suite.remote`)."""
    import fcntl
    import threading

    path = _path(project, f"{name}.lock")
    key = (os.path.realpath(path), threading.get_ident())
    if key in _held:
        yield
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held.add(key)
        yield
    finally:
        _held.discard(key)
        os.close(fd)


def is_mine(entry, me):
    """Whether ``entry`` belongs to this copy's scheduler (old entries carry no location)."""
    return entry.get("location", me) == me


def record(project, book, sched_id, scheduler, pairs, now):
    """Add this copy's entry for ``sched_id`` to ``book``; return it."""
    entry = {"scheduler": scheduler, "pairs": pairs, "time": now,
             "location": identity(project.path), "where": socket.gethostname()}
    book[sched_id] = entry
    return entry


def elsewhere(project, book=None, but=None):
    """``{(operation, job id): (where, scheduler id)}`` of the entries of other copies (but
    not of the copy ``but``, a location whose own word is asked instead)."""
    me = identity(project.path)
    out = {}
    for entry in (load(project) if book is None else book).values():
        if not is_mine(entry, me) and (but is None or entry.get("location") != but):
            for op, job_id in entry["pairs"]:
                out[(op, job_id)] = (entry.get("where", "?"), entry.get("id", "?"))
    return out


def word(project):
    """``(location, book, seen)``: what this copy tells another of submissions (the
    arguments :func:`merge` takes there, with a name for ``location``)."""
    return identity(project.path), load(project), load_seen(project)


def load_seen(project):
    """``{location: time}``: when each other location's own word on its entries was last
    taken (directly, or through a peer that had a newer one)."""
    try:
        return read_json(os.path.join(project.path, layout.SUBMISSIONS_SEEN))
    except FileNotFoundError:
        return {}


def merge(project, location, entries, where=None, seen=None):
    """Take another copy's book: ``location`` (that copy) lists ``entries``, and ``seen``
    says when it last heard each third location's own word. For each location, the newer
    word wins: it replaces what this book knew of that location, so finished entries go
    (``location``'s own word is now). Entries of this copy are never taken from others (we
    know them better). ``where`` names ``location`` for people. Returns the book.

    Times of third locations come from the peer's clock: a skew between machines only
    delays when a stale entry is replaced (a time ahead of this clock counts as now).

    Raises SuiteError for a malformed book (and, through :func:`identity`, a broken
    ``.suite/id``)."""
    import time

    if not isinstance(entries, dict) or not is_identity(str(location)) \
            or not isinstance(seen or {}, dict):
        raise SuiteError(f"a submission book from {where or location} is malformed")
    now = time.time()
    # no word is from the future: a time ahead of ours (a peer's clock, or a lie) would
    # outrank every word that location itself gives us later
    words = {k: min(v, now) for k, v in (seen or {}).items()
             if isinstance(v, (int, float)) and not isinstance(v, bool)}
    words[location] = now
    with locked(project):
        me = identity(project.path)
        if location == me:
            return load(project)
        known = load_seen(project)
        newer = {owner for owner, when in words.items()
                 if owner != me and when > known.get(owner, 0)}
        book = {k: e for k, e in load(project).items() if e.get("location") not in newer}
        for key, entry in entries.items():
            if not is_entry(entry):  # a peer's malformed entry would corrupt this book
                continue
            owner = entry.get("location") or location
            if owner == me or (owner in words and owner not in newer):
                continue  # ours, or a word older than the one we have
            sched_id = entry.get("id", key)
            book[f"{owner}/{sched_id}"] = {
                **entry, "id": sched_id, "location": owner,
                "where": where if owner == location and where else entry.get("where", "?")}
        save(project, book)
        known.update((owner, words[owner]) for owner in newer)
        write_atomic(os.path.join(project.path, layout.SUBMISSIONS_SEEN),
                     json.dumps(known, sort_keys=True).encode())
        return book
