"""A directory's entries with each one's lstat, in one call: the listing behind sync's
snapshots (sync/listing.py). Native (``suite._fsstat.scan_dir``) where
built; :func:`scan_dir_python` is its reference. And the one way suite lists a directory
without moving its access time (:func:`open_listing`, :func:`listed`), which the walk of
job files (suite.jobfiles), export and this reference share."""

import contextlib
import os

from . import native
from .jsonio import open_quietly

_fsstat = native.load("suite._fsstat")

#: a listing's descriptor (open_quietly adds O_NOATIME where the system has it)
LIST_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def open_listing(path):
    """A descriptor of the directory ``path`` for :func:`listed`, opened without moving its
    access time (:func:`suite.jsonio.open_quietly`): a listing is no use of a directory.
    Raises what ``os.open`` raises (FileNotFoundError, NotADirectoryError,
    PermissionError, ...)."""
    return open_quietly(path, LIST_FLAGS)


@contextlib.contextmanager
def listed(fd, path):
    """``os.scandir(fd)`` of the directory ``path`` opened by :func:`open_listing`, closing
    ``fd`` at the end of the block. An entry's ``path`` is its name alone (join ``path``);
    its ``stat()`` holds inside the block. An OSError raised in the block that names the
    descriptor or a bare name is made to name ``path`` (or ``path/name``)."""
    try:
        with os.scandir(fd) as it:
            yield it
    except OSError as exc:
        if type(exc.filename) is int and exc.filename == fd:
            exc.filename = path
        elif type(exc.filename) is str and exc.filename and os.sep not in exc.filename:
            exc.filename = path + os.sep + exc.filename
        raise
    finally:
        os.close(fd)


def scan_dir_python(path):
    """``[(name, st_mode, st_size, st_mtime_ns, st_ctime_ns, st_ino)]`` of the entries of the
    directory ``path`` (a str), from an lstat each; entries removed while listed are left
    out. Listed by :func:`listed` (the access time stays). Raises FileNotFoundError,
    NotADirectoryError, PermissionError or another OSError naming the directory or the
    entry."""
    out = []
    with listed(open_listing(path), path) as it:
        for entry in it:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            out.append((entry.name, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                        st.st_ino))
    return out


#: :func:`scan_dir_python`'s answers, from C where the native module was built
scan_dir = scan_dir_python if _fsstat is None else _fsstat.scan_dir
