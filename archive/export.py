"""Export jobs to an archive laid out by a path schema."""

import os
import shutil
import stat
from dataclasses import dataclass, field

from suite import jobfiles, layout
from suite.errors import DestinationExistsError
from suite.pathschema import PathSchema

from . import manifest as mf
from .base import ArchiveError, format_from_target, open_writer


@dataclass
class ExportResult:
    """What an export wrote."""

    target: str
    format: str
    schema: str
    jobs: int
    files: int
    bytes: int
    #: left out by the link policy (:mod:`suite.jobfiles`): {"job", "path", "reason"}
    skipped: list = field(default_factory=list)

    def to_json(self):
        return dict(self.__dict__)


def export_jobs(project, target, jobs=None, *, schema=None, format=None, level=None, move=False,
                force=False, progress=None):
    """Export ``jobs`` (default: all) of ``project`` to ``target``.

    The format comes from ``format`` or the target's ending (none: a directory). ``schema`` is a
    path schema (default: ``PathSchema.auto`` over the exported jobs). The archive is written
    under a temporary name beside ``target`` and renamed when complete; an existing target is
    refused unless ``force``. ``move`` removes the exported jobs afterwards. ``progress`` is
    called as ``progress(jobs_done, jobs_total, bytes_done)``.

    Links that stay inside their job are written as links; links that leave it (absolute,
    dangling, or resolving outside), fifos, sockets, devices and unreadable files are left
    out and listed in ``ExportResult.skipped``; with ``move`` such jobs are kept.
    Raises :class:`ArchiveError` (a job or its state point missing, a schema putting a job at
    the manifest) and :class:`DestinationExistsError` (``target`` exists, no ``force``).
    """
    target = os.path.abspath(os.fspath(target))
    fmt = format_from_target(target, format)
    if jobs is None:
        jobs = list(project)
    else:
        jobs = [j if hasattr(j, "id") else project.open_job(id=j) for j in jobs]
    sps = {j.id: j.sp() for j in jobs}
    schema_obj = PathSchema.parse(schema) if schema else PathSchema.auto(sps)
    paths = schema_obj.check(sps.items())  # refuses collisions before anything is written
    if any(p == mf.NAME or p.startswith(mf.NAME + "/") for p in paths.values()):
        raise ArchiveError(f"schema {schema_obj} would put a job at {mf.NAME}")
    if os.path.lexists(target) and not force:
        raise DestinationExistsError(f"{target} exists; pass --force to replace it")
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(target)}.suite-tmp-{os.getpid()}")
    if os.path.lexists(tmp):
        _remove(tmp)
    writer = open_writer(fmt, tmp, level)
    entries, n_files, n_bytes, skipped = [], 0, 0, []
    try:
        # parent directories of job paths are implied by their members (every reader creates
        # them); only directories inside jobs are written, so empty ones survive
        for done, job in enumerate(sorted(jobs, key=lambda j: paths[j.id]), 1):
            path = paths[job.id]
            files, links, size = _add_job(writer, job, path, skipped)
            n_files += len(files)
            n_bytes += size
            entries.append({"id": job.id, "path": path, "statepoint": sps[job.id],
                            "files": files, **({"links": links} if links else {})})
            if progress is not None:
                progress(done, len(jobs), n_bytes)
        constant = mf.constant_keys(sps.values(), schema_obj.fields)
        writer.add_bytes(mf.NAME, mf.dumps(mf.build(str(schema_obj), constant, entries)))
        writer.close()
    except BaseException:
        writer.abort()
        raise
    if os.path.lexists(target):
        _replace(tmp, target)
    else:
        os.rename(tmp, target)
    if move:
        kept = {s["job"] for s in skipped}  # what was not exported must not be deleted
        for job in jobs:
            if job.id not in kept:
                job.remove()
    return ExportResult(target, fmt, str(schema_obj), len(jobs), n_files, n_bytes, skipped)


# files up to this size are read whole with one system call and handed to writers that take
# bytes (``add_data``): one open, one fstat, one read per file, and the hash is taken from the
# same bytes that are written
SMALL = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | \
    getattr(os, "O_NONBLOCK", 0)  # a fifo that appears in a race is refused, never waited on


def _add_job(writer, job, path, skipped):
    """Write one job directory; return (files manifest, links, bytes); what is left out goes
    to ``skipped``."""
    root = job.path
    if not os.path.isdir(root):
        raise ArchiveError(f"job {job.id}: {root} does not exist")
    files, links, left_out = {}, {}, {}
    add_data = getattr(writer, "add_data", None)
    total = _add_tree(writer, add_data, job, root, root, path + "/", "", files, links, left_out)
    skipped.extend({"job": job.id, "path": rel, "reason": reason}
                   for rel, reason in sorted(left_out.items()))
    if layout.STATEPOINT not in files:
        raise ArchiveError(f"job {job.id}: {layout.STATEPOINT} is missing; run 'suite check'")
    return files, links, total


def _add_tree(writer, add_data, job, root, dirpath, prefix, rel, files, links, skipped):
    """Write the directory ``dirpath`` (``rel`` inside the job, ``prefix`` + ``rel`` in the
    archive) in the order of a sorted top-down walk: its subdirectories' entries, its files and
    links, then each subdirectory; links to directories are links, not directories. What the
    link policy leaves out goes to ``skipped[rel] = reason``."""
    try:
        with os.scandir(dirpath) as it:
            entries = sorted(it, key=_name)
    except PermissionError:
        skipped[rel.rstrip("/")] = jobfiles.UNREADABLE
        return 0
    subdirs, total = [], 0
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            subdirs.append(entry)
            st = entry.stat(follow_symlinks=False)
            writer.add_dir(f"{prefix}{rel}{entry.name}", st.st_mode & 0o7777, st.st_mtime)
    for entry in entries:
        name = entry.name
        member = f"{prefix}{rel}{name}"
        if layout.is_temp(name):
            continue  # a write in progress (or the leftover of a killed one): not the job's
        if entry.is_file(follow_symlinks=False):
            if add_data is None:
                st = entry.stat(follow_symlinks=False)
                if not jobfiles.readable(entry.path, st):
                    skipped[rel + name] = jobfiles.UNREADABLE
                    continue
                digest = writer.add_file(member, entry.path, st.st_size, st.st_mode, st.st_mtime)
                size = st.st_size
            else:
                try:
                    size, digest = _add_regular(writer, add_data, job, entry.path, member)
                except PermissionError:
                    skipped[rel + name] = jobfiles.UNREADABLE
                    continue
            files[rel + name] = {"size": size, "sha256": digest}
            total += size
        elif entry.is_symlink():
            target = jobfiles.carried_target(entry.path, root, os.path.realpath(root))
            if target is None:
                skipped[rel + name] = jobfiles.LINK_LEAVES
                continue
            writer.add_symlink(member, target, entry.stat(follow_symlinks=False).st_mtime)
            links[rel + name] = target
        elif not entry.is_dir(follow_symlinks=False):
            skipped[rel + name] = jobfiles.SPECIAL
    for entry in subdirs:
        total += _add_tree(writer, add_data, job, root, entry.path, prefix,
                           f"{rel}{entry.name}/", files, links, skipped)
    return total


def _not_exportable(job, path):
    return ArchiveError(f"job {job.id}: {path} is not a regular file, directory or link "
                        "(devices and fifos cannot be exported)")


def _name(entry):
    return entry.name


def _add_regular(writer, add_data, job, full, member):
    """Add the regular file ``full``; return (size, sha256). Small files are read whole."""
    fd = os.open(full, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_exportable(job, full)
        size = st.st_size
        if size <= SMALL:
            data = os.read(fd, size + 1)
            if len(data) != size:
                data = _read_rest(fd, data, size, full)
    finally:
        os.close(fd)
    if size > SMALL:
        return size, writer.add_file(member, full, size, st.st_mode, st.st_mtime)
    return size, add_data(member, data, st.st_mode, st.st_mtime)


def _read_rest(fd, data, size, full):
    """Finish a short read; refuse a file that changed size since its fstat."""
    parts, have = [data], len(data)
    while data and have <= size:
        data = os.read(fd, size + 1 - have)
        parts.append(data)
        have += len(data)
    if have > size:
        raise ArchiveError(f"{full} grew while it was being exported; export again")
    if have < size:
        raise ArchiveError(f"{full} shrank while it was being exported; export again")
    return b"".join(parts)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _replace(tmp, target):
    """Put ``tmp`` where ``target`` is (--force); files are replaced atomically."""
    if os.path.isdir(target) and not os.path.islink(target):
        trash = f"{target}.suite-old-{os.getpid()}"
        os.rename(target, trash)
        os.rename(tmp, target)
        shutil.rmtree(trash)
    elif os.path.isdir(tmp):
        os.unlink(target)
        os.rename(tmp, target)
    else:
        os.replace(tmp, target)
