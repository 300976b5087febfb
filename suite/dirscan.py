"""A directory's entries with each one's lstat, in one call: the listing behind sync's
snapshots (sync/listing.py). Native (``suite._fsstat.scan_dir``) where
built; :func:`scan_dir_python` is its reference."""

import os

from . import native

_fsstat = native.load("suite._fsstat")


def scan_dir_python(path):
    """``[(name, st_mode, st_size, st_mtime_ns, st_ctime_ns, st_ino)]`` of the entries of the
    directory ``path`` (a str), from an lstat each; entries removed while listed are left
    out. Raises FileNotFoundError, NotADirectoryError, PermissionError or another OSError
    naming the directory or the entry."""
    out = []
    with os.scandir(path) as it:
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
