"""The record of the last sync with a peer, held as its file's bytes (:class:`RecordJobs`).

The file (``.suite/sync/<peer id>.json``) is one JSON object, written one job a line in id
order::

    {"project_doc": {...}, "jobs": {
    "<job id>": {"files": {rel: [size, mtime_local, mtime_remote]}, "doc": {...}},
    ...
    "<job id>": {...}
    }}

Any JSON reader takes it whole (the previous version did). Parsed whole, a job's entry cost
~860 bytes a job; here the jobs' lines stay as the file's bytes (~140 bytes a job), with
their ids and where each line starts, and are parsed a range at a time where they are
needed: the steady check (:meth:`RecordJobs.ranges`) goes through the record in id order,
ten thousand jobs at a time. A record written otherwise (one line, as before) is parsed
whole and marked ``upgrade``: the next save writes it in lines."""

import bisect
import itertools
import operator
from array import array
from collections.abc import MutableMapping

from suite.errors import CorruptFileError, InvalidStatepointError
from suite.jsonio import encoder, loads_checked
from suite.process import gc_paused

#: the end of a record's first line (its other keys before it)
_JOBS_OPEN = b'"jobs": {'
#: the record's last line
_CLOSE = b"}}\n"
#: a removed entry in :attr:`RecordJobs._changed`
_GONE = object()
#: bytes scanned at a time for the lines' starts
_BLOCK = 1 << 20


def _encode_entry(job_id, entry):
    return b'"%s": %s,\n' % (job_id.encode(), _dumps(entry).encode())


#: json.dumps(value, allow_nan=True) without its check for cycles (a record is parsed JSON and
#: lists: none), whose bookkeeping of every dict and list was a quarter of the encoding
_encode_value = encoder(allow_nan=True, check_circular=False)


def _dumps(value):
    """``value`` as JSON text, NaN kept; raises InvalidStatepointError for a value JSON
    cannot hold."""
    try:
        return _encode_value(value)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidStatepointError(f"sync record: value cannot be stored as JSON: {exc}") \
            from None


class RecordJobs(MutableMapping):
    """The record's jobs (job id -> entry), read from the file's bytes as needed; entries
    set or read are held as objects (the engine may change an entry it read) and encoded
    again when saved, the others are written back as the bytes they were."""

    def __init__(self, raw=b"", start=0, end=0, path="the sync record"):
        self._raw, self._path = raw, path
        self._ids, self._starts = [], array("Q")
        self._changed = {}  # id -> entry, or _GONE
        self._len = 0
        self.upgrade = False  # written otherwise than in lines: rewrite it
        pos = start
        while pos < end:  # the lines' starts and ids, a block at a time (no copy of all)
            stop = raw.rfind(b"\n", pos, min(pos + _BLOCK, end)) + 1
            if stop <= pos:  # a line longer than a block
                stop = raw.find(b"\n", pos, end) + 1 or end
            lines = raw[pos:stop].split(b"\n")[:-1]
            self._starts.extend(itertools.accumulate(map(len, lines[:-1]), lambda a, n: a + n + 1,
                                                     initial=pos))
            self._ids.extend(map(bytes.decode, map(operator.itemgetter(slice(1, 33)), lines)))
            pos = stop
        self._starts.append(end)
        self._len = len(self._ids)
        # in id order, each once: what finding a job by bisection needs (checked: cheap)
        self.ordered = all(map(operator.lt, self._ids, itertools.islice(self._ids, 1, None)))

    @classmethod
    def from_dict(cls, jobs, path="the sync record", upgrade=False):
        """Jobs given as a dict (a record parsed whole, a first sync's empty one)."""
        self = cls(path=path)
        self._changed = dict(jobs)
        self._len = len(jobs)
        self.upgrade = upgrade
        return self

    # -- reading ----------------------------------------------------------------------------
    def _pos(self, job_id):
        """The line of ``job_id`` in the file's bytes, or -1."""
        k = bisect.bisect_left(self._ids, job_id)
        return k if k < len(self._ids) and self._ids[k] == job_id else -1

    def _parse(self, a, b):
        """The entries of lines ``a`` to ``b`` (a dict); raises CorruptFileError."""
        if a >= b:
            return {}
        body = self._raw[self._starts[a]:self._starts[b]].rstrip(b",\n")
        with gc_paused():  # many small dicts, no cycles
            part = loads_checked(b"{" + body + b"}", self._path)
        if not isinstance(part, dict) or len(part) != b - a or \
                any(map(operator.ne, part, self._ids[a:b])):
            raise CorruptFileError(self._path, f"the lines of jobs {self._ids[a]} to "
                                   f"{self._ids[b - 1]} are not one job's entry each")
        return part

    def __getitem__(self, job_id):
        entry = self._changed.get(job_id)
        if entry is _GONE:
            raise KeyError(job_id)
        if entry is not None:
            return entry
        k = self._pos(job_id) if isinstance(job_id, str) else -1
        if k < 0:
            raise KeyError(job_id)
        entry = self._changed[job_id] = self._parse(k, k + 1)[job_id]  # may be changed
        return entry

    def __contains__(self, job_id):
        entry = self._changed.get(job_id)
        if entry is not None:
            return entry is not _GONE
        return isinstance(job_id, str) and self._pos(job_id) >= 0

    def __len__(self):
        return self._len

    def __iter__(self):
        if not self._changed:
            return iter(self._ids)
        return self._iter_changed()

    def _iter_changed(self):
        changed = self._changed
        for job_id in self._ids:
            if changed.get(job_id) is not _GONE:
                yield job_id
        for job_id, entry in list(changed.items()):
            if entry is not _GONE and self._pos(job_id) < 0:
                yield job_id

    def ranges(self, names, size):
        """``(ids, entries)`` for the jobs ``names`` (listed on a side), about ``size`` record
        lines at a time in id order, each with the entries of its range parsed (a dict,
        dropped by the caller before the next); then the names the record does not hold,
        with no entries. Every name comes once."""
        here = set(names)
        changed = self._changed
        for a in range(0, len(self._ids), size):
            b = min(a + size, len(self._ids))
            ids = [j for j in self._ids[a:b] if j in here]
            if not ids:
                continue
            here.difference_update(ids)
            entries = self._parse(a, b)
            if len(ids) < b - a:  # the range's jobs not listed on this side: gone there
                entries = {j: entries[j] for j in ids}
            for job_id in ids:  # the engine's changes since (none in a snapshot)
                entry = changed.get(job_id)
                if entry is _GONE:
                    del entries[job_id]
                elif entry is not None:
                    entries[job_id] = entry
            yield ids, entries
        rest = [j for j in names if j in here]
        for a in range(0, len(rest), size):
            part = rest[a:a + size]
            yield part, {j: changed[j] for j in part
                         if changed.get(j) is not None and changed[j] is not _GONE}

    def subset(self, keys):
        """The entries of ``keys`` the record holds, as a dict (for the steady check of
        whole listings)."""
        out = {}
        for _, entries in self.ranges([j for j in keys if j in self], 10000):
            out.update(entries)
        return out

    def between(self, lo, hi):
        """The entries of the jobs ``lo <= id < hi`` (``hi`` None: to the end) as a dict,
        parsed from the bytes (not kept: a sync going through the record a range at a time
        holds one range's) with the entries set since over them."""
        from .ranges import in_range

        a = bisect.bisect_left(self._ids, lo)
        b = len(self._ids) if hi is None else bisect.bisect_left(self._ids, hi)
        entries = self._parse(a, b)
        for job_id, entry in self._changed.items():
            if in_range(job_id, lo, hi):
                if entry is _GONE:
                    entries.pop(job_id, None)
                else:
                    entries[job_id] = entry
        return entries

    def hold_as_bytes(self, lo, hi):
        """Encode the entries set for jobs ``lo <= id < hi`` (``hi`` None: no end) into lines
        held as bytes (~140 bytes a job against ~860 as objects) where they come after the
        last line held (a first sync, or one resumed: it goes through the jobs in id order,
        a range at a time, and calls this after each range). Entries read or set again later
        are objects again until saved, as any; those among the lines held stay objects."""
        from .ranges import in_range

        last = self._ids[-1] if self._ids else ""
        moved = sorted(job_id for job_id, entry in self._changed.items()
                       if entry is not _GONE and job_id > last and in_range(job_id, lo, hi))
        if not moved:
            return
        if not self._ids:  # nothing held yet: bytes of its own
            self._raw, self._starts = bytearray(), array("Q", [0])
        elif not isinstance(self._raw, bytearray):
            # the file's lines (a resumed first sync): copied once, its last line given the
            # comma every held line ends in, the file's end left out; the ranges' follow
            end = self._starts[-1]
            held = bytearray(memoryview(self._raw)[:end - 1])
            held += b",\n"
            self._raw, self._starts[-1] = held, len(held)
        raw, starts, changed = self._raw, self._starts, self._changed
        with gc_paused():
            for job_id in moved:
                raw += _encode_entry(job_id, changed.pop(job_id))
                starts.append(len(raw))
        self._ids.extend(moved)

    # -- changing ---------------------------------------------------------------------------
    def __setitem__(self, job_id, entry):
        if job_id not in self:
            self._len += 1
        self._changed[job_id] = entry

    def __delitem__(self, job_id):
        if job_id not in self:
            raise KeyError(job_id)
        self._len -= 1
        if self._pos(job_id) >= 0:
            self._changed[job_id] = _GONE
        else:
            del self._changed[job_id]

    def encode_lines(self, parts):
        """Append the jobs' lines to the list ``parts`` as pieces to join, each line ending in
        ``,\n``: the unchanged ones as views of the bytes they were read from (no copy: the
        caller joins the pieces once, then releases the views), the others encoded."""
        ids = self._ids
        last = len(ids)
        done = 0  # lines of raw written (or passed) so far
        for job_id in sorted(self._changed):
            k = bisect.bisect_left(ids, job_id, done)
            self._copy_lines(parts, done, k)
            done = k
            if k < last and ids[k] == job_id:
                done = k + 1
            entry = self._changed[job_id]
            if entry is not _GONE:
                parts.append(_encode_entry(job_id, entry))
        self._copy_lines(parts, done, last)

    def _copy_lines(self, parts, a, b):
        if a >= b:
            return
        start, end = self._starts[a], self._starts[b]
        if b == len(self._ids) and self._raw[end - 2:end] != b",\n":  # the file's last job
            parts += (memoryview(self._raw)[start:end - 1], b",\n")  # line: no comma
        else:
            parts.append(memoryview(self._raw)[start:end])


def load(raw, path):
    """The record in ``raw`` (a file's bytes): a dict whose ``"jobs"`` is a
    :class:`RecordJobs`. Raises CorruptFileError when it is not a JSON object."""
    first = raw.find(b"\n")
    head = raw[:first]
    if first > 0 and head.endswith(_JOBS_OPEN) and raw.endswith(_CLOSE) and \
            len(raw) >= first + 1 + len(_CLOSE):
        try:
            record = loads_checked(head + b"}}", path)
        except CorruptFileError:
            record = None
        if isinstance(record, dict) and record.get("jobs") == {}:
            jobs = RecordJobs(raw, first + 1, len(raw) - len(_CLOSE), path)
            if jobs.ordered:  # (else written by hand: parsed whole below)
                record["jobs"] = jobs
                return record
    with gc_paused():  # written in one line (before session 11) or by hand: parsed whole
        record = loads_checked(raw, path)
    if not isinstance(record, dict):
        raise CorruptFileError(path, "the sync record is not a JSON object")
    jobs = record.get("jobs")
    if isinstance(jobs, dict):
        record["jobs"] = RecordJobs.from_dict(jobs, path, upgrade=True)
    return record


def check(raw, path):
    """Raise CorruptFileError unless ``raw`` is a record any JSON reader takes: one written
    in lines (:func:`encode`) is checked a range of lines at a time (a million jobs' record
    decoded whole held ~860 MB on the side it was sent to), the others decoded whole."""
    record = load(raw, path)
    jobs = record.get("jobs")
    if not isinstance(jobs, RecordJobs) or not jobs._ids:
        return
    n, held = len(jobs._ids), jobs._raw
    start, end = jobs._starts[0], jobs._starts[n]
    # a newline ends each line only (JSON escapes it in strings): every line but the last
    # ends in a comma, the last does not (counted in place: no copy of the lines)
    if held.count(b",\n", start, end) != n - 1 or held[end - 2:end] == b",\n":
        raise CorruptFileError(path, "the record's job lines are not separated by commas")
    for a in range(0, n, 10000):
        jobs._parse(a, min(a + 10000, n))


def encode(record):
    """The record's bytes as saved on both sides (documents' NaN kept): its other keys on the
    first line, then one job a line in id order (:func:`load`). The lines held as bytes are
    joined into the result as views (a million jobs' record, 138 MB, was copied twice: a
    slice of the lines into a buffer, the buffer into bytes)."""
    jobs = record.get("jobs") or {}
    rest = {k: v for k, v in record.items() if k != "jobs"}
    head = _dumps(rest).encode()
    parts = [head[:-1] + (b", " if rest else b"") + _JOBS_OPEN + b"\n"]
    try:
        with gc_paused():  # many pieces made and joined, no cycles
            if isinstance(jobs, RecordJobs):
                jobs.encode_lines(parts)
            else:
                parts += (_encode_entry(job_id, jobs[job_id]) for job_id in sorted(jobs))
        if len(parts) > 1:  # the last job line ends without its comma
            parts[-1:] = (parts[-1][:-2], b"\n")
        parts.append(_CLOSE)
        return b"".join(parts)
    finally:  # the views let go: the held lines' buffer may grow again (hold_as_bytes)
        for part in parts:
            if isinstance(part, memoryview):
                part.release()


# -- a record sent as the lines that changed --------------------------------------------------
# Both sides of a pair hold the same record bytes after a sync (one job a line), and a sync
# changes the lines of the jobs it touched only: the far side is sent those lines, not the
# whole record (issue #18: 1.3 MB at 10,000 jobs, its sending and checking the last serial
# step of a sync that changed a few jobs).

def diff(old, new):
    """``(removed, at, lines)``: the numbers of the lines of ``old`` (record bytes) that
    ``new`` does not hold, and the lines of ``new`` that ``old`` does not hold with their
    numbers in ``new``; None when :func:`patched` would not give ``new`` back from them
    (lines repeated or reordered: not two records of one pair)."""
    a, b = old.split(b"\n"), new.split(b"\n")
    in_a, in_b = set(a), set(b)
    if len(in_a) != len(a) or len(in_b) != len(b):
        return None
    removed = [k for k, line in enumerate(a) if line not in in_b]
    at = [k for k, line in enumerate(b) if line not in in_a]
    lines = [b[k] for k in at]
    try:
        same = patched(old, removed, at, lines) == new
    except ValueError:
        same = False
    return (removed, at, lines) if same else None


def loaded_bytes(record):
    """The file's bytes a record (:func:`load`) was read from, held by its jobs anyway; None
    when it was parsed whole (written otherwise, or made here)."""
    jobs = record.get("jobs")
    if isinstance(jobs, RecordJobs) and jobs._raw and not jobs.upgrade:
        return jobs._raw
    return None


def patched(old, removed, at, lines):
    """The bytes :func:`diff` was given as ``new``: ``old`` without the lines ``removed``
    (numbers, ascending), with ``lines`` placed at the numbers ``at`` (ascending). Raises
    ValueError for numbers out of order or out of range."""
    a = old.split(b"\n")
    if len(at) != len(lines) or not _ascending(removed, len(a)):
        raise ValueError("a record patch names lines out of order or out of range")
    gone = set(removed)
    kept = [line for k, line in enumerate(a) if k not in gone]
    if not _ascending(at, len(kept) + len(lines)):
        raise ValueError("a record patch names lines out of order or out of range")
    out, taken, spot = [], 0, dict(zip(at, lines, strict=True))
    for k in range(len(kept) + len(lines)):
        line = spot.get(k)
        if line is None:
            line, taken = kept[taken], taken + 1
        out.append(line)
    return b"\n".join(out)


def _ascending(numbers, end):
    return isinstance(numbers, list) and all(type(k) is int for k in numbers) and \
        all(map(operator.lt, numbers, itertools.islice(numbers, 1, None))) and \
        (not numbers or (numbers[0] >= 0 and numbers[-1] < end))


def check_lines(lines, path):
    """Raise CorruptFileError unless each of ``lines`` (of a record patch) is a record's
    first line, its last, or one job's entry: what the far side checks of the lines it is
    sent (the others are its own, checked when they came)."""
    jobs = [line for line in lines if not (line.endswith(_JOBS_OPEN) or line in (b"}}", b""))]
    for line in lines:
        if line.endswith(_JOBS_OPEN):  # the first line: the other keys
            head = loads_checked(line + b"}}", path)
            if not isinstance(head, dict) or head.get("jobs") != {}:
                raise CorruptFileError(path, "a record patch's first line is not a record's")
    if jobs:
        body = b",".join(line.rstrip(b",") for line in jobs)
        with gc_paused():
            entries = loads_checked(b"{" + body + b"}", path)
        if not isinstance(entries, dict) or len(entries) != len(jobs) or \
                any(not isinstance(e, dict) for e in entries.values()):
            raise CorruptFileError(path, "a record patch's lines are not one job's entry each")
