"""Aggregators: how an operation on several jobs at once groups the jobs.

``aggregator.all()`` (every selected job in one aggregate), ``aggregator.groupsof(n)`` and
``aggregator.groupby(key)`` (a state point key, or ``doc.key``); each accepts ``sort_by`` (a
key) and ``select`` (a function of the job) applied first. Without an aggregator an operation
runs on one job at a time.
"""

from suite.query import MISSING, resolve


class Aggregator:
    def __init__(self, kind, arg=None, sort_by=None, select=None):
        self.kind, self.arg, self.sort_by, self.select = kind, arg, sort_by, select

    def __call__(self, jobs, docs):
        jobs = [j for j in jobs if self.select is None or self.select(j)]
        if self.sort_by is not None:
            jobs.sort(key=lambda j: _sortable(_value(j, self.sort_by, docs)))
        if self.kind == "all":
            return [tuple(jobs)] if jobs else []
        if self.kind == "groupsof":
            return [tuple(jobs[i:i + self.arg]) for i in range(0, len(jobs), self.arg)]
        groups = {}
        for job in jobs:
            groups.setdefault(_sortable(_value(job, self.arg, docs)), []).append(job)
        return [tuple(groups[k]) for k in sorted(groups)]


def _value(job, key, docs):
    if key.startswith("doc."):
        value = resolve(docs.get(job.id, {}), tuple(key[4:].split(".")))
    else:
        value = resolve(job.sp(), tuple(key.removeprefix("sp.").split(".")))
    return None if value is MISSING else value


def _sortable(value):
    import json

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value, "")
    return (2, 0, json.dumps(value, sort_keys=True))


class aggregator:  # noqa: N801 - the name signac-flow users write
    """Constructors of aggregators (``aggregator.groupsof(4)``)."""

    @staticmethod
    def all(sort_by=None, select=None):
        return Aggregator("all", None, sort_by, select)

    @staticmethod
    def groupsof(n, sort_by=None, select=None):
        if not isinstance(n, int) or n < 1:
            raise ValueError("groupsof needs a positive number of jobs")
        return Aggregator("groupsof", n, sort_by, select)

    @staticmethod
    def groupby(key, sort_by=None, select=None):
        return Aggregator("groupby", key, sort_by, select)
