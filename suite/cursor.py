"""The result of ``project.find_jobs()``: a re-evaluated, lazily loaded set of jobs."""

import itertools

from .job import Job
from .query import MISSING, compile_filter, resolve


class JobsCursor:
    """Jobs matching a filter. Iterating runs the query (through the index) each time."""

    def __init__(self, project, filter=None):
        self._project = project
        self._filter = filter
        self._tree = compile_filter(filter)

    @property
    def filter(self):
        return self._filter

    def ids(self):
        """The matching job ids, sorted."""
        return self._project.index.find(self._tree)

    def __iter__(self):
        project = self._project
        for job_id, sp in project.index.find_statepoints(self._tree):
            yield Job(project, id=job_id, _trusted_sp=sp)

    def __len__(self):
        return len(self.ids())

    def __contains__(self, job):
        job_id = job.id if isinstance(job, Job) else str(job)
        return job_id in set(self.ids())

    def __repr__(self):
        return f"JobsCursor({self._project.path!r}, filter={self._filter!r})"

    def groupby(self, key=None, default=None):
        """Group jobs by ``key``: a dotted state point key (``doc.`` for the document), a list
        of keys (groups keyed by tuples), or a callable of the job. Jobs lacking a key go in the
        ``default`` group, or are left out when ``default`` is None. Yields ``(value, [jobs])``
        sorted by value."""
        jobs = list(self)
        if key is None:
            yield None, jobs
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
        """A pandas DataFrame indexed by job id, one column per state point and document key."""
        try:
            import pandas
        except ImportError:
            raise ImportError("to_dataframe needs pandas: pip install 'suite[pandas]'") from None
        ids = self.ids()
        index = self._project.index
        sps, docs = index.statepoints(ids), index.documents(ids)
        rows = {}
        for job_id in ids:
            row = {}
            for prefix, data in ((sp_prefix, sps.get(job_id, {})), (doc_prefix, docs.get(job_id, {}))):
                items = _flat(data) if flatten else data.items()
                for k, v in items:
                    row[prefix + k] = v
            rows[job_id] = row
        df = pandas.DataFrame.from_dict(rows, orient="index")
        if usecols is not None:
            cols = [c for c in df.columns if (usecols(c) if callable(usecols) else c in usecols)]
            df = df[cols]
        return df

    def export_to(self, target, **kwargs):
        """Export these jobs; see :func:`archive.export_jobs`."""
        from archive import export_jobs

        return export_jobs(self._project, target, jobs=list(self), **kwargs)


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
