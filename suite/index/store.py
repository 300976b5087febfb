"""The index's SQLite file: its schema, opening it (rebuilt when corrupt, in memory where the
disk refuses), write transactions, and inserting jobs."""

import contextlib
import os
import sqlite3
import time

from ..process import pid_alive
from . import keyrows

# another version's file is rebuilt, never misread. 7: kv_txt partial; 8: a build without a
# journal leaves a marker (BUILDING) that older code would not heed; 9: key rows made per key
# on its first query (tables keys and made)
VERSION = 9
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, sp TEXT, doc TEXT, doc_sig TEXT, bad TEXT);
CREATE TABLE IF NOT EXISTS docsig (id TEXT PRIMARY KEY, sig TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bigdoc (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (
    id TEXT, src INTEGER, key TEXT, t INTEGER, num REAL, txt TEXT);
CREATE TABLE IF NOT EXISTS keys (src INTEGER, key TEXT, n INTEGER,
    PRIMARY KEY (src, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS made (src INTEGER, key TEXT, PRIMARY KEY (src, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS spcache (tag TEXT, blob BLOB);
CREATE TABLE IF NOT EXISTS sigcache (tag TEXT, blob BLOB);
CREATE INDEX IF NOT EXISTS jobs_odd ON jobs (id) WHERE (sp IS NULL OR bad IS NOT NULL);
"""
# covering (t and id included): a query reads the index alone, where looking up each match's
# row took three quarters of `find b.c 3` at 100,000 jobs (0.08 of 0.1 s). kv_txt holds only
# the rows with a text (strings, lists, dicts, big integers): every condition on txt implies
# it (SQLite then uses the partial index), and the numbers' rows, most of them, were a third
# of the entries a first build sorted. kv_num stays whole: queries on a key alone use it.
INDEXES = {"kv_num": "(src, key, num, t, id)",
           "kv_txt": "(src, key, txt, t, id) WHERE txt IS NOT NULL"}
# the few jobs with a file that could not be read; a query's WHERE must repeat the condition
# word for word for SQLite to use this partial index (else: a scan of every job's row)
ODD = "(sp IS NULL OR bad IS NOT NULL)"
#: a meta key ``building:<host>:<pid>`` marks a build without a rollback journal
#: (:meth:`Store.unjournaled`) by that process; the file of one whose process is gone was cut
#: off part-way, may be torn, and is made again when opened
BUILDING = "building:"
#: seconds without a change after which another host's build is taken as cut off
OTHER_HOST_STILL = 300


def create(db):
    """Make the tables and the key indexes that are missing."""
    db.executescript(_SCHEMA)
    create_indexes(db)


def create_indexes(db):
    for name, columns in INDEXES.items():
        db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON kv {columns}")


def drop_indexes(db):
    for name in INDEXES:
        db.execute(f"DROP INDEX IF EXISTS {name}")


def chunks(seq, n):
    """``seq`` in lists of up to ``n``."""
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


class Store:
    """One connection to an index file, opened on first use: :attr:`db` once open;
    ``on_connect(db)`` is called with every new connection (to register SQL functions)."""

    def __init__(self, path, on_connect):
        self.path = path
        self.in_memory = False
        self.db = None
        self._on_connect = on_connect

    def connect(self):
        """The open connection (opened, made or rebuilt if need be)."""
        if self.db is not None:
            return self.db
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute("PRAGMA journal_mode=DELETE")  # WAL needs shared memory: not on NFS
            create(db)
            row = db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
            if row is None or row[0] != str(VERSION):
                _reset(db)
            elif _cut_off(db, self.path):
                db.close()
                raise sqlite3.DatabaseError("a build without a journal was cut off")
        except sqlite3.DatabaseError:
            # a corrupt cache is rebuilt; a read-only file system falls back to memory
            db = self._recover()
        except OSError:
            db = self._memory()
        self._on_connect(db)
        self.db = db
        return db

    def _recover(self):
        try:
            os.unlink(self.path)
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            create(db)
            _reset(db)
            return db
        except (OSError, sqlite3.DatabaseError):
            return self._memory()

    def _memory(self):
        self.in_memory = True
        db = sqlite3.connect(":memory:", isolation_level=None)
        create(db)
        _reset(db)
        return db

    def fresh_memory(self):
        """Start again with an empty index in memory (after :meth:`write` moved there
        part-way through work that spans transactions)."""
        self.db = None
        mem = self._memory()
        self._on_connect(mem)
        self.db = mem

    def write(self, fn):
        """Run ``fn(db)`` in a write transaction; fall back to memory if the disk refuses
        (``fn`` then runs again on an empty index in memory: a caller whose earlier
        transactions went to the disk sees :attr:`in_memory` turn true)."""
        db = self.connect()
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
            self.fresh_memory()
            self.write(fn)

    @contextlib.contextmanager
    def unjournaled(self):
        """Write without a rollback journal (or a sync at each commit) inside the block: for
        filling an empty index, which has nothing to roll back to. A meta row names this
        process meanwhile; a file whose marker's process is gone (killed part-way) is made
        again when next opened (:meth:`connect`), and a failure inside the block deletes the
        file (a rollback without a journal is undefined) before it propagates."""
        key = f"{BUILDING}{this_machine()}:{os.getpid()}"
        self.write(lambda db: db.execute("INSERT OR REPLACE INTO meta VALUES (?, '')", (key,)))
        if self.in_memory:
            yield
            return
        db = self.db
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        try:
            yield
        except BaseException:
            if self.db is db:
                self.db = None
                db.close()
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            raise
        if self.db is not db:  # moved to memory part-way (the refresh built it whole)
            return
        # journalled again before the marker goes: that commit syncs the file (what the
        # build wrote included), and a crash before its end keeps the marker
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA synchronous=FULL")
        self.write(lambda db: db.execute("DELETE FROM meta WHERE key=?", (key,)))

    def meta(self, key):
        """A value of the meta table, or None."""
        row = self.connect().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None


def this_machine():
    """This host's name and, where the kernel tells it, its boot's id (``host/boot``): a
    process id names a process only within one boot."""
    import socket  # here: every command opens the index, few ask for the host (2 % of find)

    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f"{socket.gethostname()}/{f.read().strip()}"
    except OSError:
        return socket.gethostname()


def _cut_off(db, path):
    """Whether a build without a journal (:meth:`Store.unjournaled`) stopped part-way in
    this file: its marker names a process of this host that is gone (or of an earlier boot
    of it: a crash of the machine), or one of another host (a shared file system: its
    process cannot be asked) and the file has not changed for :data:`OTHER_HOST_STILL`
    seconds (a running build writes continually; a build made again costs time, a torn file
    wrong answers, and wiping a build still running on another login node would cost both)."""
    markers = db.execute("SELECT key FROM meta WHERE key LIKE 'building:%'").fetchall()
    if not markers:  # the usual case: no host name asked (socket's import, a file read)
        return False
    here = this_machine()
    host = here.partition("/")[0]
    for (key,) in markers:
        owner, _, pid = key[len(BUILDING):].rpartition(":")
        if not pid.isdigit():
            return True
        if owner == here:
            if not pid_alive(int(pid)):
                return True
        elif owner.partition("/")[0] == host:  # this host, another boot
            return True
        elif time.time() - os.stat(path).st_mtime > OTHER_HOST_STILL:
            return True
    return False


def _reset(db):
    db.executescript(
        "DELETE FROM meta; DELETE FROM jobs; DELETE FROM kv; DELETE FROM docsig; "
        "DELETE FROM bigdoc; DELETE FROM keys; DELETE FROM made; DELETE FROM spcache; DELETE FROM sigcache;")
    db.execute("INSERT INTO meta VALUES ('version', ?)", (str(VERSION),))
    drop_indexes(db)  # an older version's indexes may have other columns
    create(db)


def add_jobs(db, rows, counts, check=True):
    """Insert new jobs: ``rows`` (id, sp_text, doc_text, doc_sig, problem) and ``counts``,
    their key rows counted by key (:func:`keyrows.counted`); the made keys' rows are made from
    the texts. With ``check``, jobs another process indexed meanwhile are left out (their key
    rows would be doubled)."""
    if check and rows:
        fewer = _not_present(db, rows)
        if len(fewer) < len(rows):
            rows = fewer
            counts = keyrows.counts_of_texts(keyrows.job_texts(rows)) or {}
    if rows:
        db.execute("DELETE FROM spcache")  # in the transaction that changes jobs
        db.execute("DELETE FROM sigcache")
    last = db.execute("SELECT max(rowid) FROM jobs").fetchone()[0] or 0
    _insert_jobs(db, rows)
    if last < _ROWID_FAR:
        # the signatures copied by SQLite from the rows just inserted, in their order: each
        # new row (a replaced one too) takes the next rowid past the largest. Binding them
        # from Python cost 0.5 s of 1.2 s of these inserts at 100,000 jobs; this, ~0.05 s
        db.execute("INSERT OR REPLACE INTO docsig SELECT id, doc_sig FROM jobs "
                   "WHERE rowid > ? ORDER BY rowid", (last,))
    else:  # near the largest rowid SQLite picks new ones at random: the exact path
        db.executemany("INSERT OR REPLACE INTO docsig VALUES (?,?)",
                       [(r[0], r[3]) for r in rows])
    keyrows.add_key_rows(db, counts, keyrows.job_texts(rows))
    # a document text of None marks one over the caps (not stored, no key rows)
    db.executemany("INSERT OR REPLACE INTO bigdoc VALUES (?)",
                   [(r[0],) for r in rows if r[2] is None and r[1] is not None])


def _insert_jobs(db, rows):
    # the rows without a None (nearly all: no problem) bound without the problem's column:
    # the sqlite3 module binds a None only after failed lookups of adapters (an exception
    # made and dropped each time), ~3,000 instructions, a tenth of these inserts. The others
    # after them, each part in its order; the same job in both parts (its last row must
    # win): all in one pass as given
    plain = [r[:4] for r in rows if r[4] is None and None not in r[:4]]
    if len(plain) == len(rows):
        db.executemany("INSERT OR REPLACE INTO jobs (id, sp, doc, doc_sig) VALUES (?,?,?,?)",
                       plain)
        return
    odd = [r for r in rows if r[4] is not None or None in r[:4]]
    odd_ids = {r[0] for r in odd}
    if any(r[0] in odd_ids for r in plain):
        db.executemany("INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?)", rows)
        return
    db.executemany("INSERT OR REPLACE INTO jobs (id, sp, doc, doc_sig) VALUES (?,?,?,?)", plain)
    db.executemany("INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?)", odd)


#: past this rowid, new rows of the jobs table may not take rowids above the largest
_ROWID_FAR = 1 << 62


def _not_present(db, rows):
    """``rows`` less the jobs the index already holds."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS fresh (id TEXT PRIMARY KEY)")
    db.execute("DELETE FROM temp.fresh")
    db.executemany("INSERT OR IGNORE INTO temp.fresh VALUES (?)", [(r[0],) for r in rows])
    present = {i for (i,) in db.execute(
        "SELECT id FROM jobs WHERE id IN (SELECT id FROM temp.fresh)")}
    return [r for r in rows if r[0] not in present] if present else rows
