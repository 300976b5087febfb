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

import json
import os
import re
import sqlite3
import time

from . import layout
from .errors import CorruptFileError
from .jsonio import loads_checked
from .query import MISSING, _is_number, evaluate, uses_document

VERSION = 1
RACY_SECONDS = 2.0
T_NULL, T_BOOL, T_INT, T_FLOAT, T_STR, T_LIST, T_DICT = range(7)
_TYPE_CODES = {"null": (T_NULL,), "bool": (T_BOOL,), "int": (T_INT,), "float": (T_FLOAT,),
               "number": (T_INT, T_FLOAT), "str": (T_STR,), "list": (T_LIST,), "dict": (T_DICT,)}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, sp TEXT, doc TEXT, doc_sig TEXT, bad TEXT);
CREATE TABLE IF NOT EXISTS kv (
    id TEXT, src INTEGER, key TEXT, t INTEGER, num REAL, txt TEXT);
CREATE INDEX IF NOT EXISTS kv_num ON kv (src, key, num);
CREATE INDEX IF NOT EXISTS kv_txt ON kv (src, key, txt);
CREATE INDEX IF NOT EXISTS kv_id ON kv (id);
"""


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


def _flatten(job_id, src, data, prefix, out):
    for key, value in data.items():
        name = prefix + key
        if value is None:
            out.append((job_id, src, name, T_NULL, None, None))
        elif isinstance(value, bool):
            out.append((job_id, src, name, T_BOOL, int(value), None))
        elif isinstance(value, int):
            out.append((job_id, src, name, T_INT, float(value) if abs(value) < 2**1023 else None,
                        None))
        elif isinstance(value, float):
            out.append((job_id, src, name, T_FLOAT, value, None))
        elif isinstance(value, str):
            out.append((job_id, src, name, T_STR, None, value))
        elif isinstance(value, list):
            out.append((job_id, src, name, T_LIST, None, canonical(value)))
        elif isinstance(value, dict):
            out.append((job_id, src, name, T_DICT, None, canonical(value)))
            _flatten(job_id, src, value, name + ".", out)


def _regexp(pattern, text):
    return text is not None and re.search(pattern, text) is not None


class Index:
    """The index of one project. Use :meth:`statepoints`, :meth:`documents` and :meth:`find`."""

    def __init__(self, project):
        self.project = project
        self.path = os.path.join(project.path, layout.SUITE_DIR, "index.sqlite")
        self.in_memory = False
        self._db = None
        self.problems = {}  # job id -> message for jobs whose files could not be read

    # -- connection -------------------------------------------------------------------------
    def _connect(self):
        if self._db is not None:
            return self._db
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute("PRAGMA journal_mode=DELETE")  # WAL needs shared memory: not on NFS
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
            if row is None or row[0] != str(VERSION):
                self._reset(db)
        except sqlite3.DatabaseError:
            # a corrupt cache is rebuilt; a read-only file system falls back to memory
            db = self._recover()
        except OSError:
            db = self._memory()
        db.create_function("regexp", 2, _regexp, deterministic=True)
        self._db = db
        return db

    def _recover(self):
        try:
            os.unlink(self.path)
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.executescript(_SCHEMA)
            self._reset(db)
            return db
        except (OSError, sqlite3.DatabaseError):
            return self._memory()

    def _memory(self):
        self.in_memory = True
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.executescript(_SCHEMA)
        self._reset(db)
        return db

    def _reset(self, db):
        db.executescript("DELETE FROM meta; DELETE FROM jobs; DELETE FROM kv;")
        db.execute("INSERT INTO meta VALUES ('version', ?)", (str(VERSION),))

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
            mem.create_function("regexp", 2, _regexp, deterministic=True)
            self._db = mem
            self._write(fn)

    # -- freshness --------------------------------------------------------------------------
    def _meta(self, db, key):
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def refresh(self, documents=False):
        """Bring the index up to date with the workspace (and the documents if asked)."""
        db = self._connect()
        ws = self.project.workspace
        try:
            st = os.stat(ws)
        except FileNotFoundError:
            st = None
        ws_sig = f"{st.st_mtime_ns}:{st.st_ino}" if st else "missing"
        added, removed = [], []
        if self._meta(db, "ws_sig") != ws_sig:
            on_disk = set(_list_job_ids(ws)) if st else set()
            known = {r[0] for r in db.execute("SELECT id FROM jobs")}
            added = sorted(on_disk - known)
            removed = sorted(known - on_disk)
        changed_docs = []
        if documents:
            changed_docs = self._changed_documents(db, ws, set(added), set(removed))
        if not (added or removed or changed_docs) and self._meta(db, "ws_sig") == ws_sig:
            return
        new_rows = [self._read_job(ws, i) for i in added]
        doc_rows = [(i, *self._read_doc(ws, i)) for i in changed_docs]
        trusted = st is not None and time.time() - st.st_mtime_ns / 1e9 > RACY_SECONDS

        def apply(db):
            for chunk in _chunks(removed, 500):
                marks = ",".join("?" * len(chunk))
                db.execute(f"DELETE FROM jobs WHERE id IN ({marks})", chunk)
                db.execute(f"DELETE FROM kv WHERE id IN ({marks})", chunk)
            kv = []
            jobs = []
            for job_id, sp, doc, sig, bad in new_rows:
                jobs.append((job_id, json.dumps(sp) if sp is not None else None,
                             json.dumps(doc), sig, bad))
                if sp is not None:
                    _flatten(job_id, 0, sp, "", kv)
                _flatten(job_id, 1, doc, "", kv)
            db.executemany("INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?)", jobs)
            for job_id, doc, sig, bad in doc_rows:
                db.execute("UPDATE jobs SET doc=?, doc_sig=?, bad=? WHERE id=?",
                           (json.dumps(doc), sig, bad, job_id))
                db.execute("DELETE FROM kv WHERE id=? AND src=1", (job_id,))
                _flatten(job_id, 1, doc, "", kv)
            db.executemany("INSERT INTO kv VALUES (?,?,?,?,?,?)", kv)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('ws_sig', ?)",
                       (ws_sig if trusted else "racy",))

        self._write(apply)
        self._load_problems(db)

    def _changed_documents(self, db, ws, added, removed):
        changed = []
        stat = os.stat
        for job_id, sig in db.execute("SELECT id, doc_sig FROM jobs"):
            if job_id in removed:
                continue
            try:
                s = stat(f"{ws}/{job_id}/{layout.DOCUMENT}")
                now = f"{s.st_mtime_ns}:{s.st_size}:{s.st_ino}"
            except FileNotFoundError:
                now = "none"
            except NotADirectoryError:
                now = "none"
            if now != sig:
                changed.append(job_id)
        return changed

    def _read_job(self, ws, job_id):
        fn = os.path.join(ws, job_id, layout.STATEPOINT)
        sp, bad = None, None
        try:
            with open(fn, "rb") as f:
                sp = loads_checked(f.read(), fn, job_id)
            if not isinstance(sp, dict):
                sp, bad = None, f"job {job_id}: {fn} does not hold a JSON object"
        except FileNotFoundError:
            bad = f"job {job_id}: {fn} is missing"
        except NotADirectoryError:
            bad = f"job {job_id}: {os.path.join(ws, job_id)} is not a directory"
        except CorruptFileError as exc:
            bad = str(exc)
        doc, sig, doc_bad = self._read_doc(ws, job_id)
        return job_id, sp, doc, sig, bad or doc_bad

    def _read_doc(self, ws, job_id):
        fn = os.path.join(ws, job_id, layout.DOCUMENT)
        try:
            with open(fn, "rb") as f:
                s = os.fstat(f.fileno())
                raw = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return {}, "none", None
        sig = f"{s.st_mtime_ns}:{s.st_size}:{s.st_ino}"
        try:
            doc = loads_checked(raw, fn, job_id)
        except CorruptFileError as exc:
            return {}, sig, str(exc)
        if not isinstance(doc, dict):
            return {}, sig, f"job {job_id}: {fn} does not hold a JSON object"
        return doc, sig, None

    def _load_problems(self, db):
        self.problems = dict(db.execute("SELECT id, bad FROM jobs WHERE bad IS NOT NULL"))

    # -- queries ----------------------------------------------------------------------------
    def ids(self):
        """All job ids, sorted."""
        self.refresh()
        return [r[0] for r in self._db.execute("SELECT id FROM jobs ORDER BY id")]

    def statepoints(self, ids=None):
        """``{id: state point}`` for all (or the given) jobs with a readable state point."""
        self.refresh()
        return self._column("sp", ids)

    def documents(self, ids=None):
        """``{id: document}`` for all (or the given) jobs, documents checked for freshness."""
        self.refresh(documents=True)
        return self._column("doc", ids)

    def _column(self, column, ids):
        db = self._db
        if ids is None:
            rows = db.execute(f"SELECT id, {column} FROM jobs WHERE {column} IS NOT NULL")
            return {i: json.loads(v) for i, v in rows}
        out = {}
        ids = list(ids)
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for i, v in db.execute(
                f"SELECT id, {column} FROM jobs WHERE {column} IS NOT NULL AND id IN ({marks})",
                chunk,
            ):
                out[i] = json.loads(v)
        return out

    def find(self, node):
        """Ids (sorted) of the jobs matching a compiled filter tree."""
        docs = uses_document(node)
        self.refresh(documents=docs)
        db = self._db
        if node == ("and", []):
            sql, params = "SELECT id FROM jobs WHERE sp IS NOT NULL", []
        else:
            translated = _to_sql(node)
            if translated is None:
                return self._find_python(node, docs)
            sql, params = translated
            sql = f"SELECT id FROM jobs WHERE sp IS NOT NULL AND id IN ({sql})"
        return [r[0] for r in db.execute(sql + " ORDER BY id", params)]

    def _find_python(self, node, docs):
        sps = self._column("sp", None)
        dcs = self._column("doc", None) if docs else {}
        return sorted(i for i, sp in sps.items() if evaluate(node, sp, dcs.get(i, {})))


def _list_job_ids(ws):
    with os.scandir(ws) as it:
        return [e.name for e in it if layout.is_job_id(e.name)]


def _chunks(seq, n):
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


_ALL = "SELECT id FROM jobs"


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
            return f"{base} AND t IN ({T_INT},{T_FLOAT}) AND num {sym} ?", head + [operand]
        return f"{base} AND t={T_STR} AND txt {sym} ?", head + [operand]
    if op == "$regex":
        return f"{base} AND t={T_STR} AND regexp(?, txt)", head + [operand.pattern]
    if op == "$type":
        codes = ",".join(str(c) for c in _TYPE_CODES[operand])
        return f"{base} AND t IN ({codes})", head
    if op == "$near":
        ref, rel, absolute = operand
        return (f"{base} AND t IN ({T_INT},{T_FLOAT}) AND "
                "abs(num - ?) <= max(? * max(abs(num), abs(?)), ?)",
                head + [ref, rel, ref, absolute])
    return None


def _eq_condition(v):
    if v is None:
        return f"t={T_NULL}", []
    if isinstance(v, bool):
        return f"t={T_BOOL} AND num=?", [int(v)]
    if _is_number(v):
        return f"t IN ({T_INT},{T_FLOAT}) AND num=?", [float(v)]
    if isinstance(v, str):
        return f"t={T_STR} AND txt=?", [v]
    code = T_LIST if isinstance(v, list) else T_DICT
    return f"t={code} AND txt=?", [canonical(v)]


__all__ = ["Index", "MISSING"]
