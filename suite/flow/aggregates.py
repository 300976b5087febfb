"""Aggregators: how an operation on several jobs at once groups the jobs.

As in signac-flow: ``aggregator()`` (every selected job in one aggregate; or give a function of
the job list yielding tuples), ``aggregator.groupsof(n)`` and ``aggregator.groupby(key,
default=None)`` (a state point key, a list of keys, ``doc.key``, or a function of the job);
each accepts ``sort_by`` (a key or a function of the job), ``sort_ascending`` and ``select``
(a function of the job) applied first. ``aggregator.all()`` is ``aggregator()``. Without an
aggregator (or with ``groupsof(1)``) an operation runs on one job at a time.
"""

import hashlib

from suite.query import MISSING, resolve


class Aggregator:
    """A rule turning a list of jobs into aggregates (tuples of jobs)."""

    def __init__(self, kind, arg=None, sort_by=None, select=None, sort_ascending=True,
                 default=None):
        if sort_by is not None and not (isinstance(sort_by, str) or callable(sort_by)):
            raise TypeError(f"sort_by must be a key or a function of the job, not "
                            f"{type(sort_by).__name__}")
        if select is not None and not callable(select):
            raise TypeError(f"select must be a function of the job, not {type(select).__name__}")
        self.kind, self.arg, self.sort_by, self.select = kind, arg, sort_by, select
        self.sort_ascending, self.default = bool(sort_ascending), default

    @property
    def is_default(self):
        """True for ``groupsof(1)`` without sorting or selection: one job at a time."""
        return (self.kind == "groupsof" and self.arg == 1 and self.sort_by is None
                and self.select is None)

    # As signac-flow: every default aggregator (one job at a time) is the same aggregation;
    # any other equals itself only, since the functions it holds cannot be compared
    def __eq__(self, other):
        if not isinstance(other, Aggregator):
            return NotImplemented
        return self is other or (self.is_default and other.is_default)

    def __hash__(self):
        return hash("groupsof(1)") if self.is_default else object.__hash__(self)

    def __call__(self, jobs, docs=None):
        docs = docs or {}
        jobs = [j for j in jobs if self.select is None or self.select(j)]
        if self.sort_by is not None:
            key = self.sort_by if callable(self.sort_by) else \
                (lambda j: _sortable(_value(j, self.sort_by, docs)))
            jobs.sort(key=key, reverse=not self.sort_ascending)
        if self.kind == "all":
            return [tuple(jobs)] if jobs else []
        if self.kind == "custom":
            return [tuple(a) for a in self.arg(jobs) if a]
        if self.kind == "groupsof":
            return [tuple(jobs[i:i + self.arg]) for i in range(0, len(jobs), self.arg)]
        groups = {}
        for job in jobs:
            groups.setdefault(_sortable(self._group_key(job, docs)), []).append(job)
        return [tuple(groups[k]) for k in sorted(groups)]

    def _group_key(self, job, docs):
        if callable(self.arg):
            return self.arg(job)
        if isinstance(self.arg, str):
            return _value(job, self.arg, docs, self.default)
        defaults = self.default if self.default is not None else [None] * len(self.arg)
        return [_value(job, k, docs, d) for k, d in zip(self.arg, defaults, strict=True)]


def _value(job, key, docs, default=None):
    if key.startswith("doc."):
        value = resolve(docs.get(job.id) or job.doc(), tuple(key[4:].split(".")))
    else:
        value = resolve(job.sp(), tuple(key.removeprefix("sp.").split(".")))
    return default if value is MISSING else value


def _sortable(value):
    import json

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value, "")
    return (2, 0, json.dumps(value, sort_keys=True))


class aggregator:  # noqa: N801 - the name signac-flow users write
    """``aggregator(...)`` and its constructors (``aggregator.groupsof(4)``)."""

    def __new__(cls, aggregator_function=None, sort_by=None, sort_ascending=True,
                select=None):
        if aggregator_function is None:
            return Aggregator("all", None, sort_by, select, sort_ascending)
        if not callable(aggregator_function):
            raise TypeError("aggregator() takes a function of the job list yielding tuples "
                            f"of jobs, not {type(aggregator_function).__name__}")
        return Aggregator("custom", aggregator_function, sort_by, select, sort_ascending)

    @staticmethod
    def all(sort_by=None, select=None, sort_ascending=True):
        return Aggregator("all", None, sort_by, select, sort_ascending)

    @staticmethod
    def groupsof(num=1, sort_by=None, sort_ascending=True, select=None):
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise ValueError("groupsof needs a positive number of jobs")
        return Aggregator("groupsof", num, sort_by, select, sort_ascending)

    @staticmethod
    def groupby(key, default=None, sort_by=None, sort_ascending=True, select=None):
        if not (isinstance(key, (str, list, tuple)) or callable(key)):
            raise TypeError(f"groupby needs a key, a list of keys or a function of the job, "
                            f"not {type(key).__name__}")
        if isinstance(key, (list, tuple)):
            key = list(key)
            if default is not None and len(default) != len(key):
                raise ValueError(f"groupby: {len(key)} keys but {len(default)} defaults")
        return Aggregator("groupby", key, sort_by, select, sort_ascending, default)


def get_aggregate_id(jobs):
    """The id of an aggregate: a single job's id, else ``agg-`` and the MD5 of the ids joined
    by commas in order (as signac-flow computes it)."""
    jobs = tuple(jobs)
    if len(jobs) == 1:
        return jobs[0].id
    return "agg-" + hashlib.md5(",".join(j.id for j in jobs).encode()).hexdigest()
