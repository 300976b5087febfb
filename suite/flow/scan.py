"""The pieces of ``status`` over many jobs: jobs made from the index's rows a chunk at a time,
pure built-in conditions judged a column at a time, and the per-job result kept compact.

A million jobs' objects (state point, document, ``Job``, document view) held at once took over
2 GB; a chunk's objects are freed before the next chunk is made.
"""

import json
import json.decoder
import json.scanner
import os
from collections.abc import Mapping
from itertools import compress
from stat import S_ISREG

from .. import jsonio, native
from ..index import columns as index_columns
from .conditions import doc_value

_fsstat = native.load("suite._fsstat")

#: jobs made and judged at a time (workflows with aggregates see all jobs at once)
CHUNK = 50000
#: up to this many jobs, status takes all state points and documents at once from the
#: index's whole-column caches (:meth:`~suite.index.Index.job_columns`) and makes the jobs a
#: chunk at a time from them; above it, from the rows a chunk at a time (memory stays bounded)
COLUMNS_MAX = 200000
#: jobs of a piece of the whole-column caches that forked workers load (the caches keep
#: pieces of this size; their parts' bounds fall on multiples of :data:`CHUNK`, a multiple)
PIECE = index_columns.PIECE

_scan_once = json.scanner.make_scanner(json.decoder.JSONDecoder())


def loads(text):
    """A JSON object from text the index has already checked. The scanner is called directly:
    for small objects ``json.loads`` spends as long again on its own checks; what the scanner
    does not start on (leading blanks, a byte-order mark) goes through ``json.loads``."""
    try:
        return _scan_once(text, 0)[0]
    except StopIteration:
        return json.loads(text.encode())  # bytes: json also accepts a BOM then


def loads_many(texts):
    """:func:`suite.jsonio.loads_many` with :func:`loads` for a text alone."""
    return jsonio.loads_many(texts, loads)


def job_chunks(index, selection, chunk):
    """Yield ``(ids, state points, documents, signatures)`` of the jobs of ``selection`` (a
    list of ids, None: all; documents checked for freshness first) ``chunk`` jobs at a time
    (None: all at once), in id order when the whole project is asked for: the state points
    parsed, a document parsed or its JSON text (None where it cannot be read), a signature
    as :meth:`suite.index.Index.job_rows` gives it."""
    if selection is None and index.indexed_count() <= COLUMNS_MAX:
        columns = index.job_columns()
        step = chunk or max(len(columns[0]), 1)
        for lo in range(0, len(columns[0]), step):
            yield tuple(c[lo:lo + step] for c in columns)
        return
    for rows in index.job_rows(selection, chunk):
        if selection is None and chunk is None:
            rows.sort()  # aggregates see jobs in id order
        yield ([r[0] for r in rows], loads_many([r[1] for r in rows]),
               [r[2] for r in rows], [r[3] for r in rows])


def job_parts(index, selection, ways, chunk, count=None):
    """``ways`` parts of what :func:`job_chunks` yields (``chunk`` jobs at a time), for forked
    workers: :func:`part_chunks` of each, the parts in order, yields the same jobs in the same
    order. The documents are checked here, once (the parts do not check them again); up to
    :data:`COLUMNS_MAX` jobs the whole-column caches are taken here in pieces of
    :data:`PIECE` jobs (:meth:`suite.index.Index.job_column_pieces`), unparsed, and each
    worker loads those of its part. Parts start at a multiple of
    ``chunk`` jobs where the jobs are counted here (whole columns, a selection); the rows of
    a million are split by storage position. ``count``: the jobs of ``selection`` or of the
    index, if the caller has counted them."""
    if count is None:
        count = len(selection) if selection is not None else index.indexed_count()
    if selection is None and count <= COLUMNS_MAX:
        try:
            n, sps, docs = index.job_column_pieces(PIECE)
        except ValueError:  # jobs came or went between the two caches' reads
            columns = index.job_columns()
            return [("columns", columns, lo, hi)
                    for lo, hi in _bounds(len(columns[0]), ways, chunk)]
        # each worker loads the pieces that hold its part (nothing parsed here: the workers
        # neither wait for the parsing nor copy the pages of what it made)
        return [("pieces", (sps[lo // PIECE:-(-hi // PIECE)], docs[lo // PIECE:-(-hi // PIECE)],
                            lo % PIECE), lo, hi) for lo, hi in _bounds(n, ways, chunk)]
    index.refresh(documents=True)
    if selection is None:
        top = index.last_rowid()
        return [("rows", None, top * k // ways, top * (k + 1) // ways) for k in range(ways)]
    return [("ids", selection, lo, hi) for lo, hi in _bounds(len(selection), ways, chunk)]


def _bounds(n, ways, chunk):
    """``ways`` consecutive ranges of ``range(n)``, inner bounds on multiples of ``chunk``
    where there are enough chunks (the chunks then fall as one process would make them)."""
    cuts = [0]
    for k in range(1, ways):
        cut = n * k // ways
        cut = max(cuts[-1], cut - cut % chunk) if n >= ways * chunk else cut
        cuts.append(cut)
    cuts.append(n)
    return list(zip(cuts, cuts[1:], strict=False))


def part_chunks(index, part, chunk):
    """:func:`job_chunks` of one part of :func:`job_parts` (in a forked worker, with its own
    index connection: :meth:`suite.index.Index.own_connection`)."""
    kind, data, lo, hi = part
    if kind == "pieces":
        sps, docs, skip = data
        if lo == hi:
            return
        data = index.job_columns_of_pieces(sps, docs)
        if len(data[0]) < skip + hi - lo:
            raise ValueError("the cache pieces hold fewer jobs than counted")
        kind, lo, hi = "columns", skip, skip + hi - lo
    if kind == "columns":
        for at in range(lo, hi, chunk):
            yield tuple(c[at:min(at + chunk, hi)] for c in data)
        return
    if kind == "rows":
        rows_lists = index.job_rows(None, chunk, checked=True, rowids=(lo, hi))
    elif lo < hi:
        rows_lists = index.job_rows(data[lo:hi], chunk, checked=True)
    else:
        return
    for rows in rows_lists:
        yield ([r[0] for r in rows], loads_many([r[1] for r in rows]),
               [r[2] for r in rows], [r[3] for r in rows])


def regular_files(dir_fd, names, suffix):
    """Per name, whether ``name + suffix`` is a regular file (relative to ``dir_fd``, None
    for the working directory), as ``os.path.isfile`` says; in C where it was built."""
    if _fsstat is not None:
        # two threads: with four, status at a million took 10-15 s more system time (three
        # runs each, cold caches), where the document check's four took none
        return native.in_threads(
            lambda lo, hi: _fsstat.regular_files(dir_fd, names[lo:hi], suffix), len(names), 2)
    return regular_files_python(dir_fd, names, suffix)


def _in_workspace(workspace, ids, suffix):
    """:func:`regular_files` of ``workspace/id + suffix``: relative to the workspace opened
    once, each lookup walks two names, not the whole path (a tenth of the ``stat`` time)."""
    try:
        fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # as isfile says of each file then
        return regular_files(None, [f"{workspace}{os.sep}{i}" for i in ids], suffix)
    try:
        return regular_files(fd, ids, suffix)
    finally:
        os.close(fd)


def regular_files_python(dir_fd, names, suffix):
    """:func:`regular_files` in Python: the reference of the native ``suite._fsstat``.
    Raises TypeError for a name that is not a str."""
    out, stat, isreg = [], os.stat, S_ISREG
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"names must be str, not {type(name).__name__}")
        try:
            out.append(isreg(stat(name + suffix, dir_fd=dir_fd).st_mode))
        except (OSError, ValueError):
            out.append(False)
    return out


class Column:
    """One pure built-in condition (``true``, ``false``, ``isfile``) over the jobs of a chunk:
    ``values[k]`` is its value for job ``k``, None until asked. Document conditions are filled
    at once (a comprehension over the documents); file conditions only where asked, so a
    condition that an earlier one already decided costs no ``stat``."""

    def __init__(self, cond, jobs, docs, doclist):
        self.cond, self.jobs, self.docs = cond, jobs, docs
        kind, key = cond.kind, cond.arg
        self.values = [None] * len(jobs)
        if kind in ("true", "false"):
            if "." in key:
                got = [None if d is None else doc_value(d, key) for d in doclist]
            else:
                got = [None if d is None else d.get(key) for d in doclist]
            truth = kind == "true"
            self.values = [(not v) != truth for v in got]
            if any(d is None for d in doclist):
                for k, d in enumerate(doclist):
                    if d is None:  # no indexed document: the condition reads it (or raises)
                        self.values[k] = None

    def at(self, positions):
        """The values at ``positions`` (a list of job positions), judging the missing ones."""
        values, fn, jobs, docs = self.values, self.cond.fn, self.jobs, self.docs
        name = self.cond.arg
        if self.cond.kind == "isfile" and not os.path.isabs(name) and jobs:
            # isfile(job.path/name) without the condition's two calls a job (a third here)
            todo = [k for k in positions if values[k] is None]
            found = _in_workspace(jobs[0].project.workspace, [jobs[k].id for k in todo],
                                  os.sep + name)
            for k, value in zip(todo, found, strict=True):
                values[k] = value
        if None in values:  # only None compares equal to None here: these are bools
            for k in positions:
                if values[k] is None:
                    values[k] = bool(fn(jobs[k], docs))
        return [values[k] for k in positions]


def count_columns(pre, post, n):
    """``(complete, eligible)`` position lists from columns: complete where every
    postcondition holds, eligible where every precondition holds and it is not complete
    (the general path's order: postconditions first, each condition only where still
    undecided)."""
    left = list(range(n))
    for c in post:
        left = list(compress(left, c.at(left)))
    complete = left
    done = bytearray(n)
    for k in complete:
        done[k] = 1
    left = [k for k in range(n) if not done[k]]
    for c in pre:
        left = list(compress(left, c.at(left)))
    return complete, left


class JobTable(Mapping):
    """:attr:`Status.jobs` without a dict per job: ``{id: {"eligible": [...], "labels":
    [...]}}`` made when asked (and then kept, so :meth:`Status.add_active` may add to it).
    Iterates in id order."""

    def __init__(self):
        self.ids = []
        self.eligible = {}  # operation -> bytearray, 1 where eligible
        self.labels = []  # per label: a list of its text per job, None where it is false
        self._entries = {}
        self._positions = None

    def extend(self, ids, eligible, labels):
        """Add a chunk: its ids, ``{operation: eligible positions}`` and the label texts."""
        base, n = len(self.ids), len(ids)
        self.ids += ids
        for name, positions in eligible.items():
            flags = self.eligible.setdefault(name, bytearray())
            flags += bytes(n)
            for k in positions:
                flags[base + k] = 1
        if not self.labels:
            self.labels = [[] for _ in labels]
        for mine, texts in zip(self.labels, labels, strict=True):
            mine += texts
        self._positions = None

    def keep(self, names, added=None):
        """Keep the eligibility of the operations ``names`` only, and add ``added``: name ->
        the set of ids eligible (a group's, say), in ``names``' order."""
        added = added or {}
        flags = {}
        for name in names:
            if name in added:
                flags[name] = bytearray(i in added[name] for i in self.ids)
            else:
                flags[name] = self.eligible.get(name, bytearray(len(self.ids)))
        self.eligible = flags
        self._entries = {}

    def compact(self):
        """``(ids, {operation: flags}, label texts)`` for :meth:`extend_flags` in another
        process (``marshal``-able; each distinct label text one object, written once)."""
        same = {}
        labels = [[t if t is None else same.setdefault(t, t) for t in texts]
                  for texts in self.labels]
        return self.ids, {name: bytes(flags) for name, flags in self.eligible.items()}, labels

    def extend_flags(self, ids, eligible, labels):
        """:meth:`extend` with eligibility as flags (1 where eligible, a byte a job), as
        :meth:`compact` gives it."""
        base, n = len(self.ids), len(ids)
        if not n:  # a part without jobs
            return
        self.ids += ids
        for name, flags in eligible.items():
            mine = self.eligible.setdefault(name, bytearray(base))
            mine += flags
        if not self.labels:
            self.labels = [[] for _ in labels]
        for mine, texts in zip(self.labels, labels, strict=True):
            mine += texts
        for flags in self.eligible.values():  # an operation this part did not name
            if len(flags) < base + n:
                flags += bytes(base + n - len(flags))
        self._positions = None

    def _entry(self, k):
        job_id = self.ids[k]
        entry = self._entries.get(job_id)
        if entry is None:
            entry = {"eligible": [name for name, flags in self.eligible.items() if flags[k]],
                     "labels": [t[k] for t in self.labels if t[k] is not None]}
        return entry

    def __getitem__(self, job_id):
        entry = self._entries.get(job_id)
        if entry is None:
            if self._positions is None:
                self._positions = {i: k for k, i in enumerate(self.ids)}
            entry = self._entries[job_id] = self._entry(self._positions[job_id])
        return entry

    def get(self, job_id, default=None):
        try:
            return self[job_id]
        except KeyError:
            return default

    def __len__(self):
        return len(self.ids)

    def _order(self):
        return sorted(range(len(self.ids)), key=self.ids.__getitem__)

    def __iter__(self):
        return (self.ids[k] for k in self._order())

    def items(self):
        return [(self.ids[k], self._entry(k)) for k in self._order()]

    def values(self):
        return [entry for _, entry in self.items()]

    def __contains__(self, job_id):
        return self.get(job_id) is not None


def label_texts(labels, jobs, counts):
    """Per label, its text per job (None where it is false); ``counts`` is updated with the
    number of jobs per text."""
    out = []
    for label, fn in labels.items():
        texts = []
        for value in map(fn, jobs):
            if not value:
                texts.append(None)
                continue
            text = label if value is True else f"{label}={value}"
            counts[text] = counts.get(text, 0) + 1
            texts.append(text)
        out.append(texts)
    return out

