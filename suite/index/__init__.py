"""A persistent, self-refreshing index of state points and documents (``.suite/index.sqlite``).

It is a cache: deleting it loses nothing. Freshness is checked cheaply before each use:

* the set of jobs comes from the workspace listing, re-read only when the workspace
  directory's mtime differs from the one recorded (a recorded mtime younger than
  :data:`~suite.index.freshness.RACY_SECONDS` is never trusted, since a change in the same
  clock tick would not move it);
* a state point is fixed by its job id (a state point edited in place no longer matches its id;
  ``suite check`` reports that), so known jobs are never re-read for state point queries;
* documents are checked by ``stat`` (mtime, size, inode) only when a query or caller needs them,
  and only changed documents are re-read.

State points and documents are also stored flattened, one row per (dotted) key, so most filters
become SQL over indexed columns; a key's rows are made on its first query and kept right from
then on (``keyrows``); what SQL cannot express is evaluated in Python. Writers of
documents never touch the index, so any number of cluster jobs may write while another process
queries. On a read-only file system the index lives in memory for the life of the process.

This package holds :class:`Index` (the one public class) and, one module each: the SQLite file
and its writes (``store``), reading job files (``reading``), the freshness checks
(``freshness``), one refresh in steps (``refresh``), key rows (``keyrows``), filters as SQL
(``querysql``) and the whole-column caches (``columns``).
"""

import json
import os

from .. import layout
from ..errors import CorruptFileError
from ..jsonio import loads_checked, loads_many, loads_text
from ..query import MISSING, evaluate, keys_of, resolve, uses_document
from . import columns, keyrows, querysql
from .columns import gc_paused
from .keyrows import (
    DOC_MAX_BYTES,
    DOC_MAX_KEYS,
    T_BIGINT,
    T_BOOL,
    T_DICT,
    T_FLOAT,
    T_INT,
    T_LIST,
    T_NULL,
    T_STR,
    canonical,
    int_of_sortable,
)
from .querysql import execute, to_sql
from .refresh import refresh as refresh_index
from .store import ODD, VERSION, Store, add_jobs, chunks, create_indexes, drop_indexes

#: document changes remembered (Index.document_changes_since)
EPOCHS_KEPT = 32
#: from this many jobs on (and five times those indexed), Index.add_known rebuilds the key
#: indexes after its inserts
BULK_KNOWN_MIN = 5000
#: from this many ids on (and a quarter of all jobs), a column is read whole and picked from
COLUMN_SCAN_MIN = 2000


class Index:
    """The index of one project. Use :meth:`statepoints`, :meth:`documents` and :meth:`find`."""

    def __init__(self, project):
        self.project = project
        self._store = Store(os.path.join(project.path, layout.SUITE_DIR, "index.sqlite"),
                            querysql.register)
        self._problems = {}  # read from the database when first asked for (problems)
        self._problems_stale = True
        self._big_problems = {}  # documents over the caps, found unreadable when last read
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

    # -- connection (suite.index.store) ------------------------------------------------------
    @property
    def path(self):
        """The index file (``.suite/index.sqlite``)."""
        return self._store.path

    @property
    def in_memory(self):
        """True once the index lives in memory (the disk refused it)."""
        return self._store.in_memory

    @property
    def _db(self):
        return self._store.db

    def _connect(self):
        return self._store.connect()

    def _write(self, fn):
        self._store.write(fn)

    # -- freshness (suite.index.refresh) -----------------------------------------------------
    def refresh(self, documents=False):
        """Bring the index up to date with the workspace (and the documents if asked)."""
        watch = self.watch if documents else None
        hint = watch.take() if watch is not None else None
        try:
            jobs_changed, changed = refresh_index(self._store, self.project.workspace,
                                                  documents, hint, self.project.on_progress)
        except BaseException:
            if watch is not None:
                watch.give_back(hint)
            raise
        if changed:
            self._problems_stale = True
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

    @property
    def problems(self):
        """``{job id: message}`` for jobs whose state point or document could not be read,
        as of the last refresh (also when that refresh found nothing new to read); read from
        the index only when asked."""
        if self._problems_stale:
            self._problems = dict(self._connect().execute(
                f"SELECT id, bad FROM jobs WHERE {ODD} AND bad IS NOT NULL"))
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
        rows, sp_names, doc_names = [], [], []
        for job_id, sp_text, sp, doc, doc_text, sig in jobs:
            keyrows.key_names(sp, "", sp_names)
            if doc is None:
                doc_text = "{}"
            elif sig[1] > keyrows.DOC_MAX_BYTES or not keyrows.names_capped(doc, doc_text,
                                                                             doc_names):
                doc_text = None  # over the caps, as a refresh would find it
            rows.append((job_id, sp_text, doc_text,
                         "none" if sig is None else f"{sig[0]}:{sig[1]}:{sig[2]}", None))
        if not rows:
            return
        # many into a small index: rebuilding the key indexes after the inserts beats
        # updating them (a tenth less at 10,000 jobs), in the same transaction: no reader
        # ever sees them missing
        bulk = len(rows) > BULK_KNOWN_MIN and len(rows) * 5 > self.indexed_count()
        counts = keyrows.counted(sp_names, doc_names)

        def fill(db):
            if bulk:
                drop_indexes(db)
            # an empty index (a first sync's) holds none of them: no check
            add_jobs(db, rows, counts,
                     check=db.execute("SELECT 1 FROM jobs LIMIT 1").fetchone() is not None)
            if bulk:
                create_indexes(db)

        self._write(fill)
        self._jobs_changes += 1

    def files_read(self):
        """How many job files (state points and documents) the refreshes of this index have
        read since it was made, in any process: what indexing cost in reads."""
        value = self._store.meta("files_read")
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

    def documents(self, ids=None, text=False):
        """``{id: document}`` for all (or the given) jobs, documents checked for freshness.
        ``text``: the indexed documents as their JSON text (a str each, for
        :func:`suite.jsonio.loads_text`; those over the caps decoded), so that a caller
        going through a million jobs decodes a chunk at a time (~100 against ~335 bytes a
        job held)."""
        self.refresh(documents=True)
        if text:
            return {**self._indexed_column("doc", ids, str), **self._big_documents(ids)}
        return self._column("doc", ids)

    def document_values(self, key):
        """``{id: value}`` of the (dotted) document key ``key`` for every job whose document
        has it, documents checked for freshness first; jobs whose document cannot be read
        are left out (see :attr:`problems`). From the key rows: no document is decoded but
        those whose value the rows do not hold exactly (NaN, documents over the caps)."""
        self.refresh(documents=True)
        self._make_keys({(1, key)})
        db = self._db
        # each from its covering index: a row's other column would cost a lookup per job
        # (values are the text of strings, lists and dicts, else the number)
        rows = db.execute("SELECT id, t, txt FROM kv WHERE src=1 AND key=? AND txt IS NOT NULL",
                          (key,)).fetchall()
        rows += db.execute("SELECT id, t, num FROM kv WHERE src=1 AND key=? AND t<?",
                           (key, T_STR)).fetchall()
        with gc_paused():
            out, exact = _values_of_rows(rows)
        path = tuple(key.split("."))
        docs = self._column("doc", exact) if exact else {}
        docs.update(self._big_documents())
        for job_id, doc in docs.items():
            value = resolve(doc, path)
            if value is not MISSING:
                out[job_id] = value
        for (job_id,) in db.execute(f"SELECT id FROM jobs WHERE {ODD}"):
            out.pop(job_id, None)
        return out

    def document_keys(self):
        """``{dotted key: number of key rows}`` of the document keys (a job has one row per key
        but where a key holding a dot repeats a nested one's name), as of the last document
        check (documents over the caps are not counted). From the key counts: no rows made."""
        return dict(self._connect().execute("SELECT key, n FROM keys WHERE src=1 AND n > 0"))

    def document_signatures(self, ids=None):
        """``{id: (mtime_ns, size, inode) or None}`` of the documents as last indexed (call
        :meth:`documents` first for fresh values)."""
        out = {}
        for i, sig in self._db.execute("SELECT id, sig FROM docsig"):
            if ids is None or i in ids:
                out[i] = None if sig == "none" else tuple(int(x) for x in sig.split(":"))
        return out

    def job_rows(self, ids=None, chunk=None, checked=False, rowids=None):
        """Yield lists of up to ``chunk`` (default: all) rows ``(id, state point text,
        document, document signature text)`` of the jobs with a readable state point: all of
        them in storage order, or those of ``ids`` in that order. Documents are checked for
        freshness first (not with ``checked``: the caller has just called
        ``refresh(documents=True)``); each is its JSON text, or, over the caps, the object
        read from its file, or None where that cannot be read (see :attr:`problems`).
        ``rowids=(lo, hi)``: only the rows of storage positions ``lo < rowid <= hi`` (a part
        of :meth:`last_rowid`'s range; ``ids`` None).

        No statement stays open between the lists (the caller may run queries meanwhile);
        jobs the index gains while the rows are read are left out, so none comes twice."""
        if not checked:
            self.refresh(documents=True)
        if ids is not None:
            yield from self._job_rows_of(ids, chunk)
            return
        db = self._connect()
        cols = "id, sp, doc, doc_sig"
        after, top = rowids if rowids is not None else (0, self.last_rowid())
        while after < top:
            rows = db.execute(f"SELECT rowid, {cols} FROM jobs WHERE rowid > ? AND rowid <= ? "
                              "AND sp IS NOT NULL ORDER BY rowid LIMIT ?",
                              (after, top, chunk or -1)).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield self._with_big_rows([r[1:] for r in rows])

    def last_rowid(self):
        """The highest storage position (rowid) of the jobs' rows (0: none): the range
        :meth:`job_rows` reads, which forked workers split (``rowids``)."""
        return self._connect().execute("SELECT max(rowid) FROM jobs").fetchone()[0] or 0

    def own_connection(self):
        """In a forked child: use a connection of its own from now on. SQLite connections
        must not be used across ``fork``; the parent's is kept referenced (never closed or
        freed here: the child leaves by ``os._exit``), so nothing of it runs in the child."""
        if self.in_memory:
            raise RuntimeError("an index in memory has no file another connection could read")
        self._inherited = getattr(self, "_inherited", []) + [self._store]
        self._store = Store(self._store.path, querysql.register)
        self._ids_listed = None

    def job_columns(self):
        """``(ids, state points, documents, signature texts)``: :meth:`job_rows` of every
        job at once, parsed, as four lists sorted by id, from the whole-column caches (a
        marshal blob each, made again after any change: see :mod:`suite.index.columns`),
        documents checked for freshness first. A document over the caps is read from its
        file; None where a document cannot be read (see :attr:`problems`). For callers that
        hold every job anyway: at 100,000 jobs this is a fifth of reading and parsing the
        rows."""
        self.refresh(documents=True)
        ids, sps = self._all_statepoints()
        doc_ids, docs, sigs = columns.cached(self._store, "sigcache", columns.read_documents,
                                             columns.three_lists, columns.DOC_TAG)
        if doc_ids != ids:  # another process added or removed jobs between the two reads
            rows = sorted(next(self.job_rows(), []))
            parsed = iter(loads_many([r[2] for r in rows if type(r[2]) is str]))
            return ([r[0] for r in rows], loads_many([r[1] for r in rows]),
                    [next(parsed) if type(r[2]) is str else r[2] for r in rows],
                    [r[3] for r in rows])
        if None in docs:
            missing = [i for i, d in zip(ids, docs, strict=True) if d is None]
            big = self._big_documents(missing)
            docs = [big.get(i) if d is None else d for i, d in zip(ids, docs, strict=True)]
        return ids, sps, docs, sigs

    def job_column_pieces(self, size=columns.PIECE):
        """:meth:`job_columns` in pieces of ``size`` jobs, for forked workers that each load
        only their own (:meth:`job_columns_of_pieces`): ``(jobs, state point pieces, document
        pieces)``, documents checked for freshness first, from the caches' pieces
        (:func:`~suite.index.columns.cached_pieces`). Raises ValueError where the two caches do
        not hold the same number of jobs (another process added or removed jobs between their
        reads: the caller reads :meth:`job_columns` then)."""
        self.refresh(documents=True)
        n, _, sps = columns.cached_pieces(self._store, "spcache", columns.read_statepoints,
                                          size=size)
        dn, _, docs = columns.cached_pieces(self._store, "sigcache", columns.read_documents,
                                            columns.three_lists, columns.DOC_TAG, size)
        if n != dn:
            raise ValueError("the state point and document caches hold different jobs")
        return n, sps, docs

    def job_columns_of_pieces(self, sp_pieces, doc_pieces):
        """:meth:`job_columns`'s four lists for the jobs of some pieces of
        :meth:`job_column_pieces` (the same pieces of both kinds), documents over the caps read
        from their files. Raises ValueError where the pieces do not load or the two kinds do
        not hold the same jobs."""
        if len(sp_pieces) != len(doc_pieces):
            raise ValueError("as many pieces of each kind are needed")
        if not sp_pieces:
            return [], [], [], []
        ids, sps = columns.load_pieces(sp_pieces)
        doc_ids, docs, sigs = columns.load_pieces(doc_pieces)
        if doc_ids != ids:
            raise ValueError("the state point and document pieces hold different jobs")
        if None in docs:
            missing = [i for i, d in zip(ids, docs, strict=True) if d is None]
            big = self._big_documents(missing)
            docs = [big.get(i) if d is None else d for i, d in zip(ids, docs, strict=True)]
        return ids, sps, docs, sigs

    def _job_rows_of(self, ids, chunk):
        """:meth:`job_rows` of the jobs of ``ids``, in that order."""
        for part in chunks(ids, chunk or max(len(ids), 1)):
            found = {}
            for sub in chunks(part, 500):
                found.update((r[0], r) for r in self._connect().execute(
                    "SELECT id, sp, doc, doc_sig FROM jobs WHERE sp IS NOT NULL AND id IN "
                    f"({','.join('?' * len(sub))})", sub))
            yield self._with_big_rows([found[i] for i in part if i in found])

    def _with_big_rows(self, rows):
        if all(r[2] is not None for r in rows):
            return rows
        big = self._big_documents([r[0] for r in rows if r[2] is None])
        return [r if r[2] is not None else (r[0], r[1], big.get(r[0]), r[3]) for r in rows]

    def _column(self, column, ids):
        """``{id: value}`` of the column ``sp`` or ``doc`` (documents over the caps read from
        their files) for all jobs or those of ``ids``."""
        if column == "doc":
            return {**self._indexed_column("doc", ids), **self._big_documents(ids)}
        return self._indexed_column(column, ids)

    def _indexed_column(self, column, ids, decode=loads_text):
        if ids is None:
            return self._whole_column(column, decode)
        db = self._db
        ids = list(ids)
        if len(ids) >= COLUMN_SCAN_MIN and len(ids) * 4 >= db.execute(
                "SELECT count(*) FROM jobs").fetchone()[0]:
            # a large share of the jobs: one pass over the table and a pick beats looking up
            # each id (documents of all 100,000 jobs in 500-id chunks: 1.1 s, all: 0.7 s)
            every = self._whole_column(column, decode)
            return {i: every[i] for i in ids if i in every}
        out = {}
        for chunk in chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for i, v in db.execute(
                f"SELECT id, {column} FROM jobs WHERE {column} IS NOT NULL AND id IN ({marks})",
                chunk,
            ):
                out[i] = decode(v)
        return out

    def _whole_column(self, column, decode=loads_text):
        if column == "sp":
            ids, sps = self._all_statepoints()
            with gc_paused():
                return dict(zip(ids, sps, strict=True))
        rows = self._db.execute(f"SELECT id, {column} FROM jobs WHERE {column} IS NOT NULL")
        if decode is str:  # the stored text as it is
            return dict(rows)
        with gc_paused():
            return {i: decode(v) for i, v in rows}

    def all_statepoints(self):
        """``(ids, state points)``, two lists sorted by id, of every job with a readable
        state point, from the state point cache where it is valid (jobs checked first)."""
        self.refresh()
        return self._all_statepoints()

    def _all_statepoints(self):
        """``(ids, state points)`` of every job with a readable state point, sorted by id, as
        the index holds them (no refresh), from the state point cache where it is valid."""
        return columns.cached(self._store, "spcache", columns.read_statepoints)

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
            if db.execute("SELECT 1 FROM keys WHERE src=? AND key=? AND n > 0",
                          (code, key)).fetchone():
                continue
            if src == "doc" and any(resolve(d, path) is not MISSING
                                    for d in self._big_documents().values()):
                continue
            import difflib  # only for a missing key: a find's start-up does not pay for it

            known = [k for (k,) in db.execute("SELECT key FROM keys WHERE src=? AND n > 0",
                                              (code,))]
            close = difflib.get_close_matches(key, known, n=1)
            prefix = "doc." if src == "doc" else ""
            out.append((prefix + key, prefix + close[0] if close else None))
        return out

    def unreadable(self):
        """Ids (sorted) of the job directories whose state point could not be read, as of
        the last refresh (none is made here): left out of :meth:`find`,
        :meth:`all_statepoints` and the other answers; :attr:`problems` says why."""
        return [i for (i,) in self._connect().execute(
            f"SELECT id FROM jobs WHERE {ODD} AND sp IS NULL ORDER BY id")]

    def find(self, node):
        """Ids (sorted) of the jobs matching a compiled filter tree."""
        return [r[0] for r in self._select(node, "id")]

    def find_statepoints(self, node):
        """``(id, state point)`` pairs (sorted by id) of the jobs matching a compiled tree:
        a list, or for all jobs an iterator over the state point cache (read once)."""
        if node == ("and", []):
            ids, sps = self.all_statepoints()
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
            translated = to_sql(node)
            if translated is None:
                ids = self._find_python(node, docs)
                if columns == "id":
                    return [(i,) for i in ids]
                sps = self._column("sp", ids)
                return [(i, json.dumps(sps[i])) for i in ids]
            self._make_keys({(0 if src == "sp" else 1, ".".join(path))
                             for src, path in keys_of(node)})
            db = self._db  # in memory now if the disk refused to make them
            sql, params = translated
            if columns == "id":
                rows = self._matching_ids(db, sql, params, docs)
            else:
                sql = f"SELECT {columns} FROM jobs WHERE sp IS NOT NULL{readable} AND id IN ({sql})"
                rows = execute(db, sql + " ORDER BY id", params)
        big = self._big_ids() if docs else []
        if big:
            rows = self._with_big(node, rows, big, columns)
        return rows

    def _make_keys(self, wanted):
        """Make the key rows of the keys ``wanted`` (``(src, dotted key)``) not made yet
        (:func:`keyrows.make_keys`: the first query of a key pays for its rows)."""
        db = self._db
        if not wanted - keyrows.made_keys(db):
            return
        on_disk = not self._store.in_memory
        self._write(lambda db: keyrows.make_keys(db, wanted))
        if on_disk and self._store.in_memory:
            # the disk refused the write: the index moved to memory empty; built whole there
            self.refresh(documents=True)
            self._write(lambda db: keyrows.make_keys(db, wanted))

    def _matching_ids(self, db, sql, params, docs):
        """``[(id,)]`` (sorted) selected by a translated filter, less the jobs left out of
        answers: those whose state point (or, for document queries, document) cannot be read.

        Equal to joining with the jobs table in SQL, without looking up each match's row:
        the few jobs to leave out come from their partial index.
        """
        odd = db.execute(f"SELECT id, sp IS NULL FROM jobs WHERE {ODD}").fetchall()
        skip = {i for i, no_sp in odd if no_sp or docs}
        # one text of all matches, split here: a row object per match (the sqlite3 module
        # hands the interpreter lock back and forth twice for each) was a sixth of the
        # instructions of `find b.c 3` at 100,000 jobs. Job ids hold no space.
        text = execute(db, f"SELECT group_concat(id, ' ') FROM ({sql})", params)[0][0]
        if not text:
            return []
        # the key rows come in their index's order, each run of one value and type sorted
        # by id: sort() merges such runs in linear time, where a set of the ids and a sort
        # from scratch cost ~20 M instructions at 14,286 matches (100,000 jobs). An id given
        # twice (a UNION ALL of a key's number and text rows, say) is kept once, as the set did.
        ids = text.split(" ")
        ids.sort()
        unique = [ids[0]]
        unique += [b for a, b in zip(ids, ids[1:], strict=False) if a != b] if len(ids) > 1 else []
        return [(i,) for i in unique if i not in skip] if skip else [(i,) for i in unique]

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


def _values_of_rows(rows):
    """``({id: value}, [ids whose value the rows do not hold])`` of key rows ``(id, t, txt
    or num)``."""
    out, exact = {}, []
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
    return out, exact

__all__ = ["Index", "MISSING", "VERSION", "DOC_MAX_BYTES", "DOC_MAX_KEYS", "canonical", "gc_paused",
           "to_sql"]
