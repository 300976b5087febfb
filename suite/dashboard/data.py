"""What the pages show, computed from the project's index: the overview (schema with counts)
and pages of the jobs table (search, sort, group).

State points are fixed by their job id, so the state points read once are kept for the life of
the server and only those of new jobs are read; a page of the table reads the documents of its
own rows only, unless a document key is sorted or grouped by.
"""

import json
import threading

from suite.diff import flatten
from suite.query import MISSING, resolve

#: distinct values listed per schema key on the overview
VALUES_SHOWN = 30
#: columns chosen by default (varying state point keys, fewest distinct values first)
DEFAULT_COLUMNS = 8


class ProjectData:
    """Pages' data of the project at ``path``. Safe to share between request threads: each
    thread has its own :class:`suite.Project` (an index connection belongs to one thread)."""

    def __init__(self, path):
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._ids = ()
        self._sps = {}
        self._overview = None

    @property
    def project(self):
        proj = getattr(self._local, "project", None)
        if proj is None:
            from suite.project import get_project

            proj = self._local.project = get_project(self.path)
        return proj

    def statepoints(self):
        """``(ids, {id: state point})`` of all jobs, sorted ids; known ones are not re-read."""
        ids = tuple(self.project.index.ids())
        with self._lock:
            if ids != self._ids:
                new = [i for i in ids if i not in self._sps]
                if len(new) > len(self._sps):
                    fresh = self.project.index.statepoints()
                else:
                    fresh = self.project.index.statepoints(new)
                self._sps.update(fresh)
                if len(self._sps) > len(ids):
                    keep = set(ids)
                    self._sps = {i: sp for i, sp in self._sps.items() if i in keep}
                self._ids, self._overview = ids, None
            return self._ids, self._sps

    def overview(self):
        """``{"count": n, "schema": [(key, [(value text, count)], more)]}``: every state point
        key with its values (most frequent first, VALUES_SHOWN of them) and how many more."""
        ids, sps = self.statepoints()
        with self._lock:
            if self._overview is not None and self._overview[0] is ids:
                return self._overview[1]
        counts = {}
        for sp in sps.values():
            for key, value in flatten(sp).items():
                text = _text(value)
                per_key = counts.get(key)
                if per_key is None:
                    per_key = counts[key] = {}
                per_key[text] = per_key.get(text, 0) + 1
        schema = []
        for key in sorted(counts):
            values = sorted(counts[key].items(), key=lambda kv: (-kv[1], kv[0]))
            schema.append((key, values[:VALUES_SHOWN], len(values) - VALUES_SHOWN,
                           len(values), sum(counts[key].values())))
        result = {"count": len(ids), "schema": schema}
        with self._lock:
            self._overview = (ids, result)
        return result

    def default_columns(self):
        """State point keys that differ between jobs, fewest distinct values first."""
        info = self.overview()
        varying = [(distinct, key) for key, _, _, distinct, present in info["schema"]
                   if distinct > 1 or present < info["count"]]
        return [key for _, key in sorted(varying)[:DEFAULT_COLUMNS]]

    def jobs_page(self, filter=None, page=1, per_page=50, sort=None, descending=False,
                  columns=None, group=None):
        """One page of the jobs table.

        ``filter`` is a filter as ``suite find`` takes it (already parsed); ``sort`` and
        ``group`` are dotted state point keys or ``doc.`` keys; ``columns`` likewise (default:
        :meth:`default_columns`). Returns a dict with ``total``, ``pages``, ``page``,
        ``columns`` and ``rows`` (``{"id", "group", "cells"}``).

        Raises
        ------
        FilterError
            The filter is not valid.
        """
        all_ids, sps = self.statepoints()
        ids = self.project.find_jobs(filter).ids() if filter else list(all_ids)
        columns = list(columns) if columns else self.default_columns()
        order = [k for k in (group, sort) if k]
        docs = {}
        if any(k.startswith("doc.") for k in order):
            docs = self.project.index.documents(ids)
        for key in reversed(order):  # stable sorts: the group key ends up first
            ids = _sorted_by(ids, lambda i, k=key: _value(k, sps.get(i, {}), docs.get(i, {})),
                             descending and key == sort)
        total = len(ids)
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        shown = ids[(page - 1) * per_page: page * per_page]
        need_doc = any(c.startswith("doc.") for c in columns) or (group or "").startswith("doc.")
        rows = []
        for job_id in shown:
            doc = docs.get(job_id)
            if doc is None and need_doc:
                doc = self._document(job_id)
            sp = sps.get(job_id, {})
            cells = [_cell(_value(c, sp, doc or {})) for c in columns]
            rows.append({"id": job_id, "cells": cells,
                         "group": _cell(_value(group, sp, doc or {})) if group else None})
        return {"total": total, "pages": pages, "page": page, "columns": columns, "rows": rows}

    def _document(self, job_id):
        from suite.errors import SuiteError

        try:
            return self.project.open_job(id=job_id).doc()
        except SuiteError:  # corrupt: the job page says why
            return {}


def _value(key, sp, doc):
    if key.startswith("doc."):
        return resolve(doc, tuple(key[4:].split(".")))
    return resolve(sp, tuple(key.split(".")))


def _rank(value):
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, json.dumps(value, sort_keys=True))


def _sorted_by(ids, value_of, descending):
    """``ids`` sorted by their values; jobs without the key come last either way."""
    present, missing = [], []
    for i in ids:
        v = value_of(i)
        (missing.append(i) if v is MISSING else present.append((_rank(v), i)))
    present.sort(key=lambda p: p[0], reverse=descending)
    return [i for _, i in present] + missing


def _text(value):
    return json.dumps(value, sort_keys=True)


def _cell(value, limit=80):
    if value is MISSING:
        return ""
    text = value if isinstance(value, str) else _text(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
