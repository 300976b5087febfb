"""Export jobs to an archive laid out by a path schema."""

import bisect
import operator
import os
import shutil
import stat
from dataclasses import dataclass, field
from itertools import repeat

from suite import jobfiles, layout
from suite.dirscan import listed, open_listing
from suite.errors import DestinationExistsError
from suite.job import jobs_of
from suite.jsonio import open_quietly
from suite.pathschema import PathSchema
from suite.process import gc_paused, pid_alive

from . import manifest as mf
from .base import ArchiveError, detect_format, format_from_target, open_writer


@dataclass
class ExportResult:
    """What an export wrote."""

    target: str
    format: str
    schema: str
    jobs: int
    files: int
    bytes: int
    warnings: list = field(default_factory=list)  # what the format could not hold exactly
    #: left out by the link policy (:mod:`suite.jobfiles`): {"job", "path", "reason"}
    skipped: list = field(default_factory=list)

    def to_json(self):
        return dict(self.__dict__)


# no cyclic collection while the job list, the schema and the loop make their many small
# objects (none in cycles): each collection walked every object made so far
@gc_paused()
def export_jobs(project, target, jobs=None, *, schema=None, format=None, level=None, move=False,
                force=False, progress=None):
    """Export ``jobs`` (default: all) of ``project`` to ``target``.

    The format comes from ``format`` or the target's ending (none: a directory). ``schema`` is a
    path schema (default: ``PathSchema.auto`` over the exported jobs). The archive is written
    under a temporary name beside ``target`` and renamed when complete; an existing target is
    refused unless ``force``. ``move`` removes the exported jobs afterwards, once the archive
    has been read back and verified. ``progress`` is called as
    ``progress(jobs_done, jobs_total, bytes_done)``.

    Exporting every job (``jobs`` None) refuses jobs whose state point is damaged; a selection
    that left such jobs out says so in ``ExportResult.warnings``.

    Links that stay inside their job are written as links; links that leave it (absolute,
    dangling, or resolving outside), fifos, sockets, devices and unreadable files are left
    out and listed in ``ExportResult.skipped``; with ``move`` such jobs are kept.

    Raises :class:`ArchiveError` for damaged jobs (every job), a job or its state point
    missing, a schema putting a job at the manifest, a target that is, contains or lies in the
    project's workspace (or would replace project files), files that cannot be exported and,
    with ``move``, an archive that does not verify (the jobs are then kept);
    :class:`DestinationExistsError` for an existing target without ``force``.
    """
    target = os.path.abspath(os.fspath(target))
    fmt = format_from_target(target, format)
    _refuse_project_target(project, target)
    every = jobs is None
    if every:
        # the index's ids and state points, as iterating the project takes them; the jobs
        # made from them share those dicts, read only here (a copy each cost 1.5 us a job)
        ids, sp_list = project.index.all_statepoints() \
            if project.find_jobs().workspace_ok() else ([], [])
        jobs = list(jobs_of(project, ids, sp_list))
        sps = dict(zip(ids, sp_list, strict=True))
    else:
        jobs = [j if hasattr(j, "id") else project.open_job(id=j) for j in jobs]
        ids = [j.id for j in jobs]
        # read only (never changed here): the jobs' own state points, not deep copies
        sps = dict(zip(ids, [dict(j.cached_statepoint) for j in jobs], strict=True))
    # jobs the index could not read (damaged state points) are in no query's result: an export
    # of every job refuses them, an export of a selection says they were not considered
    damaged = sorted(i for i in project.index.problems if i not in sps)
    if damaged and every:
        raise ArchiveError(
            f"{len(damaged)} job(s) have a damaged state point and cannot be exported: "
            f"{', '.join(damaged[:5])}; run 'suite check', repair or remove them, or select "
            "the other jobs with -f/-j")
    warnings = [f"{len(damaged)} job(s) with a damaged state point were not considered: "
                f"{', '.join(damaged[:5])} (run 'suite check')"] if damaged else []
    # both refuse collisions and paths that do not read back before anything is written
    if schema:
        schema_obj = PathSchema.parse(schema)
        paths = schema_obj.check(sps.items())
    else:
        schema_obj = PathSchema.auto(sps, verify=True)
        paths = schema_obj.paths
    # by path (a C key function: a Python one cost 0.4 us a job)
    order = sorted(zip([paths[i] for i in ids], ids, jobs, strict=True), key=_FIRST)
    if _at_manifest([path for path, _, _ in order]):
        raise ArchiveError(f"schema {schema_obj} would put a job at {mf.NAME}")
    if os.path.lexists(target) and not force:
        raise DestinationExistsError(f"{target} exists; pass --force to replace it")
    parent = os.path.dirname(target)
    try:
        os.makedirs(parent, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ArchiveError(f"cannot export to {target}: a part of {parent} is a file, not a "
                           "directory; choose another target") from None
    tmp = os.path.join(parent, f".{os.path.basename(target)}.suite-tmp-{os.getpid()}")
    _remove_stale_temps(parent, os.path.basename(target))
    writer = open_writer(fmt, tmp, level)
    lines, n_files, n_bytes, skipped = [], 0, 0, []
    job_line, job_trees = mf.job_line_text, getattr(writer, "job_trees", None)
    try:
        # the writer's native loop (tar) walks the jobs in this order, maybe ahead in a
        # thread; a job it declines (None) is written here by the Python walk, in its place
        natively = job_trees([job.path for _, _, job in order], [path for path, _, _ in order]) \
            if job_trees is not None else None
        natively = repeat(None, len(order)) if natively is None else natively
        # the manifest's state point texts in one call while the walker (if any) starts
        sp_texts = mf.statepoint_texts([sps[job_id] for _, job_id, _ in order])
        # parent directories of job paths are implied by their members (every reader creates
        # them); only directories inside jobs are written, so empty ones survive
        for done, ((path, job_id, job), packed, sp_text) in enumerate(
                zip(order, natively, sp_texts, strict=True), 1):
            try:
                files, count, links, dirs, size = packed or _add_job(writer, job, path, skipped)
            except UnicodeEncodeError as exc:  # tar and zip names are UTF-8
                raise ArchiveError(
                    f"job {job.id}: the name {exc.object!r} is not valid UTF-8, which {fmt} "
                    "archives need; rename the file (or export to a directory)") from None
            n_files += count
            n_bytes += size
            lines.append(job_line(job_id, path, sp_text, files, links, dirs))
            if progress is not None:
                progress(done, len(jobs), n_bytes)
        constant = mf.constant_keys(sps.values(), schema_obj.fields)
        writer.add_bytes(mf.NAME, mf.dumps_lines(str(schema_obj), constant, lines))
        writer.close()
    except BaseException:
        writer.abort()
        raise
    if move:
        _verify_before_move(tmp, target, jobs)
    if os.path.lexists(target):
        _replace(tmp, target)
    else:
        os.rename(tmp, target)
    if move:
        kept = {s["job"] for s in skipped}  # what was not exported must not be deleted
        for job in jobs:
            if job.id not in kept:
                job.remove()
    return ExportResult(target, fmt, str(schema_obj), len(jobs), n_files, n_bytes,
                        warnings + list(getattr(writer, "warnings", ())), skipped)


def _verify_before_move(tmp, target, jobs):
    """Read the written archive back before ``--move`` deletes anything; remove it (keeping
    any older ``target``) and raise if it does not hold every job intact."""
    from .importer import verify

    try:
        result = verify(tmp)
        problems = result.problems
        if not problems and result.jobs != len(jobs):
            problems = [f"it holds {result.jobs} jobs, not {len(jobs)}"]
    except ArchiveError as exc:
        problems = [str(exc)]
    if problems:
        _remove(tmp)
        raise ArchiveError(f"the archive written for {target} does not verify ({problems[0]}); "
                           "it was removed and the jobs were not removed (--move); export again")


# files up to this size are read whole with one system call and handed to writers that take
# bytes (``add_data``): one open, one fstat, one read per file, and the hash is taken from the
# same bytes that are written
SMALL = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | \
    getattr(os, "O_NONBLOCK", 0)  # a fifo that appears in a race is refused, never waited on


_FIRST = operator.itemgetter(0)


def _at_manifest(ordered):
    """True if a path of ``ordered`` (sorted) is the manifest's or lies under it: found by
    bisection, not a test per path."""
    at = bisect.bisect_left(ordered, mf.NAME)
    if at < len(ordered) and ordered[at] == mf.NAME:
        return True
    at = bisect.bisect_left(ordered, mf.NAME + "/")
    return at < len(ordered) and ordered[at].startswith(mf.NAME + "/")


def _add_job(writer, job, path, skipped):
    """Write one job directory by the Python walk (the reference of the writers' native
    loops); return (the manifest's files as JSON text, their number, links, directories,
    bytes); what is left out goes to ``skipped``."""
    root = job.path
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        st = None
    if st is None or not stat.S_ISDIR(st.st_mode):
        raise ArchiveError(f"job {job.id}: {root} does not exist")
    # the job directory's own member: signac's import finds jobs by their directory members
    writer.add_dir(path, st.st_mode & 0o7777, st.st_mtime)
    files, links, dirs, left_out = {}, {}, {}, {}
    writer = _DirsNoted(writer, len(path) + 1, dirs)
    add_data = getattr(writer, "add_data", None)
    total = _add_tree(writer, add_data, job, root, root, path + "/", "", files, links, left_out)
    skipped.extend({"job": job.id, "path": rel, "reason": reason}
                   for rel, reason in sorted(left_out.items()))
    if layout.STATEPOINT not in files:
        raise ArchiveError(f"job {job.id}: {layout.STATEPOINT} is missing; run 'suite check'")
    return mf.encode(files), len(files), links, dirs, total


class _DirsNoted:
    """A writer that also notes each directory inside a job (mode, whole-second mtime) for the
    manifest: zip archives hold no directory entries (signac 2.4 cannot import them), so
    empty directories and directory modes come back from the manifest."""

    def __init__(self, writer, skip, dirs):
        self._writer, self._skip, self._dirs = writer, skip, dirs

    def add_dir(self, name, mode=0o755, mtime=0):
        self._dirs[name[self._skip:]] = [mode, int(mtime // 1)]
        self._writer.add_dir(name, mode, mtime)

    def __getattr__(self, name):
        return getattr(self._writer, name)


def _add_tree(writer, add_data, job, root, dirpath, prefix, rel, files, links, skipped):
    """Write the directory ``dirpath`` (``rel`` inside the job, ``prefix`` + ``rel`` in the
    archive) in the order of a sorted top-down walk: its subdirectories' entries, its files and
    links, then each subdirectory; links to directories are links, not directories. What the
    link policy leaves out goes to ``skipped[rel] = reason``."""
    try:  # listed without moving the directory's access time: an export only reads
        fd = open_listing(dirpath)
    except PermissionError:
        skipped[rel.rstrip("/")] = jobfiles.UNREADABLE
        return 0
    subdirs, total = [], 0
    with listed(fd, dirpath) as it:
        entries = sorted(it, key=_name)
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
                st = entry.stat(follow_symlinks=False)
                writer.add_dir(f"{prefix}{rel}{entry.name}", st.st_mode & 0o7777, st.st_mtime)
        for entry in entries:
            name = entry.name
            full = dirpath + os.sep + name
            member = f"{prefix}{rel}{name}"
            if layout.is_temp(name):
                continue  # a write in progress (or the leftover of a killed one): not the job's
            if entry.is_file(follow_symlinks=False):
                if add_data is None:
                    st = entry.stat(follow_symlinks=False)
                    if not jobfiles.readable(full, st):
                        skipped[rel + name] = jobfiles.UNREADABLE
                        continue
                    digest = writer.add_file(member, full, st.st_size, st.st_mode, st.st_mtime)
                    size = st.st_size
                else:
                    try:
                        size, digest = _add_regular(writer, add_data, job, full, member)
                    except PermissionError:
                        skipped[rel + name] = jobfiles.UNREADABLE
                        continue
                files[rel + name] = {"size": size, "sha256": digest}
                total += size
            elif entry.is_symlink():
                target = jobfiles.carried_target(full, root, os.path.realpath(root))
                if target is None:
                    skipped[rel + name] = jobfiles.LINK_LEAVES
                    continue
                writer.add_symlink(member, target, entry.stat(follow_symlinks=False).st_mtime)
                links[rel + name] = target
            elif not entry.is_dir(follow_symlinks=False):
                skipped[rel + name] = jobfiles.SPECIAL
    for name in subdirs:
        total += _add_tree(writer, add_data, job, root, dirpath + os.sep + name, prefix,
                           f"{rel}{name}/", files, links, skipped)
    return total


def _not_exportable(job, path):
    return ArchiveError(f"job {job.id}: {path} is not a regular file, directory or link "
                        "(devices and fifos cannot be exported)")


def _name(entry):
    return entry.name


def _add_regular(writer, add_data, job, full, member):
    """Add the regular file ``full``; return (size, sha256). Small files are read whole."""
    fd = open_quietly(full, _OPEN_FLAGS)  # read, not used: its access time stays
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


def _within(path, root):
    """True if ``path`` is ``root`` or lies under it (both real paths)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _refuse_project_target(project, target):
    """Refuse a target whose writing or replacing (``--force``) could delete the project: one
    that is or contains the project or its workspace, one inside the workspace, and an existing
    entry inside the project that is not an archive (``.signac``, the project document)."""
    real = os.path.realpath(target)
    for what, path in (("project", project.path), ("workspace", project.workspace)):
        path = os.path.realpath(path)
        if _within(path, real):
            raise ArchiveError(f"export target {target} is or contains the {what} {path}; "
                               "export to a path outside the project")
    workspace = os.path.realpath(project.workspace)
    if _within(real, workspace):
        raise ArchiveError(f"export target {target} is inside the workspace {workspace}; "
                           "export to a path outside the workspace")
    if _within(real, os.path.realpath(project.path)) and os.path.lexists(target) \
            and not _is_archive(target):
        raise ArchiveError(f"export target {target} is a file or directory of the project, not "
                           "an archive; replacing it would delete project data; choose a new "
                           "name")


def _is_archive(path):
    """True for an existing archive suite could have written (a tree needs its manifest)."""
    try:
        fmt = detect_format(path)
    except ArchiveError:
        return False
    return fmt != "directory" or os.path.isfile(os.path.join(path, mf.NAME))


def _remove_stale_temps(parent, base):
    """Remove the temporary archives (and replaced trees) that earlier exports to the same
    target left when killed: those whose process is gone, and this process's own."""
    prefix = f".{base}.suite-tmp-"
    for name in os.listdir(parent):
        if name.startswith(prefix):
            pid = name[len(prefix):].split("-")[0]
            if pid.isdigit() and (int(pid) == os.getpid() or not pid_alive(int(pid))):
                _remove(os.path.join(parent, name))


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _replace(tmp, target):
    """Put ``tmp`` where ``target`` is (--force); files are replaced atomically."""
    if os.path.isdir(target) and not os.path.islink(target):
        trash = os.path.join(os.path.dirname(target),
                             f".{os.path.basename(target)}.suite-tmp-{os.getpid()}-old")
        os.rename(target, trash)
        os.rename(tmp, target)
        shutil.rmtree(trash)
    elif os.path.isdir(tmp):
        os.unlink(target)
        os.rename(tmp, target)
    else:
        os.replace(tmp, target)
