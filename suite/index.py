"""A persistent, self-refreshing index of state points and documents (``.suite/index.sqlite``).

It is a cache: deleting it loses nothing. Freshness is checked cheaply before each use:

* the set of jobs comes from the workspace listing, re-read only when the workspace
  directory's mtime differs from the one recorded (a recorded mtime younger than
  :data:`RACY_SECONDS` is never trusted, since a change in the same clock tick would not move
  it);
* a state point is fixed by its job id (a state point edited in place no longer matches its id;
  ``suite check`` reports that), so known jobs are never re-read for state point queries;
* documents are checked by ``stat`` (mtime, size, inode) only when a query or caller needs them,
  and only changed documents are re-read.

State points and documents are also stored flattened, one row per (dotted) key, so most filters
become SQL over indexed columns; what SQL cannot express is evaluated in Python. Writers of
documents never touch the index, so any number of cluster jobs may write while another process
queries. On a read-only file system the index lives in memory for the life of the process.
"""

import contextlib
import functools
import gc
import json
import marshal
import math
import os
import sqlite3
import sys
import threading
import time

from . import layout
from .errors import CorruptFileError, FilterError
from .jsonio import loads_checked, write_all
from .query import MISSING, Pattern, _is_number, evaluate, keys_of, resolve, uses_document

VERSION = 6
RACY_SECONDS = 2.0
#: a document larger than this (bytes of its file) or with more flattened keys than
#: DOC_MAX_KEYS is not stored in the index: queries on document keys evaluate it in Python,
#: reading its file (a 200 MB document made a 630 MB index; a 1,000,000-key one, 8 s queries)
DOC_MAX_BYTES = 1 << 20
DOC_MAX_KEYS = 10_000
#: document changes remembered (Index.document_changes_since)
EPOCHS_KEPT = 32
#: from this many jobs on, document freshness checks use two processes
PARALLEL_STAT_MIN = 20000
#: new jobs read and inserted per transaction when the index is built
ADD_CHUNK = 50000
#: from this many jobs on (and five times those indexed), Index.add_known rebuilds the key
#: indexes after its inserts
BULK_KNOWN_MIN = 5000
#: from this many ids on (and a quarter of all jobs), a column is read whole and picked from
COLUMN_SCAN_MIN = 2000
#: SQLite's page cache during a bulk build (KiB; used only as pages are touched)
BULK_CACHE_KIB = 256 * 1024
#: from this many jobs on, all state points (table spcache) and all document signatures
#: (sigcache) are also kept as one marshal blob each: a fresh process loads 100,000 state
#: points in 0.1 s, where decoding their rows' JSON took 0.6 s
SP_CACHE_MIN = 2000
# marshal's format belongs to the Python version: another version rebuilds the blob
# (and ":2": signatures are tuples of integers since the second format)
_CACHE_TAG = f"{sys.version_info[0]}.{sys.version_info[1]}:{marshal.version}:2"
# T_INT: an integer a float holds exactly (|i| <= 2**53; num is exact); T_BIGINT: any other
# integer, its txt the sortable text of sortable_int (num a float near it, for $near)
T_NULL, T_BOOL, T_INT, T_FLOAT, T_STR, T_LIST, T_DICT, T_BIGINT = range(8)
_TYPE_CODES = {"null": (T_NULL,), "bool": (T_BOOL,), "int": (T_INT, T_BIGINT),
               "float": (T_FLOAT,), "number": (T_INT, T_FLOAT, T_BIGINT), "str": (T_STR,),
               "list": (T_LIST,), "dict": (T_DICT,)}
#: integers up to this size are held exactly by a float
EXACT_INT = 2 ** 53
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, sp TEXT, doc TEXT, doc_sig TEXT, bad TEXT);
CREATE TABLE IF NOT EXISTS docsig (id TEXT PRIMARY KEY, sig TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bigdoc (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (
    id TEXT, src INTEGER, key TEXT, t INTEGER, num REAL, txt TEXT);
CREATE TABLE IF NOT EXISTS spcache (tag TEXT, blob BLOB);
CREATE TABLE IF NOT EXISTS sigcache (tag TEXT, blob BLOB);
CREATE INDEX IF NOT EXISTS jobs_odd ON jobs (id) WHERE (sp IS NULL OR bad IS NOT NULL);
"""
# covering (t and id included): a query reads the index alone, where looking up each match's
# row took three quarters of `find b.c 3` at 100,000 jobs (0.08 of 0.1 s)
_INDEXES = {"kv_num": "(src, key, num, t, id)", "kv_txt": "(src, key, txt, t, id)"}
# the few jobs with a file that could not be read; a query's WHERE must repeat the condition
# word for word for SQLite to use this partial index (else: a scan of every job's row)
_ODD = "(sp IS NULL OR bad IS NOT NULL)"


def canonical(value):
    """Canonical JSON of a list or dict (sorted keys, integral floats as integers), so that
    equal values by :func:`suite.query.equal` have equal text."""
    return json.dumps(_canon(value), sort_keys=True, separators=(",", ":"))


def _canon(v):
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, list):
        return [_canon(x) for x in v]
    if isinstance(v, dict):
        return {k: _canon(x) for k, x in v.items()}
    return v


def sortable_int(value):
    """Text of an integer that sorts (as bytes) in the order of the numbers: sign, number of
    digits, digits (a negative one's complemented), so ``$eq`` and ranges on integers beyond
    SQLite's 64 bits run on the text index, exactly."""
    digits = str(abs(value))
    if value < 0:
        return f"0{99999 - len(digits):05d}{digits.translate(_COMPLEMENT)}"
    return f"1{len(digits):05d}{digits}"


def int_of_sortable(text):
    """The integer of :func:`sortable_int`'s text."""
    if text[0] == "0":
        return -int(text[6:].translate(_COMPLEMENT))
    return int(text[6:])


_COMPLEMENT = str.maketrans("0123456789", "9876543210")
# every sortable_int text lies in [_SORTABLE_LOW, _SORTABLE_HIGH): the bounds of a range scan
_SORTABLE_LOW, _SORTABLE_HIGH = "0", "2"


def _bigint_row(job_id, src, name, value):
    try:
        num = float(value)
    except OverflowError:  # beyond the largest float: close ($near) to nothing
        num = None
    return (job_id, src, name, T_BIGINT, num, sortable_int(value))


def _flatten(job_id, src, data, prefix, out):
    # exact types first (parsed JSON has no others): a third faster than isinstance chains
    append = out.append
    for key, value in data.items():
        name = prefix + key
        kind = type(value)
        if kind is str:
            append((job_id, src, name, T_STR, None, value))
        elif kind is int:
            if -EXACT_INT <= value <= EXACT_INT:
                append((job_id, src, name, T_INT, float(value), None))
            else:
                append(_bigint_row(job_id, src, name, value))
        elif kind is float:
            append((job_id, src, name, T_FLOAT, value, None))
        elif kind is bool:
            append((job_id, src, name, T_BOOL, int(value), None))
        elif value is None:
            append((job_id, src, name, T_NULL, None, None))
        elif kind is dict:
            append((job_id, src, name, T_DICT, None, canonical(value)))
            _flatten(job_id, src, value, name + ".", out)
        elif kind is list:
            append((job_id, src, name, T_LIST, None, canonical(value)))
        else:
            _flatten_subclass(job_id, src, name, value, out)


def _flatten_subclass(job_id, src, name, value, out):
    """One key row of a value whose type is a subclass of a JSON type."""
    if isinstance(value, bool):
        out.append((job_id, src, name, T_BOOL, int(value), None))
    elif isinstance(value, int):
        if -EXACT_INT <= value <= EXACT_INT:
            out.append((job_id, src, name, T_INT, float(value), None))
        else:
            out.append(_bigint_row(job_id, src, name, int(value)))
    elif isinstance(value, float):
        out.append((job_id, src, name, T_FLOAT, value, None))
    elif isinstance(value, str):
        out.append((job_id, src, name, T_STR, None, value))
    elif isinstance(value, list):
        out.append((job_id, src, name, T_LIST, None, canonical(value)))
    elif isinstance(value, dict):
        out.append((job_id, src, name, T_DICT, None, canonical(value)))
        _flatten(job_id, src, value, name + ".", out)


def _flatten_capped(job_id, doc, text, kv):
    """Append a document's key rows to ``kv`` unless it passes the caps (then False, and
    nothing is appended)."""
    start = len(kv)
    _flatten(job_id, 1, doc, "", kv)
    # a nested value is stored once per level above it: bound the text as well (small files
    # cannot add up to much, so only larger ones are measured)
    if len(kv) - start > DOC_MAX_KEYS or (len(text) > DOC_MAX_BYTES >> 6 and sum(
            len(r[5]) for r in kv[start:] if r[5] is not None) > 4 * DOC_MAX_BYTES):
        del kv[start:]
        return False
    return True


def _create(db):
    db.executescript(_SCHEMA)
    for name, columns in _INDEXES.items():
        db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON kv {columns}")


@functools.lru_cache(maxsize=64)
def _pattern(pattern, where):
    return Pattern(pattern, where)


# an error raised inside an SQLite function reaches the caller only as "user-defined function
# raised exception": the real one waits here for _execute
_failure = threading.local()


def _regexp(pattern, where, text):
    if text is None:
        return False
    try:
        return _pattern(pattern, where).search(text)
    except FilterError as exc:
        _failure.error = exc
        raise


class Index:
    """The index of one project. Use :meth:`statepoints`, :meth:`documents` and :meth:`find`."""

    def __init__(self, project):
        self.project = project
        self.path = os.path.join(project.path, layout.SUITE_DIR, "index.sqlite")
        self.in_memory = False
        self._db = None
        self._problems = {}  # read from the database when first asked for (problems)
        self._problems_stale = True
        self._big_problems = {}  # documents over the caps, found unreadable when last read
        #: called with a one-line message before long work (the CLI sets it on a terminal)
        self.on_progress = None
        #: set by a long-running caller (the dashboard: suite.dashboard.watch.Watcher) that
        #: is told of document changes: ``take()`` answers the ids whose documents may have
        #: changed since its last answer, or None (then every document is stat'ed);
        #: ``give_back(answer)`` when the check that used it failed
        self.watch = None
        #: changes whenever a document check may have found changes: an equal value means
        #: the documents are those of the previous check (always changes without ``watch``)
        self.document_epoch = 0
        self._epochs = []  # (epoch, ids whose documents changed to reach it, or None)
        self._jobs_changes = 0  # refreshes here that added or removed jobs
        self._ids_listed = None  # ((connection, data_version, _jobs_changes), sorted ids)

    # -- connection -------------------------------------------------------------------------
    def _connect(self):
        if self._db is not None:
            return self._db
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute("PRAGMA journal_mode=DELETE")  # WAL needs shared memory: not on NFS
            _create(db)
            row = db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
            if row is None or row[0] != str(VERSION):
                self._reset(db)
        except sqlite3.DatabaseError:
            # a corrupt cache is rebuilt; a read-only file system falls back to memory
            db = self._recover()
        except OSError:
            db = self._memory()
        db.create_function("regexp", 3, _regexp, deterministic=True)
        self._db = db
        return db

    def _recover(self):
        try:
            os.unlink(self.path)
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            _create(db)
            self._reset(db)
            return db
        except (OSError, sqlite3.DatabaseError):
            return self._memory()

    def _memory(self):
        self.in_memory = True
        db = sqlite3.connect(":memory:", isolation_level=None)
        _create(db)
        self._reset(db)
        return db

    def _reset(self, db):
        db.executescript(
            "DELETE FROM meta; DELETE FROM jobs; DELETE FROM kv; DELETE FROM docsig; "
            "DELETE FROM bigdoc; DELETE FROM spcache; DELETE FROM sigcache;")
        db.execute("INSERT INTO meta VALUES ('version', ?)", (str(VERSION),))
        _drop_indexes(db)  # an older version's indexes may have other columns
        _create(db)

    def _write(self, fn):
        """Run ``fn(db)`` in a write transaction; fall back to memory if the disk refuses."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                fn(db)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if self.in_memory or "readonly" not in str(exc).replace(" ", "").lower():
                raise
            self._db = None
            mem = self._memory()
            mem.create_function("regexp", 3, _regexp, deterministic=True)
            self._db = mem
            self._write(fn)

    # -- freshness --------------------------------------------------------------------------
    def _meta(self, db, key):
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def refresh(self, documents=False):
        """Bring the index up to date with the workspace (and the documents if asked)."""
        watch = self.watch if documents else None
        hint = watch.take() if watch is not None else None
        try:
            jobs_changed, changed = self._refresh(documents, hint)
        except BaseException:
            if watch is not None:
                watch.give_back(hint)
            raise
        if jobs_changed:
            self._jobs_changes += 1
        if changed or (documents and hint is None):
            self.document_epoch += 1
            # a check by stat knows what it re-read, not what another process re-read first
            known = changed if hint is not None or not documents else None
            self._epochs = self._epochs[-(EPOCHS_KEPT - 1):] + [(self.document_epoch, known)]

    def document_changes_since(self, epoch):
        """The ids of the jobs whose documents changed (or that came or went) since
        :attr:`document_epoch` was ``epoch``, or None if that is not known."""
        if epoch == self.document_epoch:
            return set()
        later = [ids for e, ids in self._epochs if e > epoch]
        if len(later) != self.document_epoch - epoch or any(i is None for i in later):
            return None
        return set().union(*later)

    def _refresh(self, documents, hint):
        """:meth:`refresh`, documents checked by ``stat`` or, with a ``hint`` (ids), only
        those re-read. ``(whether jobs came or went, the ids of those and of the jobs whose
        document was re-read)``."""
        db = self._connect()
        ws = self.project.workspace
        try:
            st = os.stat(ws)
        except FileNotFoundError:
            st = None
        ws_sig = f"{st.st_mtime_ns}:{st.st_ino}" if st else "missing"
        added, removed = [], []
        if self._meta(db, "ws_sig") != ws_sig:
            on_disk = _list_job_inodes(ws) if st else {}
            known = {r[0] for r in db.execute("SELECT id FROM jobs")}
            # new jobs are read in the order of their directories' inodes: on a cold cache
            # that is close to the order on the disk (ids are hashes: random places)
            added = sorted(on_disk.keys() - known, key=on_disk.__getitem__)
            removed = sorted(known - on_disk.keys())
        changed_docs = []
        if documents:
            changed_docs = self._changed_documents(db, ws, set(added), set(removed), hint)
        # jobs whose state point was unreadable (e.g. caught half-created by another tool) are
        # read again every time until they can be indexed; they are few
        gone = set(removed)
        retry = [i for (i,) in db.execute(f"SELECT id FROM jobs WHERE {_ODD} AND sp IS NULL")
                 if i not in gone]
        retry_rows, retry_kv = self._prepare(ws, retry)
        fixed = {r[0] for r in retry_rows if r[1] is not None}  # readable now: re-added
        if fixed:
            removed = removed + sorted(fixed)
        if not (added or removed or changed_docs) and self._meta(db, "ws_sig") == ws_sig:
            return False, set()
        if self.on_progress is not None and len(added) + len(changed_docs) >= 5000:
            self.on_progress(f"indexing {len(added)} new jobs and {len(changed_docs)} changed "
                             "documents (later queries only check what changed)")
        # many changes at once: rebuilding the key indexes afterwards beats updating them
        work = len(added) + len(fixed) + len(changed_docs)
        bulk = work > 5000 and work * 5 > len(added) + db.execute(
            "SELECT count(*) FROM docsig").fetchone()[0]
        if bulk:
            self._write(_drop_indexes)
            # SQLite's default page cache (2 MiB) made the inserts into the id-ordered tables
            # (random ids) and the sorting of the key indexes go to the OS page by page
            db.execute(f"PRAGMA cache_size={-BULK_CACHE_KIB}")
        # new jobs in chunks, a transaction each: memory stays bounded (a million jobs held at
        # once took 2 GB), an interrupted build keeps what it did, and other processes wait
        # for the lock one chunk at a time. Reading, parsing and flattening is CPU and syscall
        # work: two cores.
        for part in _chunks(added, ADD_CHUNK):
            rows, kv = _split_work(lambda ids, w: self._prepare(w, ids), part, ws,
                                   _join_prepared)
            self._write(functools.partial(_add_jobs, rows=rows, kv=kv))
            del rows, kv
        new_rows = [r for r in retry_rows if r[0] in fixed]
        new_kv = [k for k in retry_kv if k[0] in fixed]
        doc_rows, doc_kv = _split_work(lambda part, w: self._prepare_docs(w, part),
                                       changed_docs, ws, _join_prepared)
        trusted = st is not None and time.time() - st.st_mtime_ns / 1e9 > RACY_SECONDS
        read = 2 * (len(added) + len(retry)) + len(changed_docs)  # see files_read

        def apply(db):
            kv = []
            if removed or doc_rows:
                # without its indexes (a bulk change), kv can only be scanned
                _delete_key_rows(db, removed, [r[0] for r in doc_rows], exact=not bulk)
                db.executemany("DELETE FROM jobs WHERE id=?", [(i,) for i in removed])
                if removed:
                    db.execute("DELETE FROM spcache")  # in the transaction that changes jobs
                db.execute("DELETE FROM sigcache")  # ... or document signatures
                db.executemany("DELETE FROM docsig WHERE id=?", [(i,) for i in removed])
                db.executemany("DELETE FROM bigdoc WHERE id=?",
                               [(i,) for i in removed] + [(r[0],) for r in doc_rows])
            # a job whose state point is unreadable keeps that problem (a readable document
            # must not clear it from `problems`)
            db.executemany("UPDATE jobs SET doc=?, doc_sig=?, "
                           "bad=CASE WHEN sp IS NULL THEN bad ELSE ? END WHERE id=?",
                           [(text, sig, bad, i) for i, text, sig, bad in doc_rows])
            db.executemany("UPDATE docsig SET sig=? WHERE id=?",
                           [(sig, i) for i, _, sig, _ in doc_rows])
            kv.extend(doc_kv)
            db.executemany("INSERT INTO kv VALUES (?,?,?,?,?,?)", kv)
            # a document text of None marks one over the caps (not stored, no key rows)
            db.executemany("INSERT OR REPLACE INTO bigdoc VALUES (?)",
                           [(r[0],) for r in doc_rows if r[1] is None])
            _add_jobs(db, new_rows, new_kv, check=False)  # the retried: removed above
            if bulk:
                for name, columns in _INDEXES.items():
                    db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON kv {columns}")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('ws_sig', ?)",
                       (ws_sig if trusted else "racy",))
            db.execute("INSERT INTO meta VALUES ('files_read', ?) ON CONFLICT (key) DO UPDATE "
                       "SET value = CAST(value AS INTEGER) + excluded.value", (read,))

        try:
            self._write(apply)
        finally:
            if bulk:
                self._db.execute("PRAGMA cache_size=-2000")  # SQLite's default again
        self._problems_stale = True
        return bool(added or removed), set(added).union(removed, changed_docs)

    def _changed_documents(self, db, ws, added, removed, hint=None):
        if hint is not None:
            # told which changed: re-read those the index holds (no stat; a new job's
            # document is read with it)
            known = []
            for part in _chunks(sorted(hint - added - removed), 500):
                known += [i for (i,) in db.execute(
                    f"SELECT id FROM docsig WHERE id IN ({','.join('?' * len(part))})", part)]
            return known
        # all that is made here is freed here, inside the pause: the collector's count of new
        # objects falls back, so resuming starts no collection that walks them (0.02-0.04 s)
        with gc_paused():
            ids, sigs = self._cached("sigcache", _read_signatures)
            rows = list(zip(ids, sigs, strict=True))
            del ids, sigs
            if removed:
                rows = [r for r in rows if r[0] not in removed]
            changed = _split_work(_stat_changed, rows, ws)
            del rows
        return changed

    def _read_jobs(self, ws, ids):
        """Rows (id, sp, sp_text, doc, doc_text, doc_sig, problem) for new jobs."""
        sp_files = [f"{ws}/{i}/{layout.STATEPOINT}" for i in ids]
        doc_files = [f"{ws}/{i}/{layout.DOCUMENT}" for i in ids]
        raws = _read_many(sp_files) + _read_many(doc_files, DOC_MAX_BYTES)
        rows = []
        for k, job_id in enumerate(ids):
            sp, sp_text, bad = _parse(raws[k], sp_files[k], job_id, missing_ok=False)
            doc, doc_text, doc_bad = _parse(raws[len(ids) + k], doc_files[k], job_id)
            rows.append((job_id, sp, sp_text, doc if doc is not None else {}, doc_text,
                         raws[len(ids) + k][1], bad or doc_bad))
        return rows

    def _prepare(self, ws, ids):
        """``(rows, kv)`` for new jobs: rows (id, sp_text, doc_text, doc_sig, problem) for
        the jobs table and their flattened key rows."""
        rows, kv = [], []
        for job_id, sp, sp_text, doc, doc_text, sig, bad in self._read_jobs(ws, ids):
            if sp is not None:
                _flatten(job_id, 0, sp, "", kv)
            if doc_text is not None and not _flatten_capped(job_id, doc, doc_text, kv):
                doc_text = None
            rows.append((job_id, sp_text, doc_text, sig, bad))
        return rows, kv

    def _prepare_docs(self, ws, ids):
        """``(rows, kv)`` for changed documents: rows (id, doc_text, doc_sig, problem) and
        their flattened key rows."""
        rows, kv = [], []
        for job_id, doc, text, sig, bad in self._read_docs(ws, ids):
            if text is not None and not _flatten_capped(job_id, doc, text, kv):
                text = None
            rows.append((job_id, text, sig, bad))
        return rows, kv

    def _read_docs(self, ws, ids):
        """Rows (id, doc, doc_text, doc_sig, problem) for jobs whose document changed."""
        files = [f"{ws}/{i}/{layout.DOCUMENT}" for i in ids]
        rows = []
        for job_id, fn, raw in zip(ids, files, _read_many(files, DOC_MAX_BYTES), strict=True):
            doc, text, bad = _parse(raw, fn, job_id)
            rows.append((job_id, doc if doc is not None else {}, text, raw[1], bad))
        return rows

    @property
    def problems(self):
        """``{job id: message}`` for jobs whose state point or document could not be read,
        as of the last refresh (also when that refresh found nothing new to read); read from
        the index only when asked."""
        if self._problems_stale:
            self._problems = dict(self._connect().execute(
                f"SELECT id, bad FROM jobs WHERE {_ODD} AND bad IS NOT NULL"))
            self._problems_stale = False
        return {**self._problems, **self._big_problems}

    def add_known(self, jobs):
        """Index new jobs whose files the caller has just written, without reading them:
        ``jobs`` is a list of ``(id, state point text, state point, document or None,
        document text, document signature)``, the signature ``(mtime_ns, size, inode)`` from
        an ``fstat`` of the written document (None: no document file). A file changed after
        that no longer matches its signature, so the next freshness check re-reads it. Jobs
        the index already holds are left as they are. A cache: an error here is the caller's
        to ignore (the next refresh indexes the jobs by reading them)."""
        rows, kv = [], []
        for job_id, sp_text, sp, doc, doc_text, sig in jobs:
            _flatten(job_id, 0, sp, "", kv)
            if doc is None:
                doc_text = "{}"
            elif sig[1] > DOC_MAX_BYTES or not _flatten_capped(job_id, doc, doc_text, kv):
                doc_text = None  # over the caps, as a refresh would find it
            rows.append((job_id, sp_text, doc_text,
                         "none" if sig is None else f"{sig[0]}:{sig[1]}:{sig[2]}", None))
        if not rows:
            return
        # many into a small index: rebuilding the key indexes after the inserts beats
        # updating them (a tenth less at 10,000 jobs), in the same transaction: no reader
        # ever sees them missing
        bulk = len(rows) > BULK_KNOWN_MIN and len(rows) * 5 > self.indexed_count()

        def fill(db):
            if bulk:
                _drop_indexes(db)
            _add_jobs(db, rows, kv)
            if bulk:
                for name, columns in _INDEXES.items():
                    db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON kv {columns}")

        self._write(fill)
        self._jobs_changes += 1

    def files_read(self):
        """How many job files (state points and documents) the refreshes of this index have
        read since it was made, in any process: what indexing cost in reads."""
        value = self._meta(self._connect(), "files_read")
        return int(value) if value else 0

    # -- queries ----------------------------------------------------------------------------
    def indexed_count(self):
        """How many jobs the index holds, as it stands (no refresh): tells a caller whether
        building it now would pay off."""
        return self._connect().execute("SELECT count(*) FROM jobs").fetchone()[0]

    def ids(self):
        """All job ids, sorted."""
        self.refresh()
        # listed again only after a commit of another connection (data_version) or a refresh
        # here that changed the jobs: 100,000 ids took 0.04 s of every dashboard page
        db = self._db
        mark = (id(db), db.execute("PRAGMA data_version").fetchone()[0], self._jobs_changes)
        if self._ids_listed is None or self._ids_listed[0] != mark:
            self._ids_listed = (mark, [r[0] for r in db.execute(
                "SELECT id FROM jobs ORDER BY id")])
        return list(self._ids_listed[1])

    def statepoints(self, ids=None):
        """``{id: state point}`` for all (or the given) jobs with a readable state point."""
        self.refresh()
        return self._column("sp", ids)

    def documents(self, ids=None):
        """``{id: document}`` for all (or the given) jobs, documents checked for freshness."""
        self.refresh(documents=True)
        return self._column("doc", ids)

    def document_values(self, key):
        """``{id: value}`` of the (dotted) document key ``key`` for every job whose document
        has it, documents checked for freshness first; jobs whose document cannot be read
        are left out (see :attr:`problems`). From the key rows: no document is decoded but
        those whose value the rows do not hold exactly (NaN, documents over the caps)."""
        self.refresh(documents=True)
        db = self._db
        out, exact = {}, []
        # each from its covering index: a row's other column would cost a lookup per job
        # (values are the text of strings, lists and dicts, else the number)
        rows = db.execute("SELECT id, t, txt FROM kv WHERE src=1 AND key=? AND txt IS NOT NULL",
                          (key,)).fetchall()
        rows += db.execute("SELECT id, t, num FROM kv WHERE src=1 AND key=? AND t<?",
                           (key, T_STR)).fetchall()
        with gc_paused():
            for job_id, t, v in rows:
                if t == T_STR:
                    out[job_id] = v
                elif t == T_FLOAT and v is not None:
                    out[job_id] = v
                elif t == T_INT:
                    out[job_id] = int(v)
                elif t == T_BIGINT:
                    out[job_id] = int_of_sortable(v)
                elif t == T_BOOL:
                    out[job_id] = bool(v)
                elif t == T_NULL:
                    out[job_id] = None
                elif t in (T_LIST, T_DICT):
                    out[job_id] = json.loads(v)
                else:  # NaN (stored as NULL)
                    exact.append(job_id)
        path = tuple(key.split("."))
        docs = self._column("doc", exact) if exact else {}
        docs.update(self._big_documents())
        for job_id, doc in docs.items():
            value = resolve(doc, path)
            if value is not MISSING:
                out[job_id] = value
        for (job_id,) in db.execute(f"SELECT id FROM jobs WHERE {_ODD}"):
            out.pop(job_id, None)
        return out

    def document_keys(self):
        """``{dotted key: number of jobs}`` of the document keys the key rows hold, as of the
        last document check (documents over the caps are not counted)."""
        return dict(self._connect().execute(
            "SELECT key, count(*) FROM kv WHERE src=1 GROUP BY key"))

    def document_signatures(self, ids=None):
        """``{id: (mtime_ns, size, inode) or None}`` of the documents as last indexed (call
        :meth:`documents` first for fresh values)."""
        out = {}
        for i, sig in self._db.execute("SELECT id, sig FROM docsig"):
            if ids is None or i in ids:
                out[i] = None if sig == "none" else tuple(int(x) for x in sig.split(":"))
        return out

    def job_rows(self, ids=None, chunk=None):
        """Yield lists of up to ``chunk`` (default: all) rows ``(id, state point text,
        document, document signature text)`` of the jobs with a readable state point: all of
        them in storage order, or those of ``ids`` in that order. Documents are checked for
        freshness first; each is its JSON text, or, over the caps, the object read from its
        file, or None where that cannot be read (see :attr:`problems`).

        No statement stays open between the lists (the caller may run queries meanwhile);
        jobs the index gains while the rows are read are left out, so none comes twice."""
        self.refresh(documents=True)
        db = self._db
        cols = "id, sp, doc, doc_sig"
        if ids is not None:
            for part in _chunks(ids, chunk or max(len(ids), 1)):
                found = {}
                for sub in _chunks(part, 500):
                    found.update((r[0], r) for r in db.execute(
                        f"SELECT {cols} FROM jobs WHERE sp IS NOT NULL AND id IN "
                        f"({','.join('?' * len(sub))})", sub))
                yield self._with_big_rows([found[i] for i in part if i in found])
            return
        top = db.execute("SELECT max(rowid) FROM jobs").fetchone()[0] or 0
        after = 0
        while after < top:
            rows = db.execute(f"SELECT rowid, {cols} FROM jobs WHERE rowid > ? AND rowid <= ? "
                              "AND sp IS NOT NULL ORDER BY rowid LIMIT ?",
                              (after, top, chunk or -1)).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield self._with_big_rows([r[1:] for r in rows])

    def _with_big_rows(self, rows):
        if all(r[2] is not None for r in rows):
            return rows
        big = self._big_documents([r[0] for r in rows if r[2] is None])
        return [r if r[2] is not None else (r[0], r[1], big.get(r[0]), r[3]) for r in rows]

    def _column(self, column, ids):
        db = self._db
        if column == "doc":
            return {**self._column("doc_indexed", ids), **self._big_documents(ids)}
        if column == "doc_indexed":
            column = "doc"
        ids = None if ids is None else list(ids)
        if ids is not None and len(ids) >= COLUMN_SCAN_MIN and len(ids) * 4 >= db.execute(
                "SELECT count(*) FROM jobs").fetchone()[0]:
            # a large share of the jobs: one pass over the table and a pick beats looking up
            # each id (documents of all 100,000 jobs in 500-id chunks: 1.1 s, all: 0.7 s)
            every = self._column("doc_indexed" if column == "doc" else column, None)
            return {i: every[i] for i in ids if i in every}
        if ids is None and column == "sp":
            ids, sps = self._all_statepoints()
            with gc_paused():
                return dict(zip(ids, sps, strict=True))
        if ids is None:
            rows = db.execute(f"SELECT id, {column} FROM jobs WHERE {column} IS NOT NULL")
            with gc_paused():
                return {i: json.loads(v) for i, v in rows}
        out = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for i, v in db.execute(
                f"SELECT id, {column} FROM jobs WHERE {column} IS NOT NULL AND id IN ({marks})",
                chunk,
            ):
                out[i] = json.loads(v)
        return out

    def _all_statepoints(self):
        """``(ids, state points)`` of every job with a readable state point, sorted by id, as
        the index holds them (no refresh), from the state point cache where it is valid."""
        return self._cached("spcache", _read_statepoints)

    def _cached(self, table, read):
        """``read(db)``, two lists of equal length, from its cache ``table`` (one marshal
        blob), or read from the rows and, from :data:`SP_CACHE_MIN` items on, stored there.

        A cache is deleted in the same transaction that changes the rows it was made from
        (``_add_jobs``, ``refresh``), and it is made and stored in one write transaction, so
        no change can fall between its reading and its storing: it never outlives its rows.
        A blob of another Python version, or one that does not load, is made again. A lock
        held by another process or a read-only index is no reason to wait or fail: the rows
        read are returned uncached.
        """
        db = self._db
        row = db.execute(f"SELECT tag, blob FROM {table} LIMIT 1").fetchone()
        if row is not None and row[0] == _CACHE_TAG:
            try:
                with gc_paused():
                    value = marshal.loads(row[1])
                if (type(value) is tuple and len(value) == 2 and type(value[0]) is list and
                        type(value[1]) is list and len(value[0]) == len(value[1])):
                    return value
            except (ValueError, EOFError, TypeError):
                pass
        locked = False
        try:
            db.execute("PRAGMA busy_timeout=0")  # never wait for a lock to store a cache
            try:
                db.execute("BEGIN IMMEDIATE")
                locked = True
            except sqlite3.OperationalError:
                pass
        finally:
            db.execute("PRAGMA busy_timeout=60000")
        try:
            value = read(db)
            if locked and len(value[0]) >= SP_CACHE_MIN and not self.in_memory:
                try:
                    db.execute(f"DELETE FROM {table}")
                    db.execute(f"INSERT INTO {table} VALUES (?, ?)",
                               (_CACHE_TAG, marshal.dumps(value)))
                except sqlite3.OperationalError:  # a read-only index: no cache
                    pass
        finally:
            if locked:
                try:
                    db.execute("COMMIT")
                except sqlite3.OperationalError:  # e.g. the disk is full: no cache
                    db.execute("ROLLBACK")
        return value

    def _big_ids(self):
        return [i for (i,) in self._db.execute(
            "SELECT bigdoc.id FROM bigdoc JOIN jobs ON jobs.id = bigdoc.id "
            "WHERE jobs.sp IS NOT NULL ORDER BY bigdoc.id")]

    def _big_documents(self, ids=None):
        """``{id: document}`` of the documents over the caps (read from their files); those
        that cannot be read are left out and listed in :attr:`problems`."""
        big = self._big_ids()
        for gone in set(self._big_problems) - set(big):  # no longer over the caps
            del self._big_problems[gone]
        if ids is not None:
            wanted = set(ids)
            big = [i for i in big if i in wanted]
        out = {}
        for job_id in big:
            path = os.path.join(self.project.workspace, job_id, layout.DOCUMENT)
            self._big_problems.pop(job_id, None)
            try:
                with open(path, "rb") as f:
                    doc = loads_checked(f.read(), path, job_id)
            except FileNotFoundError:
                doc = {}
            except (CorruptFileError, OSError) as exc:
                self._big_problems[job_id] = str(exc)
                continue
            if not isinstance(doc, dict):
                self._big_problems[job_id] = f"job {job_id}: {path} is not a JSON object"
                continue
            out[job_id] = doc
        return out

    def missing_keys(self, node):
        """``[(key, suggestion or None)]`` for the keys of a compiled tree that no job has
        (``doc.`` prefixed for document keys), as of the last query; the suggestion is the
        closest key that exists."""
        db = self._connect()
        out = []
        for src, path in keys_of(node):
            code, key = (0 if src == "sp" else 1), ".".join(path)
            if db.execute("SELECT 1 FROM kv WHERE src=? AND key=? LIMIT 1",
                          (code, key)).fetchone():
                continue
            if src == "doc" and any(resolve(d, path) is not MISSING
                                    for d in self._big_documents().values()):
                continue
            import difflib  # only for a missing key: a find's start-up does not pay for it

            known = [k for (k,) in db.execute("SELECT DISTINCT key FROM kv WHERE src=?",
                                              (code,))]
            close = difflib.get_close_matches(key, known, n=1)
            prefix = "doc." if src == "doc" else ""
            out.append((prefix + key, prefix + close[0] if close else None))
        return out

    def find(self, node):
        """Ids (sorted) of the jobs matching a compiled filter tree."""
        return [r[0] for r in self._select(node, "id")]

    def find_statepoints(self, node):
        """``(id, state point)`` pairs (sorted by id) of the jobs matching a compiled tree:
        a list, or for all jobs an iterator over the state point cache (read once)."""
        if node == ("and", []):
            self.refresh()
            ids, sps = self._all_statepoints()
            # an iterator, not a list: 100,000 pairs kept at once were as many objects more
            # for the collector to walk when it resumed (0.02-0.04 s of a fresh iteration)
            return zip(ids, sps, strict=True)
        loads = json.loads
        rows = self._select(node, "id, sp")
        with gc_paused():
            return [(i, loads(sp)) for i, sp in rows]

    def _select(self, node, columns):
        docs = uses_document(node)
        self.refresh(documents=docs)
        db = self._db
        # a job whose document cannot be read is left out of document queries (it is listed
        # in self.problems): matching it against an empty document would answer wrongly
        readable = " AND bad IS NULL" if docs else ""
        if node == ("and", []):
            rows = db.execute(
                f"SELECT {columns} FROM jobs WHERE sp IS NOT NULL ORDER BY id").fetchall()
        else:
            translated = _to_sql(node)
            if translated is None:
                ids = self._find_python(node, docs)
                if columns == "id":
                    return [(i,) for i in ids]
                sps = self._column("sp", ids)
                return [(i, json.dumps(sps[i])) for i in ids]
            sql, params = translated
            if columns == "id":
                rows = self._matching_ids(db, sql, params, docs)
            else:
                sql = f"SELECT {columns} FROM jobs WHERE sp IS NOT NULL{readable} AND id IN ({sql})"
                rows = _execute(db, sql + " ORDER BY id", params)
        big = self._big_ids() if docs else []
        if big:
            rows = self._with_big(node, rows, big, columns)
        return rows

    def _matching_ids(self, db, sql, params, docs):
        """``[(id,)]`` (sorted) selected by a translated filter, less the jobs left out of
        answers: those whose state point (or, for document queries, document) cannot be read.

        Equal to joining with the jobs table in SQL, without looking up each match's row:
        the few jobs to leave out come from their partial index.
        """
        odd = db.execute(f"SELECT id, sp IS NULL FROM jobs WHERE {_ODD}").fetchall()
        skip = {i for i, no_sp in odd if no_sp or docs}
        found = {r[0] for r in _execute(db, sql, params)}
        return [(i,) for i in sorted(found - skip if skip else found)]

    def _with_big(self, node, rows, big, columns):
        """``rows`` with the jobs whose documents are over the caps (no key rows: SQL saw
        them as empty) evaluated in Python instead."""
        skip = set(big)
        rows = [r for r in rows if r[0] not in skip]
        docs = self._big_documents(big)
        sps = self._column("sp", list(docs))
        for job_id, doc in docs.items():
            if job_id in sps and evaluate(node, sps[job_id], doc):
                rows.append((job_id,) if columns == "id" else (job_id, json.dumps(sps[job_id])))
        rows.sort()
        return rows

    def _find_python(self, node, docs):
        sps = self._column("sp", None)
        dcs = self._column("doc", None) if docs else {}
        bad = self.problems if docs else {}
        return sorted(i for i, sp in sps.items()
                      if i not in bad and evaluate(node, sp, dcs.get(i, {})))


@contextlib.contextmanager
def gc_paused():
    """No cyclic garbage collection in the block, for code that builds many objects without
    cycles (JSON values, jobs) and runs no user code: each collection walks every object made
    so far, which grew faster than the number of jobs (a million jobs' document check: 13 s of
    CPU with collections, 8.7 s without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_statepoints(db):
    """``(ids, state points)`` of the jobs with a readable state point, sorted by id."""
    # unordered: in id order SQLite visits the rows through the key index (3x slower)
    rows = sorted(db.execute("SELECT id, sp FROM jobs WHERE sp IS NOT NULL"))
    loads = json.loads
    with gc_paused():
        return [r[0] for r in rows], [loads(r[1]) for r in rows]


def _read_signatures(db):
    """``(ids, signatures)`` of all jobs' documents as last indexed: ``(mtime_ns, size,
    inode)``, or None for no document (compared as tuples, the freshness check formats no
    text per file)."""
    # one string instead of 100,000 row objects: the narrow table makes this cheap
    text = db.execute("SELECT group_concat(id || ' ' || sig, ' ') FROM docsig").fetchone()[0]
    parts = text.split(" ") if text else []
    with gc_paused():
        return parts[0::2], [None if sig == "none" else tuple(map(int, sig.split(":")))
                             for sig in parts[1::2]]


def _execute(db, sql, params):
    """``db.execute(sql, params).fetchall()``, raising a ``$regex`` error as itself."""
    _failure.error = None
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        error, _failure.error = _failure.error, None
        if error is not None:
            raise error from None
        raise


def _read_raw(path, limit=None):
    """``(bytes, signature)`` of a file, or ``(None, "none")`` if it does not exist, or
    ``(TOO_BIG, signature)`` if it is larger than ``limit`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None, "none"
    except OSError as exc:
        return exc, "none"
    try:
        s = os.fstat(fd)
        if limit is not None and s.st_size > limit:
            return TOO_BIG, f"{s.st_mtime_ns}:{s.st_size}:{s.st_ino}"
        chunks = []
        while True:
            chunk = os.read(fd, max(s.st_size + 1, 4096))
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks), f"{s.st_mtime_ns}:{s.st_size}:{s.st_ino}"


TOO_BIG = b"(over DOC_MAX_BYTES)"


def _read_many(paths, limit=None):
    """Read many small files. (Threads were measured slower here: the calls are short and
    contend for the GIL.)"""
    return [_read_raw(p, limit) for p in paths]


def _parse(raw, path, job_id, missing_ok=True):
    """``(object, text, problem)`` from a :func:`_read_raw` result; a document over
    :data:`DOC_MAX_BYTES` is not parsed: ``(None, None, None)``."""
    data, _ = raw
    if data is TOO_BIG:
        return None, None, None
    if data is None:
        if missing_ok:
            return None, "{}", None
        return None, None, f"job {job_id}: {path} is missing"
    if isinstance(data, Exception):
        return None, "{}" if missing_ok else None, f"job {job_id}: {path}: {data}"
    try:
        obj = loads_checked(data, path, job_id)
    except CorruptFileError as exc:
        return None, "{}" if missing_ok else None, str(exc)
    if not isinstance(obj, dict):
        return None, "{}" if missing_ok else None, f"job {job_id}: {path} is not a JSON object"
    try:
        # utf-8-sig: a byte-order mark (which other tools write) is read as JSON's reader
        # does, else every reader of the stored text would fail on it
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = json.dumps(obj)
    return obj, text, None


def _stat_changed(rows, ws):
    """Ids among ``rows`` (id, recorded signature: see :func:`_read_signatures`) whose
    document signature changed."""
    changed = []
    stat, suffix = os.stat, "/" + layout.DOCUMENT
    # paths relative to the open workspace: the kernel walks two names instead of the whole
    # path, and no signature tuple is made per file (together 6-8 % of this loop)
    try:
        fd = os.open(ws, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        fd = None
    if fd is None or stat not in os.supports_dir_fd:
        if fd is not None:
            os.close(fd)
        return _stat_changed_by_path(rows, ws)
    try:
        for job_id, sig in rows:
            try:
                s = stat(job_id + suffix, dir_fd=fd)
            except (FileNotFoundError, NotADirectoryError):
                if sig is not None:
                    changed.append(job_id)
                continue
            if (sig is None or s.st_mtime_ns != sig[0] or s.st_size != sig[1]
                    or s.st_ino != sig[2]):
                changed.append(job_id)
    finally:
        os.close(fd)
    return changed


def _stat_changed_by_path(rows, ws):
    """:func:`_stat_changed` where the workspace cannot be opened as a directory."""
    changed = []
    stat = os.stat
    prefix, suffix = ws + "/", "/" + layout.DOCUMENT
    for job_id, sig in rows:
        try:
            s = stat(prefix + job_id + suffix)
            now = (s.st_mtime_ns, s.st_size, s.st_ino)
        except (FileNotFoundError, NotADirectoryError):
            now = None
        if now != sig:
            changed.append(job_id)
    return changed


def _split_work(fn, rows, ws, join=lambda a, b: a + b):
    """``fn(rows, ws)``, in two processes (:func:`_in_two_processes`) from
    :data:`PARALLEL_STAT_MIN` rows on, where the machine can fork and has two cores."""
    if len(rows) >= PARALLEL_STAT_MIN and hasattr(os, "fork") and (os.cpu_count() or 1) > 1:
        return _in_two_processes(fn, rows, ws, join)
    return fn(rows, ws)


def _in_two_processes(fn, rows, ws, join=lambda a, b: a + b):
    """Run ``fn(rows, ws)`` on two halves at once, the second half in a forked child, and
    ``join`` the two results (lists, tuples, dicts, strings and numbers: sent by marshal).

    ``stat`` and reading files cost system time per file; on a 100,000-job workspace two
    cores halve the wait. The child only reads files and writes its result to a pipe; if it
    fails, its half is redone here, so the result never silently misses anything.
    """
    import marshal

    half = len(rows) // 2
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no cleanup handlers, no shared state touched
        status = 1
        try:
            os.close(r)
            write_all(w, marshal.dumps(fn(rows[half:], ws)))
            status = 0
        finally:
            os._exit(status)
    os.close(w)
    try:
        mine = fn(rows[:half], ws)
    finally:
        chunks = []
        while True:
            chunk = os.read(r, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(r)
        _, status = os.waitpid(pid, 0)
    if status != 0:
        return join(mine, fn(rows[half:], ws))
    return join(mine, marshal.loads(b"".join(chunks)))


def _join_prepared(a, b):
    return a[0] + b[0], a[1] + b[1]


def _list_job_inodes(ws):
    """``{job id: inode of its directory}`` (scandir has the inode without a stat)."""
    with os.scandir(ws) as it:
        return {e.name: e.inode() for e in it if layout.is_job_id(e.name)}


def _drop_indexes(db):
    for name in _INDEXES:
        db.execute(f"DROP INDEX IF EXISTS {name}")


def _add_jobs(db, rows, kv, check=True):
    """Insert new jobs: ``rows`` (id, sp_text, doc_text, doc_sig, problem) and their key
    rows. With ``check``, jobs another process indexed meanwhile are left out (their key rows
    would be doubled)."""
    if check and rows:
        db.execute("CREATE TEMP TABLE IF NOT EXISTS fresh (id TEXT PRIMARY KEY)")
        db.execute("DELETE FROM temp.fresh")
        db.executemany("INSERT OR IGNORE INTO temp.fresh VALUES (?)", [(r[0],) for r in rows])
        present = {i for (i,) in db.execute(
            "SELECT id FROM jobs WHERE id IN (SELECT id FROM temp.fresh)")}
        if present:
            rows = [r for r in rows if r[0] not in present]
            kv = [k for k in kv if k[0] not in present]
    if rows:
        db.execute("DELETE FROM spcache")  # in the transaction that changes jobs
        db.execute("DELETE FROM sigcache")
    db.executemany("INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?)", rows)
    db.executemany("INSERT OR REPLACE INTO docsig VALUES (?,?)", [(r[0], r[3]) for r in rows])
    db.executemany("INSERT INTO kv VALUES (?,?,?,?,?,?)", kv)
    # a document text of None marks one over the caps (not stored, no key rows)
    db.executemany("INSERT OR REPLACE INTO bigdoc VALUES (?)",
                   [(r[0],) for r in rows if r[2] is None and r[1] is not None])


#: up to this many old key rows are deleted one by one through the covering indexes; more
#: take one scan of kv (0.1 s at 100,000 jobs, whatever the number deleted)
EXACT_DELETE_MAX = 20000


def _delete_key_rows(db, removed, changed, exact=True):
    """Delete the key rows of the ``removed`` jobs and of the old documents of the
    ``changed`` ones (kv has no index on id: it would slow inserts). The rows to delete are
    made again from the texts the jobs table holds (they were made from them), so each is
    found by its exact key in a covering index; many (or ``exact`` false: the indexes are
    dropped) take one scan of kv instead."""
    old = [] if exact else None
    for src, ids in ((0, removed), (1, changed)) if exact else ():
        for part in _chunks(ids, 500):
            for job_id, sp_text, doc_text in db.execute(
                    f"SELECT id, sp, doc FROM jobs WHERE id IN ({','.join('?' * len(part))})",
                    part):
                try:
                    if src == 0 and sp_text is not None:
                        _flatten(job_id, 0, json.loads(sp_text), "", old)
                    if doc_text is not None:
                        _flatten(job_id, 1, json.loads(doc_text), "", old)
                except (ValueError, RecursionError, AttributeError):  # not as it was stored
                    old = None
                    break
                if len(old) > EXACT_DELETE_MAX:
                    old = None
                    break
            if old is None:
                break
        if old is None:
            break
    if old is not None:
        by_txt, by_num, by_null = [], [], []
        for job_id, src, key, t, num, txt in old:
            if txt is not None:
                by_txt.append((src, key, txt, t, job_id))
            elif num is not None and num == num:  # NaN is stored as NULL
                by_num.append((src, key, num, t, job_id))
            else:
                by_null.append((src, key, t, job_id))
        # every column of the covering index given: one lookup per row
        db.executemany("DELETE FROM kv WHERE src=? AND key=? AND txt=? AND t=? AND id=?",
                       by_txt)
        db.executemany("DELETE FROM kv WHERE src=? AND key=? AND num=? AND t=? AND id=?",
                       by_num)
        db.executemany("DELETE FROM kv WHERE src=? AND key=? AND num IS NULL AND t=? AND id=? "
                       "AND txt IS NULL", by_null)
        return
    db.execute("CREATE TEMP TABLE IF NOT EXISTS stale (id TEXT PRIMARY KEY, src INT)")
    db.execute("DELETE FROM temp.stale")
    db.executemany("INSERT OR REPLACE INTO temp.stale VALUES (?, 0)", [(i,) for i in removed])
    db.executemany("INSERT OR IGNORE INTO temp.stale VALUES (?, 1)", [(i,) for i in changed])
    db.execute("DELETE FROM kv WHERE id IN (SELECT id FROM temp.stale) AND "
               "src >= (SELECT src FROM temp.stale WHERE stale.id = kv.id)")


def _chunks(seq, n):
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


_ALL = "SELECT id FROM jobs"
_MAX_FLOAT = 1.7976931348623157e308


def _to_sql(node):
    """Translate a tree into ``(sql, params)`` selecting matching ids, or None if it cannot."""
    kind = node[0]
    if kind in ("and", "or"):
        parts = [_to_sql(n) for n in node[1]]
        if any(p is None for p in parts):
            return None
        if not parts:
            return (_ALL, []) if kind == "and" else ("SELECT id FROM jobs WHERE 0", [])
        glue = " INTERSECT " if kind == "and" else " UNION "
        return (glue.join(f"SELECT id FROM ({p[0]})" for p in parts),
                [x for p in parts for x in p[1]])
    if kind == "not":
        inner = _to_sql(node[1])
        if inner is None:
            return None
        return f"{_ALL} EXCEPT SELECT id FROM ({inner[0]})", inner[1]
    _, src, path, op, operand = node
    base = "SELECT id FROM kv WHERE src=? AND key=?"
    head = [0 if src == "sp" else 1, ".".join(path)]
    if op == "$exists":
        return (base, head) if operand else (f"{_ALL} EXCEPT {base}", head)
    if op in ("$eq", "$ne", "$in", "$nin"):
        values = operand if op in ("$in", "$nin") else [operand]
        conds, params = [], []
        for v in values:
            c = _eq_condition(v)
            conds.append(c[0])
            params.extend(c[1])
        where = " OR ".join(f"({c})" for c in conds) if conds else "0"
        sql = f"{base} AND ({where})"
        if op in ("$ne", "$nin"):
            return f"{_ALL} EXCEPT {sql}", head + params
        return sql, head + params
    if op in ("$gt", "$gte", "$lt", "$lte"):
        sym = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
        if _is_number(operand):
            return _number_range(base, head, sym, operand)
        return f"{base} AND t={T_STR} AND txt {sym} ?", head + [operand]
    if op == "$regex":
        return (f"{base} AND t={T_STR} AND regexp(?, ?, txt)",
                head + [operand.pattern, operand.where])
    if op == "$type":
        codes = ",".join(str(c) for c in _TYPE_CODES[operand])
        return f"{base} AND t IN ({codes})", head
    if op == "$near":
        ref, rel, absolute = operand
        # infinite values are close to no finite reference (math.isclose); NaN is stored NULL
        return (f"{base} AND t IN ({T_INT},{T_FLOAT},{T_BIGINT}) AND abs(num) <= ? AND "
                "abs(num - ?) <= max(? * max(abs(num), abs(?)), ?)",
                head + [_MAX_FLOAT, ref, rel, ref, absolute])
    return None


def _eq_condition(v):
    if v is None:
        return f"t={T_NULL}", []
    if isinstance(v, bool):
        return f"t={T_BOOL} AND num=?", [int(v)]
    if _is_number(v):
        if -EXACT_INT <= v <= EXACT_INT or (type(v) is float and not math.isfinite(v)):  # NaN: num=NULL, no match
            return f"t IN ({T_INT},{T_FLOAT}) AND num=?", [float(v)]
        # an integer (floats this large are integral) equals a float only if one holds it
        cond, params = f"t={T_BIGINT} AND txt=?", [sortable_int(int(v))]
        near = _float_near(v)
        if near == v:
            cond, params = f"({cond}) OR (t={T_FLOAT} AND num=?)", params + [near]
        return cond, params
    if isinstance(v, str):
        return f"t={T_STR} AND txt=?", [v]
    code = T_LIST if isinstance(v, list) else T_DICT
    if _has_nan(v):
        return "0", []  # NaN equals nothing, so neither does a list holding one
    return f"t={code} AND txt=?", [canonical(v)]


def _float_near(value):
    """The float nearest a number (infinite past the largest float)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _number_range(base, head, sym, operand):
    """``(sql, params)`` of the rows whose number compares as ``sym`` with ``operand``, exactly:
    floats and small integers by ``num``, against the float next to an operand no float holds;
    the other integers by their sortable text."""
    upward = sym[0] == ">"
    bound, float_sym = _float_near(operand), sym
    if bound != operand and bound == bound:  # not held by a float: the next one beyond it
        if (bound < operand) == upward:
            bound = math.nextafter(bound, math.inf if upward else -math.inf)
        float_sym = sym[0] + "="
    sql = f"{base} AND t IN ({T_INT},{T_FLOAT}) AND num {float_sym} ?"
    params = head + [bound]
    if operand != operand:  # NaN: compares with nothing
        return sql, params
    if isinstance(operand, float) and math.isinf(operand):
        text = _SORTABLE_HIGH if operand > 0 else _SORTABLE_LOW
    else:
        # integers beyond EXACT_INT compare with a smaller operand as with 0
        text = sortable_int(int(operand) if abs(operand) > EXACT_INT else 0)
    limit = f"txt < '{_SORTABLE_HIGH}'" if upward else f"txt >= '{_SORTABLE_LOW}'"
    sql += f" UNION ALL {base} AND t={T_BIGINT} AND txt {sym} ? AND {limit}"
    return sql, params + head + [text]


def _has_nan(v):
    if isinstance(v, float):
        return v != v
    if isinstance(v, list):
        return any(_has_nan(x) for x in v)
    if isinstance(v, dict):
        return any(_has_nan(x) for x in v.values())
    return False


__all__ = ["Index", "MISSING"]
