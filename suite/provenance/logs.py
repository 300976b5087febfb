"""Reading provenance records back: the job logs as :class:`Record` objects, filtered, found by
id, and as a pandas DataFrame.

Records of every suite version read: fields a record lacks read as None, and a record without
an id (written before ids existed) gets one derived from its line, so it can still be named.
A line that is not a JSON object is left out and reported in :attr:`RecordList.problems` with
its file and line number.
"""

import datetime
import hashlib
import json
import os

from suite import layout
from suite.errors import AmbiguousIdError, SuiteError

#: the fields every record may have, in the order tables show them
FIELDS = ("id", "operation", "jobs", "start", "end", "duration", "status", "error", "traceback",
          "host", "user", "scheduler_job_id", "suite_version", "git_commit", "git_dirty", "diff",
          "environment", "reason", "tags", "files")


class Record:
    """One execution as recorded: each name of :data:`FIELDS` is an attribute (None if the
    record lacks it); :attr:`data` is the whole record, :attr:`log` and :attr:`line` where it
    was read."""

    __slots__ = ("data", "log", "line")

    def __init__(self, data, log=None, line=None):
        self.data, self.log, self.line = data, log, line

    def __getattr__(self, name):
        if name in FIELDS:
            value = self.data.get(name)
            if value is None and name in ("tags", "files", "jobs"):
                return []
            return value
        raise AttributeError(name)

    def __repr__(self):
        return f"Record({self.id[:8]} {self.operation} {self.status})"

    def to_dict(self):
        return dict(self.data)

    @property
    def started(self):
        """The start as a local :class:`datetime.datetime` (None if unknown)."""
        return _datetime(self.start)


class RecordList(list):
    """A list of :class:`Record`; :attr:`problems` names the log lines that could not be read
    (``"<file>:<line>: <reason>"``); :attr:`blobs` holds the environments and diffs the logs
    kept (``{name: data}``)."""

    def __init__(self, items=(), problems=(), blobs=None):
        super().__init__(items)
        self.problems = list(problems)
        self.blobs = dict(blobs or {})

    def environment(self, record):
        """The environment (a dict) ``record`` ran in, or None if unknown."""
        return self.blobs.get(f"env-{record.environment}") if record.environment else None

    def code_diff(self, record):
        """The diff of the dirty tree ``record`` ran with (text), or None."""
        return _diff_text(self.blobs.get(f"diff-{record.diff}")) if record.diff else None

    def to_dataframe(self):
        """The records as a pandas DataFrame, one row per record (pandas is optional: raises
        SuiteError when it is not installed)."""
        try:
            import pandas
        except ImportError:
            raise SuiteError("to_dataframe needs pandas (pip install pandas)") from None
        rows = [{name: getattr(r, name) for name in FIELDS} for r in self]
        frame = pandas.DataFrame(rows, columns=list(FIELDS))
        for column in ("start", "end"):
            frame[column] = pandas.to_datetime(frame[column], unit="s")
        return frame


def derived_id(line):
    """The id of a record written before records had ids, derived from its ``line`` (bytes)."""
    return "v0" + hashlib.sha256(line.strip()).hexdigest()[:30]


def read_log(path, job_id=None, blobs=None):
    """``(records, problems)`` of one log file; a missing file has neither. Blob lines go to
    ``blobs[name] = data`` (if given) instead of the records."""
    try:
        with open(path, "rb") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return [], []
    from .capture import BLOB_PREFIX  # here: status imports this module, not the capture

    records, problems = [], []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        is_blob = raw.startswith(BLOB_PREFIX)
        if is_blob and blobs is None:
            continue
        try:
            data = json.loads(raw)
        except ValueError as exc:
            problems.append(f"{path}:{number}: not a JSON record ({exc}); skipped")
            continue
        if not isinstance(data, dict):
            problems.append(f"{path}:{number}: not a JSON object; skipped")
            continue
        if is_blob:
            blobs.setdefault(data.get("blob"), data.get("data"))
            continue
        if not data.get("id"):  # written before records had ids: one derived from the line
            data["id"] = derived_id(raw)
        if not data.get("jobs") and job_id:
            data["jobs"] = [job_id]
        records.append(Record(data, path, number))
    return records, problems


def records(project, ids=None, operation=None, tag=None, since=None, failed=False):
    """The records of ``project`` (of the jobs ``ids`` only, if given), oldest first; an
    execution on an aggregate is listed once although each of its jobs keeps it.

    ``operation`` and ``tag`` keep the records of that operation / with that tag; ``since`` (a
    :class:`datetime.datetime`, a date, an ISO text or a Unix time) those that started then or
    later; ``failed`` only failures. Returns a :class:`RecordList`. Raises SuiteError for a
    ``since`` that is not a date and JobNotFoundError for an unknown id."""
    since = _since(since)
    if ids:
        job_ids = [project.open_job(id=i).id for i in ids]
    else:  # the directories themselves: reading logs need not bring the index up to date
        try:
            job_ids = sorted(e.name for e in os.scandir(project.workspace)
                             if layout.is_job_id(e.name) and e.is_dir())
        except FileNotFoundError:
            job_ids = []
    seen, out, problems, blobs = set(), [], [], {}
    for job_id in job_ids:
        found, bad = read_log(os.path.join(project.workspace, job_id, layout.FLOW_LOG), job_id,
                              blobs)
        problems += bad
        for r in found:
            if r.id in seen:
                continue
            seen.add(r.id)
            if operation is not None and r.operation != operation:
                continue
            if tag is not None and tag not in r.tags:
                continue
            if failed and r.status == "success":
                continue
            if since is not None and (r.start or 0) < since:
                continue
            out.append(r)
    out.sort(key=lambda r: (r.start or 0, r.id))
    return RecordList(out, problems, blobs)


def find(project, rec_id, ids=None):
    """The record whose id is ``rec_id`` or starts with it (at least 4 characters). Raises
    SuiteError if none has it and AmbiguousIdError if several do."""
    if len(rec_id) < 4:
        raise SuiteError(f"record id {rec_id!r} is too short: give at least 4 characters")
    found = [r for r in records(project, ids) if r.id.startswith(rec_id)]
    if not found:
        raise SuiteError(f"no record {rec_id!r} in the logs of {project.path} "
                         "(suite log lists them)")
    if len(found) > 1:
        raise AmbiguousIdError(f"record id {rec_id!r} is ambiguous: "
                               + ", ".join(r.id for r in found[:5]))
    return found[0]


def blob(project, record, name):
    """The data of the blob ``name`` (an environment, a diff) ``record`` refers to, from the
    log of the first of its jobs that keeps it (None if none does)."""
    for job_id in record.jobs:
        blobs = {}
        read_log(os.path.join(project.workspace, job_id, layout.FLOW_LOG), job_id, blobs)
        if name in blobs:
            return blobs[name]
    return None


def environment(project, record):
    """The environment (a dict) of ``record``, or None if it has none or it is missing."""
    return blob(project, record, f"env-{record.environment}") if record.environment else None


def code_diff(project, record):
    """The diff (text) of the dirty tree ``record`` ran with, or None."""
    return _diff_text(blob(project, record, f"diff-{record.diff}")) if record.diff else None


def _diff_text(text):
    # kept with surrogateescape (a diff may hold bytes that are not UTF-8): shown replaced
    if text is None:
        return None
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _since(value):
    if value is None or isinstance(value, int | float):
        return value
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day).timestamp()
    try:
        return datetime.datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        raise SuiteError(f"--since {value!r} is not a date (give e.g. 2026-12-01 or "
                         "2026-12-01T10:30)") from None


def _datetime(value):
    return None if value is None else datetime.datetime.fromtimestamp(value)
