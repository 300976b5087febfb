"""A plain job copied between two projects on this machine, staged in one call.

A local sync's first copy of a job read each file in Python and wrote it again (an ``open``,
``fstat``, ``read``, ``close`` and an ``open``, ``write``, ``utime``, ``close`` per file, each
with its Python around it: most of a first local sync). :func:`stage_copy` makes the staging
directory and copies the state point, the document's new bytes and the job's flat files into
it in one call (``sync._landing`` in C where built, the GIL released); the caller checks the
state point it returns and renames the directory into place (:meth:`sync.replica.Replica.copy_local_job`).
"""

import errno
import os
import stat
import threading

from suite import native
from suite.jsonio import write_all

_landing = native.load("sync._landing")

#: never through a link; a fifo is opened without waiting for a writer
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
#: a new file of the staging directory
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class _NotRegular(Exception):
    """A file of the job is not a regular file: the caller copies the job another way."""


def _check_name(name, fn="stage_copy"):
    if not isinstance(name, str):
        raise TypeError(f"{fn}: file names must be strs, not {type(name).__name__}")
    if not name or "/" in name or "\x00" in name or name in (".", ".."):
        raise ValueError(f"{fn}: not a file name: {name!r}")


def _check_args(src, tmp, statepoint, names, document, doc):
    """stage_copy's shape checks, in the order the C makes them (the same exception when
    several are wrong)."""
    for text in (src, tmp, statepoint, document):
        if not isinstance(text, str):
            raise TypeError(f"stage_copy: paths must be strs, not {type(text).__name__}")
    if not isinstance(names, list):
        raise TypeError("stage_copy: names must be a list")
    for text in (src, tmp):
        if "\x00" in text:
            raise ValueError("embedded null byte")
    for name in (statepoint, document, *names):
        _check_name(name)
    if doc is not None and not isinstance(doc, bytes):
        raise TypeError("stage_copy: doc must be bytes or None")


def stage_copy_python(src, tmp, statepoint, names, document, doc):
    """Make the directory ``tmp`` (it must not exist) and copy into it, from the job
    directory ``src``: the file ``statepoint`` (its time not kept), then ``doc`` (bytes, or
    None for none) written as the file ``document``, then each of ``names`` (flat file names)
    with its modification time (taken by ``fstat`` before its content is read). Files are
    read to their end, never through a link, and created new (``O_EXCL``).

    Returns ``(state point bytes, (mtime_ns, size, inode) of the written document or None)``,
    or None when a file of ``src`` is not a regular file (the copy stops there; the caller
    removes ``tmp`` and copies the job another way). Raises TypeError or ValueError for
    arguments of another shape (before anything is made), the OSError of the failing call
    (naming its file) otherwise, ``tmp`` then left as far as it got. The reference of
    ``sync._landing.stage_copy``."""
    _check_args(src, tmp, statepoint, names, document, doc)
    os.mkdir(tmp)
    try:
        sp = _copy(f"{src}/{statepoint}", f"{tmp}/{statepoint}", False)
        sig = None
        if doc is not None:
            fd = os.open(f"{tmp}/{document}", _NEW, 0o666)
            try:
                write_all(fd, doc)
                st = os.fstat(fd)
                sig = (st.st_mtime_ns, st.st_size, st.st_ino)
            finally:
                os.close(fd)
        for name in names:
            _copy(f"{src}/{name}", f"{tmp}/{name}", True)
    except _NotRegular:
        return None
    return sp, sig


def stage_copies_python(jobs):
    """:func:`stage_copy_python` of each of ``jobs`` (a list of tuples of its six
    arguments), in order: a list of its answers, the OSError of a job that failed in its
    place (not raised; the jobs after it are staged all the same). Raises TypeError or
    ValueError for a job of another shape before anything is made. The reference of
    ``sync._landing.stage_copies`` (one call for many jobs: the GIL released once)."""
    if not isinstance(jobs, list):
        raise TypeError("stage_copies: jobs must be a list")
    for job in jobs:
        if not isinstance(job, tuple):
            raise TypeError("stage_copies: each job must be a tuple")
        if len(job) != 6:
            raise TypeError(f"stage_copy() takes exactly 6 arguments ({len(job)} given)")
        _check_args(*job)
    out = []
    for job in jobs:
        try:
            out.append(stage_copy_python(*job))
        except OSError as exc:
            out.append(exc)
    return out


def _copy(src, dst, keep_time):
    fd = os.open(src, _READ)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _NotRegular
        chunks, want = [], st.st_size + 1  # a short read of a regular file is its end
        while True:
            chunks.append(os.read(fd, want))
            if len(chunks[-1]) < want:
                break
            want = 1 << 20
        data = b"".join(chunks)
        out = os.open(dst, _NEW, 0o666)
        try:
            write_all(out, data)
            if keep_time:
                os.utime(out, ns=(st.st_mtime_ns, st.st_mtime_ns))
        finally:
            os.close(out)
    finally:
        os.close(fd)
    return data


#: :func:`stage_copy_python`'s answers, from C where the native module was built
stage_copy = stage_copy_python if _landing is None else _landing.stage_copy
#: :func:`stage_copies_python`'s answers, from C where the native module was built
stage_copies = stage_copies_python if _landing is None else _landing.stage_copies


class StagedAhead:
    """Jobs staged by a second thread ahead of the caller (a local sync's first copy: the
    staging is system calls, made by one C call per batch without the interpreter lock,
    while the caller checks state points and renames). ``prepare(keys)`` runs for
    consecutive batches of :attr:`BATCH` of ``keys``, in their order, at most :attr:`LEAD`
    keys beyond the last one taken, and returns one ``(True, answer)`` or ``(False,
    exception)`` per key; :meth:`take` hands out a key's answer (or raises its exception) in
    the calling thread; :meth:`close` stops the thread and gives every answer not taken to
    ``discard`` (which removes what ``prepare`` made)."""

    #: keys prepared per call: the interpreter lock changes hands once a batch, not per job
    #: (per job, the two threads' hand-overs cost more CPU than the overlap saved)
    BATCH = 64
    #: keys prepared beyond the last one taken, at most: bounds what a killed sync leaves
    #: (staging directories) and what an early error wastes
    LEAD = 256

    def __init__(self, prepare, keys, discard):
        self._prepare, self._keys, self._discard = prepare, list(keys), discard
        self._pos = {key: k for k, key in enumerate(self._keys)}
        self._done = {}  # key -> (True, answer) or (False, exception)
        self._taken = 0  # the position after the last key taken
        self._stop = False
        # who waits on the condition: notified only then (a notify per job cost more than
        # the copying it overlapped)
        self._worker_waits = None  # until _taken passes this position
        self._caller_waits = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="suite-stage-ahead", daemon=True)
        self._thread.start()

    def _run(self):
        cond, keys = self._cond, self._keys
        for start in range(0, len(keys), self.BATCH):
            with cond:
                while not self._stop and start >= self._taken + self.LEAD:
                    self._worker_waits = start - self.LEAD
                    cond.wait()
                    self._worker_waits = None
                if self._stop:
                    return
            batch = keys[start:start + self.BATCH]
            try:
                answers = list(zip(batch, self._prepare(batch), strict=True))
            except BaseException as exc:  # noqa: BLE001 - raised by take, in the caller
                answers = [(key, (False, exc)) for key in batch]
            with cond:
                self._done.update(answers)
                if self._caller_waits:
                    cond.notify_all()

    def take(self, key):
        """``prepare``'s answer for ``key`` (its exception raised here), or None when
        ``key`` was not planned or was taken already."""
        k = self._pos.pop(key, None)
        if k is None:
            return None
        with self._cond:
            if k >= self._taken:
                self._taken = k + 1
                if self._worker_waits is not None and self._taken > self._worker_waits:
                    self._cond.notify_all()
            while key not in self._done:
                self._caller_waits = True
                self._cond.wait()
                self._caller_waits = False
            ok, answer = self._done.pop(key)
        if not ok:
            raise answer
        return answer

    def close(self):
        """Stop preparing (the batch under way is finished) and discard every answer not
        taken. Idempotent."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join()
        done, self._done, self._pos = self._done, {}, {}
        for ok, answer in done.values():
            if ok:
                self._discard(answer)

#: the file times (ns) a peer may give and :func:`land_jobs` sets: what a signed 64-bit count
#: holds (utimensat's range)
NS_RANGE = (-(1 << 63), 1 << 63)


def _check_jobs(jobs, statepoint, document):
    # checked in the order the C checks them (the same exception when several are wrong)
    _check_name(statepoint, "land_jobs")
    _check_name(document, "land_jobs")
    if not isinstance(jobs, list):
        raise TypeError("land_jobs: jobs must be a list")
    for job in jobs:
        if type(job) is not tuple or len(job) != 5:
            raise TypeError("land_jobs: a job must be (tmp, dst, statepoint, doc, files)")
    for tmp, dst, sp, doc, files in jobs:
        for path in (tmp, dst):
            if not isinstance(path, str):
                raise TypeError(f"land_jobs: paths must be strs, not {type(path).__name__}")
            if "\x00" in path:
                raise ValueError("embedded null byte")
        if type(sp) is not bytes or (doc is not None and type(doc) is not bytes):
            raise TypeError("land_jobs: the state point and document must be bytes")
        if not isinstance(files, list):
            raise TypeError("land_jobs: files must be a list")
        for file in files:
            if type(file) is not tuple or len(file) != 3:
                raise TypeError("land_jobs: a file must be (name, data, mtime_ns)")
            name, data, mtime = file
            _check_name(name, "land_jobs")
            if type(data) is not bytes:
                raise TypeError("land_jobs: file data must be bytes")
            if mtime is not None:
                if type(mtime) is not int:
                    raise TypeError("land_jobs: a file time must be an int or None")
                if not NS_RANGE[0] <= mtime < NS_RANGE[1]:
                    raise ValueError(f"land_jobs: file time out of range: {mtime}")


def land_jobs_python(jobs, statepoint, document):
    """Stage new jobs and rename each into place, in order. ``jobs`` is a list of ``(tmp,
    dst, state point bytes, document bytes or None, files)``, ``files`` a list of ``(flat
    name, bytes, mtime_ns or None)``. Per job: make the directory ``tmp`` (it must not
    exist); write the state point as the file ``statepoint``, the document as ``document``
    (its ``(mtime_ns, size, inode)`` by an ``fstat`` of the written file), each file (all
    created new, never through a link; the time set where given); rename ``tmp`` to ``dst``.

    Returns one item per job handled: the document's signature (None: no document), or False
    when ``dst`` exists (made there meanwhile; ``tmp`` is left for the caller to remove).
    The list is shorter than ``jobs`` when the next job's ``tmp`` exists (left by a killed
    run): nothing of that job was made. Raises TypeError or ValueError for arguments of
    another shape (before anything is made), the OSError of the failing call otherwise (it
    names its file; that job's ``tmp`` is left as far as it got, the jobs before it have
    landed). The reference of ``sync._landing.land_jobs``."""
    _check_jobs(jobs, statepoint, document)
    out = []
    for tmp, dst, sp, doc, files in jobs:
        try:
            os.mkdir(tmp)
        except FileExistsError:
            return out
        write_new(f"{tmp}/{statepoint}", sp, None)
        sig = None
        if doc is not None:
            sig = write_new(f"{tmp}/{document}", doc, None, True)
        for name, data, mtime in files:
            write_new(f"{tmp}/{name}", data, mtime)
        try:
            os.rename(tmp, dst)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            sig = False
        out.append(sig)
    return out


# plain descriptor calls: a buffered file object per file was a tenth of landing a small job
def write_new(path, data, mtime_ns=None, signed=False):
    """Write ``data`` to the new file ``path`` (never through a link; the time set where
    given); with ``signed``, answer its ``(mtime_ns, size, inode)`` as written (an ``fstat``
    of the open file: a later change cannot slip into it). Raises the OSError of the failing
    call (FileExistsError when ``path`` exists)."""
    fd = os.open(path, _NEW, 0o666)
    try:
        write_all(fd, data)
        if mtime_ns is not None:
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        if signed:
            st = os.fstat(fd)
            return st.st_mtime_ns, st.st_size, st.st_ino
        return None
    finally:
        os.close(fd)


#: :func:`land_jobs_python`'s answers, from C where the native module has it
land_jobs = getattr(_landing, "land_jobs", land_jobs_python)
