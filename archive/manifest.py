"""The archive manifest: ``suite-manifest.json`` at the archive root, human-readable JSON.

Written last (so export streams in one pass) and read first where the format allows random
access (directory, zip); from a tar stream it is read when reached. Layout::

    {"format": "suite-archive", "version": 1, "suite_version": "...",
     "schema": "T_<T>/<model>", "constant": {"L": 32},
     "jobs": [{"id": "...", "path": "T_1.0/ising", "statepoint": {...},
               "files": {"signac_statepoint.json": {"size": 23, "sha256": "..."}, ...},
               "links": {"latest": "out/run3.h5"}}]}
"""

import json
from json.encoder import encode_basestring_ascii as _string  # a str as JSON (ensure_ascii)

from suite import native
from suite.jsonio import encoder
from suite.statepoint import texts

from .base import ArchiveError

#: the manifest read in suite's own layout without a Python object per entry (None: not
#: built, or SUITE_PURE_PYTHON)
_importjobs = native.load("archive._importjobs")

NAME = "suite-manifest.json"
VERSION = 1


def build(schema, constant, jobs):
    import suite

    return {"format": "suite-archive", "version": VERSION, "suite_version": suite.__version__,
            "schema": schema, "constant": constant, "jobs": jobs}


def dumps(manifest):
    """The manifest as bytes: readable, one line per job (json's C encoder does not indent);
    the same bytes as :func:`dumps_lines` of each job's :func:`job_line`."""
    lines = [job_line(e["id"], e["path"], e["statepoint"], encode(e["files"]), e.get("links"),
                      e.get("dirs")) for e in manifest["jobs"]]
    return _joined(manifest, lines)


def dumps_lines(schema, constant, lines):
    """The manifest of :func:`build` with the job entries ``lines`` (JSON texts,
    :func:`job_line`), as bytes."""
    return _joined(build(schema, constant, None), lines)


def _joined(manifest, lines):
    head = encode({k: v for k, v in manifest.items() if k != "jobs"})
    jobs = ",\n".join(lines)
    return f'{head[:-1]}, "jobs": [\n{jobs}\n]}}\n'.encode()


def job_line(job_id, path, statepoint, files_text, links=None, dirs=None):
    """One job's manifest entry as JSON text: ``encode`` of ``{"id", "path", "statepoint",
    "files", "links", "dirs"}`` (the last two only when not empty) with the files already
    encoded (``files_text``: the native export loop writes it, :func:`encode` for a dict)."""
    return job_line_text(job_id, path, encode(statepoint), files_text, links, dirs)


def job_line_text(job_id, path, statepoint_text, files_text, links=None, dirs=None):
    """:func:`job_line` with the state point already encoded (``statepoint_text``:
    ``encode(statepoint)``, as :func:`statepoint_texts` gives it)."""
    text = (f'{{"id": {_string(job_id)}, "path": {_string(path)}, '
            f'"statepoint": {statepoint_text}, "files": {files_text}')
    if links:
        text += f', "links": {encode(links)}'
    if dirs:
        text += f', "dirs": {encode(dirs)}'
    return text + "}"


def statepoint_texts(statepoints):
    """``encode(sp)`` for each of the list ``statepoints``: in one native call for the plain
    ones (:func:`suite.statepoint.texts`, the same text), json's encoder for the others.
    Raises what ``encode`` raises."""
    out = texts(statepoints)
    for i, text in enumerate(out):
        if text is None:
            out[i] = encode(statepoints[i])
    return out


#: ``json.dumps(value)`` (default options), made once; no cycle check: manifest values come
#: from JSON files and plain state points
encode = encoder(check_circular=False)


def loads(data, origin):
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise ArchiveError(f"{origin}: {NAME} is not valid JSON ({exc}); the archive is damaged "
                           "(without that file it imports by its state point files)") from None
    _check_head(manifest, origin)
    jobs = manifest.get("jobs")
    if not isinstance(jobs, list):
        raise ArchiveError(f"{origin}: {NAME} has no job list; the archive is damaged")
    for i, job in enumerate(jobs):
        if not _well_formed(job):
            shown = job.get("path") if isinstance(job, dict) else None
            raise ArchiveError(f"{origin}: {NAME}: job entry {i + 1} ({shown!r}) is malformed "
                               "(id, path, statepoint, files with size and sha256); the "
                               "archive is damaged")
    return manifest


def _check_head(manifest, origin):
    if not isinstance(manifest, dict) or manifest.get("format") != "suite-archive":
        raise ArchiveError(f"{origin}: {NAME} is not a suite archive manifest")
    if manifest.get("version", 0) > VERSION:
        raise ArchiveError(f"{origin}: manifest version {manifest['version']} is newer than "
                           "this suite understands; upgrade suite")


class Text:
    """A manifest kept as its bytes: one in the layout :func:`dumps` writes, recognised
    whole by the native parser (so valid JSON, every job entry well formed) and its head
    checked. The import checks its jobs on the text
    (``archive._importjobs.check_manifest_text``); :meth:`load` gives :func:`loads`'s dict."""

    def __init__(self, data, origin, count, jobs=None):
        self.data, self.origin, self.count = data, origin, count
        self.jobs = jobs  # the entries as the native parser read them (None: read again)

    def load(self):
        return loads(self.data, self.origin)


def read(data, origin):
    """The manifest ``data``: a :class:`Text` where the native parser recognises suite's
    own layout, else :func:`loads`'s dict. Raises :class:`ArchiveError` as :func:`loads`
    (the reference) does, for the same manifests."""
    parsed = _importjobs.parse_manifest(data) if _importjobs is not None else None
    if parsed is not None:
        head_end, count, jobs = parsed
        head = data[:head_end]
        if not head.rstrip().endswith(b"{"):  # '{, "jobs": ...' is no JSON
            try:
                head = json.loads(head + b"}")
            except ValueError:
                head = None
            if isinstance(head, dict):
                _check_head(head, origin)
                return Text(data, origin, count, jobs)
    return loads(data, origin)


def _well_formed(job):
    # a plain loop: a generator per job cost half of this check at 10,000 jobs
    if not (isinstance(job, dict) and isinstance(job.get("id"), str)
            and isinstance(job.get("path"), str) and isinstance(job.get("statepoint"), dict)
            and isinstance(job.get("files"), dict) and isinstance(job.get("links", {}), dict)):
        return False
    for info in job["files"].values():
        if not (isinstance(info, dict) and isinstance(info.get("size"), int)
                and isinstance(info.get("sha256"), str)):
            return False
    return True


def constant_keys(statepoints, schema_fields):
    """Top-level state point keys with one value in all jobs and not used by the schema."""
    used = {f.split(".")[0] for f in schema_fields}
    values = None
    for sp in statepoints:
        if values is None:
            values = {k: json.dumps(v, sort_keys=True) for k, v in sp.items() if k not in used}
            first = sp
        else:  # only the keys still constant are compared (usually none after a few jobs)
            values = {k: v for k, v in values.items()
                      if k in sp and json.dumps(sp[k], sort_keys=True) == v}
        if not values:
            return {}
    return {k: first[k] for k in sorted(values or {})}
