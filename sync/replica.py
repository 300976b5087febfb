"""One side of a sync: the operations sync needs on a project directory.

The local project and a remote given as a local path are both a :class:`Replica`; a remote
reached over SSH runs the same class in a suite process on the far side (not built yet).
Every write goes to a temporary name in the same directory and is renamed; a new job is staged
in the workspace and renamed into place whole.
"""

import errno
import json
import os
import re
import shutil
import stat

import suite
from suite import jobfiles, layout, native
from suite.errors import InvalidStatepointError, SuiteError
from suite.jsonio import (
    ANY,
    dumps,
    loads_checked,
    loads_text,
    read_json,
    replace_if_unchanged,
    same_file,
    write_atomic,
)
from suite.process import gc_paused
from suite.statepoint import to_plain

from . import record as _record
from .landing import (
    NS_RANGE,
    StagedAhead,
    land_jobs,
    stage_copies,
    stage_copy,
    stage_copy_python,
    write_new,
)
from .leftovers import remove_dead_staging
from .listing import list_files, list_jobs, list_jobs_python
from .merge import merge, same
from .readfiles import read_files as read_many


class SyncError(SuiteError):
    """A sync that cannot proceed (bad peer data, unreachable remote, bad arguments)."""


def _from_child(call, *args):
    """``call(*args)``, a call for an answer of a forked child (:class:`suite.forked.Child`):
    raises what it raises, but a child that ended without an answer as :class:`SyncError`."""
    from suite.forked import ChildFailed

    try:
        return call(*args)
    except ChildFailed as exc:
        error = SyncError(f"{exc}; run the sync again")
        for note in getattr(exc, "__notes__", ()):  # the child's traceback, if it raised
            error.add_note(note)
        raise error from None


class BadStatepoint(SyncError):
    """A job's state point that is not a JSON object or does not hash to the job's id."""


def check_rel(rel):
    """Refuse paths from the other side that could leave a job directory."""
    if isinstance(rel, str) and rel and rel[0] != "/" and "\\" not in rel \
            and "\x00" not in rel:
        if "/" not in rel:  # most files: no split (30,000 checks in a first sync)
            if rel != "." and rel != "..":
                return rel
        elif not any(p in ("", ".", "..") for p in rel.split("/")):
            return rel
    raise SyncError(f"refused path from the other side: {rel!r}")


def check_id(job_id):
    if not isinstance(job_id, str) or not layout.is_job_id(job_id):
        raise SyncError(f"refused job id from the other side: {job_id!r:.80}")
    return job_id


#: a sync identity (``.suite/id``) names files (``.suite/sync/<identity>.json``): 32 hex digits
_IDENTITY = re.compile(r"[0-9a-f]{32}\Z")


def check_identity(identity, where="the other side"):
    """Refuse a sync identity that is not 32 lowercase hex digits (it becomes a file name)."""
    if not isinstance(identity, str) or not _IDENTITY.match(identity):
        raise SyncError(f"refused sync identity from {where}: {identity!r:.80} "
                        "(expected 32 hex digits)")
    return identity


#: files of a job that travel only through their own operations (job creation, document
#: merge), never as ordinary files
RESERVED = frozenset({layout.STATEPOINT, layout.DOCUMENT})


def check_document(doc, where):
    """A document (a JSON object) from the other side as plain JSON; raises
    :class:`suite.errors.InvalidStatepointError` for NaN, Infinity, bad keys, and nesting too
    deep to handle."""
    if not isinstance(doc, dict):
        raise InvalidStatepointError(f"{where} is not a JSON object")
    try:
        return to_plain(doc, where)
    except RecursionError:
        raise InvalidStatepointError(f"{where} is nested too deeply") from None


def check_statepoint(job_id, raw):
    """The state point ``raw`` (bytes) as an object; raises :class:`BadStatepoint` unless it
    is the state point of ``job_id``: read as every job file is (encodings, depth), a JSON
    object hashing to the id."""
    try:
        sp = loads_checked(raw, f"{job_id}/{layout.STATEPOINT}", job_id)
    except SuiteError as exc:
        raise BadStatepoint(f"{exc}; run 'suite check'") from None
    if not isinstance(sp, dict):
        raise BadStatepoint(f"job {job_id}: its state point is not a JSON object; run "
                            "'suite check'")
    job_hash = suite.calc_id(sp)
    if job_hash != job_id:
        raise BadStatepoint(f"job {job_id}: its state point hashes to {job_hash}; run "
                            "'suite check'")
    return sp


def _no_link_above(job_dir, rel):
    """Refuse ``rel`` when one of its directories inside the job is a link (or not a
    directory): nothing is read or written through a link (lstat, never followed)."""
    if "/" not in rel:
        return
    path = job_dir
    for part in rel.split("/")[:-1]:
        path = os.path.join(path, part)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return  # made as a real directory when written
        if not stat.S_ISDIR(mode):
            kind = "a link" if stat.S_ISLNK(mode) else "not a directory"
            raise SyncError(f"refused {rel!r} in job {os.path.basename(job_dir)}: {path} is "
                            f"{kind}; sync never writes through links")


#: a link is refused, not followed; a fifo is opened without waiting for a writer
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

#: files of at least this many bytes travel in chunks of CHUNK bytes, never whole in memory
STREAM_MIN = 16 << 20
CHUNK = 4 << 20


def encode_record(record):
    """The record as :meth:`Replica.save_record` writes it (:func:`sync.record.encode`)."""
    return _record.encode(record)


def record_digest(raw):
    """The digest that names a record's bytes (both sides of a pair hold the same bytes after
    a sync: :func:`encode_record`)."""
    import hashlib

    return hashlib.sha256(raw).hexdigest()


def doc_digest(doc):
    """A digest of a document's content (key order aside; ``1`` and ``1.0`` differ): what a
    job deletion expects the job's document to be."""
    import hashlib  # here: it loads OpenSSL (6 ms), which a sync with nothing to do never uses

    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class FileWriter:
    """A file arriving in chunks: written to a temporary file beside ``dst``, renamed into
    place by :meth:`close`; :meth:`abort` removes the temporary file. With ``expect`` (see
    :func:`suite.jsonio.same_file`) the rename happens only if ``dst`` is still that file;
    otherwise :meth:`close` returns ``refused()``."""

    def __init__(self, dst, expect=ANY, refused=None):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        self.dst, self.tmp, self.size = dst, layout.temp_path(dst), 0
        self.expect, self.refused = expect, refused
        self.f = open(self.tmp, "xb")

    def write(self, chunk):
        self.f.write(chunk)
        self.size += len(chunk)

    def close(self, mtime_ns):
        """Put the file in place; None, or what ``refused()`` returns if ``dst`` changed."""
        try:
            self.f.close()
            os.utime(self.tmp, ns=(mtime_ns, mtime_ns))
            if self.expect is ANY:
                os.replace(self.tmp, self.dst)
            elif not replace_if_unchanged(self.tmp, self.dst, self.expect):
                return self.refused()
        except BaseException:
            self.abort()
            raise
        return None

    def abort(self):
        self.f.close()
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


class _Discard:
    """In place of a :class:`FileWriter` whose job was deleted during the sync: takes the
    chunks, writes nothing (a job directory is never made without its state point)."""

    def __init__(self, refused):
        self.refused, self.size = refused, 0

    def write(self, chunk):
        self.size += len(chunk)

    def close(self, mtime_ns):
        return self.refused()

    def abort(self):
        pass


def read_jobs_by_files(read_files, requests):
    """:meth:`Replica.read_jobs` on top of a ``read_files`` (the state point is one more
    file): ``[(job_id, [rel, ...])]`` -> ``[(job_id, sp bytes, [(rel, data, mtime)])]``."""
    return read_jobs_later_by_files(lambda flat: lambda: read_files(flat), requests)()


def read_jobs_later_by_files(read_files_later, requests):
    """:meth:`Replica.read_jobs_later` on top of a ``read_files_later``: the files are asked
    for now, the function returned waits for them (see :func:`read_jobs_by_files`)."""
    flat = [(job_id, rel) for job_id, rels in requests
            for rel in (layout.STATEPOINT, *rels)]
    answer = read_files_later(flat)

    def jobs():
        got = iter(answer())
        out = []
        for job_id, rels in requests:
            sp, _ = next(got)
            out.append((job_id, sp, [(rel, *next(got)) for rel in rels]))
        return out

    return jobs


#: :meth:`Replica.copy_local_job`'s answer for a job it leaves to :meth:`Replica.create_job`
NOT_PLAIN = "not plain"


class Replica:
    """Sync operations on the project at ``path``."""

    #: capabilities (:class:`sync.interface.ReplicaAPI`): a local replica writes directly,
    #: its record and lock cost no round trip
    second_stream = patches_record = unlocks_behind = False

    #: whether the last snapshot found the index missing most jobs (and did not build it)
    index_cold = False

    def __init__(self, path, label=None, init=False):
        """Raises :class:`SyncError` unless ``path`` is a project's root directory (with
        ``init``, a project is created there if there is none)."""
        if init and not os.path.isfile(os.path.join(path, layout.CONFIG_FILE)):
            suite.init_project(path)
        try:
            self.project = suite.get_project(path)
        except suite.ProjectNotFoundError:
            self.project = None
        if self.project is None or \
                os.path.realpath(self.project.path) != os.path.realpath(path):
            inside = f" (it lies inside the project {self.project.path})" if self.project else ""
            raise SyncError(f"{path} is not a project's root directory{inside}: give the "
                            "project's root, or add --init to create a new project there")
        self.path = self.project.path
        self.label = label or os.uname().nodename
        self._sync_dir = os.path.join(self.path, layout.SUITE_DIR, "sync")
        #: writes left undone because their target changed after the snapshot listed it:
        #: ``{"job": id or None (the project document), "path": rel or None (the whole job)}``
        self.changed = []
        self._locks = {}
        #: jobs landed here and not indexed yet (Index.add_known's rows; see index_new_jobs)
        self._landed = []
        self._good_rels = set()  # file names create_job has checked
        #: jobs of a local first copy staged by a second thread (see stage_ahead)
        self._ahead, self._ahead_plan = None, None
        self._child = None  # the forked child listing this side (see snapshot_later)
        self._record_digests = {}  # peer -> digest of its record as last loaded
        #: create_jobs' landing thread and its error (see land_wait)
        self._landing, self._landing_error = None, None
        self._range_ids = None  # this side's jobs for snapshot_range (sync.ranges.SortedIds)
        self._range_docs = None  # and (documents' texts, problems) from the index, once

    def _refused(self, job_id, rel):
        note = {"job": job_id, "path": rel}
        self.changed.append(note)
        return note

    # -- identity and records ---------------------------------------------------------------
    def identity(self):
        """A random id of this project copy (made once), naming sync records on the peer."""
        from suite.copyid import identity

        try:
            return identity(self.path)
        except SuiteError as exc:
            raise SyncError(str(exc)) from None

    # -- the lock of the records kept with one peer ------------------------------------------
    def try_lock(self, peer):
        """Take the lock of this side's syncs with ``peer`` (a ``flock`` on
        ``.suite/sync/<peer>.lock``, held until :meth:`unlock` or the process ends): None if
        taken, else a description of the process holding it. ``peer`` (a sync identity,
        checked: it names the file) may come from the other side."""
        import fcntl

        check_identity(peer)
        if peer in self._locks:
            return None
        os.makedirs(self._sync_dir, exist_ok=True)
        fd = os.open(os.path.join(self._sync_dir, f"{peer}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
            os.close(fd)
            return holder or "another process"
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"sync pid {os.getpid()} on {os.uname().nodename}".encode(), 0)
        self._locks[peer] = fd
        return None

    def lock(self, peer, timeout):
        """:meth:`try_lock`, waiting up to ``timeout`` seconds; raises SyncError after."""
        import time

        deadline = time.monotonic() + timeout
        while (holder := self.try_lock(peer)) is not None:
            if time.monotonic() >= deadline:
                raise SyncError(
                    f"another sync of {self.path} with the same peer ({holder}) is still "
                    f"running after {timeout:.0f} s; run this one again when it has finished")
            time.sleep(0.1)

    def unlock(self, peer):
        """Release :meth:`try_lock`'s lock."""
        fd = self._locks.pop(check_identity(peer), None)
        if fd is not None:
            os.close(fd)

    def unlock_later(self, peer):
        """:meth:`unlock` now; returns a function to call for its answer, as the far side's
        ``unlock_later`` does."""
        self.unlock(peer)
        return lambda: None

    def start_second(self):
        """Nothing: a local replica has no second data stream (:attr:`second_stream`)."""

    def pick(self, size):
        """The replica that carries a file write of ``size`` bytes: this one (no second
        stream)."""
        return self

    def round_trip(self):
        """None: no link to measure (the second data stream's rule, :func:`sync.datastream.pays`,
        is asked only where :attr:`second_stream` is true)."""
        return None

    def has_record(self, peer):
        """Whether this side keeps a record of a sync with ``peer`` (a sync identity, checked)."""
        return os.path.isfile(os.path.join(self._sync_dir, f"{check_identity(peer)}.json"))

    def load_record(self, peer):
        """The record of the last sync with ``peer`` (a sync identity, checked): a dict whose
        ``"jobs"`` is a :class:`sync.record.RecordJobs` (entries parsed as needed); its digest
        is then :meth:`record_digest`. Raises CorruptFileError when it is not JSON."""
        path = os.path.join(self._sync_dir, f"{check_identity(peer)}.json")
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            self._record_digests[peer] = None
            return {"jobs": {}, "project_doc": None}
        self._record_digests[peer] = record_digest(raw)
        return _record.load(raw, path)

    def record_digest(self, peer):
        """The digest of the record of ``peer`` as :meth:`load_record` last read it (None:
        there was none): a far side's snapshot ``since`` a record is used only if it names
        the same one."""
        return self._record_digests.get(peer)

    def save_record(self, peer, record, sent=True):
        """Write the record of the sync with ``peer`` (a sync identity, checked); ``record``
        may come encoded (:func:`encode_record`: one encoding for both sides of a sync,
        local or over SSH, 20-40 ms a 10,000 jobs). ``sent`` False: the side running the
        sync saves it before the peer holds it (:meth:`record_unsent` is true until
        :meth:`record_sent`); else it is the one the peer holds (the peer saved it first)."""
        path = os.path.join(self._sync_dir, f"{check_identity(peer)}.json")
        os.makedirs(self._sync_dir, exist_ok=True)
        if not sent:  # marked before the record is written: a crash between leaves it marked
            os.close(os.open(path[:-5] + self.UNSENT, os.O_WRONLY | os.O_CREAT, 0o644))
        write_atomic(path, record if isinstance(record, bytes) else encode_record(record))
        if sent:
            self.record_sent(peer)

    #: beside a record (``<peer>.unsent``): the peer may not hold this record (a sync stopped
    #: after saving here, before saving there; a first sync killed half-way)
    UNSENT = ".unsent"

    def record_unsent(self, peer):
        """Whether the record of ``peer`` was saved here by a sync that did not see the peer
        save it too (:meth:`save_record`): the peer holds another record, or none. A sync
        then lists both sides a range at a time, as a first sync does (the peer, asked for
        what moved since its record, would list whole: a million jobs' listing decoded)."""
        return os.path.exists(os.path.join(self._sync_dir, f"{check_identity(peer)}{self.UNSENT}"))

    def record_sent(self, peer):
        """The peer holds this side's record of it now (:meth:`record_unsent` false)."""
        try:
            os.unlink(os.path.join(self._sync_dir, f"{check_identity(peer)}{self.UNSENT}"))
        except FileNotFoundError:
            pass

    def save_record_later(self, peer, record):
        """:meth:`save_record` now (a local write); returns a function to call for its
        answer, as the far side's ``save_record_later`` does."""
        self.save_record(peer, record)
        return lambda: None

    def patch_record_later(self, peer, base, digest, removed, at, lines):
        """:meth:`patch_record` now (a local write); returns a function returning its
        answer, as the far side's ``patch_record_later`` does."""
        written = self.patch_record(peer, base, digest, removed, at, lines)
        return lambda: written

    def patch_record(self, peer, base, digest, removed, at, lines):
        """Write the record of the sync with ``peer`` as the one held now (whose digest must
        be ``base``) with the lines ``removed`` taken out and ``lines`` put in at ``at``
        (:func:`sync.record.diff`), if the result's digest is ``digest``; return whether it
        was written (False: the record held is another, or the result would not be
        ``digest``: the whole record must be sent). Raises CorruptFileError when a line sent
        is not a record's line."""
        path = os.path.join(self._sync_dir, f"{check_identity(peer)}.json")
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return False
        if record_digest(raw) != base:
            return False
        try:
            new = _record.patched(raw, removed, at, lines)
        except ValueError:
            return False
        if record_digest(new) != digest:
            return False
        _record.check_lines(lines, path)
        write_atomic(path, new)
        self.record_sent(peer)
        return True

    # -- reading ----------------------------------------------------------------------------
    def snapshot(self, ids=None, exclude=(), since=None):
        """``{"jobs": {id: {"files": {rel: [size, mtime_ns, inode]}, "doc": dict}}, "project_doc",
        "unreadable": {id: message}}`` for all jobs (or ``ids``); files exclude the state
        point and document, links kept inside a job are ``[size, mtime_ns, inode, target]`` (and the
        job has ``"links": count``), and a job with skipped items has ``"skipped": {rel:
        reason}``. Jobs whose state point or document cannot be read are left out of
        ``jobs`` and listed in ``unreadable``.

        ``since`` (a peer's sync identity; not with ``exclude``): the jobs nothing moved in
        since this side's record of that peer (:func:`sync.steady.steady_jobs` against it)
        are left out too, and the snapshot says so: ``"since": {"record": its digest,
        "gone": [ids of the record's jobs (of ``ids``) not here at all]}``; the peer, holding
        a record of that digest, takes the others as they are recorded. Without a record
        (or with ``exclude``, or a record that is not JSON: the sync rewrites it) the
        snapshot is whole and has no ``"since"``.

        A snapshot of ``ids`` (no ``since``, no ``exclude``) is taken by the child that
        listed this side, while it serves (:meth:`snapshot_later`): then this raises what the
        child raised, or :class:`SyncError` if it ended without an answer."""
        if since is None or exclude:
            if ids is not None and not exclude and self._child is not None and \
                    self._child.serving:  # the child that listed this side lists these
                return _from_child(self._child.ask, list(ids))
            return self.snapshot_steady(ids, exclude)[0]
        try:
            record = self.load_record(since).get("jobs")
        except (SuiteError, AttributeError):  # not JSON, or not an object: rewritten at the end
            record = self._record_digests[since] = None
        if not record or not isinstance(record, (dict, _record.RecordJobs)):
            return self.snapshot_steady(ids, exclude)[0]
        snap, steady = self.snapshot_steady(ids, exclude, record)
        wanted = record if ids is None else [j for j in ids if j in record]
        here = (steady, snap["jobs"], snap["unreadable"])  # every job found here is in one
        snap["since"] = {"record": self.record_digest(since),
                         "gone": [j for j in wanted if not any(j in h for h in here)]}
        return snap

    def snapshot_steady(self, ids=None, exclude=(), base_jobs=None):
        """``(snapshot, steady)``: :meth:`snapshot`, leaving out of it the jobs steady
        against the record's jobs ``base_jobs`` (given), whose ids are ``steady``. The
        listing goes in chunks of :data:`STEADY_CHUNK` jobs, each dropping its steady jobs
        (and their documents) at once, so the whole listing is never held."""
        from .steady import steady_jobs

        # steady jobs' documents are never decoded whole: as text, a chunk decoded at a time
        text = bool(base_jobs) and not exclude
        names, docs, unreadable, exclude = self._snapshot_start(ids, exclude, text)
        if docs is None and not exclude and not base_jobs:  # a cold index, a whole listing
            jobs, size = {}, self.STEADY_CHUNK
            for k in range(0, len(names), size):
                jobs.update(self._list_cold(names[k:k + size], unreadable))
            return self._snapshot_finish(jobs, {}, [], None, unreadable, ()), set()
        if not base_jobs or exclude:
            snap = self._snapshot_finish(*self._snapshot_list(names, docs, unreadable, exclude))
            steady = steady_jobs(snap["jobs"], snap["jobs"], base_jobs) if base_jobs else set()
            for job_id in steady:
                del snap["jobs"][job_id]
            return snap, steady
        jobs, rest, steady = {}, [], set()
        with gc_paused():  # many entries made and dropped, no cycles, no user code
            if docs is None:  # a cold index: each chunk's documents read from its files
                self._list_steady_cold(names, unreadable, base_jobs, jobs, steady)
                rest_docs = None
            else:
                rest_docs = self._list_steady(names, docs, unreadable, base_jobs, jobs, rest,
                                              steady)
        return self._snapshot_finish(jobs, {}, rest, rest_docs, unreadable, exclude), steady

    def _chunks(self, names, base_jobs):
        """``(names, base)`` about :data:`STEADY_CHUNK` jobs at a time, ``base`` the record's
        entries of them (a :class:`sync.record.RecordJobs`: in id order, a range parsed at a
        time)."""
        size = self.STEADY_CHUNK
        if isinstance(base_jobs, _record.RecordJobs):
            return base_jobs.ranges(names, size)
        return ((names[k:k + size], base_jobs) for k in range(0, len(names), size))

    def _list_steady_cold(self, names, unreadable, base_jobs, jobs, steady):
        """:meth:`_list_steady` where the index is cold: each chunk listed whole, its state
        points checked and documents read from the files, its steady jobs dropped at once
        (a million jobs whole held ~2.5 GB here; a chunk at a time, what moved)."""
        from .steady import steady_jobs

        for part_names, base in self._chunks(names, base_jobs):
            part = self._list_cold(part_names, unreadable)
            found = steady_jobs(part, part, base)
            for job_id in found:
                del part[job_id]
            steady.update(found)
            jobs.update(part)

    def _list_steady(self, names, docs, unreadable, base_jobs, jobs, rest, steady):
        """List ``names`` a chunk at a time into ``jobs`` (those not steady), ``rest`` (those
        of a shape the listing leaves to :meth:`_snapshot_finish`) and ``steady``; ``docs``
        (text, see :meth:`suite.index.Index.documents`) are decoded a chunk at a time and
        dropped with it; return the documents of ``rest``, decoded."""
        from .steady import steady_jobs

        rest_docs = {}
        for part_names, base in self._chunks(names, base_jobs):
            # decoded here, dropped with the chunk (the texts stay: all are held from the
            # start, so taking them out would not lower the peak)
            part_docs = {job_id: loads_text(t) if type(t) is str else t
                         for job_id in part_names if (t := docs.get(job_id)) is not None}
            part, _, more, *_ = self._snapshot_list(part_names, part_docs, unreadable, ())
            found = steady_jobs(part, part, base)
            for job_id in found:
                del part[job_id]
            steady.update(found)
            jobs.update(part)
            rest += more
            rest_docs.update((job_id, part_docs[job_id]) for job_id in more
                             if job_id in part_docs)
        return rest_docs

    def _list_cold(self, names, unreadable, exclude=()):
        """The jobs ``names`` listed where the index is cold: their documents read from the
        files (:meth:`_read_documents`), those that do not read as objects one by one;
        ``exclude``: their files listed without those (see :meth:`snapshot`)."""
        docs, slow = self._read_documents(names)
        fast = [job_id for job_id in names if job_id in docs]
        jobs = self._finish_jobs(*self._snapshot_list(fast, docs, unreadable, exclude))
        if slow:
            jobs.update(self._finish_jobs({}, {}, slow, None, unreadable, exclude))
        return jobs

    def _read_documents(self, names):
        """``(docs, slow)``: the documents of the jobs ``names`` whose state point and
        document are JSON objects (no document: ``{}``), the files read in C where built
        (several threads: :func:`suite.index.reading.read_files`; per job in Python they were
        half of a cold side's no-op); ``slow``: the others, in order, for the per-job reads
        (:meth:`_statepoint_ok`, :meth:`_doc`), which name what is wrong."""
        from suite.index.reading import read_files

        ws = self.project.workspace
        states = read_files(ws, names, layout.STATEPOINT, signed=False)
        texts = read_files(ws, names, layout.DOCUMENT, signed=False)
        docs, slow = {}, []
        for job_id, (sp, _), (text, _) in zip(names, states, texts, strict=True):
            try:
                if type(sp) is bytes and type(loads_checked(sp, "", job_id)) is dict:
                    doc = {} if text is None else \
                        loads_checked(text, "", job_id) if type(text) is bytes else None
                    if type(doc) is dict:
                        docs[job_id] = doc
                        continue
            except SuiteError:  # not JSON: the per-job read says so, naming the file
                pass
            slow.append(job_id)
        return docs, slow

    #: jobs listed at a time by :meth:`snapshot_steady`
    STEADY_CHUNK = 10000

    #: a snapshot of fewer ids than 1/FEW_PART of the workspace's entries reads their
    #: documents and state points from the files: at 10,000 jobs, 100 asked for cost ~60 ms
    #: of CPU through the index, which checks all 10,000 documents' stat first
    FEW_PART = 20

    def _snapshot_start(self, ids, exclude, text=False):
        """The jobs to list and their documents from the index (this thread: the index's
        connection belongs to it; ``text``: as their JSON text, see
        :meth:`suite.index.Index.documents`)."""
        wanted = set(ids) if ids is not None else None
        names, entries = self._job_names(wanted)
        index = self.project.index
        # documents come from the index, which re-reads only those whose stat changed; an
        # index missing most jobs (just synced or unpacked here) costs more to build than
        # reading the documents, so then they are read and the index is left for later
        self.index_cold = index.indexed_count() * 2 < len(names)
        # a few jobs asked for by id (those steady on one side only, issue #18) are read from
        # their files: the index checks every document's stat before it answers for any
        few = wanted is not None and len(names) * self.FEW_PART < entries
        if self.index_cold or few:  # (read as a cold index's are: _snapshot_finish)
            docs, bad = None, {}
        else:
            docs = index.documents(sorted(wanted) if wanted is not None else None, text)
            bad = index.problems
        unreadable = {}
        if bad:
            # never merge a document that cannot be read (it would look emptied), never
            # copy a state point that cannot be read: the job waits until it is fixed
            unreadable = {job_id: bad[job_id] for job_id in names if job_id in bad}
            names = [job_id for job_id in names if job_id not in bad]
        return names, docs, unreadable, exclude

    def _job_names(self, wanted):
        """``(names, entries)``: the workspace's jobs (of the ids ``wanted``, None: all) and its
        number of entries; in a sync, the staging a killed one left is removed."""
        ws = self.project.workspace
        try:
            entries = os.listdir(ws)
        except FileNotFoundError:
            entries = []
        # a few ids asked for: the set's lookup first (a tenth of is_job_id's cost)
        names = [n for n in entries if (wanted is None or n in wanted) and layout.is_job_id(n)]
        if self._locks and len(names) < len(entries):  # in a sync: a killed one's leftovers
            remove_dead_staging(ws, [n for n in entries if n.startswith(layout.TMP_PREFIX)],
                                self._sync_dir, self._locks)
        return names, len(entries)

    def snapshot_range(self, ids=None, exclude=(), lo="", hi=None):
        """:meth:`snapshot` of the jobs (of ``ids``) whose ids are ``lo <= id < hi`` (``hi``
        None: to the end; see :mod:`sync.ranges`), with ``"count"``: how many jobs (of
        ``ids``) the workspace holds in all. A sync going through both sides a range at a
        time asks ``hi=""`` first (the count alone): the workspace is listed then and kept
        (its ids only) for the ranges asked next. Documents come from the index, asked once
        (as text, decoded a range at a time and dropped with it, as :meth:`snapshot_steady`
        does); where the index is cold, from the files (in C where built). Jobs whose
        state point or document cannot be read go to ``"unreadable"``."""
        from .ranges import SortedIds

        if hi == "" or self._range_ids is None:
            names, _ = self._job_names(set(ids) if ids is not None else None)
            self._range_ids = SortedIds(names)
            # the far server brings its index up to date after the client if most of it
            # is missing (sync.server), as after a snapshot
            self.index_cold = self.project.index.indexed_count() * 2 < len(names)
            self._range_docs = None
            del names
        unreadable = {}
        if hi != "":
            names = self._range_ids.between(lo, hi)
            with gc_paused():  # many entries made, no cycles
                jobs = self._list_range(names, unreadable, exclude, ids) if names else {}
        else:
            jobs = {}
        return {"jobs": jobs, "project_doc": self._project_doc(), "unreadable": unreadable,
                "count": len(self._range_ids)}

    def _list_range(self, names, unreadable, exclude, ids):
        """The jobs ``names`` (a range) listed for :meth:`snapshot_range`."""
        if self.index_cold:
            return self._list_cold(names, unreadable, exclude)
        if self._range_docs is None:  # the first range: every document's text, once
            index = self.project.index
            wanted = None if ids is None else sorted(set(ids))
            self._range_docs = (index.documents(wanted, text=True), dict(index.problems))
        texts, bad = self._range_docs
        docs = {}
        for job_id in names:
            if job_id in bad:  # never merged or copied while it cannot be read
                unreadable[job_id] = bad[job_id]
            elif (text := texts.pop(job_id, None)) is not None:  # dropped as ranges go
                docs[job_id] = loads_text(text) if type(text) is str else text
        names = [job_id for job_id in names if job_id not in bad]
        return self._finish_jobs(*self._snapshot_list(names, docs, unreadable, exclude))

    def snapshot_range_later(self, ids=None, exclude=(), lo="", hi=None):
        """A function returning :meth:`snapshot_range` (taken when it is called)."""
        return lambda: self.snapshot_range(ids, exclude, lo, hi)

    def _snapshot_list(self, names, docs, unreadable, exclude):
        """The common job (a few plain files) listed for all jobs in one call, in C where
        built, with its document (no Python object but those it makes: may run in another
        thread); the others, and every job when files are excluded, are left to
        :meth:`_snapshot_finish`."""
        jobs, listed, rest = {}, {}, names
        if names and not exclude:
            ws, skip = self.project.workspace, (layout.STATEPOINT, layout.DOCUMENT)
            if docs is None:  # every job's documents are read below
                listed = list_jobs(ws, names, skip, layout.TMP_PREFIX)[0]
            else:
                jobs, rest = list_jobs(ws, names, skip, layout.TMP_PREFIX, docs)
        return jobs, listed, rest, docs, unreadable, exclude

    def _snapshot_finish(self, jobs, listed, rest, docs, unreadable, exclude):
        jobs = self._finish_jobs(jobs, listed, rest, docs, unreadable, exclude)
        return {"jobs": jobs, "project_doc": self._project_doc(), "unreadable": unreadable}

    def _finish_jobs(self, jobs, listed, rest, docs, unreadable, exclude):
        """``jobs`` with the jobs of ``rest`` added: listed (``listed``, else here), their
        documents from ``docs`` (None: each read from its file, its state point checked);
        those that cannot be read go to ``unreadable``."""
        ws = self.project.workspace
        skip = {layout.STATEPOINT, layout.DOCUMENT}
        for job_id in rest:
            if docs is None:
                try:
                    self._statepoint_ok(job_id)
                    doc = self._doc(job_id)
                except (SuiteError, OSError) as exc:
                    unreadable[job_id] = str(exc)
                    continue
            else:
                doc = docs.get(job_id, {})
            files, skipped, links = listed.get(job_id), {}, 0
            if files is None:
                files = {}
                links = list_files(f"{ws}/{job_id}", files, skipped, skip, exclude)
            if "" in skipped:  # the job directory cannot be listed: its files would look gone
                unreadable[job_id] = f"job {job_id}: its directory cannot be listed " \
                    "(permission denied); fix its permissions"
                continue
            jobs[job_id] = {"files": files, "doc": doc}
            if links:
                jobs[job_id]["links"] = links
            if skipped:
                jobs[job_id]["skipped"] = skipped
        return jobs

    def flush(self):
        """Wait until every write sent so far is done (local writes are done at once) and
        the jobs landed so far are indexed (:meth:`index_new_jobs`); raises the error of a
        landing in a second thread (:meth:`create_jobs`)."""
        self.land_wait()
        self.index_new_jobs()

    #: landed jobs are held (their memory) until :meth:`index_new_jobs`, at most this many:
    #: one bulk insert at the end costs a third of what batches put in by a helper thread
    #: while the sync went on did (key indexes rebuilt per batch, the GIL shared; 10,000
    #: jobs pulled: 2.9 against 3.8 s)
    INDEX_HOLD = 20000

    def index_new_jobs(self):
        """Put the jobs :meth:`create_job` landed into the index from what it wrote (no file
        read again), so the first command after a sync does not pay for reading them. A
        cache: if that fails, the next refresh reads them."""
        landed, self._landed = self._landed, []
        if landed:
            try:
                self.project.index.add_known(landed)
            except Exception:  # e.g. locked past its timeout: the next refresh reads them
                pass

    def snapshot_later(self, ids=None, exclude=(), since=None):
        """A function returning :meth:`snapshot`. Where the listing is native and large
        (:data:`suite.native.THREADS_MIN` jobs) and a core looks idle
        (:func:`suite.native.idle_core`), the index is asked now and the job directories are
        listed in a second thread meanwhile, so that a local sync lists both sides at once, as
        a far side lists while this side does (the C releases the GIL around each job's
        system calls; with both cores busy the thread gained nothing and cost 3-10 % CPU);
        then ``since`` is not used (a whole snapshot is always a right answer).

        With ``since`` where :meth:`lists_apart` (the plain case of a local sync run before)
        the snapshot is taken in a child forked from this process (:mod:`suite.forked`), as a
        far side's is taken in its own process: this process lists its own side meanwhile.
        The function then raises what the child raised, or :class:`SyncError` if it ended
        without an answer. The child stays to take the snapshots of given ``ids`` asked for
        next (those steady there but not on the other side), from the project and listing
        it has open, until :meth:`end_child`."""
        if type(self).snapshot is not Replica.snapshot:  # a subclass's own snapshot
            return lambda: self.snapshot(ids, exclude)
        if since is not None and not exclude and self.lists_apart(since):
            finish = self._snapshot_in_child(ids, since)
            if finish is not None:
                return finish
        if list_jobs is list_jobs_python or exclude or not native.idle_core():
            return lambda: self.snapshot(ids, exclude, since)
        started = self._snapshot_start(ids, exclude)
        if len(started[0]) < native.THREADS_MIN:
            return lambda: self._snapshot_finish(*self._snapshot_list(*started))
        import threading

        out = {}

        def run():
            try:
                out["value"] = self._snapshot_list(*started)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the caller's call
                out["error"] = exc

        thread = threading.Thread(target=run, name="suite-snapshot", daemon=True)
        thread.start()

        def finish():
            thread.join()
            if "error" in out:
                raise out["error"]
            return self._snapshot_finish(*out["value"])

        return finish

    def lists_apart(self, peer):
        """Whether :meth:`snapshot_later` ``since`` ``peer`` lists in a forked child: this
        side keeps a record of ``peer`` (only the jobs that moved since then come back, so
        little is handed over), the native listing is built, and a child can be forked
        now (:func:`suite.forked.can_fork`)."""
        from suite.forked import can_fork

        return list_jobs is not list_jobs_python and self.has_record(peer) and can_fork()

    #: what a listing imports when it first runs: imported before the fork, as this process
    #: lists its own side with them anyway (else the child imports them again: ~4 % of its
    #: instructions at 10,000 jobs)
    CHILD_PRELOAD = ("hashlib", "suite.index", "suite.index.ahead", "suite.index.freshness",
                     "suite.index.reading", "suite.index.refresh", "sync.steady")

    def _snapshot_in_child(self, ids, since):
        """:meth:`snapshot` ``since`` a peer's record, in a forked child; a function
        returning it (None if no child could be started)."""
        import importlib

        from suite.forked import Child

        for name in self.CHILD_PRELOAD:  # imported once, here, not again in the child
            importlib.import_module(name)

        def in_child():
            # this process's own project and index: a database connection the parent may
            # have opened is never used (nor closed: kept referenced) in a child
            self._inherited, self.project = self.project, suite.get_project(self.path)
            snap = self.snapshot(ids, (), since)
            return snap, self._record_digests.get(since), self.index_cold

        def serve(more_ids):  # in the child: a few jobs more, whole
            return self.snapshot(more_ids)

        try:
            child = self._child = Child(in_child, f"listing {self.path}", serve)
        except OSError:  # no process or pipe left: listed here
            return None

        def finish():
            snap, digest, self.index_cold = _from_child(child.result)
            self._record_digests[since] = digest
            return snap

        return finish

    def end_child(self, wait=True):
        """The child that listed this side (:meth:`snapshot_later`) leaves: later snapshots
        are taken here. With ``wait`` false it is not waited for (it leaves while this
        process goes on; a call with ``wait`` reaps it). Idempotent; a child still listing
        is stopped."""
        child = self._child
        if child is not None:
            if wait:
                self._child = None
            child.close(wait)

    def _statepoint_ok(self, job_id):
        fn = os.path.join(self.project.workspace, job_id, layout.STATEPOINT)
        try:
            sp = read_json(fn, job_id)
        except FileNotFoundError:
            raise SyncError(f"job {job_id}: {fn} is missing; run 'suite check'") from None
        if not isinstance(sp, dict):
            raise SyncError(f"job {job_id}: {fn} is not a JSON object; run 'suite check'")

    def _doc(self, job_id):
        try:
            doc = read_json(os.path.join(self.project.workspace, job_id, layout.DOCUMENT), job_id)
        except FileNotFoundError:
            return {}
        if not isinstance(doc, dict):
            raise SyncError(f"job {job_id}: its document is not a JSON object; fix it first")
        return doc

    def _project_doc(self):
        try:
            return read_json(self.project.fn(layout.PROJECT_DOCUMENT))
        except FileNotFoundError:
            return {}

    def find_ids(self, filter):
        """Ids of this side's jobs matching ``filter``."""
        return self.project.find_jobs(filter).ids()

    def active_work(self):
        """This side's work queued or running (see :func:`sync.active.active_work`)."""
        from .active import active_work

        return active_work(self.project)

    def doc_mtime(self, job_id):
        try:
            return os.stat(os.path.join(self.project.workspace, job_id, layout.DOCUMENT)).st_mtime_ns
        except FileNotFoundError:
            return 0

    def statepoint(self, job_id):
        with open(os.path.join(self.project.workspace, check_id(job_id), layout.STATEPOINT),
                  "rb") as f:
            return f.read()

    def digest(self, job_id, rel):
        """The hex :class:`sync.blocks.FileCheck` of a job's file (128 bits, XXH64 pieces:
        a fraction of SHA-256's cost where sync._delta is built)."""
        from .blocks import stream_check

        with self._open(job_id, rel) as f:
            return stream_check(f)

    def digests(self, requests):
        """``[(job_id, rel)]`` -> their :meth:`digest`, in order."""
        return [self.digest(job_id, rel) for job_id, rel in requests]

    def digests_later(self, requests):
        """A function returning :meth:`digests` (over SSH the far side hashes meanwhile)."""
        out = self.digests(requests)
        return lambda: out

    def read(self, job_id, rel):
        """``(data, mtime_ns)`` of a job's regular file (never a link or a fifo)."""
        # plain descriptor calls: one fstat, no buffered file object (20,000 reads in a first
        # sync of 10,000 jobs)
        fd = os.open(self._file(job_id, rel), _READ_FLAGS)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise SyncError(f"job {job_id}: {rel} is not a regular file; not read")
            # the time before the content: a write in between makes the record look older
            # than the copy (synced again), never newer (a change missed)
            chunks, want = [], st.st_size + 1  # one more: a file grown meanwhile is read on
            while True:
                chunks.append(os.read(fd, want))
                if len(chunks[-1]) < want:  # a short read of a regular file: its end
                    break
                want = 1 << 20
            return chunks[0] if len(chunks) == 1 else b"".join(chunks), st.st_mtime_ns
        finally:
            os.close(fd)

    def read_jobs(self, requests):
        """Whole jobs at once, for copying (see :func:`read_jobs_by_files`)."""
        return read_jobs_by_files(self.read_files, requests)

    def read_jobs_later(self, requests):
        """A function returning :meth:`read_jobs` (over SSH the far side reads meanwhile)."""
        out = self.read_jobs(requests)
        return lambda: out

    def read_files(self, requests):
        """``[(job_id, rel)]`` -> ``[(data, mtime_ns)]``, in order: as :meth:`read` reads
        each, all in one call (:func:`sync.readfiles.read_files`)."""
        got = read_many([self._file(job_id, rel) for job_id, rel in requests])
        if got and got[-1] is None:  # the first that is not a regular file ends the list
            job_id, rel = requests[len(got) - 1]
            raise SyncError(f"job {job_id}: {rel} is not a regular file; not read")
        return got

    def _file(self, job_id, rel):
        # joined as text: a checked id and a checked relative path have no empty, "." or ".."
        # parts (two os.path.join calls less for each of a first sync's 20,000 reads)
        job_dir = self.project.workspace + "/" + check_id(job_id)
        _no_link_above(job_dir, check_rel(rel))
        return job_dir + "/" + rel

    def _open(self, job_id, rel):
        """Open a job's regular file for reading: never a link (O_NOFOLLOW) or a fifo."""
        path = self._file(job_id, rel)
        fd = os.open(path, _READ_FLAGS)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise SyncError(f"job {job_id}: {rel} is not a regular file; not read")
        return os.fdopen(fd, "rb")

    def _target(self, job_id, rel, expect=ANY):
        """The path of a file to be written or deleted: never a reserved file, and only in a
        job that exists (one with a state point). A job that does not exist is an error for an
        unchecked write; for a checked one (``expect`` given: the job was listed) it was
        deleted during the sync, and None is returned (nothing is written; the caller notes
        it)."""
        path = self._file(job_id, rel)
        if rel in RESERVED:
            raise SyncError(f"job {job_id}: refused to change {rel} as an ordinary file "
                            "(the other side listed it as one)")
        if expect is ANY:
            self._existing(job_id)
        elif not self._has_job(job_id):
            return None
        return path

    def _has_job(self, job_id):
        return os.path.isfile(os.path.join(self.project.workspace, check_id(job_id),
                                           layout.STATEPOINT))

    def _existing(self, job_id):
        if not self._has_job(job_id):
            raise SyncError(f"job {job_id} does not exist in {self.path}: refused to write "
                            "into it")

    # -- delta transfer (rsync's algorithm, sync/delta.py) ----------------------------------
    def signature(self, job_id, rel):
        """The block signature of this side's copy of a file (the basis)."""
        from . import delta

        with self._open(job_id, rel) as f:
            return delta.signature_bytes(f)

    def make_delta(self, job_id, rel, signature, limit=None):
        """``(delta bytes, mtime_ns)`` turning the other side's basis into this file;
        ``delta.DeltaTooLarge`` past ``limit`` bytes."""
        from . import delta

        with self._open(job_id, rel) as f:
            mtime = os.fstat(f.fileno()).st_mtime_ns
            return delta.make_delta(delta.Signature.from_bytes(signature), f,
                                    limit=limit), mtime

    def signatures(self, requests):
        """:meth:`signature` of each (job id, path), in order."""
        return [self.signature(job_id, rel) for job_id, rel in requests]

    def signatures_later(self, requests):
        """A function returning :meth:`signatures`. Over SSH the far side computes them
        while this side goes on; here they are computed at once."""
        sigs = self.signatures(requests)
        return lambda: sigs

    def make_deltas(self, requests, signatures):
        """:meth:`make_delta` for each (job id, path, limit) and its signature, None where
        the delta would pass its limit (the file goes whole instead)."""
        from .delta import DeltaTooLarge

        out = []
        for (job_id, rel, limit), sig in zip(requests, signatures, strict=True):
            try:
                out.append(self.make_delta(job_id, rel, sig, limit))
            except DeltaTooLarge:
                out.append(None)
        return out

    def make_deltas_later(self, requests, signatures):
        """A function returning :meth:`make_deltas`: computed at once here, by the far side
        meanwhile over SSH."""
        out = self.make_deltas(requests, signatures)
        return lambda: out

    def apply_delta(self, job_id, rel, data, mtime_ns, expect=ANY):
        """Rebuild the file from its current version and ``data`` into a temporary file,
        then rename it into place (only if the file is still ``expect``; else return a note
        of the refusal, as every write here does)."""
        from . import delta

        dst = self._target(job_id, rel, expect)
        if dst is None:
            return self._refused(job_id, rel)  # the job was deleted meanwhile
        tmp = layout.temp_path(dst)
        try:
            with self._open(job_id, rel) as basis:
                if expect is not ANY and not same_file(os.fstat(basis.fileno()), expect):
                    return self._refused(job_id, rel)
                with open(tmp, "xb") as out:
                    delta.apply_delta(basis, data, out)
            os.utime(tmp, ns=(mtime_ns, mtime_ns))
            if expect is ANY:
                os.replace(tmp, dst)
            elif not replace_if_unchanged(tmp, dst, expect):
                return self._refused(job_id, rel)
        except FileNotFoundError:
            if expect is ANY:
                raise
            return self._refused(job_id, rel)  # deleted meanwhile
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return None

    # -- writing ----------------------------------------------------------------------------
    def write(self, job_id, rel, data, mtime_ns, expect=ANY):
        """Write a file stamped ``mtime_ns``; with ``expect`` (None: no file there;
        ``[size, mtime_ns, inode]`` as listed) only if the file is still that, else return a
        note of the refusal (also kept in :attr:`changed`). Raises :class:`SyncError` for a
        reserved file (see :meth:`_target`)."""
        dst = self._target(job_id, rel, expect)
        if dst is None:
            return self._refused(job_id, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if write_atomic(dst, data, mtime_ns=mtime_ns, expect=expect) is None:
            return self._refused(job_id, rel)
        return None

    # -- large files, in chunks (never whole in memory) ---------------------------------------
    def read_chunks(self, job_id, rel):
        """``(mtime_ns, iterator of byte chunks)`` of a file, read as it is consumed."""
        f = self._open(job_id, rel)
        mtime = os.fstat(f.fileno()).st_mtime_ns

        def chunks():
            with f:
                yield from iter(lambda: f.read(CHUNK), b"")

        return mtime, chunks()

    def open_stream(self, job_id, rel, expect=ANY):
        """A :class:`FileWriter` for the file ``rel`` of the job (``expect`` as in
        :meth:`write`)."""
        path = self._target(job_id, rel, expect)
        if path is None:
            return _Discard(lambda: self._refused(job_id, rel))
        return FileWriter(path, expect, lambda: self._refused(job_id, rel))

    def write_stream(self, job_id, rel, chunks, mtime_ns, expect=ANY):
        """Write a file from ``chunks`` (never whole in memory); return its size (a refused
        write is noted in :attr:`changed`)."""
        writer = self.open_stream(job_id, rel, expect)
        try:
            for chunk in chunks:
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        writer.close(mtime_ns)
        return writer.size

    def write_link(self, job_id, rel, target, mtime_ns, expect=ANY):
        """Make ``rel`` a link to ``target``, made under a temporary name and renamed over
        the file or link there; with ``expect`` (as in :meth:`write`) only if what is there is
        still that, else a note is returned. Raises :class:`SyncError` for a target that is
        absolute or leaves the job as written, a directory of ``rel`` that is a link, a
        reserved file (state point, document) or an unchecked write into a job that does not
        exist (the checks of every write)."""
        dst = self._target(job_id, rel, expect)
        if dst is None:
            return self._refused(job_id, rel)  # the job was deleted meanwhile
        job_dir = os.path.join(self.project.workspace, job_id)
        if os.path.isabs(target) or "\x00" in target or not jobfiles.inside(
                os.path.normpath(os.path.join(os.path.dirname(dst), target)), job_dir):
            raise SyncError(f"job {job_id}: refused link {rel} -> {target!r} from the other "
                            "side: it leaves the job")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.isdir(dst) and not os.path.islink(dst):
            os.rmdir(dst)  # an empty directory holds nothing sync tracks; a full one raises
        tmp = layout.temp_path(dst)
        os.symlink(target, tmp)
        try:
            os.utime(tmp, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
            if expect is ANY:
                os.replace(tmp, dst)
            elif not replace_if_unchanged(tmp, dst, expect):
                return self._refused(job_id, rel)
        except BaseException:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise
        return None

    def delete_file(self, job_id, rel, expect=ANY):
        """Delete a file; with ``expect`` only if it is still that file (else a note).
        Raises :class:`SyncError` as :meth:`write` does."""
        path = self._target(job_id, rel, expect)
        if path is None:
            return None  # the job is gone, and the file with it
        if expect is ANY:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            return None
        # take it out of sight first, then look at what was taken: a write in between
        # cannot be deleted unseen
        claimed = layout.temp_path(path)
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            return None
        try:
            if same_file(os.lstat(claimed), expect):
                return None
            try:
                # put it back (a link as a link), unless a newer file is there by now
                os.link(claimed, path, follow_symlinks=False)
            except FileExistsError:
                pass
            return self._refused(job_id, rel)
        finally:
            os.unlink(claimed)

    def write_doc(self, job_id, doc, listed=ANY):
        """Write a job document. With ``listed`` (the document as the snapshot listed it):
        if it was written to since, the two changes are merged (three-way, from ``listed``)
        and that is written, or, if they changed the same keys, nothing is and a note is
        returned. The file keeps its modification time (the time this side last changed it,
        which ``--prefer newer`` compares). Raises :class:`suite.errors.InvalidStatepointError`
        for values JSON cannot hold (NaN, Infinity) or bad keys in ``doc``, :class:`SyncError`
        for an unchecked write (no ``listed``) into a job that does not exist."""
        path = os.path.join(self.project.workspace, check_id(job_id), layout.DOCUMENT)
        doc = check_document(doc, f"job {job_id}: document")
        if listed is ANY:
            self._existing(job_id)
        elif not self._has_job(job_id):
            return self._refused(job_id, layout.DOCUMENT)  # deleted during the sync
        return self._write_doc_file(path, doc, listed, job_id, layout.DOCUMENT)

    def write_project_doc(self, doc, listed=ANY):
        """Write the project document (``listed`` and what is raised as in
        :meth:`write_doc`)."""
        doc = check_document(doc, "project document")
        return self._write_doc_file(self.project.fn(layout.PROJECT_DOCUMENT), doc, listed,
                                    None, layout.PROJECT_DOCUMENT)

    #: attempts to write a document that keeps being written to meanwhile
    DOC_ATTEMPTS = 4

    def _write_doc_file(self, path, doc, listed, job_id, rel):
        if listed is ANY:
            write_atomic(path, dumps(doc).encode())
            return None
        for _ in range(self.DOC_ATTEMPTS):
            try:
                f = open(path, "rb")
            except FileNotFoundError:
                f, st, current = None, None, {}
            try:
                if f is not None:
                    # held open while it is replaced: its inode cannot be reused meanwhile
                    st = os.fstat(f.fileno())
                    try:
                        current = loads_checked(f.read(), path, job_id)
                    except SuiteError:
                        return self._refused(job_id, rel)  # broken since the snapshot
                if not isinstance(current, dict):
                    return self._refused(job_id, rel)
                target = doc
                if not same(current, listed):
                    # written to since it was listed (a running job): keep both changes
                    target, _, _, conflicts = merge(listed, current, doc)
                    if conflicts:
                        return self._refused(job_id, rel)
                try:
                    # NaN or Infinity can only come from the file here (signac writes
                    # them; ``doc`` was checked): kept, as job.doc keeps them
                    done = write_atomic(path, dumps(target, keep_nonfinite=True).encode(),
                                        mtime_ns=st and st.st_mtime_ns,
                                        expect=st and (st.st_size, st.st_mtime_ns, st.st_ino))
                except FileNotFoundError:  # the job was deleted meanwhile
                    return self._refused(job_id, rel)
                if done is not None:
                    return None
            finally:
                if f is not None:
                    f.close()
        return self._refused(job_id, rel)

    def create_job(self, job_id, statepoint, doc, files):
        """Land a whole job at once: ``files`` is a list of (rel, data, mtime_ns). The job is
        staged in a temporary directory of the workspace and renamed into place whole (a
        killed sync leaves no part of it under its name). Raises :class:`BadStatepoint` for a
        state point that is not the job's, :class:`SyncError` for a path that leaves the job
        or names the state point or document,
        :class:`suite.errors.InvalidStatepointError` for a document JSON cannot hold; returns
        a note (kept in :attr:`changed`) if the job was made here meanwhile."""
        dst, tmp, statepoint, sp, doc, doc_bytes = self._new_job(job_id, statepoint, doc, files)
        sig = None
        try:
            os.mkdir(tmp)
        except FileExistsError:  # left by a sync of this process id that was killed
            shutil.rmtree(tmp)
            os.mkdir(tmp)
        try:
            write_new(f"{tmp}/{layout.STATEPOINT}", statepoint)
            if doc_bytes is not None:
                sig = write_new(f"{tmp}/{layout.DOCUMENT}", doc_bytes, signed=True)
            for rel, data, mtime in files:
                path = f"{tmp}/{rel}"
                if "/" in rel:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                write_new(path, data, mtime)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self._land(job_id, tmp, dst, statepoint, sp, doc, doc_bytes, sig)

    def _new_job(self, job_id, statepoint, doc, files):
        """:meth:`create_job`'s checks: ``(dst, tmp, state point bytes, state point, doc,
        doc bytes)``; raises as create_job does."""
        ws = self.project.workspace
        dst = f"{ws}/{check_id(job_id)}"
        if isinstance(statepoint, str):
            statepoint = statepoint.encode()
        sp = check_statepoint(job_id, statepoint)
        doc = check_document(doc, f"job {job_id}: document") if doc else None
        doc_bytes = dumps(doc).encode() if doc else None
        for rel, _, mtime in files:
            # checked once per name: most jobs hold files of the same names
            if type(rel) is not str or rel not in self._good_rels:
                check_rel(rel)
                if rel in RESERVED:
                    raise SyncError(f"job {job_id}: refused {rel} as an ordinary file")
                self._good_rels.add(rel)
            low, high = NS_RANGE
            if mtime is not None and (type(mtime) is not int or not low <= mtime < high):
                raise SyncError(f"job {job_id}: refused time {mtime!r:.40} of {rel} from "
                                "the other side (not nanoseconds since 1970)")
        # paths joined as text: ws is the workspace's path, each rel is checked above (an
        # os.path.join per file was a tenth of landing a small job)
        tmp = f"{ws}/{layout.TMP_PREFIX}sync-{job_id}-{os.getpid()}"
        return dst, tmp, statepoint, sp, doc, doc_bytes

    def create_jobs(self, jobs, wait=True):
        """Land many new jobs: ``jobs`` is a list of ``(job_id, statepoint, doc, files)`` as
        :meth:`create_job` takes them. All are checked first; a job whose state point is not
        its own is left out, its note ``{"job": id, "path": None, "unreadable": why}`` kept
        in :attr:`changed`. The rest are staged and renamed into place by one call
        (:func:`sync.landing.land_jobs`; a job with files in subdirectories by create_job).
        Returns the notes of the jobs left out or made here meanwhile (empty: all landed).
        Raises what create_job raises for other bad input, before any job lands, and the
        OSError of a write that failed (the jobs before it have landed).

        With ``wait`` False the plain jobs land in a second thread while the caller goes on
        (their system calls run without the GIL): one batch at a time, the next call (or
        :meth:`land_wait`, :meth:`flush`) waits for the one before and raises its error; the
        notes of those jobs are then found in :attr:`changed` only."""
        notes, flat, nested = [], [], []
        for job_id, statepoint, doc, files in jobs:
            try:
                checked = self._new_job(job_id, statepoint, doc, files)
            except BadStatepoint as exc:
                notes.append({"job": job_id, "path": None, "unreadable": str(exc)})
                continue
            if any("/" in rel for rel, _, _ in files):
                nested.append((job_id, statepoint, doc, files))
                continue
            if not all(type(data) is bytes for _, data, _ in files):  # e.g. a memoryview
                files = [(rel, bytes(data), mtime) for rel, data, mtime in files]
            flat.append((job_id, checked, files))
        self.changed.extend(notes)
        self.land_wait()  # the batch before
        if wait:
            notes.extend(self._land_flat(flat))
        elif flat:
            import threading

            self._landing = threading.Thread(target=self._land_in_thread, args=(flat,),
                                             name="suite-landing", daemon=True)
            self._landing.start()
        for job in nested:
            note = self.create_job(*job)
            if note is not None:
                notes.append(note)
        return notes

    def land_wait(self):
        """Wait for the jobs :meth:`create_jobs` lands in a second thread; raise the error
        that stopped it."""
        thread, self._landing = self._landing, None
        if thread is not None:
            thread.join()
            error, self._landing_error = self._landing_error, None
            if error is not None:
                raise error
        if len(self._landed) >= self.INDEX_HOLD:
            self.index_new_jobs()

    def _land_in_thread(self, flat):
        try:
            self._land_flat(flat)
        except BaseException as exc:  # raised by land_wait, in the caller's thread
            self._landing_error = exc

    def _land_flat(self, flat):
        """Land the checked plain jobs ``flat`` (see create_jobs); the notes of those made
        here meanwhile (kept in :attr:`changed` too)."""
        staged = [(tmp, dst, statepoint, doc_bytes, files)
                  for _, (dst, tmp, statepoint, _, _, doc_bytes), files in flat]
        notes, done = [], 0
        try:
            while done < len(staged):
                sigs = land_jobs(staged[done:], layout.STATEPOINT, layout.DOCUMENT)
                for (job_id, (_, tmp, statepoint, sp, doc, doc_bytes), _), sig in \
                        zip(flat[done:], sigs, strict=False):
                    if sig is False:  # made here during the sync: the next sync compares them
                        shutil.rmtree(tmp, ignore_errors=True)
                        notes.append(self._refused(job_id, None))
                    else:
                        self._landed_job(job_id, statepoint, sp, doc, doc_bytes, sig)
                done += len(sigs)
                if done < len(staged):  # left by a sync of this process id that was killed
                    shutil.rmtree(staged[done][0])
        except BaseException:
            for tmp, *_ in staged[done:]:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        return notes

    def _land(self, job_id, tmp, dst, statepoint, sp, doc, doc_bytes, sig):
        """Rename the staged job ``tmp`` to ``dst`` and hold it for the index; a note if the
        job was made here meanwhile."""
        try:
            os.rename(tmp, dst)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if not isinstance(exc, OSError) or exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            # made here during the sync: the next sync compares the two
            return self._refused(job_id, None)
        self._landed_job(job_id, statepoint, sp, doc, doc_bytes, sig)
        if len(self._landed) >= self.INDEX_HOLD and self._landing is None:
            self.index_new_jobs()
        return None

    def _landed_job(self, job_id, statepoint, sp, doc, doc_bytes, sig):
        """Hold a job just renamed into place for the index (:meth:`index_new_jobs`)."""
        # renamed whole: the document keeps the inode and times it was written with
        try:
            sp_text = statepoint.decode("utf-8-sig")  # as the index reads a state point
        except UnicodeDecodeError:  # another encoding JSON allows
            sp_text = json.dumps(sp)
        # (a list's append: safe from create_jobs' second thread; indexed in the caller's)
        self._landed.append((job_id, sp_text, sp, doc,
                             doc_bytes.decode() if doc_bytes else None, sig))

    def copy_local_job(self, src, job_id, doc, rels):
        """:meth:`create_job` of the job ``job_id`` of ``src`` (a Replica on this machine)
        with its document ``doc`` (as listed) and the flat files ``rels``, copied file to
        file in one call (:func:`sync.landing.stage_copy`) instead of read into memory and
        written again (by the thread of :meth:`stage_ahead` if it planned this job). Returns
        None, a note as :meth:`create_job` does, or :data:`NOT_PLAIN` when a file is not a
        regular one (nothing is left here: copy the job through :meth:`create_job`). Raises
        what :meth:`create_job` raises and the OSError of a file that cannot be read or
        written."""
        staged = None
        if self._ahead is not None:
            planned = self._ahead_plan.get(job_id)
            staged = self._ahead.take(job_id)  # raises what staging raised
            if staged is not None and planned != (src, doc, rels):  # not what was planned
                self._discard_staged(staged)
                staged = None
        if staged is None:
            staged = self._stage_local(src, job_id, doc, rels)
        if staged is NOT_PLAIN:
            return NOT_PLAIN
        tmp, doc, doc_bytes, statepoint, sig = staged
        try:
            sp = check_statepoint(job_id, statepoint)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        dst = f"{self.project.workspace}/{job_id}"
        return self._land(job_id, tmp, dst, statepoint, sp, doc, doc_bytes, sig)

    def _stage_local(self, src, job_id, doc, rels):
        """:meth:`copy_local_job`'s staging: ``(tmp, doc, doc_bytes, state point bytes,
        document signature)``, or :data:`NOT_PLAIN` (nothing left)."""
        tmp, doc, doc_bytes, args = self._stage_args(src, job_id, doc, rels)
        try:
            return self._staged(tmp, doc, doc_bytes, args, stage_copy(*args))
        except FileExistsError:  # left by a sync of this process id that was killed
            shutil.rmtree(tmp)
            return self._staged(tmp, doc, doc_bytes, args, stage_copy(*args))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _stage_many(self, src, jobs):
        """:meth:`_stage_local` of each of ``jobs`` (``(job_id, doc, rels)``), their copies
        made by one call (:func:`sync.landing.stage_copies`, the GIL released once): one
        ``(True, answer)`` or ``(False, exception)`` a job. Runs in the thread of
        :meth:`stage_ahead` (it touches no index and nothing of this object but the set of
        checked names)."""
        out, made = [], []
        for job_id, doc, rels in jobs:
            try:
                made.append((len(out), self._stage_args(src, job_id, doc, rels)))
                out.append(None)
            except Exception as exc:  # raised by that job's copy_local_job
                out.append((False, exc))
        try:
            answers = stage_copies([prepared[3] for _, prepared in made])
        except BaseException:
            for _, prepared in made:
                shutil.rmtree(prepared[0], ignore_errors=True)
            raise
        for (k, (tmp, doc, doc_bytes, args)), answer in zip(made, answers, strict=True):
            try:
                if isinstance(answer, FileExistsError):  # left by a killed sync of this pid
                    shutil.rmtree(tmp)
                    answer = stage_copy(*args)
                elif isinstance(answer, BaseException):
                    raise answer
                out[k] = (True, self._staged(tmp, doc, doc_bytes, args, answer))
            except Exception as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                out[k] = (False, exc)
        return out

    def _stage_args(self, src, job_id, doc, rels):
        """The checks before a job is staged, and what it is staged from: ``(tmp, doc,
        doc_bytes, stage_copy's arguments)``."""
        for rel in rels:  # checked once per name, as create_job checks them
            if type(rel) is not str or rel not in self._good_rels:
                if "/" in check_rel(rel) or rel in RESERVED:
                    raise SyncError(f"job {job_id}: refused {rel!r} as a file of a plain job")
                self._good_rels.add(rel)
        check_id(job_id)
        doc = check_document(doc, f"job {job_id}: document") if doc else None
        doc_bytes = dumps(doc).encode() if doc else None
        tmp = f"{self.project.workspace}/{layout.TMP_PREFIX}sync-{job_id}-{os.getpid()}"
        return tmp, doc, doc_bytes, (f"{src.project.workspace}/{job_id}", tmp,
                                     layout.STATEPOINT, rels, layout.DOCUMENT, doc_bytes)

    @staticmethod
    def _staged(tmp, doc, doc_bytes, args, answer):
        if answer is None:  # a file that is not regular: nothing left
            shutil.rmtree(tmp)
            return NOT_PLAIN
        return (tmp, doc, doc_bytes, *answer)

    @staticmethod
    def _discard_staged(staged):
        if staged is not NOT_PLAIN:
            shutil.rmtree(staged[0], ignore_errors=True)

    #: a local first copy of this many jobs or more is staged ahead by a second thread
    AHEAD_MIN = native.THREADS_MIN

    def stage_ahead(self, src, jobs):
        """Stage the jobs ``jobs`` (``(job_id, doc, rels)`` as :meth:`copy_local_job` will be
        given them, in that order) of ``src`` (a Replica on this machine) in a second thread,
        ahead of the calls that land them, where the staging is native (the thread copies
        without the interpreter lock while this one checks state points and renames), there
        are :attr:`AHEAD_MIN` jobs or more and a core looks idle
        (:func:`suite.native.idle_core`). Every check, error and note stays where and what
        it was: a job's failure is raised by its own :meth:`copy_local_job`. Call
        :meth:`end_ahead` when done (it removes what was staged and not landed)."""
        self.end_ahead()
        if stage_copy is stage_copy_python or len(jobs) < self.AHEAD_MIN or \
                not native.idle_core():
            return
        plan = {job_id: (src, doc, rels) for job_id, doc, rels in jobs}
        self._ahead_plan = plan
        self._ahead = StagedAhead(
            lambda ids: self._stage_many(src, [(job_id, *plan[job_id][1:]) for job_id in ids]),
            plan, self._discard_staged)

    def end_ahead(self):
        """Stop :meth:`stage_ahead`'s thread and remove the jobs it staged that were not
        landed (a sync that ends early). Idempotent."""
        ahead, self._ahead, self._ahead_plan = self._ahead, None, None
        if ahead is not None:
            ahead.close()
        self.end_child()  # a listing in a child not waited for: stopped

    def delete_job(self, job_id, expect=ANY):
        """Delete a job; with ``expect`` (``{"files": {rel: [size, mtime_ns, inode]},
        "doc": doc_digest}`` as listed) only if it still is that, else return a note."""
        path = os.path.join(self.project.workspace, check_id(job_id))
        if not os.path.isdir(path):
            return None
        if expect is ANY:
            self.project.open_job(id=job_id).remove()
            return None
        # out of sight first (as Job.remove does), then compared: nothing written meanwhile
        # is deleted unseen
        staged = os.path.join(self.project.workspace,
                              f"{layout.TMP_PREFIX}rm-{job_id}-{os.urandom(4).hex()}")
        os.rename(path, staged)
        files = {}
        list_files(staged, files, {}, {layout.STATEPOINT, layout.DOCUMENT}, ())
        try:
            doc = read_json(os.path.join(staged, layout.DOCUMENT), job_id)
        except FileNotFoundError:
            doc = {}
        except SuiteError:
            doc = None
        # listed as [size, mtime_ns, inode], as the snapshot lists them
        if doc is not None and doc_digest(doc) == expect["doc"] and files == expect["files"]:
            shutil.rmtree(staged)
            return None
        try:
            os.rename(staged, path)
        except OSError:
            raise SyncError(f"job {job_id} changed during the sync and was made again while "
                            f"the sync removed it; the changed copy is kept in {staged}: "
                            "compare the two and move it back") from None
        return self._refused(job_id, None)
