"""The result of ``project.find_jobs()``: a re-evaluated, lazily loaded set of jobs."""

import errno
import itertools
import os
import stat

from . import layout
from .errors import CorruptStatepointError, WorkspaceError
from .job import Job, jobs_from_index, jobs_of
from .query import MISSING, compile_filter, resolve

#: the compiled filter of every job
ALL = ("and", [])


class JobsCursor:
    """Jobs matching a filter. Iterating runs the query (through the index) each time.

    Iterating (and ``len``, ``ids``, indexing) raises :class:`WorkspaceError` when the
    workspace is not a readable directory (a dangling link, a file); a missing workspace is an
    empty project (logged).

    With a filter, evaluating it raises :class:`~suite.errors.CorruptStatepointError` (a
    ``JobsCorruptedError``, as signac raises) when a job's state point file cannot be read:
    the filter cannot tell whether that job matches. ``job_ids`` names them all. With
    ``skip_unreadable`` they are left out instead, for a caller that names them itself
    (``project.index.unreadable()`` lists them, ``project.index.problems`` says why). Without
    a filter every job is yielded, those too (reading their state point raises).
    """

    def __init__(self, project, filter=None, skip_unreadable=False):
        self._project = project
        self._filter = filter
        self._tree = compile_filter(filter)
        self._skip_unreadable = bool(skip_unreadable)

    def __getstate__(self):
        return {"_project": self._project, "_filter": self._filter,
                "_skip_unreadable": self._skip_unreadable}

    def __setstate__(self, state):
        self.__dict__.update({"_skip_unreadable": False, **state})
        self._tree = compile_filter(self._filter)

    @property
    def filter(self):
        """The filter this cursor was made with."""
        return self._filter

    @property
    def project(self):
        """The project searched."""
        return self._project

    def _workspace_ok(self):
        """False for a missing workspace; WorkspaceError for one that cannot be read."""
        ws = self._project.workspace
        try:
            st = os.stat(ws)
        except FileNotFoundError as exc:
            if os.path.islink(ws):
                raise WorkspaceError(OSError(
                    errno.ENOENT, f"the workspace {ws} is a link to a missing directory "
                    f"({os.readlink(ws)}); restore it or remove the link", ws)) from exc
            import logging  # only here: `suite find` starts without it

            logging.getLogger(__name__).info("the workspace %s does not exist: no jobs", ws)
            return False
        except OSError as exc:
            raise WorkspaceError(exc) from exc
        if not stat.S_ISDIR(st.st_mode):
            raise WorkspaceError(OSError(
                errno.ENOTDIR, f"the workspace {ws} is not a directory; move that file away",
                ws))
        return True

    def workspace_ok(self):
        """False for a missing workspace (no jobs); raises :class:`WorkspaceError` for one
        that cannot be read (a dangling link, a file), saying what to do."""
        return self._workspace_ok()

    @property
    def skip_unreadable(self):
        """True when jobs whose state point cannot be read are left out of a filtered
        answer rather than raised for."""
        return self._skip_unreadable

    def ids(self):
        """The matching job ids, sorted (of every job: also those whose state point file
        cannot be read, as :meth:`__iter__` yields them). With a filter, raises
        :class:`~suite.errors.CorruptStatepointError` for such jobs (see the class)."""
        if not self._workspace_ok():
            return []
        index = self._project.index
        found = index.find(self._tree)
        if self._tree == ALL:
            damaged = index.unreadable()
            if damaged:
                return sorted(found + damaged)
        else:
            self._check_readable()
        return found

    def _check_readable(self):
        """Raise for jobs a filter cannot judge (their state point cannot be read), as of
        the query just made, unless asked to leave them out."""
        if not self._skip_unreadable:
            damaged = self._project.index.unreadable()
            if damaged:
                raise unreadable_error(self._project, damaged)

    def __iter__(self):
        # not a generator: every job's is an iterator of C parts over the index's two lists
        # (no Python frame per job); a query's over its list of pairs
        project = self._project
        if not self._workspace_ok():
            return iter(())
        if self._tree == ALL:
            ids, sps = project.index.all_statepoints()
            damaged = project.index.unreadable()
            if damaged:
                return _with_damaged(project, ids, sps, damaged)
            return jobs_of(project, ids, sps)
        pairs = project.index.find_statepoints(self._tree)
        self._check_readable()
        return jobs_from_index(project, pairs)

    def __len__(self):
        return len(self.ids())

    def __getitem__(self, index):
        """The job at ``index`` (or a list of jobs for a slice) in id order."""
        ids = self.ids()
        if isinstance(index, slice):
            return [self._project.open_job(id=i) for i in ids[index]]
        return self._project.open_job(id=ids[index])

    def __contains__(self, job):
        job_id = job.id if isinstance(job, Job) else str(job)
        return job_id in set(self.ids())

    def __eq__(self, other):
        return (isinstance(other, JobsCursor) and other._project == self._project
                and other._filter == self._filter
                and other._skip_unreadable == self._skip_unreadable)

    __hash__ = None

    def __repr__(self):
        lenient = ", skip_unreadable=True" if self._skip_unreadable else ""
        return f"{self._project!r}.find_jobs({self._filter!r}{lenient})"

    def _repr_html_(self):
        from .html import cursor_html

        return cursor_html(self)

    def groupby(self, key=None, default=None):
        """Group jobs by ``key``: a dotted state point key (``doc.`` for the document), a list
        of keys (groups keyed by tuples), or a callable of the job. Jobs lacking a key go in the
        ``default`` group, or are left out when ``default`` is None. Yields ``(value, [jobs])``
        sorted by value. Without ``key`` each job is its own group, keyed by its id (as in
        signac)."""
        jobs = list(self)
        if key is None:
            for job in jobs:
                yield job.id, [job]
            return
        if callable(key):
            keyfn = key
        else:
            keys = [key] if isinstance(key, str) else list(key)
            need_doc = any(k.startswith("doc.") for k in keys)
            docs = self._project.index.documents([j.id for j in jobs]) if need_doc else {}

            def keyfn(job):
                values = []
                for k in keys:
                    if k.startswith("doc."):
                        v = resolve(docs.get(job.id, {}), tuple(k[4:].split(".")))
                    else:
                        path = k[3:] if k.startswith("sp.") else k
                        v = resolve(job.sp(), tuple(path.split(".")))
                    if v is MISSING:
                        if default is None:
                            raise _Skip
                        v = default
                    values.append(v)
                return values[0] if isinstance(key, str) else tuple(values)

        keyed = []
        for job in jobs:
            try:
                keyed.append((keyfn(job), job))
            except _Skip:
                continue
        keyed.sort(key=lambda kv: _sort_key(kv[0]))
        for _, group in itertools.groupby(keyed, key=lambda kv: _sort_key(kv[0])):
            members = [j for _, j in group]
            yield next(v for v, j in keyed if j is members[0]), members

    def to_dataframe(self, sp_prefix="sp.", doc_prefix="doc.", usecols=None, flatten=False):
        """A pandas DataFrame indexed by job id, one column per state point and document key
        (dotted keys with ``flatten``). ``usecols`` is a list of column names or a predicate
        of the name; selecting no column gives an empty DataFrame. Raises
        :class:`~suite.errors.CorruptStatepointError` (a JobsCorruptedError) when a job's
        state point file cannot be read (as signac), unless ``skip_unreadable`` left it out."""
        try:
            import pandas
        except ImportError:
            raise ImportError("to_dataframe needs pandas: pip install 'suite[pandas]'") from None
        if usecols is None:
            def keep(_):
                return True
        elif callable(usecols):
            keep = usecols
        else:
            wanted = set(usecols)

            def keep(column):
                return column in wanted
        ids = self.ids()
        index = self._project.index
        sps, docs = index.statepoints(ids), index.documents(ids)
        unread = [i for i in ids if i not in sps]
        if unread:  # as signac: its state point is read for the row
            raise unreadable_error(self._project, unread)
        rows = {}
        for job_id in ids:
            row = {}
            for prefix, data in ((sp_prefix, sps.get(job_id, {})), (doc_prefix, docs.get(job_id, {}))):
                items = _flat(data) if flatten else data.items()
                for k, v in items:
                    if keep(prefix + k):
                        row[prefix + k] = v
            rows[job_id] = row
        if not any(rows.values()):
            return pandas.DataFrame()
        return pandas.DataFrame.from_dict(rows, orient="index")

    def export_to(self, target, path=None, copytree=None, **kwargs):
        """Export these jobs and return ``{job directory: exported path}``; see
        :meth:`suite.project.Project.export_to`."""
        from .project import export_jobs

        return export_jobs(self._project, list(self), target, path, copytree, **kwargs)


class _Skip(Exception):
    pass


def _sort_key(v):
    """Order group keys: None, booleans, numbers (numerically), strings, tuples, the rest."""
    if v is None:
        return (0, 0)
    if isinstance(v, bool):
        return (1, v)
    if isinstance(v, (int, float)):
        return (2, v)
    if isinstance(v, str):
        return (3, v)
    if isinstance(v, tuple):
        return (4, tuple(_sort_key(x) for x in v))
    import json

    return (5, json.dumps(v, sort_keys=True))


def _flat(data, prefix=""):
    for k, v in data.items():
        if isinstance(v, dict) and v:
            yield from _flat(v, prefix + k + ".")
        else:
            yield prefix + k, v


def _with_damaged(project, ids, sps, damaged):
    """Every job in id order, as signac iterates them: those whose state point file cannot
    be read too (``len(project)`` counts them), opened by id, so that reading their state
    point raises JobsCorruptedError naming the job and the file (a script that skipped them
    silently would get fewer jobs than the project has)."""
    readable = iter(jobs_of(project, ids, sps))
    nxt = next(readable, None)
    for job_id in damaged:
        while nxt is not None and nxt.id < job_id:
            yield nxt
            nxt = next(readable, None)
        yield Job(project, id=job_id)
    if nxt is not None:
        yield nxt
        yield from readable


def unreadable_error(project, ids):
    """The :class:`~suite.errors.CorruptStatepointError` for the jobs ``ids`` (sorted) whose
    state point files cannot be read: the first one's file and reason, every id in
    ``job_ids``."""
    first = ids[0]
    path = os.path.join(project.workspace, first, layout.STATEPOINT)
    why = project.index.problems.get(first, "its state point cannot be read")
    # the index keeps the whole message of the file's error: its reason is the middle
    why = why.removeprefix(f"job {first}: ").removeprefix(f"corrupt file {path}: ")
    why = why.removesuffix(" (fix or restore the file; 'suite check' lists all such jobs)")
    why += (" (a filter cannot tell whether such a job matches; in Python, "
            "find_jobs(filter, skip_unreadable=True) leaves them out)")
    return CorruptStatepointError(path, why, first, list(ids[1:]))


def unreadable_reasons(project):
    """``{job id: why}`` of the jobs whose state point cannot be read, as of the project's
    last query (what ``find_jobs(filter, skip_unreadable=True)`` left out), sorted by id."""
    index = project.index
    problems = index.problems
    return {i: problems.get(i, "its state point cannot be read") for i in index.unreadable()}
