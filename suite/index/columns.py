"""Whole columns: every state point (table ``spcache``), every document signature and every
indexed document (both in ``sigcache``) kept as one ``marshal`` blob each, and the loading of
many JSON values with the cyclic garbage collector paused."""

import array
import contextlib
import marshal
import sqlite3
import struct
import sys

from ..jsonio import loads_many
from ..process import gc_paused

#: from this many jobs on, all state points (table spcache) and all document signatures
#: (sigcache) are also kept as one marshal blob each: a fresh process loads 100,000 state
#: points in 0.1 s, where decoding their rows' JSON took 0.6 s
SP_CACHE_MIN = 2000
# marshal's format belongs to the Python version: another version rebuilds the blob
# (and ":2": signatures are tuples of integers since the second format)
CACHE_TAG = f"{sys.version_info[0]}.{sys.version_info[1]}:{marshal.version}:2"
#: the documents' blob (:func:`read_documents`) is a second row of table sigcache, under this
#: tag: every statement that drops the signatures (``DELETE FROM sigcache``, in each
#: transaction that changes a document or the set of jobs, in this and in older versions of
#: suite) drops it too, so it never outlives the rows it was made from
DOC_TAG = "doc:" + CACHE_TAG
#: the state points' and the documents' blobs are also kept in pieces of :data:`PIECE` jobs
#: (:func:`cached_pieces`), a row of each table tagged with this prefix and the blob's tag:
#: forked status workers each load only the pieces of their part, where loading the whole
#: columns in the parent was a quarter of its serial part and the workers copied every page
#: of it they touched (docs/benchmarks.md, session 15)
PIECES = "pieces:"
#: jobs a piece holds (a divisor of status's chunk, so parts of whole chunks are whole pieces)
PIECE = 5000


#: the width of a job id: the packed signatures (:func:`read_packed_signatures`) hold them as
#: one text, each id this wide and followed by a space
ID_WIDTH = 32
#: a packed signature: mtime_ns, size, inode as native 64-bit integers (the inode unsigned);
#: a size of -1 for no document
PACKED_SIG = struct.Struct("=qqQ")


def read_statepoints(db):
    """``(ids, state points)`` of the jobs with a readable state point, sorted by id."""
    # unordered: in id order SQLite visits the rows through the key index (3x slower)
    rows = sorted(db.execute("SELECT id, sp FROM jobs WHERE sp IS NOT NULL"))
    with gc_paused():
        # parsed as one array (this function at a million: 5.4 s of CPU against 7.8 s
        # parsing each), and keys repeated from job to job become one string each, which the
        # cache's marshal then writes once and loads as one object
        return [r[0] for r in rows], loads_many([r[1] for r in rows])


def read_documents(db):
    """``(ids, documents, signature texts)`` of the jobs with a readable state point (those of
    :func:`read_statepoints`, in its order) as last indexed: each document parsed, None where
    the index holds no text (over the caps, or unreadable)."""
    rows = sorted(db.execute("SELECT id, doc, doc_sig FROM jobs WHERE sp IS NOT NULL"))
    with gc_paused():
        parsed = iter(loads_many([r[1] for r in rows if r[1] is not None]))
        return ([r[0] for r in rows], [None if r[1] is None else next(parsed) for r in rows],
                [r[2] for r in rows])


def three_lists(value):
    """Whether ``value`` is of :func:`read_documents`'s shape."""
    return (type(value) is tuple and len(value) == 3 and all(type(v) is list for v in value)
            and len(value[0]) == len(value[1]) == len(value[2]))


def read_signatures(db):
    """``(ids, signatures)`` of all jobs' documents as last indexed: ``(mtime_ns, size,
    inode)``, or None for no document (compared as tuples, the freshness check formats no
    text per file)."""
    return _signature_lists(_signature_parts(db))


def _signature_parts(db):
    """Ids and signature texts, alternately, of the table ``docsig``."""
    # one string instead of 100,000 row objects: the narrow table makes this cheap
    text = db.execute("SELECT group_concat(id || ' ' || sig, ' ') FROM docsig").fetchone()[0]
    return text.split(" ") if text else []


def _signature_lists(parts):
    with gc_paused():
        return parts[0::2], [None if sig == "none" else tuple(map(int, sig.split(":")))
                             for sig in parts[1::2]]


def read_packed_signatures(db):
    """:func:`read_signatures` packed: ``(ids, signatures)``, the ids as one ASCII text
    (:data:`ID_WIDTH` characters and a space each), the signatures as bytes of
    :data:`PACKED_SIG` each. Loaded from its cache it makes no object per job (100,000 jobs'
    lists took 0.05 s to load and 0.03 s to pair and free). Ids of another width (suite makes
    none) give :func:`read_signatures`'s lists instead."""
    # the ids' text and the signatures' numbers as two aggregates of one pass over the rows
    # (one statement: one snapshot, one order): no string per job is made for the ids, where
    # splitting one text into 2 million and joining half again was half of this at a million
    ids, sigs = db.execute("SELECT group_concat(id, ' '), group_concat(sig, ':') FROM "
                           "(SELECT id, sig FROM docsig ORDER BY id)").fetchone()
    ids = ids + " " if ids else ""
    numbers = sigs.replace("none", "0:-1:0").split(":") if sigs else []
    n = len(numbers) // 3
    if len(ids) != n * (ID_WIDTH + 1) or not ids.isascii() or len(numbers) != 3 * n:
        return _signature_lists(_signature_parts(db))
    values = list(map(int, numbers))
    try:
        packed = array.array("q", values)
    except OverflowError:  # inode numbers past 2**63: their bits as a signed integer
        packed = array.array("q", [v - (1 << 64) if v >= 1 << 63 else v for v in values])
    return ids, packed.tobytes()


def unpack_signatures(ids, packed):
    """``(ids, signatures)`` as :func:`read_signatures` gives them, from packed ones."""
    # the ids split and the signatures unpacked by C: the comprehensions by position took
    # twice as long (the Python path's whole cost of the packed form, 0.02 s at 100,000)
    return ids.split(), [None if sig[1] == -1 else sig for sig in PACKED_SIG.iter_unpack(packed)]


def is_packed(value):
    """Whether ``value`` is of :func:`read_packed_signatures`'s packed shape (whole ids and
    signatures, as many of each; ASCII without NUL, so the C loop takes it as it is)."""
    if not (type(value) is tuple and len(value) == 2 and type(value[0]) is str
            and type(value[1]) is bytes):
        return False
    ids, sigs = value
    n, rest = divmod(len(ids), ID_WIDTH + 1)
    return rest == 0 and len(sigs) == n * PACKED_SIG.size and ids.isascii() and "\0" not in ids


def _two_lists(value):
    return (type(value) is tuple and len(value) == 2 and type(value[0]) is list and
            type(value[1]) is list and len(value[0]) == len(value[1]))


def cached(store, table, read, fits=_two_lists, tag=CACHE_TAG):
    """``read(db)``, two lists of equal length (or what else ``fits(value)`` accepts: two
    texts of the same number of items), from its cache ``table`` (one marshal blob, the row
    of ``tag``), or read from the rows and, from :data:`SP_CACHE_MIN` items on, stored there.

    A cache is deleted in the same transaction that changes the rows it was made from
    (``store.add_jobs``, a refresh), and it is made and stored in one write transaction, so
    no change can fall between its reading and its storing: it never outlives its rows.
    A blob of another Python version, or one that does not load, is made again. A lock
    held by another process or a read-only index is no reason to wait or fail: the rows
    read are returned uncached.
    """
    db = store.db
    value = _load(db, table, fits, tag)
    if value is not None:
        return value
    with _write_transaction(db) as locked:
        value = read(db)
        count = len(value[1]) // PACKED_SIG.size if is_packed(value) else len(value[0])
        if locked and count >= SP_CACHE_MIN and fits(value) and not store.in_memory:
            # this blob's row and those of other Python versions; the other kinds of this
            # version's (sigcache: signatures, documents; their pieces) stay
            _put(db, table, tag, value, "tag = ? OR tag NOT IN (?, ?, ?, ?)",
                 (CACHE_TAG, DOC_TAG, PIECES + CACHE_TAG, PIECES + DOC_TAG))
    return value


def cached_pieces(store, table, read, fits=_two_lists, tag=CACHE_TAG, size=PIECE):
    """``(jobs, size, pieces)``: what :func:`cached` gives (``read``, ``fits``, ``tag``) cut into
    pieces of ``size`` items, each the ``marshal`` bytes of a tuple of the value's lists sliced
    alike (the last piece may be shorter), from the table's row of ``PIECES + tag`` or made from
    the whole blob (or ``read`` where there is none) and, from :data:`SP_CACHE_MIN` items on,
    stored there. The row goes with every statement that drops the whole blob (``DELETE FROM``
    the table) and is made in one write transaction from one snapshot, so it never outlives
    the rows either; a row of another ``size`` is made again and not stored."""
    db = store.db
    value = _load(db, table, lambda v: _are_pieces(v, size), PIECES + tag)
    if value is not None:
        return value
    with _write_transaction(db) as locked:
        whole = _load(db, table, fits, tag)
        if whole is None:
            whole = read(db)
        n = len(whole[0])
        value = (n, size, [marshal.dumps(tuple(c[lo:lo + size] for c in whole))
                           for lo in range(0, n, size)])
        del whole
        if locked and n >= SP_CACHE_MIN and size == PIECE and not store.in_memory:
            _put(db, table, PIECES + tag, value)
    return value


@contextlib.contextmanager
def _write_transaction(db):
    """A write transaction if no other process holds the lock (never waited for): yields
    whether it was begun; committed at the end, rolled back where that fails (a full disk)."""
    locked = _try_lock(db)
    try:
        yield locked
    finally:
        if locked:
            try:
                db.execute("COMMIT")
            except sqlite3.OperationalError:  # e.g. the disk is full: no cache
                db.execute("ROLLBACK")


def _put(db, table, tag, value, where="tag = ?", others=()):
    """Store ``value``'s blob as the row of ``tag``, deleting the rows ``where`` says first
    (``tag`` and ``others`` its parameters); a read-only index stores nothing."""
    try:
        db.execute(f"DELETE FROM {table} WHERE {where}", (tag, *others))
        db.execute(f"INSERT INTO {table} VALUES (?, ?)", (tag, marshal.dumps(value)))
    except sqlite3.OperationalError:  # a read-only index: no cache
        pass


def _are_pieces(value, size):
    """Whether ``value`` is of :func:`cached_pieces`'s shape, in pieces of ``size`` items."""
    return (type(value) is tuple and len(value) == 3 and type(value[0]) is int
            and value[1] == size and type(value[2]) is list
            and len(value[2]) == -(-value[0] // size)
            and all(type(p) is bytes for p in value[2]))


def load_pieces(pieces):
    """The lists of :func:`cached_pieces`'s ``pieces`` (some of them, in order) joined: the
    values of those items, as the whole cache holds them. Raises ValueError for a piece that
    does not load as lists of equal length, each piece of the same number of lists."""
    out = None
    with gc_paused():
        for piece in pieces:
            try:
                lists = marshal.loads(piece)
            except (ValueError, EOFError, TypeError):
                raise ValueError("a cache piece does not load") from None
            if (type(lists) is not tuple or not lists or any(type(c) is not list for c in lists)
                    or len({len(c) for c in lists}) != 1
                    or (out is not None and len(lists) != len(out))):
                raise ValueError("a cache piece is not of the cache's shape")
            if out is None:
                out = tuple([] for _ in lists)
            for mine, c in zip(out, lists, strict=True):
                mine += c
    return out


def _load(db, table, fits, tag):
    """The blob of ``table`` tagged ``tag`` (this Python's) if it loads as what ``fits``, else
    None."""
    row = db.execute(f"SELECT blob FROM {table} WHERE tag = ? LIMIT 1", (tag,)).fetchone()
    if row is None:
        return None
    try:
        with gc_paused():
            value = marshal.loads(row[0])
    except (ValueError, EOFError, TypeError):
        return None
    return value if fits(value) else None


def _try_lock(db):
    """Begin a write transaction if no other process holds the lock (never wait for one
    to store a cache)."""
    db.execute("PRAGMA busy_timeout=0")
    try:
        db.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        db.execute("PRAGMA busy_timeout=60000")
