"""Which operations succeeded on a job, from its provenance log, without reading its history
again: a rebuildable cache (``.suite/flow/succeeded.sqlite``) of what each log's read part
held.

Per job the cache keeps the log's inode and device, its change time and size when read, the
offset up to which it was read (whole lines only: a last line cut short is not consumed), where
the last consumed line starts with a CRC-32 of it, the operations that succeeded in the
consumed part, and the latest record (by start) of each operation there (``suite status``'s
last-execution column: its id, status, start, end and jobs). A log only grows (records are appended; sync's merge replaces it by the union
of lines: a new inode), so the next read parses only the bytes after that offset, once the
last consumed line is found again in its place; a log with another inode or device, shorter
than the offset, or whose last consumed line differs, is read whole once. The file is the
truth: a cache file that is not a database, or a row that does not check, is ignored and
rebuilt.

Two processes may update it at once: SQLite's own locking keeps the file whole, and a process
that cannot take the write lock at once keeps its update in memory only (the next reader
re-reads the new lines). A row that another process wrote from an older read is still true
(a prefix of the log), so no interleaving makes the cache lie.
"""

import json
import os
import sqlite3
import threading
import zlib

from suite import layout
from suite.provenance.logs import derived_id

from .provenance import LOG, lines_and_records

#: the cache file, in the project directory
CACHE = os.path.join(layout.SUITE_DIR, "flow", "succeeded.sqlite")
VERSION = 2  # another version's file is rebuilt, not misread
COLUMNS = ("id", "ino", "dev", "size", "ctime", "offset", "last", "crc", "ops", "lasts")
#: what the cache keeps of each operation's latest record, in this order
LAST_FIELDS = ("id", "status", "start", "end", "jobs")
#: jobs asked for at most, above which the whole table is loaded in one query
BY_ID = 500


class Succeeded:
    """``of(job)``: the set of operation names that succeeded on ``job`` at least once, as its
    log (``suite_flow_log.jsonl``) records, read incrementally; :meth:`latest`: each
    operation's latest record among some jobs, from the same read; :meth:`save` stores what was
    learned. Lines that are not JSON objects are skipped, as :func:`~.provenance.read` does.

    :attr:`bytes_read` counts the log bytes read (a measure for tests and benchmarks).
    Nothing here raises for a missing, unreadable or corrupt cache: it reads the logs whole.
    A log that exists but cannot be read raises OSError (as a whole read does), rather than
    count as "nothing succeeded" (which would run its operations again).
    """

    def __init__(self, project_path):
        self._file = os.path.join(project_path, CACHE)
        self._db = None  # None: not opened yet; False: no cache file usable
        # job id -> row tuple (ino, dev, size, ctime, offset, last, crc, ops, lasts); lasts:
        # {operation: [id, status, start, end, jobs]}, kept as text until asked for
        self._rows = {}
        self._all = False  # every row of the file is in _rows
        self._asked = set()  # ids whose rows were looked up
        self._dirty = {}  # job id -> row to store, or None to delete
        self._ops = {}  # ops text -> frozenset (rows share a few)
        #: log bytes read
        self.bytes_read = 0
        # `run --parallel` evaluates a group's steps in several threads: one connection,
        # used by one thread at a time
        self._lock = threading.Lock()

    # -- the cache file ---------------------------------------------------------------------
    def _connect(self):
        if self._db is None:
            self._db = self._open() or False
        return self._db

    def _open(self):
        try:
            os.makedirs(os.path.dirname(self._file), exist_ok=True)
        except OSError:
            return None
        for attempt in range(2):
            try:
                db = sqlite3.connect(self._file, timeout=5, isolation_level=None,
                                     check_same_thread=False)
                try:
                    db.execute("PRAGMA journal_mode=DELETE")  # WAL needs shared memory (NFS)
                    db.execute("PRAGMA synchronous=OFF")  # a cache: a lost write is a re-read
                    columns = [r[1] for r in db.execute("PRAGMA table_info(logs)")]
                    if (db.execute("PRAGMA user_version").fetchone()[0] != VERSION
                            or columns != list(COLUMNS)):
                        db.executescript(
                            "BEGIN IMMEDIATE; DROP TABLE IF EXISTS logs; CREATE TABLE logs ("
                            "id TEXT PRIMARY KEY, ino INTEGER, dev INTEGER, size INTEGER, "
                            "ctime INTEGER, offset INTEGER, last INTEGER, crc INTEGER, "
                            f"ops TEXT, lasts TEXT) WITHOUT ROWID; PRAGMA user_version={VERSION}; COMMIT")
                    db.execute("SELECT id FROM logs LIMIT 1").fetchall()
                    return db
                except sqlite3.DatabaseError:
                    db.close()
                    raise
            except sqlite3.OperationalError:
                return None  # locked for long, read-only: no cache this time
            except sqlite3.DatabaseError:  # not a database: rebuilt
                if attempt:
                    return None
                try:
                    os.unlink(self._file)
                except OSError:
                    return None
        return None

    def _load(self, ids):
        """Load the rows of ``ids`` (all rows when there are many) once."""
        with self._lock:
            self._load_locked(ids)

    def _load_locked(self, ids):
        if self._all:
            return
        wanted = [i for i in ids if i not in self._asked]
        if not wanted:
            return
        db = self._connect()
        if not db:
            return
        try:
            if len(wanted) > BY_ID:
                rows = db.execute("SELECT * FROM logs").fetchall()
                self._all = True
            else:
                rows = []
                for k in range(0, len(wanted), 250):
                    part = wanted[k:k + 250]
                    rows += db.execute("SELECT * FROM logs WHERE id IN "
                                       f"({','.join('?' * len(part))})", part).fetchall()
        except sqlite3.OperationalError:  # locked for long: the logs are read whole
            return
        except sqlite3.DatabaseError:  # damaged pages: not used, rebuilt by the next process
            self.close()
            self._db = False
            try:
                os.unlink(self._file)
            except OSError:
                pass
            return
        self._asked.update(wanted)
        for row in rows:
            if row[0] not in self._rows:  # ours (this process's later reads) win
                self._rows[row[0]] = row[1:]

    def save(self):
        """Store what was learned since the last save. When another process holds the write
        lock it is kept in memory for the next save; when the file cannot be written it is
        dropped (a later read learns it again). Never waits, never raises for the cache."""
        with self._lock:
            self._save_locked()

    def _save_locked(self):
        if not self._dirty:
            return
        db = self._connect()
        if not db:
            return
        dirty, self._dirty = self._dirty, {}
        try:
            db.execute("PRAGMA busy_timeout=0")  # never wait for a lock to store a cache
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError:
            self._dirty = {**dirty, **self._dirty}  # kept for the next save
            return
        finally:
            db.execute("PRAGMA busy_timeout=5000")
        try:
            db.executemany("DELETE FROM logs WHERE id = ?",
                           [(i,) for i, row in dirty.items() if row is None])
            db.executemany("INSERT OR REPLACE INTO logs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(i, *row) for i, row in dirty.items() if row is not None])
            db.execute("COMMIT")
        except sqlite3.DatabaseError:
            try:
                db.execute("ROLLBACK")
            except sqlite3.DatabaseError:
                pass

    @property
    def pending(self):
        """How many jobs' rows :meth:`save` would store (to save at most every so often)."""
        return len(self._dirty)

    def forget_others(self, ids):
        """Drop the rows of jobs not among ``ids`` (every job of the project: removed jobs'
        rows would stay forever), if the whole file was loaded; stored by :meth:`save`."""
        if not self._all:
            return
        keep = set(ids)
        for job_id in [i for i in self._rows if i not in keep]:
            del self._rows[job_id]
            self._dirty[job_id] = None
        self.save()

    def close(self):
        if self._db:
            self._db.close()
        self._db = None

    # -- reading a log ----------------------------------------------------------------------
    def prefetch(self, ids):
        """Look up the cached rows of the jobs ``ids`` in one go (before :meth:`of`)."""
        self._load(list(ids))

    def of(self, job):
        """The operations that succeeded on ``job`` at least once (a frozenset)."""
        return self._state(job.id, job.path)[0]

    def latest(self, workspace, job_ids):
        """``{operation: {"id", "status", "start", "end", "jobs"}}``: the latest record (by
        start; of equal starts the first found, in the order of ``job_ids``) of each operation
        among the logs of the jobs ``job_ids`` in ``workspace``. Records without a start count
        as started at 0; a record without jobs shows ``[]``. Raises OSError for a log that
        exists but cannot be read."""
        self._load(list(job_ids))
        found = {}
        for job_id in job_ids:
            lasts = self._state(job_id, os.path.join(workspace, job_id), True)[1]
            for op, rec in lasts.items():
                if op not in found or _later(rec, found[op]):
                    found[op] = rec
        return {op: dict(zip(LAST_FIELDS, rec, strict=True)) for op, rec in found.items()}

    def _state(self, job_id, job_path, lasts=False):
        """``(operations that succeeded, {operation: latest record})`` of the job's log; the
        second is only sure to be parsed with ``lasts``."""
        if job_id not in self._asked and not self._all:
            self._load([job_id])
        path = os.path.join(job_path, LOG)
        try:
            st = os.stat(path)
        except FileNotFoundError:  # no log (or no job): nothing succeeded
            if self._rows.pop(job_id, None) is not None:
                self._dirty[job_id] = None
            return frozenset(), {}
        row = self._rows.get(job_id)
        if row is not None and (len(row) != 9 or type(row[7]) is not frozenset
                                or (lasts and type(row[8]) is not dict)):
            row = self._valid(row, lasts)  # a row from the file: checked once
            if row is None:
                del self._rows[job_id]
            else:
                self._rows[job_id] = row
        if row is not None and row[0] == st.st_ino and row[1] == st.st_dev:
            if row[2] == st.st_size and row[3] == st.st_ctime_ns and row[4] == row[2]:
                return row[7], row[8]  # unchanged since read, no cut line
            if st.st_size >= row[4]:
                found = self._read(job_id, path, st, self._valid(row, True))
                if found is not None:
                    return found
        return self._read(job_id, path, st, None)

    def _valid(self, row, lasts=False):
        """``row`` with its operations as a frozenset (and, with ``lasts``, its latest records
        as a dict), or None if it does not check."""
        if row is None:
            return None
        try:
            ino, dev, size, ctime, offset, last, crc, text, latest = row
            if not (all(type(v) is int for v in row[:7]) and 0 <= last <= offset <= size):
                return None
            ops = text if type(text) is frozenset else self._ops.get(text)
            if ops is None:
                names = json.loads(text)
                if type(names) is not list or not all(
                        n is None or type(n) is str for n in names):
                    return None
                ops = self._ops[text] = frozenset(names)
            if type(latest) is not dict:
                if type(latest) is not str:
                    return None
                if lasts:
                    latest = json.loads(latest)
                    if type(latest) is not dict or not all(
                            type(r) is list and len(r) == len(LAST_FIELDS)
                            for r in latest.values()):
                        return None
        except (TypeError, ValueError):
            return None
        return (ino, dev, size, ctime, offset, last, crc, ops, latest)

    def _read(self, job_id, path, st, row):
        """Parse the log from ``row``'s offset (or whole, without ``row``, or with a ``row``
        that does not check); remember and return ``(what succeeded, latest records)``, or
        None when ``row``'s last line is not where it was."""
        start = row[5] if row is not None else 0
        try:
            with open(path, "rb") as f:
                if start:
                    f.seek(start)
                data = f.read()
        except FileNotFoundError:  # removed since the stat: as with no log
            return frozenset(), {}
        self.bytes_read += len(data)
        seen = start + len(data)  # the log's size as read (it may have grown since the stat)
        ops, lasts = set(), {}
        if row is not None:
            checked = row[4] - start
            if len(data) < checked or zlib.crc32(data[:checked]) != row[6]:
                return None  # not the log the row was made from
            ops.update(row[7])
            lasts.update(row[8])
            data, start = data[checked:], row[4]
        end = data.rfind(b"\n") + 1  # whole lines are consumed; a cut last line is not
        _take(data[:end], ops, lasts)
        last = data.rfind(b"\n", 0, end - 1) + 1 if end else 0
        if end:
            new = (st.st_ino, st.st_dev, seen, st.st_ctime_ns, start + end, start + last,
                   zlib.crc32(data[last:end]))
        else:  # nothing new consumed: the last line is the row's
            new = (st.st_ino, st.st_dev, seen, st.st_ctime_ns, *row[4:7]) if row \
                else (st.st_ino, st.st_dev, seen, st.st_ctime_ns, 0, 0, 0)
        consumed = frozenset(ops)
        text = json.dumps(sorted(consumed, key=lambda n: (n is None, n or "")))
        self._ops.setdefault(text, consumed)
        self._rows[job_id] = (*new, consumed, lasts)
        self._dirty[job_id] = (*new, text, json.dumps(lasts))
        if end < len(data):  # a last line without its newline counts as a whole read counts it
            more, lasts = set(consumed), dict(lasts)
            _take(data[end:], more, lasts)
            return frozenset(more), lasts
        return consumed, lasts


def _take(data, ops, lasts):
    """Add to ``ops`` the operations that succeeded in the records among the lines of
    ``data``, and to ``lasts`` each operation's latest record (by start; of equal starts the
    first); records of unnamed operations are not shown by status, so not kept."""
    for line, record in lines_and_records(data):
        op = record.get("operation")
        if record.get("status") == "success":
            ops.add(op)
        if type(op) is not str or not op:  # status shows named operations only
            continue
        rec = [record.get("id") or derived_id(line), record.get("status"), record.get("start"),
               record.get("end"), record.get("jobs") or []]
        if op not in lasts or _later(rec, lasts[op]):
            lasts[op] = rec


def _later(rec, than):
    return _time(rec[2]) > _time(than[2])


def _time(start):
    # a start that is not a time (a damaged record) orders as a record without one
    return start if isinstance(start, int | float) else 0
