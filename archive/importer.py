"""Import jobs from an archive: stream members into a staging directory inside the workspace,
verify them (manifest hashes, or state point files and the path schema), then land each job by
one rename. A killed import leaves complete jobs only; running it again skips the jobs that
already arrived identically and finishes the rest."""

import hashlib
import json
import os
import posixpath
import shutil
from dataclasses import dataclass, field

from suite import layout, native
from suite.errors import CorruptFileError, InvalidStatepointError
from suite.jsonio import dumps, loads_checked, write_all
from suite.pathschema import PathSchema, SchemaError
from suite.process import gc_paused, pid_alive
from suite.statepoint import calc_id, validate_owned, validate_statepoint

from . import manifest as mf
from .base import (
    DIR,
    FILE,
    HARDLINK,
    SYMLINK,
    ArchiveError,
    Member,
    PathStatepointMismatch,
    open_reader,
    set_dir_attrs,
)
from .safety import check_job_links, clean_name

#: the loops of tar import and export in C (None: not built, or SUITE_PURE_PYTHON)
_tarpack = native.load("archive._tarpack")
#: the per-job checks and landing renames in C (None: not built, or SUITE_PURE_PYTHON)
_importjobs = native.load("archive._importjobs")

CHUNK = 1 << 20
#: members read into memory whole are refused past these sizes (declared or actual), so a
#: small compressed archive cannot make import or verify take gigabytes
MAX_MANIFEST = 256 << 20
MAX_STATEPOINT = 16 << 20


@dataclass
class Incoming:
    """A job found in an archive."""

    id: str
    statepoint: dict
    path: str
    files: dict  # relative name -> (size, sha256)
    links: dict = field(default_factory=dict)  # relative name -> (kind, target)
    dirs: list = field(default_factory=list)  # relative directories (kept even when empty)


@dataclass
class ImportResult:
    """What an import did (or, with ``dry_run``, would do)."""

    origin: str
    imported: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    ignored: list = field(default_factory=list)  # members outside every job
    dry_run: bool = False

    def to_json(self):
        return dict(self.__dict__)


class Stage:
    """Where an import writes member files: one flat directory per archive directory that
    holds files, so a deep schema tree costs one ``mkdir`` per job, not one per level.

    Files are written by the main thread as members arrive, by plain system calls (open,
    write, the archived mode and mtime on the descriptor, close). Writer threads were tried:
    on two shared cores, handing 30,000 tiny files to them cost more CPU (lock and queue
    traffic, GIL switches) than the overlap of their kernel time saved.
    """

    SMALL = 1 << 18  # below MAX_STATEPOINT: the native scan takes no bound for state points

    def __init__(self, root):
        self.root = root
        self.dirs = {}  # archive directory -> staging directory
        self._count = 0
        umask = os.umask(0o022)  # read it (this process writes nothing meanwhile)
        os.umask(umask)
        self.umask = umask

    def dir_for(self, parent):
        """The staging directory for the archive directory ``parent`` (made if new)."""
        d = self.dirs.get(parent)
        if d is None:
            d = f"{self.root}/d{self._count}"
            self._count += 1
            os.mkdir(d)
            self.dirs[parent] = d
        return d

    def file_path(self, name):
        """The staging path for the member ``name``, its directory made (for the caller to
        write it)."""
        parent, _, base = name.rpartition("/")
        return f"{self.dir_for(parent)}/{base}"

    def attrs(self, member, default=0o666):
        """(mode, mtime) to give the file (or, ``default=0o777``, directory) of ``member``:
        its permission bits less the umask (as tar does for users other than root; never
        set-id bits), None where the new file's own are already right."""
        mode = member.mode & 0o777 & ~self.umask
        mode = None if not mode or mode == default & ~self.umask else mode
        return mode, member.mtime or None

    def write(self, name, data, attrs=(None, None)):
        """Write a small member's bytes; ``attrs`` from :meth:`attrs`."""
        parent, _, base = name.rpartition("/")
        d = self.dirs.get(parent)
        fd = os.open(f"{d if d is not None else self.dir_for(parent)}/{base}", _CREATE, 0o666)
        try:
            write_all(fd, data)
            _set_attrs(fd, attrs)
        finally:
            os.close(fd)

    def wait(self):
        """Every write is done when :meth:`write` returns (kept for the callers' order)."""

    def close(self):
        """Nothing to release (no threads)."""

    def assemble(self, job_path, rel_names):
        """Gather the job's files into one staging tree; return its path."""
        root = self.dirs.pop(job_path, None)
        if root is None:
            root = os.path.join(self.root, f"j{len(self.dirs)}-{os.urandom(3).hex()}")
            os.mkdir(root)
        subdirs = set()
        for rel in rel_names:
            parts = rel.split("/")
            subdirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
        for sub in sorted(subdirs, key=lambda s: s.count("/")):
            target = os.path.join(root, *sub.split("/"))
            src = self.dirs.pop(f"{job_path}/{sub}", None)
            if src is not None:
                os.rename(src, target)
            elif not os.path.isdir(target):
                os.mkdir(target)
        return root


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _set_attrs(fd, attrs):
    """Give the open file its archived mode and mtime (after its last write)."""
    mode, mtime = attrs
    if mode is not None:
        os.fchmod(fd, mode)
    if mtime is not None:
        os.utime(fd, (mtime, mtime))


class Scan:
    """What :func:`scan` found: ``staged`` (member name -> (kind, size, sha256 or link
    target)), ``small`` (state point file contents by member name), the :class:`Stage` (or
    None), ``dir_attrs`` (directory member -> (mode, mtime)) and the manifest: ``manifest``
    its dict (or None), ``text`` the :class:`archive.manifest.Text` it was read as (or None),
    the dict then made on first use. ``members``: the members as read, the dict or (after
    the native scan) a ``_tarpack.MemberTable``, whose dict ``staged`` makes on first use
    (the common job's checks look names up in the table, without it)."""

    def __init__(self, staged, manifest, small, stage, dir_attrs=None):
        self.members, self.small, self.stage = staged, small, stage
        self.dir_attrs = {} if dir_attrs is None else dir_attrs
        self.text = manifest if isinstance(manifest, mf.Text) else None
        self._manifest = None if self.text is not None else manifest

    @property
    def staged(self):
        if not isinstance(self.members, dict):
            self.members = self.members.to_dict()
        return self.members

    @property
    def manifest(self):
        if self._manifest is None and self.text is not None:
            self._manifest = self.text.load()
        return self._manifest


def scan(reader, staging, origin, limit=None, holder=None):
    """Read every member, refusing unsafe ones; copy files under ``staging`` (None: only hash).
    ``holder[0]`` receives the :class:`Stage` so the caller can close it on errors."""
    staged, small, manifest, written, dir_attrs = {}, {}, None, 0, {}
    stage = Stage(staging) if staging else None
    if holder is not None:
        holder[0] = stage
    sp_suffix = "/" + layout.STATEPOINT
    members = reader.members()
    if _tarpack is not None and getattr(reader, "takes_fast_scan", False):
        # plain members are taken by the native loop, the rest (and anything it would refuse
        # or fail on) by the loop below, the reference; both keep them in one table (in, get,
        # [] as the dict's), made a dict only where the general path asks for it
        staged = _tarpack.MemberTable(FILE, DIR)

        def fast(buf, pos):
            nonlocal written
            pos, written, count = _tarpack.scan_members(
                buf, pos, written, -1 if limit is None else limit, staged, small, dir_attrs,
                stage.dirs if stage else None, stage.root if stage else None,
                stage._count if stage else 0, stage.umask if stage else 0, Stage.SMALL,
                (mf.NAME, layout.STATEPOINT))
            if stage:
                stage._count = count  # the staging directories it made (Stage.dir_for's)
            return pos

        members = reader.members(fast)
    for member, stream in members:
        name = clean_name(member.name)
        if not name:
            continue
        if name in staged or (name == mf.NAME and manifest is not None):
            raise ArchiveError(f"archive member {member.name!r} appears twice")
        kind = member.kind
        if kind == FILE and name == mf.NAME:
            _check_bound(member, MAX_MANIFEST)
            manifest = mf.read(_read_limited(stream, member.size, name), origin)
            continue
        if kind == FILE:
            is_sp = name.endswith(sp_suffix) or name == layout.STATEPOINT
            if is_sp:
                _check_bound(member, MAX_STATEPOINT)
            if limit is not None and written + member.size > limit:
                raise ArchiveError(
                    f"archive member {member.name!r}: the unpacked data would exceed the free "
                    f"space ({limit} bytes); import stopped")
            if member.size <= Stage.SMALL:
                # streams that cannot hold more than their declared size are read in one call
                if hasattr(stream, "read_declared"):
                    data = _read(stream, name, -1, "read_declared")
                else:
                    data = _read_limited(stream, member.size, name)
                size, digest = len(data), hashlib.sha256(data).hexdigest()
                if stage:
                    stage.write(name, data, stage.attrs(member))
            else:
                dst = stage.file_path(name) if stage else None
                size, digest, data = _copy(stream, dst, name, member.size,
                                           stage.attrs(member) if stage else None)
            written += size
            staged[name] = (FILE, size, digest)
            if is_sp:
                small[name] = data
        elif kind == DIR:
            staged[name] = (DIR, 0, None)
            if stage:
                dir_attrs[name] = stage.attrs(member, 0o777)
        elif kind == SYMLINK:
            staged[name] = (kind, 0, member.linkname)
        elif kind == HARDLINK:
            staged[name] = (kind, 0, _hard_link_target(member, staged))
        else:
            raise ArchiveError(f"archive member {member.name!r}: devices and fifos are refused")
    if stage:
        stage.wait()
    return Scan(staged, manifest, small, stage, dir_attrs)


def _check_bound(member, bound):
    if member.size > bound:
        raise ArchiveError(f"archive member {member.name!r}: {member.size} bytes, larger than "
                           f"the {bound} bytes suite reads into memory for it (refused)")


def _hard_link_target(member, staged):
    """The member a hard link names: a regular file already read from the same archive (so
    never a path through a link, a directory, or anything outside the archive)."""
    try:
        target = clean_name(member.linkname)
    except ArchiveError:
        target = None
    if not target or staged.get(target, (None,))[0] != FILE:
        raise ArchiveError(
            f"archive member {member.name!r}: hard link to {member.linkname!r}, which is not a "
            "regular file earlier in the archive (refused)")
    return target


def _read(stream, name, n=CHUNK, method="read"):
    """Read from a member's stream; decoder failures become an ArchiveError naming it."""
    try:
        return getattr(stream, method)() if n < 0 else getattr(stream, method)(n)
    except (EOFError, OSError, ValueError) as exc:  # zlib, lzma, bz2, zip CRC, tar errors
        raise ArchiveError(f"archive member {name!r} is damaged: {exc}") from None
    except Exception as exc:
        if type(exc).__module__.startswith(("zstandard", "tarfile", "zipfile")):
            raise ArchiveError(f"archive member {name!r} is damaged: {exc}") from None
        raise


def _read_limited(stream, limit, name):
    """Read a whole member of at most ``limit`` bytes (its declared size)."""
    chunks, size = [], 0
    while True:
        chunk = _read(stream, name, limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise ArchiveError(f"archive member {name!r} holds more data than it declares")
    return b"".join(chunks)


def _copy(stream, dst, name, declared, attrs=None):
    """Copy one member to ``dst`` (None: only hash), giving it ``attrs`` (mode, mtime); never
    more bytes than declared."""
    digest = hashlib.sha256()
    keep = posixpath.basename(name) == layout.STATEPOINT
    kept = []
    out = open(dst, "xb") if dst else None
    size = 0
    try:
        while True:
            chunk = _read(stream, name)
            if not chunk:
                break
            size += len(chunk)
            if size > declared:
                raise ArchiveError(f"archive member {name!r} holds more data than it declares")
            digest.update(chunk)
            if out:
                out.write(chunk)
            if keep:
                kept.append(chunk)
        if out and attrs:
            out.flush()
            _set_attrs(out.fileno(), attrs)
    finally:
        if out:
            out.close()
    return size, digest.hexdigest(), b"".join(kept) if keep else None


# no cyclic collection while the scan and the checks make their many small objects (none in
# cycles): each collection walked every object made so far
@gc_paused()
def import_jobs(project, origin, *, schema=None, dry_run=False, skip_existing=False,
                ignore_unmatched=False, progress=None):
    """Import the jobs of the archive ``origin`` (directory, tar of any compression, zip).

    With a manifest, state points and documents come back exactly and every file is checked
    against its hash. Without one, state point files are used, or the state point is read
    from the path with ``schema`` (see :mod:`suite.pathschema`). An existing job with identical
    content is skipped; with different content the import stops before landing any job and
    names it (``skip_existing`` skips such jobs instead).
    """
    origin = os.path.abspath(os.fspath(origin))
    reader = open_reader(origin)
    ws = project.workspace
    os.makedirs(ws, exist_ok=True)
    _clean_stale_staging(ws)
    staging = None
    if not dry_run:
        staging = os.path.join(ws, f"{layout.TMP_PREFIX}import-{os.getpid()}-{os.urandom(4).hex()}")
        os.mkdir(staging)
    result = ImportResult(origin, dry_run=dry_run)
    found_stage = [None]  # so the writer threads stop even when scanning fails
    try:
        limit = None
        if staging:
            st = os.statvfs(staging)
            limit = int(st.f_bavail * st.f_frsize * 0.95)
        found = scan(reader, staging, origin, limit, found_stage)
        # with a schema the manifest's jobs are checked against it first: not the fast path
        if not schema and _import_common(found, ws, result, progress):
            return result
        if found.manifest is not None:
            jobs, ignored = jobs_from_manifest(found, origin)
            if schema:
                jobs, unmatched = _check_manifest_paths(jobs, schema, ignore_unmatched, origin)
                ignored = ignored + unmatched
        else:
            jobs, ignored = jobs_from_tree(found, schema, ignore_unmatched, origin)
        result.ignored = ignored
        _check_shapes(jobs)
        to_land = []
        conflicts = []
        with os.scandir(ws) as it:  # one listing instead of one stat per job
            present = {e.name for e in it}
        for job in jobs:
            if job.id in present and os.path.isdir(existing := os.path.join(ws, job.id)):
                if skip_existing or _same_content(existing, job):
                    result.skipped.append(job.id)
                else:
                    conflicts.append(job)
            else:
                to_land.append(job)
        if conflicts:
            names = ", ".join(j.id for j in conflicts[:5])
            raise ArchiveError(
                f"{len(conflicts)} job(s) already exist with different content: {names}; "
                "nothing was imported (use --skip-existing to keep the existing jobs)")
        if staging:
            _land_all(staging, ws, to_land, found, result.imported, progress)
        else:
            for done, job in enumerate(to_land, 1):
                result.imported.append(job.id)
                if progress is not None:
                    progress(done, len(to_land))
    finally:
        if found_stage[0] is not None:
            found_stage[0].close()
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
    return result


def _import_common(found, ws, result, progress=None):
    """Import the jobs of a manifest read as text (:class:`archive.manifest.Text`) when all
    are the common job (see ``_importjobs.check_manifest_text``: the checks of
    :func:`jobs_from_manifest` and :func:`_manifest_job` on the text) and none is in the
    workspace yet: land them by batches of renames, as :func:`_land_all` lands such jobs.
    False (nothing done) for anything else: the general path takes the archive."""
    if found.text is None or _importjobs is None:
        return False
    text = found.text
    common = _importjobs.check_manifest_text(
        text.jobs if text.jobs is not None else text.data, found.members, found.small,
        found.stage.dirs if found.stage is not None else None, FILE, DIR, layout.STATEPOINT)
    if common is None:
        return False
    ids, _, sources = common
    with os.scandir(ws) as it:  # one listing instead of one stat per job
        if not {e.name for e in it}.isdisjoint(ids):
            return False  # skipped or conflicting jobs: the general path says which
    total, imported = len(ids), result.imported
    rename = _importjobs.rename_all
    for i in range(0, total, LAND_BATCH):
        batch = ids[i:i + LAND_BATCH]
        if found.stage is not None:
            rename(sources[i:i + LAND_BATCH], [f"{ws}/{job_id}" for job_id in batch])
        imported.extend(batch)
        if progress is not None:
            progress(len(imported), total)
    return True


def common_jobs_python(found):
    """The reference of ``_importjobs.check_manifest_text``: (ids, paths, staging
    directories) of the jobs :func:`jobs_from_manifest` makes of ``found``, when each is the
    common job (files at its top only, its state point file among them, no links or
    directories) and no member lies outside them; None otherwise, or where it raises."""
    try:
        jobs, outside = jobs_from_manifest(found, "origin")
    except ArchiveError:
        return None
    dirs = found.stage.dirs if found.stage is not None else None
    if outside or any(j.links or j.dirs or layout.STATEPOINT not in j.files
                      or "/" in "".join(j.files)
                      or (dirs is not None and j.path not in dirs) for j in jobs):
        return None
    return ([j.id for j in jobs], [j.path for j in jobs],
            [dirs[j.path] for j in jobs] if dirs is not None else [])


def _by_job(found, job_paths):
    """``{job path: {relative name: staged entry}}`` for members inside a job, and the list
    of other non-directory members; one pass over the members (not one per job). The
    reference of the native ``_tarpack.group_by_job``."""
    if _tarpack is not None:
        done = _tarpack.group_by_job(found.staged, job_paths, DIR)
        if done is not None:
            return done
    grouped = {p: {} for p in job_paths}
    outside = []
    for name, v in found.staged.items():
        # the job path that is a parent of the member (jobs never nest: checked before), from
        # the member's own directory up: most members lie directly in their job
        i = name.rfind("/")
        while i > 0:
            members = grouped.get(name[:i])
            if members is not None:
                members[name[i + 1:]] = v
                break
            i = name.rfind("/", 0, i)
        else:
            if v[0] != DIR:
                outside.append(name)
    return grouped, sorted(outside)


def _split(members):
    files = {rel: (v[1], v[2]) for rel, v in members.items() if v[0] == FILE}
    links = {rel: (v[0], v[2]) for rel, v in members.items() if v[0] in (SYMLINK, HARDLINK)}
    return files, links


def _dirs(members):
    return [rel for rel, v in members.items() if v[0] == DIR]


def jobs_from_manifest(found, origin):
    jobs = []
    entries = found.manifest["jobs"]
    paths = [clean_name(e["path"]) for e in entries]
    if "" in paths:
        raise ArchiveError(f"{origin}: {mf.NAME} puts a job at the archive root; jobs lie in "
                           "directories (a damaged or hand-made manifest: import refused)")
    _check_job_paths(paths, origin)
    _check_unique_ids([(e["id"], p) for e, p in zip(entries, paths, strict=True)], origin)
    grouped, outside = _by_job(found, paths)
    i = 0
    while i < len(entries):
        if _importjobs is not None:  # the common jobs in C, up to the first other one
            i = _importjobs.check_manifest_jobs(entries, paths, grouped, found.small,
                                                validate_owned, i, jobs, Incoming, FILE,
                                                layout.STATEPOINT)
            if i >= len(entries):
                break
        jobs.append(_manifest_job(found, grouped, entries[i], paths[i], origin))
        i += 1
    return jobs, outside


def _manifest_job(found, grouped, entry, path, origin):
    """The :class:`Incoming` job of the manifest's ``entry`` at ``path`` (clean), checked
    against the members read (``grouped``: :func:`_by_job`); raises :class:`ArchiveError` for
    anything amiss. The reference of the native ``_importjobs.check_manifest_jobs``, which
    takes the common jobs and leaves each other one to this."""
    staged, small = found.staged, found.small
    match = _tarpack.match_files if _tarpack is not None else None
    try:
        sp, job_id, text = validate_owned(entry["statepoint"])  # fresh from json.loads
    except InvalidStatepointError as exc:
        raise ArchiveError(f"{origin}: manifest entry {entry.get('path')!r}: {exc}") from None
    if entry.get("id") != job_id:
        raise ArchiveError(f"{origin}: manifest says job {entry.get('id')} at {entry['path']!r}"
                           f" but its state point hashes to {job_id}")
    # the file holding exactly the canonical bytes (as every file suite writes does) is
    # the common case, told without a call
    if small.get(f"{path}/{layout.STATEPOINT}", text) != text:
        problem = _statepoint_file_disagrees(found, path, job_id, text)
        if problem:
            raise ArchiveError(f"{origin}: {problem}; job refused")
    files = match(entry["files"], path, staged, FILE) if match is not None else None
    if files is None:  # not built, or a name the native check leaves to the reference
        files = _manifest_files(entry["files"], path, staged, job_id)
    links, dirs = {}, _manifest_dirs(found, entry, path, job_id) if "dirs" in entry else {}
    for rel, v in grouped[path].items():
        kind = v[0]
        if kind == FILE:
            if rel not in files:
                raise ArchiveError(f"job {job_id}: file {rel!r} is in the archive but not "
                                   "in the manifest")
        elif kind == DIR:
            dirs.setdefault(rel, None)
        else:
            links[rel] = (kind, v[2])
    for rel in dirs:
        if rel in files or rel in links:
            raise ArchiveError(f"job {job_id}: {rel!r} is a directory in the manifest and "
                               "a file or link in the archive; import refused")
    return Incoming(job_id, sp, path, files, links, list(dirs))


def _manifest_files(entries, path, staged, job_id):
    """``{name: (size, sha256)}`` of a job's manifest ``files`` (``entries``), each checked
    against the member read (``staged``); raises :class:`ArchiveError` for one missing or of
    another size or hash. The reference of the native ``_tarpack.match_files``."""
    files = {}
    for rel, info in entries.items():
        # staged names are clean: a name found as written needs no cleaning
        have = staged.get(f"{path}/{rel}") or staged.get(f"{path}/{clean_name(rel)}")
        if have is None or have[0] != FILE:
            raise ArchiveError(f"job {job_id}: file {rel!r} is in the manifest but not in "
                               "the archive")
        if have[1] != info.get("size"):
            raise ArchiveError(f"job {job_id}: file {rel!r} has {have[1]} bytes, the manifest "
                               f"says {info.get('size')}; import stopped")
        if have[2] != info.get("sha256"):
            raise ArchiveError(f"job {job_id}: file {rel!r} does not match its manifest hash")
        files[rel] = (have[1], have[2])
    return files


def _manifest_dirs(found, entry, path, job_id):
    """The directories the manifest lists for a job (zip archives hold no directory entries);
    their modes and times go where those of directory members go."""
    dirs = entry.get("dirs", {})
    if not isinstance(dirs, dict):
        raise ArchiveError(f"job {job_id}: the manifest's 'dirs' is not a mapping")
    out = {}
    for rel, attrs in dirs.items():
        if not (isinstance(attrs, list) and len(attrs) == 2
                and all(isinstance(a, int) for a in attrs)):
            raise ArchiveError(f"job {job_id}: the manifest's entry for directory {rel!r} is not "
                               "[mode, mtime]")
        name = clean_name(f"{path}/{rel}")
        rel = name[len(path) + 1:]
        if not rel:
            raise ArchiveError(f"job {job_id}: the manifest lists a directory {rel!r} outside "
                               "the job")
        out[rel] = None
        if found.stage is not None and name not in found.dir_attrs:
            found.dir_attrs[name] = found.stage.attrs(Member(name, DIR, 0, *attrs), 0o777)
    return out


def _statepoint_file_disagrees(found, path, job_id, canonical=None):
    """Why the archived state point file of the job at ``path`` is not the manifest's state
    point of job ``job_id`` (None if it is, or if the archive holds no such file).
    ``canonical``: the bytes whose MD5 ``job_id`` is; a file holding exactly them (as every
    file suite writes does) hashes to it without being parsed."""
    name = f"{path}/{layout.STATEPOINT}"
    data = found.small.get(name)
    if data is None or data == canonical:
        return None
    try:
        sp = loads_checked(data, name)
        file_id = calc_id(sp) if isinstance(sp, dict) else None
    except (CorruptFileError, InvalidStatepointError) as exc:
        return f"{name}: {exc}"
    if file_id != job_id:
        return (f"{name} is not the state point the manifest gives job {job_id} (it hashes to "
                f"{file_id}): the archive is inconsistent")
    return None


def jobs_from_tree(found, schema, ignore_unmatched, origin):
    """Jobs of an archive without manifest: by state point files, or by ``schema``."""
    dirs = set()
    for name, v in found.staged.items():
        parts = name.split("/")
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if v[0] == DIR:
            dirs.add(name)
    sp_files = {}
    for name, data in found.small.items():
        path = posixpath.dirname(name)
        if not path:
            continue  # files at the root are outside every job: ignored and reported
        try:
            sp = json.loads(data)
            if not isinstance(sp, dict):
                raise ValueError("not a JSON object")
            sp_files[path] = sp
        except ValueError as exc:
            raise ArchiveError(f"{origin}: {name} is not a valid state point ({exc}); fix or "
                               "remove the file") from None
    candidates = {}
    if schema:
        schema_obj = PathSchema.parse(schema)
        unmatched = []
        for d in sorted(dirs):
            if d.count("/") + 1 != schema_obj.depth:
                continue
            try:
                matched = schema_obj.match(d)
            except SchemaError as exc:
                raise ArchiveError(f"{origin}: {d!r}: {exc}") from None
            if matched is None:
                unmatched.append(d)
                continue
            sp_path, _ = matched
            if d in sp_files:
                sp = sp_files[d]
                _check_path_fields(schema_obj, sp_path, sp, d, layout.STATEPOINT, origin)
            else:
                sp = sp_path
            candidates[d] = sp
        _refuse_unmatched(unmatched, schema, ignore_unmatched, origin)
    else:
        if not sp_files:
            raise ArchiveError(
                f"{origin}: no manifest and no directory with a {layout.STATEPOINT} (one at the "
                "archive root is not a job); give --schema to read state points from the paths")
        candidates = dict(sp_files)
    jobs = []
    _check_job_paths(list(candidates), origin)
    grouped, outside = _by_job(found, list(candidates))
    for path in sorted(candidates):
        try:
            sp, job_id, _ = validate_statepoint(candidates[path])
        except InvalidStatepointError as exc:
            raise ArchiveError(f"{origin}: {path!r}: {exc}") from None
        if not sp and path not in sp_files:  # {} in a state point file is a job (signac's)
            raise ArchiveError(f"{origin}: {path!r}: empty state point (the schema read no "
                               "key from the path)")
        files, links = _split(grouped[path])
        jobs.append(Incoming(job_id, sp, path, files, links, _dirs(grouped[path])))
    _check_unique_ids([(j.id, j.path) for j in jobs], origin)
    return jobs, outside


def _check_path_fields(schema_obj, sp_path, sp, path, source, origin):
    """Raise :class:`PathStatepointMismatch` when a field the schema read from ``path``
    (``sp_path``) differs from the state point ``sp`` held by ``source``."""
    from suite.query import equal, resolve

    for key in schema_obj.fields:
        if key == "id":
            continue
        a = resolve(sp_path, tuple(key.split(".")))
        b = resolve(sp, tuple(key.split(".")))
        if not equal(a, b):
            raise PathStatepointMismatch(
                f"{origin}: {path!r}: the path says {key} = {_show(a)} but {source} says "
                f"{key} = {_show(b)}; job refused")


def _refuse_unmatched(unmatched, schema, ignore_unmatched, origin):
    if unmatched and not ignore_unmatched:
        shown = ", ".join(repr(u) for u in unmatched[:5])
        raise ArchiveError(
            f"{origin}: {len(unmatched)} path(s) do not match the schema {schema!r}: {shown}"
            " (--ignore-unmatched skips them)")


def _check_manifest_paths(jobs, schema, ignore_unmatched, origin):
    """The manifest's ``jobs`` whose paths match ``schema`` (the others, refused unless
    ``ignore_unmatched``, are returned second), each checked as state point files are: the
    schema given to an import is never ignored because the archive has a manifest."""
    schema_obj = PathSchema.parse(schema)
    kept, unmatched = [], []
    for job in jobs:
        try:
            matched = (schema_obj.match(job.path)
                       if job.path.count("/") + 1 == schema_obj.depth else None)
        except SchemaError as exc:
            raise ArchiveError(f"{origin}: {job.path!r}: {exc}") from None
        if matched is None:
            unmatched.append(job.path)
            continue
        _check_path_fields(schema_obj, matched[0], job.statepoint, job.path, mf.NAME, origin)
        kept.append(job)
    _refuse_unmatched(unmatched, schema, ignore_unmatched, origin)
    return kept, unmatched


def _check_job_paths(paths, origin):
    """Refuse two jobs at one path, or a job inside another job's directory."""
    seen = set()
    for path in paths:
        if path in seen:
            raise ArchiveError(f"{origin}: two jobs at {path!r}; import refused")
        seen.add(path)
    if len({path.count("/") for path in paths}) <= 1:
        return  # paths of one depth (any schema's): none lies inside another
    for path in paths:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in seen:
                raise ArchiveError(
                    f"{origin}: job directory {path!r} lies inside job {'/'.join(parts[:i])!r}")


def _check_unique_ids(id_paths, origin):
    """Refuse one job id at two paths (``id_paths``: (id, path) pairs)."""
    ids = {}
    for job_id, path in id_paths:
        if job_id in ids:
            raise ArchiveError(f"{origin}: {ids[job_id]!r} and {path!r} are the same job "
                               f"{job_id}; import refused")
        ids[job_id] = path


def _check_shapes(jobs):
    """Refuse a job where a member lies under a file or link of the same job (``a/sub`` a file
    and ``a/sub/x``), before any job lands; links get the full check of
    :func:`check_job_links`. Only jobs with subdirectories cost more than a glance."""
    for job in jobs:
        if not job.links and not job.dirs and "/" not in "".join(job.files):
            continue  # all files at the top of the job: none can lie under another
        names = [*job.files, *job.links, *job.dirs]
        if job.links:
            check_job_links(job.path, job.links, names)
        for rel in names:
            i = rel.find("/")
            while i > 0:
                if rel[:i] in job.files:
                    raise ArchiveError(
                        f"archive member {job.path + '/' + rel!r} lies under "
                        f"{job.path + '/' + rel[:i]!r}, which is a file; import refused")
                i = rel.find("/", i + 1)


def _show(value):
    from suite.query import MISSING

    return "(missing)" if value is MISSING else json.dumps(value)


def _same_content(existing, job):
    """True if the job directory ``existing`` holds exactly the incoming files."""
    have = {}
    for dirpath, _, filenames in os.walk(existing):
        for name in filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, existing).replace(os.sep, "/")
            if os.path.islink(full):
                continue
            have[rel] = full
    incoming = dict(job.files)
    if layout.STATEPOINT not in incoming:
        have.pop(layout.STATEPOINT, None)  # the id already fixes the state point
    if set(have) != set(incoming):
        return False
    for rel, (size, digest) in incoming.items():
        full = have[rel]
        if os.path.getsize(full) != size or _sha256(full) != digest:
            return False
    return True


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


#: jobs landed by one call of ``rename_all`` (and between two progress reports) at most
LAND_BATCH = 256


def _land_all(staging, ws, jobs, found, imported, progress=None):
    """Land ``jobs`` in order, each by one rename, appending each id to ``imported`` once it
    is in place and calling ``progress(done, total)`` after each batch. A job whose files all
    lie at its top, its state point file among them, with no links or directories (the
    common job) needs nothing but its rename: these go by batches to one ``rename_all`` call
    (in C without the interpreter lock where built); any other job by :func:`_land`."""
    rename = _importjobs.rename_all if _importjobs is not None else rename_all_python
    dirs, total = found.stage.dirs, len(jobs)
    sources, targets, ids = [], [], []

    def flush():
        rename(sources, targets)
        imported.extend(ids)
        sources.clear()
        targets.clear()
        ids.clear()
        if progress is not None:
            progress(len(imported), total)

    for job in jobs:
        src = None
        if (not job.links and not job.dirs and layout.STATEPOINT in job.files
                and "/" not in "".join(job.files)):
            src = dirs.pop(job.path, None)  # its staging directory holds all its files
        if src is None:
            if ids:
                flush()  # the earlier jobs first: landing keeps the order
            _land(staging, ws, job, found)
            imported.append(job.id)
            if progress is not None:
                progress(len(imported), total)
            continue
        sources.append(src)
        targets.append(f"{ws}/{job.id}")  # names are clean (checked): no join needed
        ids.append(job.id)
        if len(ids) >= LAND_BATCH:
            flush()
    if ids:
        flush()


def rename_all_python(sources, targets):
    """``os.rename(sources[i], targets[i])`` for each i in order: the reference of the native
    ``_importjobs.rename_all``. Raises OSError naming both paths at the first that fails
    (those before it are renamed), ValueError for lists of two lengths."""
    if len(sources) != len(targets):
        raise ValueError("rename_all: sources and targets differ in length")
    for source, target in zip(sources, targets, strict=True):
        os.rename(source, target)


def _land(staging, ws, job, found):
    if not job.links and not job.dirs and "/" not in "".join(job.files):
        src = found.stage.assemble(job.path, ())  # all files at the top of the job
    else:
        names = list(job.files) + list(job.links) + [d + "/x" for d in job.dirs]
        src = found.stage.assemble(job.path, names)
    for rel, (kind, target) in job.links.items():
        dst = os.path.join(src, *rel.split("/"))
        if kind == SYMLINK:
            os.symlink(target, dst)
        else:  # a hard link names a regular file of the same job (checked): copy it
            inside = target[len(job.path) + 1:]
            shutil.copyfile(os.path.join(src, *inside.split("/")), dst)
    if layout.STATEPOINT not in job.files:
        sp_file = f"{src}/{layout.STATEPOINT}"
        if not os.path.exists(sp_file):
            with open(sp_file, "xb") as f:
                f.write(dumps(job.statepoint).encode())
    if job.dirs:
        set_dir_attrs((f"{src}/{rel}", *found.dir_attrs.get(
            f"{job.path}/{rel}" if job.path else rel, (None, None))) for rel in job.dirs)
    os.rename(src, f"{ws}/{job.id}")  # names are clean (checked): no join needed


def _clean_stale_staging(ws):
    """Remove staging directories of imports whose process is gone (killed imports)."""
    prefix = f"{layout.TMP_PREFIX}import-"
    for name in os.listdir(ws):
        if not name.startswith(prefix):
            continue
        try:
            pid = int(name[len(prefix):].split("-")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not pid_alive(pid):
            shutil.rmtree(os.path.join(ws, name), ignore_errors=True)


@dataclass
class VerifyResult:
    """The outcome of :func:`verify`."""

    origin: str
    jobs: int = 0
    files: int = 0
    problems: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.problems

    def to_json(self):
        return {**self.__dict__, "ok": self.ok}


def verify(origin):
    """Check every file of the archive ``origin`` against its manifest (writes nothing)."""
    origin = os.path.abspath(os.fspath(origin))
    found = scan(open_reader(origin), None, origin)
    result = VerifyResult(origin)
    if found.manifest is None:
        result.problems.append(f"{origin} has no {mf.NAME}; nothing to verify against")
        return result
    listed = set()
    entries = found.manifest["jobs"]
    try:
        paths = [clean_name(e["path"]) for e in entries]
        _check_job_paths(paths, origin)
        _check_unique_ids([(e["id"], p) for e, p in zip(entries, paths, strict=True)], origin)
    except ArchiveError as exc:
        result.problems.append(str(exc))
    for entry in entries:
        result.jobs += 1
        path = clean_name(entry["path"])
        for rel, info in entry["files"].items():
            result.files += 1
            name = f"{path}/{rel}"
            listed.add(name)
            have = found.staged.get(name)
            if have is None:
                result.problems.append(f"job {entry.get('id')}: {rel} is missing")
            elif have[1] != info.get("size") or have[2] != info.get("sha256"):
                result.problems.append(f"job {entry.get('id')}: {rel} differs from the manifest")
        try:
            _, job_id, text = validate_owned(entry["statepoint"])
            if job_id != entry.get("id"):
                result.problems.append(f"job {entry.get('id')}: state point hashes to {job_id}")
            problem = _statepoint_file_disagrees(found, path, job_id, text)
            if problem:
                result.problems.append(f"job {entry.get('id')}: {problem}")
        except InvalidStatepointError as exc:
            result.problems.append(f"job {entry.get('id')}: {exc}")
    for name, v in found.staged.items():
        if v[0] == FILE and name not in listed:
            result.problems.append(f"{name} is not in the manifest")
    return result
