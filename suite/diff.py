"""What differs between jobs: state point (or document) keys and files.

Values are compared strictly as JSON: ``1``, ``1.0``, ``"1"`` and ``true`` all differ (they are
different jobs). Nested dicts become dotted keys; lists and empty dicts are compared whole.
When two differing values are lists or dicts, deepdiff describes what changed inside them
(imported only then: it takes most of a second to import, and ``suite diff`` must be quick).
"""

import hashlib
import json
import os
from dataclasses import dataclass, field

from . import layout
from .errors import CorruptFileError
from .jsonio import open_read_quietly
from .query import MISSING
from .statepoint import same


def flatten(data, prefix=""):
    """``{dotted key: value}`` with non-empty dicts expanded."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, prefix + key + "."))
        else:
            out[prefix + key] = value
    return out


def unflatten(flat):
    """The inverse of :func:`flatten`: ``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out = {}
    for key, value in flat.items():
        *parents, last = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def show(value):
    """A value as JSON, so types are visible; a missing key as ``(missing)``."""
    if value is MISSING:
        return "(missing)"
    return json.dumps(value, sort_keys=True)


@dataclass
class JobsDiff:
    """Keys whose values are not the same for all jobs, and those values per job."""

    ids: list
    keys: list
    values: dict  # job id -> {key: value, or MISSING}
    document: bool = False
    details: dict = field(default_factory=dict)  # key -> deepdiff description (nested values)
    skipped: dict = field(default_factory=dict)  # job id -> why its document was not compared

    @property
    def empty(self):
        return not self.keys

    def to_json(self):
        return {
            "source": "document" if self.document else "statepoint",
            "keys": self.keys,
            "jobs": {i: {k: (None if v is MISSING else v) for k, v in self.values[i].items()}
                     for i in self.ids},
            "missing": {i: [k for k, v in self.values[i].items() if v is MISSING]
                        for i in self.ids},
            "details": self.details,
            "skipped": self.skipped,
        }

    def format(self, color=False):
        """An aligned table: one row per job, one column per differing key."""
        text = self._table(color)
        notes = [f"skipped {i}: {msg}" for i, msg in self.skipped.items()]
        return "\n".join([text] + notes)

    def _table(self, color):
        if not self.ids:
            return "no jobs"
        if self.empty:
            return f"the {'documents' if self.document else 'state points'} of these " \
                   f"{len(self.ids)} jobs are identical"
        header = ["job"] + self.keys
        rows = [[i[:8]] + [show(self.values[i][k]) for k in self.keys] for i in self.ids]
        widths = [max(len(r[c]) for r in [header] + rows) for c in range(len(header))]
        lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
        first = rows[0]
        for row in rows:
            cells = []
            for c, (cell, w) in enumerate(zip(row, widths, strict=True)):
                text = cell.ljust(w)
                if color and c and cell != first[c]:
                    import click

                    text = click.style(text, fg="yellow", bold=True)
                cells.append(text)
            lines.append("  ".join(cells).rstrip())
        for key, text in self.details.items():
            lines.append(f"{key}: {text}")
        return "\n".join(lines)


def diff_jobs(*jobs):
    """signac's ``diff_jobs``: ``{job id: {key: value}}`` holding, for each job, the state point
    entries not shared by all ``jobs``, nested as in the state point.

    Values compare strictly (``1`` and ``1.0`` differ, as their jobs do; signac takes them as
    equal) and lists stay lists (signac returns tuples). :func:`compare_jobs` says more.
    """
    flat = {j.id: flatten(j.sp()) for j in jobs}
    if not flat:
        return {}
    first = next(iter(flat.values()))
    shared = {k for k, v in first.items()
              if all(k in other and same(v, other[k]) for other in flat.values())}
    return {job_id: unflatten({k: v for k, v in items.items() if k not in shared})
            for job_id, items in flat.items()}


def compare_jobs(*jobs, document=False):
    """Compare the state points (or documents) of ``jobs``; return a :class:`JobsDiff` (what
    ``suite diff`` prints).

    A document that cannot be read (corrupt, nested too deeply) is left out and named in
    ``skipped``; a state point that cannot be read raises."""
    data, skipped = {}, {}
    for j in jobs:
        try:
            data[j.id] = flatten(j.doc() if document else j.sp())
        except CorruptFileError as exc:
            if not document:
                raise
            skipped[j.id] = str(exc)
    ids = list(data)
    keys = sorted({k for d in data.values() for k in d})
    differing = []
    for key in keys:
        vals = [data[i].get(key, MISSING) for i in ids]
        if any(v is MISSING for v in vals) or not all(same(vals[0], v) for v in vals[1:]):
            differing.append(key)
    values = {i: {k: data[i].get(k, MISSING) for k in differing} for i in ids}
    details = {}
    for key in differing:
        vals = [values[i][key] for i in ids]
        nested = [v for v in vals if isinstance(v, (list, dict))]
        if len(nested) >= 2:
            details[key] = _describe(nested[0], nested[1])
    return JobsDiff(ids, differing, values, document, details, skipped)


def _describe(a, b):
    from deepdiff import DeepDiff

    found = DeepDiff(a, b, verbose_level=2)
    return json.dumps(json.loads(found.to_json()), sort_keys=True) if found else "same"


@dataclass
class FilesDiff:
    """Files present in one job only, or with different content; links inside a job compare
    by their target text; what the link policy skips is listed, never opened."""

    first: str
    second: str
    only_first: list
    only_second: list
    different: list
    #: {"job", "path", "reason"}: links that leave the job, fifos, unreadable files
    skipped: list = field(default_factory=list)

    @property
    def empty(self):
        return not (self.only_first or self.only_second or self.different)

    def to_json(self):
        return dict(self.__dict__)

    def format(self):
        lines = [f"- {p}  (only in {self.first[:8]})" for p in self.only_first]
        lines += [f"+ {p}  (only in {self.second[:8]})" for p in self.only_second]
        lines += [f"~ {p}  (content differs)" for p in self.different]
        lines += [f"? {s['path']}  (not compared, {s['reason']} in {s['job'][:8]})"
                  for s in self.skipped]
        return "\n".join(lines) if lines else "the jobs hold the same files"


def diff_files(job1, job2):
    """Compare the files of two jobs by name and content (links by their target); paths
    skipped in either job (:mod:`suite.jobfiles`) are listed in ``skipped``, not compared."""
    skipped = []
    a, b = _files(job1, skipped), _files(job2, skipped)
    held = {s["path"] for s in skipped}
    a = {p: v for p, v in a.items() if p not in held}
    b = {p: v for p, v in b.items() if p not in held}
    different = [p for p in sorted(set(a) & set(b)) if not _same_file(a[p], b[p])]
    return FilesDiff(job1.id, job2.id, sorted(set(a) - set(b)), sorted(set(b) - set(a)),
                     different, skipped)


def _files(job, skipped):
    """``{rel: (path, lstat, link target or None)}`` of a job's files and inside links."""
    from . import jobfiles

    out, left_out = {}, {}
    root = job.path
    for rel, entry, target in jobfiles.walk(root, left_out):
        st = entry.stat(follow_symlinks=False)
        path = os.path.join(root, rel)
        if target is None and not jobfiles.readable(path, st):
            left_out[rel] = jobfiles.UNREADABLE
        else:
            out[rel] = (path, st, target)
    skipped.extend({"job": job.id, "path": rel, "reason": reason}
                   for rel, reason in sorted(left_out.items()))
    return out


def _same_file(p, q):
    if p[2] is not None or q[2] is not None:
        return p[2] == q[2]  # both links with the same target
    if p[1].st_size != q[1].st_size:
        return False
    return _digest(p[0]) == _digest(q[0])


def _digest(path):
    h = hashlib.sha256()
    with open_read_quietly(path) as f:  # read to compare: its access time stays
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ProjectsDiff:
    """What differs between two projects: jobs on one side only, documents and files."""

    here: str
    there: str
    only_here: list
    only_there: list
    documents: dict  # id -> JobsDiff of the two documents
    files: dict  # id -> FilesDiff
    skipped: dict = field(default_factory=dict)  # id -> why its documents were not compared
    #: paths not compared in any compared job (each job's FilesDiff.skipped, all together)
    skipped_files: list = field(default_factory=list)

    @property
    def empty(self):
        return not (self.only_here or self.only_there or self.documents or self.files
                    or self.skipped)

    def to_json(self):
        return {"here": self.here, "there": self.there, "only_here": self.only_here,
                "only_there": self.only_there,
                "documents": {i: d.to_json() for i, d in self.documents.items()},
                "files": {i: d.to_json() for i, d in self.files.items()},
                "skipped": self.skipped, "skipped_files": self.skipped_files}

    def format(self):
        if self.empty:
            return f"{self.here} and {self.there} hold the same jobs, documents and files"
        lines = [f"only in {self.here}: {i}" for i in self.only_here]
        lines += [f"only in {self.there}: {i}" for i in self.only_there]
        for i, d in self.documents.items():
            lines.append(f"document of {i} differs in: {', '.join(d.keys)}")
        for i, d in self.files.items():
            lines.append(f"files of {i}:")
            lines.extend("  " + line for line in d.format().splitlines())
        lines += [f"documents of {i} not compared: {msg}" for i, msg in self.skipped.items()]
        return "\n".join(lines)


def diff_projects(here, there, ids=None):
    """Compare two local projects (``ids`` limits the comparison to those jobs)."""
    a = set(here.index.ids()) if ids is None else {i for i in ids if i in here}
    b = set(there.index.ids()) if ids is None else {i for i in ids if i in there}
    documents, files, skipped, skipped_files = {}, {}, {}, []
    da, db = here.index.documents(sorted(a & b)), there.index.documents(sorted(a & b))
    problems = {**there.index.problems, **here.index.problems}  # a new dict per access: once
    for job_id in sorted(a & b):
        bad = problems.get(job_id)
        if bad:
            skipped[job_id] = bad  # an unreadable document would compare as empty
        elif not same(da.get(job_id, {}), db.get(job_id, {})):
            documents[job_id] = compare_jobs(_Doc(job_id, da.get(job_id, {})),
                                             _Doc(job_id + " ", db.get(job_id, {})),
                                             document=True)
        fd = diff_files(here.open_job(id=job_id), there.open_job(id=job_id))
        fd.different = [p for p in fd.different if p != layout.DOCUMENT]
        skipped_files.extend(fd.skipped)
        if not fd.empty:
            files[job_id] = fd
    return ProjectsDiff(here.path, there.path, sorted(a - b), sorted(b - a), documents, files,
                        skipped, skipped_files)


class _Doc:
    """A stand-in job for comparing two documents of the same job id."""

    def __init__(self, job_id, doc):
        self.id = job_id
        self._doc = doc

    def doc(self):
        return self._doc
