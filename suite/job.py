"""A job: one directory in the workspace, named by the id of its state point."""

import errno
import itertools
import operator
import os
import types

from . import layout
from .errors import (
    CorruptFileError,
    CorruptStatepointError,
    DestinationExistsError,
    JobNotFoundError,
    JobNotInitializedError,
    JobsCorruptedError,
)
from .jsonio import dumps, read_json, write_all, write_atomic
from .slotnew import maker
from .statepoint import validate_statepoint
from .synced import FileRoot, SyncedDict, copy_json, new_dict_view, primed_file_root


class _StatepointRoot:
    """Root of ``job.sp``: a change computes the new state point and moves the job."""

    __slots__ = ("job",)  # one per `job.sp` access: iterating 100,000 jobs makes as many
    what = "state point"

    def __init__(self, job):
        self.job = job

    def data(self):
        sp = self.job._sp  # read already (iterating, status): no second call level
        return sp if sp is not None else self.job._statepoint_data()

    def modify(self, fn):
        new = copy_json(self.job._statepoint_data())
        fn(new)
        self.job.reset_statepoint(new)


#: ``_StatepointRoot(job)``, without its ``__init__`` where suite._slots is built (one per
#: `job.sp` access)
_new_sp_root = maker(_StatepointRoot, ("job",)) if maker is not None else _StatepointRoot


class Job:
    """One data point of a parameter sweep.

    Parameters
    ----------
    project : Project
        The project the job belongs to.
    statepoint : mapping, optional
        The job's parameters; its id is computed from them.
    id : str, optional
        The job id, when the state point is read from disk lazily.
    """

    __slots__ = ("_project", "_id", "_sp", "_sp_text", "_path", "_doc_root", "_initialized",
                 "_cwd", "_from_disk")

    #: signac's names of the job's files
    FN_STATE_POINT = layout.STATEPOINT
    FN_DOCUMENT = layout.DOCUMENT
    KEY_DATA = os.path.splitext(layout.DATA)[0]

    def __init__(self, project, statepoint=None, id=None, _trusted_sp=None):
        if statepoint is None and id is None:
            raise ValueError("Job needs a state point or an id")
        self._project = project
        self._sp_text = None
        # a state point read from this job's own file (by the index) needs no re-check
        self._from_disk = _trusted_sp is not None
        if _trusted_sp is not None:
            self._sp, self._id = _trusted_sp, id
        elif statepoint is not None:
            self._sp, self._id, self._sp_text = validate_statepoint(statepoint)
        else:
            self._sp, self._id = None, id
        self._path = None  # made on first use (the path property)
        self._doc_root = None
        self._initialized = False
        self._cwd = None  # the directory stack of open(), made on first use

    # -- identity ---------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The job id: MD5 of the state point's sorted-key JSON."""
        return self._id

    @property
    def project(self):
        return self._project

    @property
    def path(self) -> str:
        """The job directory (it exists once the job is initialised)."""
        # made on first use, not held by every job of an iteration (110 bytes a job: a sixth
        # of a held job; `len(list(project))` asks for none). The methods run per job of a
        # status read `self._path or self.path`: the slot, without this call, once it is made
        path = self._path
        if path is None:
            path = self._path = f"{self._project.workspace}{os.sep}{self._id}"
        return path

    @property
    def ws(self):
        return self.path

    def __str__(self):
        return self._id

    def __repr__(self):
        # evaluates back (given the project's class), as signac's does
        return (f"{type(self).__name__}(project={self._project!r}, "
                f"statepoint={self._statepoint_data()!r})")

    def _repr_html_(self):
        from .html import job_html

        return job_html(self)

    def __eq__(self, other):
        # by id and directory, so subclasses (signac-flow's) compare with plain jobs
        if not isinstance(other, Job):
            return NotImplemented
        return other._id == self._id and other.path == self.path

    def __hash__(self):
        return hash(self._id)  # equal jobs have equal ids; the id's hash is cached in it

    def __getstate__(self):
        # no cached document (it holds file signatures) and no directory stack
        return {"_project": self._project, "_id": self._id, "_sp": self._sp,
                "_path": self.path, "_from_disk": self._from_disk}

    def __setstate__(self, state):
        for name in self.__slots__:
            object.__setattr__(self, name, None)
        for name, value in state.items():
            object.__setattr__(self, name, value)
        self._initialized = False
        self._cwd = None

    # -- state point ------------------------------------------------------------------------
    def _statepoint_data(self):
        if self._sp is None:
            fn = os.path.join(self.path, layout.STATEPOINT)
            try:
                sp = read_json(fn, self._id)
            except CorruptFileError as exc:  # signac raises JobsCorruptedError here
                raise CorruptStatepointError(exc.path, exc.reason, self._id) from None
            except FileNotFoundError:
                if os.path.isdir(self.path):
                    raise JobsCorruptedError(
                        f"job {self._id}: {fn} is missing (run 'suite check' to list damaged jobs)",
                        [self._id]) from None
                raise JobNotFoundError(
                    f"no job with id {self._id} in {self._project.workspace}"
                ) from None
            if not isinstance(sp, dict):
                raise JobsCorruptedError(f"job {self._id}: {fn} does not hold a JSON object",
                                         [self._id])
            self._sp = sp
        return self._sp

    @property
    def sp(self) -> SyncedDict:
        """The state point; changing it (or assigning a whole mapping) moves the job to its
        new id. Raises :class:`DestinationExistsError` when a job with that id exists."""
        return new_dict_view(_new_sp_root(self), ())

    @sp.setter
    def sp(self, new):
        self.reset_statepoint(new)

    statepoint = sp

    @property
    def cached_statepoint(self):
        """The state point as a read-only mapping (no file access once read)."""
        return types.MappingProxyType(self._statepoint_data())

    def update_statepoint(self, update, overwrite=False):
        """Add keys to the state point (and move the job); refuse to change existing values
        unless ``overwrite``."""
        sp = copy_json(self._statepoint_data())
        if not overwrite:
            for key, value in update.items():
                if key in sp and sp[key] != value:
                    raise KeyError(
                        f"key {key!r} already has the value {sp[key]!r} in job {self._id}; "
                        "pass overwrite=True to change it"
                    )
        sp.update(update)
        self.reset_statepoint(sp)

    def reset_statepoint(self, new):
        """Replace the state point with ``new`` and move the job directory to its new id.

        Refuses (:class:`DestinationExistsError`) when a job with the new id exists.
        """
        sp, new_id, _ = validate_statepoint(new)
        if new_id == self._id:
            self._sp = sp
            return
        dst = os.path.join(self._project.workspace, new_id)
        exists = os.path.isdir(self.path)
        if exists and os.path.exists(dst):
            raise DestinationExistsError(
                f"cannot change the state point of job {self._id}: job {new_id} already exists",
                destination=type(self)(self._project, id=new_id),
            )
        if exists:
            old_sp = self._statepoint_data()
            write_atomic(os.path.join(self.path, layout.STATEPOINT), dumps(sp).encode())
            try:
                _rename_noreplace(self.path, dst)
            except OSError:
                write_atomic(os.path.join(self.path, layout.STATEPOINT), dumps(old_sp).encode())
                raise
        self._sp, self._id, self._sp_text, self._from_disk = sp, new_id, None, False
        self._path = dst
        self._doc_root = None
        self._initialized = False

    # -- document and data -----------------------------------------------------------------
    @property
    def doc(self) -> SyncedDict:
        """The job document (``signac_job_document.json``)."""
        if self._doc_root is None:
            self._doc_root = FileRoot(
                os.path.join(self._path or self.path, layout.DOCUMENT), self._id, self.init
            )
        return new_dict_view(self._doc_root, ())

    @doc.setter
    def doc(self, new):
        self.doc.reset(new)

    document = doc

    @property
    def data(self):
        """The job's default HDF5 store (``signac_data.h5``); assigning a mapping replaces
        its content."""
        from .h5store import H5Store

        self.init()
        return H5Store(os.path.join(self.path, layout.DATA))

    @data.setter
    def data(self, new):
        self.stores[self.KEY_DATA] = new

    @property
    def stores(self):
        """All HDF5 stores of the job: ``job.stores["name"]`` is ``name.h5``; assigning
        ``job.stores.name = {...}`` replaces that store's content."""
        from .h5store import H5StoreManager

        self.init()
        return H5StoreManager(self.path)

    def get_neighbors(self, ignore=()):
        """``{key: {value: neighbor id}}``: the jobs differing from this one only in one key's
        previous or next value; see :meth:`Project.get_neighbors`."""
        from .neighbors import get_neighbors

        return get_neighbors(self._project, ignore, ids=[self.id])[self.id]

    _get_neighbors = get_neighbors  # signac's (private) name

    def fn(self, name) -> str:
        """Path of ``name`` inside the job directory."""
        return os.path.join(self._path or self.path, name)

    def isfile(self, name) -> bool:
        """True if ``name`` exists as a file in the job directory."""
        return os.path.isfile(self.fn(name))

    # -- lifecycle --------------------------------------------------------------------------
    def init(self, force=False):
        """Create the job directory with its state point file (idempotent); return the job.

        A new job is staged under a temporary name and renamed into place, so a job directory
        never exists without its state point file. Raises :class:`JobsCorruptedError` when
        the directory holds a different or unreadable state point; ``force`` rewrites it.
        """
        path = self._path or self.path
        if self._initialized and os.path.isdir(path):  # removed behind this object's back?
            return self
        if not force and (self._sp is None or self._from_disk) and os.path.isdir(path):
            # opened by id, or found by a query: the directory exists, so the job does (its
            # state point is read only when needed; 'suite check' verifies them against ids)
            self._initialized = True
            return self
        sp = self._statepoint_data()
        sp_file = os.path.join(self.path, layout.STATEPOINT)
        if os.path.exists(self.path):
            try:
                on_disk = read_json(sp_file, self._id)
            except FileNotFoundError:
                on_disk = None
            except CorruptFileError as exc:
                if not force:
                    raise JobsCorruptedError(f"{exc}; job.init(force=True) rewrites it",
                                             [self._id]) from None
                on_disk = None
            if on_disk is None or (force and on_disk != sp):
                write_atomic(sp_file, dumps(sp, sort_keys=True).encode())
            elif on_disk != sp:
                raise JobsCorruptedError(
                    f"job {self._id}: {sp_file} holds a different state point "
                    "(run 'suite check' to inspect it)", [self._id]
                )
        else:
            self._create(sp)
        self._initialized = True
        return self

    def _create(self, sp):
        # Staged: the job appears with its state point file or not at all. Raw os calls keep
        # this to mkdir + create + write + close + rename (init of 100,000 jobs is a benchmark).
        # the canonical text: the file's MD5 is the job id
        data = self._sp_text or dumps(sp, sort_keys=True).encode()
        tmp = _staging_name(self._project.workspace, self._id)
        try:
            os.mkdir(tmp)
        except FileNotFoundError:
            os.makedirs(self._project.workspace, exist_ok=True)
            os.mkdir(tmp)
        try:
            fd = os.open(f"{tmp}{os.sep}{layout.STATEPOINT}", os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                         0o644)
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
            try:
                # an existing job directory is never empty (it holds its state point), so
                # rename fails on it; an empty one left by a crash is replaced, which repairs it
                os.rename(tmp, self.path)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                _rmtree(tmp, ignore_errors=True)  # another process created it first
        except BaseException:
            _rmtree(tmp, ignore_errors=True)
            raise

    def remove(self):
        """Delete the job directory and everything in it."""
        if os.path.isdir(self.path):
            tmp = os.path.join(
                self._project.workspace, f"{layout.TMP_PREFIX}rm-{self._id}-{os.urandom(4).hex()}"
            )
            os.rename(self.path, tmp)  # the id disappears at once, even if rmtree is slow
            _rmtree(tmp)
        self._initialized = False
        self._doc_root = None

    def move(self, project):
        """Move the job into ``project``'s workspace (nothing if it is there already).

        Raises :class:`JobNotInitializedError` for a job without a directory and
        :class:`DestinationExistsError` when ``project`` holds the job already.
        """
        if not os.path.isdir(self.path):
            raise JobNotInitializedError(f"job {self._id} is not initialised: nothing to move "
                                         "(call job.init() first)")
        dst = os.path.join(project.workspace, self._id)
        if os.path.abspath(dst) == os.path.abspath(self.path):
            return
        if os.path.exists(dst):
            raise DestinationExistsError(f"job {self._id} already exists in {project.path}",
                                         destination=project.open_job(id=self._id))
        os.makedirs(project.workspace, exist_ok=True)
        try:
            _rename_noreplace(self.path, dst)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            import shutil

            shutil.copytree(self.path, dst + ".suite-move", symlinks=True)
            os.rename(dst + ".suite-move", dst)
            shutil.rmtree(self.path)
        self._project = project
        self._path = dst
        self._doc_root = None

    def clone(self, project, copytree=None):
        """Copy the job into ``project`` and return the copy. ``copytree(src, dst)`` copies
        the directory (default: ``shutil.copytree`` keeping symbolic links).

        Raises :class:`DestinationExistsError` when the job exists in ``project``.
        """
        dst = os.path.join(project.workspace, self._id)
        if os.path.exists(dst):
            raise DestinationExistsError(f"job {self._id} already exists in {project.path}",
                                         destination=project.open_job(id=self._id))
        self.init()
        os.makedirs(project.workspace, exist_ok=True)
        tmp = os.path.join(project.workspace, f"{layout.TMP_PREFIX}{self._id}-{os.urandom(4).hex()}")
        if copytree is None:
            import shutil

            shutil.copytree(self.path, tmp, symlinks=True)
        else:
            copytree(self.path, tmp)
        try:
            _rename_noreplace(tmp, dst)
        except FileExistsError:
            _rmtree(tmp, ignore_errors=True)
            raise DestinationExistsError(f"job {self._id} already exists in {project.path}",
                                         destination=project.open_job(id=self._id)) from None
        return project.open_job(id=self._id)

    def clear(self):
        """Delete every file and directory of the job except its state point file."""
        try:
            entries = os.listdir(self.path)
        except FileNotFoundError:
            return
        for name in entries:
            if name == layout.STATEPOINT:
                continue
            full = os.path.join(self.path, name)
            if os.path.isdir(full) and not os.path.islink(full):
                _rmtree(full)
            else:
                os.unlink(full)
        self._doc_root = None

    def reset(self):
        """Empty the job (:meth:`clear`), creating it first if needed."""
        self.init()
        self.clear()

    def sync(self, other, strategy=None, exclude=None, doc_sync=None, **kwargs):
        """Copy ``other``'s files and document into this job (signac's ``Job.sync``); see
        :func:`suite.signac_sync.sync_jobs`."""
        from .signac_sync import sync_jobs

        return sync_jobs(other, self, strategy=strategy, exclude=exclude, doc_sync=doc_sync,
                         **kwargs)

    # -- context manager: work inside the job directory -----------------------------------
    def open(self):
        """Create the job if needed and change the working directory to it (undone by
        :meth:`close`; nested calls stack)."""
        self.init()
        if self._cwd is None:
            self._cwd = []
        self._cwd.append(os.getcwd())
        os.chdir(self.path)
        return self

    def close(self):
        """Change back to the directory :meth:`open` left (nothing if not open)."""
        if self._cwd:
            os.chdir(self._cwd.pop())

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False


def jobs_from_index(project, pairs):
    """Yield a :class:`Job` of ``project`` per ``(id, state point)`` pair, the state points as
    the index read them from the jobs' own files (so not validated or hashed again; the dicts
    become the jobs' own). What ``Job(project, id=i, _trusted_sp=sp)`` makes, without the
    call: iterating or judging 100,000 jobs spent 0.1-0.2 s in ``__init__`` alone."""
    if _new_indexed_job is not None:
        new = _new_indexed_job
        for job_id, sp in pairs:
            yield new(project, job_id, sp, None, None, True, None, False, None)
        return
    for job_id, sp in pairs:  # without suite._slots: the slots set one by one
        job = object.__new__(Job)
        job._project, job._id, job._sp, job._sp_text = project, job_id, sp, None
        job._from_disk, job._path, job._doc_root = True, None, None
        job._initialized, job._cwd = False, None
        yield job


def jobs_of(project, ids, sps, with_paths=False):
    """:func:`jobs_from_index` of two lists of equal length, the ids and their state points:
    where suite._slots is built, an iterator of C parts (a ``map`` of the maker over the
    lists), with no Python frame per job: the generator's frame was a tenth of iterating
    100,000 jobs. ``with_paths``: the jobs' paths made now, in C, for a caller that reads
    every job's (status: 4 % of its CPU when each was made on first use)."""
    if _new_indexed_job is None:
        return jobs_from_index(project, zip(ids, sps, strict=True))
    const = itertools.repeat
    # operator.concat takes a vectorcall; str.__add__'s wrapper made a tuple per call
    paths = (map(operator.concat, const(f"{project.workspace}{os.sep}"), ids) if with_paths
             else const(None))
    return map(_new_indexed_job, const(project), ids, sps, paths, const(None), const(True),
               const(None), const(False), const(None))


def prime_document(job, doc, sig):
    """Give ``job``'s document view data already read (by the index) with its file signature
    (a tuple, or the index's ``mtime:size:inode`` text): the next access checks it with one
    ``stat`` instead of reading the file. A function of this module, not a method: status
    primes every job it judges, and no user of Job needs it."""
    # no os.path.join: status primes every job, and join costs more than the rest here
    path = job._path or job.path
    job._doc_root = primed_file_root(f"{path}{os.sep}{layout.DOCUMENT}", job._id, job.init,
                                     doc, sig)


def release_document(job):
    """Drop ``job``'s document view: it refers back to the job (its write hook), so a job
    whose view is dropped is freed without a cyclic collection (status frees jobs a chunk
    at a time)."""
    job._doc_root = None


#: a Job of a state point read by the index, made without __init__ (jobs_from_index), where
#: suite._slots is built
_new_indexed_job = maker and maker(Job, ("_project", "_id", "_sp", "_path", "_sp_text",
                                         "_from_disk", "_doc_root", "_initialized", "_cwd"))


_counter = itertools.count()


def _staging_name(workspace, job_id):
    """A unique name for staging a job inside the workspace (pid + counter: no syscall)."""
    return f"{workspace}{os.sep}{layout.TMP_PREFIX}{job_id}-{os.getpid()}-{next(_counter)}"


def _rename_noreplace(src, dst):
    """Rename a directory, failing with FileExistsError if ``dst`` exists (even if empty)."""
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, "exists", dst)
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise FileExistsError(errno.EEXIST, "exists", dst) from None
        raise


def _rmtree(path, ignore_errors=False):
    # shutil is imported on first use, not with suite: it brings fnmatch, bz2, lzma and zlib,
    # ~8 M instructions of every start (`import suite`, `suite find`) that removes nothing
    import shutil

    shutil.rmtree(path, ignore_errors=ignore_errors)
