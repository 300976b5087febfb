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

from .base import ArchiveError

NAME = "suite-manifest.json"
VERSION = 1


def build(schema, constant, jobs):
    import suite

    return {"format": "suite-archive", "version": VERSION, "suite_version": suite.__version__,
            "schema": schema, "constant": constant, "jobs": jobs}


def dumps(manifest):
    """Readable and fast: one line per job (json's C encoder does not indent)."""
    head = {k: v for k, v in manifest.items() if k != "jobs"}
    lines = [json.dumps(head)[:-1] + ', "jobs": [']
    jobs = [json.dumps(job) for job in manifest["jobs"]]
    lines.append(",\n".join(jobs))
    lines.append("]}\n")
    return "\n".join(lines).encode()


def loads(data, origin):
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise ArchiveError(f"{origin}: {NAME} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "suite-archive":
        raise ArchiveError(f"{origin}: {NAME} is not a suite archive manifest")
    if manifest.get("version", 0) > VERSION:
        raise ArchiveError(f"{origin}: manifest version {manifest['version']} is newer than "
                           "this suite understands; upgrade suite")
    jobs = manifest.get("jobs")
    if not isinstance(jobs, list) or not all(
        isinstance(j, dict) and isinstance(j.get("path"), str) and isinstance(j.get("files"), dict)
        and isinstance(j.get("statepoint"), dict) for j in jobs
    ):
        raise ArchiveError(f"{origin}: {NAME} has a malformed job list")
    return manifest


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
