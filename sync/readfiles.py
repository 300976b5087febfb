"""A job's small files read for a sync in one call (a first push reads every file of every
job here; a first pull makes the far side read them): ``sync._readfiles`` in C where built
(the system calls of a batch without the GIL), else :func:`read_files_python`."""

import os
import stat

from suite import native

_readfiles = native.load("sync._readfiles")

#: never through a link; a fifo is opened without waiting for a writer
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def read_files_python(paths):
    """The reference of the native ``read_files``: ``(bytes, mtime_ns)`` of each regular file
    of ``paths`` (a list of str), in order; at the first that is not a regular file, None
    ends the (shorter) list; the first that cannot be opened or read raises its OSError
    naming the path. TypeError for a path that is not a str (before any file is read)."""
    if not isinstance(paths, list):
        raise TypeError(f"read_files: paths must be a list, not {type(paths).__name__}")
    for path in paths:
        if not isinstance(path, str):
            raise TypeError(f"read_files: paths must be strs, not {type(path).__name__}")
        if "\x00" in path:
            raise ValueError("read_files: embedded null byte")
    out = []
    for path in paths:
        fd = os.open(path, _READ)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                out.append(None)
                return out
            # the time before the content: a write in between makes the record look older
            # than the copy (synced again), never newer (a change missed)
            chunks, want = [], st.st_size + 1  # one more: a file grown meanwhile is read on
            while True:
                try:
                    chunks.append(os.read(fd, want))
                except OSError as exc:
                    raise OSError(exc.errno, exc.strerror, path) from None
                if len(chunks[-1]) < want:  # a short read of a regular file: its end
                    break
                want = 1 << 20
            out.append((chunks[0] if len(chunks) == 1 else b"".join(chunks), st.st_mtime_ns))
        finally:
            os.close(fd)
    return out


read_files = read_files_python if _readfiles is None else _readfiles.read_files
