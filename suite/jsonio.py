"""Reading and atomically writing JSON files.

Every write goes to a temporary file in the same directory, then ``os.replace``: a reader sees the
old or the new file, never a torn one, and concurrent writers give "last writer wins" per write.
"""

import json
import os

from .errors import CorruptFileError, InvalidStatepointError
from .layout import temp_path
from .statepoint import MAX_DEPTH, nesting_depth


def read_json(path, job_id=None):
    """Parse the JSON file at ``path``; raise :class:`CorruptFileError` naming it if it is bad.

    A job's file (``job_id`` given) is also bad when nested more than
    :data:`~suite.statepoint.MAX_DEPTH` levels deep. ``FileNotFoundError`` propagates so
    callers can decide what a missing file means.
    """
    with open(path, "rb") as f:
        raw = f.read()
    return loads_checked(raw, path, job_id)


def loads_checked(raw, path, job_id=None):
    """Parse ``raw`` bytes read from ``path`` (named in the error); raise
    :class:`CorruptFileError` if they are not JSON, or (a job's file: ``job_id`` given) are
    nested more than :data:`~suite.statepoint.MAX_DEPTH` levels deep."""
    if not raw.strip():
        raise CorruptFileError(path, "the file is empty", job_id)
    try:
        if isinstance(raw, bytes):
            raw = raw.decode(json.detect_encoding(raw), "surrogatepass")
        obj = _DECODER.decode(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, str(exc), job_id) from None
    except RecursionError:
        raise CorruptFileError(path, "nested too deeply to parse", job_id) from None
    # fewer brackets than the limit cannot nest past it: most files skip the walk
    if job_id is not None and raw.count("{") + raw.count("[") > MAX_DEPTH and \
            nesting_depth(obj) > MAX_DEPTH:
        raise CorruptFileError(
            path, f"nested more than {MAX_DEPTH} levels deep, which suite does not read "
            "(queries, diffs and sync would fail on it)", job_id)
    return obj


# one decoder for all reads: json.loads with an option builds a new one per call, which
# was a tenth of indexing 100,000 jobs. NaN, Infinity and -Infinity are read: signac 2 writes
# them (Python's json does by default), and its projects must open.
_DECODER = json.JSONDecoder()


def dumps(obj, *, keep_nonfinite=False, **kwargs):
    """Serialise ``obj`` refusing NaN and Infinity (they are not JSON), unless
    ``keep_nonfinite``: a whole document rewritten with values another tool stored.
    Raises :class:`InvalidStatepointError`."""
    try:
        return json.dumps(obj, allow_nan=keep_nonfinite, **kwargs)
    except ValueError as exc:
        raise InvalidStatepointError(f"value cannot be stored as JSON: {exc}") from None
    except TypeError as exc:
        raise InvalidStatepointError(f"value cannot be stored as JSON: {exc}") from None


def write_all(fd, data: bytes):
    """Write all of ``data`` to the file descriptor ``fd`` (``os.write`` may write less)."""
    done = os.write(fd, data) if data else 0
    if done < len(data):
        view = memoryview(data)
        while done < len(data):
            done += os.write(fd, view[done:])


def write_atomic(path, data: bytes, mode=0o644):
    """Write ``data`` to ``path`` via a temporary file in the same directory and ``os.replace``;
    return the file's ``os.stat_result`` (the rename keeps it: same inode, size and mtime)."""
    # the marker keeps a leftover (a process killed here) out of syncs and archives
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            write_all(fd, data)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return st


def write_json(path, obj, **kwargs):
    """Serialise ``obj`` and write it atomically to ``path``. NaN and Infinity are kept: what
    is written this way (sync records) holds copies of documents, where signac puts them."""
    write_atomic(path, dumps(obj, keep_nonfinite=True, **kwargs).encode())
