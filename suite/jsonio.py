"""Reading and atomically writing JSON files.

Every write goes to a temporary file in the same directory, then ``os.replace``: a reader sees the
old or the new file, never a torn one, and concurrent writers give "last writer wins" per write.
"""

import contextlib
import errno
import fcntl
import json
import os
from json.encoder import c_make_encoder, encode_basestring_ascii

from .errors import CorruptFileError, InvalidStatepointError
from .layout import temp_path
from .statepoint import MAX_DEPTH, nesting_depth


def read_json(path, job_id=None):
    """Parse the JSON file at ``path``; raise :class:`CorruptFileError` naming it if it is bad.

    A job's file (``job_id`` given) is also bad when nested more than
    :data:`~suite.statepoint.MAX_DEPTH` levels deep. ``FileNotFoundError`` propagates so
    callers can decide what a missing file means (as do other OSErrors). Read without
    moving the file's access time (:func:`open_read_quietly`), as the index reads it.
    """
    with open_read_quietly(path, 0) as f:  # unbuffered: read whole, nothing to buffer
        raw = f.readall()
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
#: the decoder's scanner: one value from a position, without json.loads' three Python calls
_SCAN = _DECODER.scan_once


def loads_text(text):
    """``json.loads(text)`` for a str, at a third to a seventh of its cost on small texts
    (the index's stored documents, thousands per sync): the scanner alone when ``text`` is
    one JSON value with nothing around it, else ``json.loads`` (which skips surrounding
    whitespace, or raises its ``JSONDecodeError``)."""
    try:
        obj, end = _SCAN(text, 0)
    except StopIteration:  # leading whitespace, or not JSON
        return json.loads(text)
    return obj if end == len(text) else json.loads(text)


def literal_or_text(text):
    """A JSON literal, or the text itself as a string (``suite document --set`` and the
    dashboard's edits: ``3`` is a number, ``three`` a string)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def loads_many(texts, each=loads_text):
    """``[each(text) for text in texts]`` for texts that are each one JSON value (the index's
    stored texts), parsed as one JSON array: one call into the parser instead of one per
    text (100,000 state points: 0.12 s against 0.30 s), and keys that repeat from text to text
    become one string object. Where the joined text does not give one value per text, each
    is parsed alone by ``each`` (raising what it raises)."""
    try:
        out = json.loads("[" + ",".join(texts) + "]")
    except ValueError:
        out = None
    if type(out) is not list or len(out) != len(texts):
        return [each(t) for t in texts]
    return out


def encoder(*, sort_keys=False, separators=(", ", ": "), allow_nan=True, check_circular=True):
    """A function value -> text giving what ``json.dumps(value, sort_keys=..., separators=...,
    allow_nan=..., check_circular=...)`` gives, by json's C encoder without the JSONEncoder
    ``dumps`` makes per call (half the cost of a small value). With ``check_circular`` each
    call gets its own marker dict (one left by a call that raised would report later values
    as circular). It raises what ``json.dumps`` raises (ValueError, TypeError)."""
    item, key = separators
    if c_make_encoder is None:  # a Python without json's C module
        return json.JSONEncoder(sort_keys=sort_keys, separators=separators, allow_nan=allow_nan,
                                check_circular=check_circular).encode
    default = json.JSONEncoder().default
    if check_circular:
        def encode(value):
            return "".join(c_make_encoder({}, default, encode_basestring_ascii, None, key, item,
                                          sort_keys, False, allow_nan)(value, 0))
    else:
        made = c_make_encoder(None, default, encode_basestring_ascii, None, key, item,
                              sort_keys, False, allow_nan)

        def encode(value):
            return "".join(made(value, 0))
    return encode


# json.dumps(allow_nan=False): each job a sync lands writes one document
_strict = encoder(allow_nan=False)


def dumps(obj, *, keep_nonfinite=False, **kwargs):
    """Serialise ``obj`` refusing NaN and Infinity (they are not JSON), unless
    ``keep_nonfinite``: a whole document rewritten with values another tool stored.
    Raises :class:`InvalidStatepointError`."""
    try:
        if keep_nonfinite or kwargs:
            return json.dumps(obj, allow_nan=keep_nonfinite, **kwargs)
        return _strict(obj)
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


#: O_NOATIME where the system has it, 0 once the kernel refused it here (see open_quietly)
_noatime = getattr(os, "O_NOATIME", 0)


def open_quietly(path, flags, dir_fd=None):
    """``os.open(path, flags, dir_fd=dir_fd)`` without moving the file's access time where
    the system allows it: what suite reads to index or record is no use of the file, and
    under relatime a first read or listing after a write would write its inode again. The
    kernel refuses O_NOATIME (EPERM) for another owner's file: that one is opened without it,
    and the flag is not asked for again (the result is the same). Raises what ``os.open``
    raises. The C modules do the same (suite/_c/quietopen.h)."""
    global _noatime
    if _noatime:
        try:
            return os.open(path, flags | _noatime, dir_fd=dir_fd)
        except PermissionError as exc:
            # EPERM is the refusal of the flag; EACCES (no read permission) is the file's
            # own error, and the files after it may still take the flag
            if exc.errno != errno.EPERM:
                raise
            _noatime = 0
    return os.open(path, flags, dir_fd=dir_fd)


#: a file opened to be read (open_read_quietly adds O_NOATIME where the system has it)
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def open_read_quietly(path, buffering=-1):
    """``open(path, "rb", buffering)``, a file read without moving its access time where the
    system allows it (as :func:`open_quietly`, inlined: every JSON file of a job read comes
    here): for readers that only copy, compare or parse it, which is no use of it. Raises
    what ``open`` raises, naming ``path`` (IsADirectoryError for a directory,
    FileNotFoundError, PermissionError, ...)."""
    global _noatime
    try:
        fd = os.open(path, _READ_FLAGS | _noatime)
    except PermissionError as exc:  # EPERM: the flag refused (see open_quietly)
        if exc.errno != errno.EPERM or not _noatime:
            raise
        _noatime = 0
        fd = os.open(path, _READ_FLAGS)
    try:
        return open(fd, "rb", buffering)
    except OSError as exc:  # a directory: named by its descriptor, which stays open
        os.close(fd)
        raise type(exc)(exc.errno, exc.strerror, path) from None


def read_to_end(fd):
    """All bytes read from the file descriptor ``fd`` until its end (a pipe's writer gone).
    Raises OSError as ``os.read`` does."""
    pieces = []
    while True:
        piece = os.read(fd, 1 << 20)
        if not piece:
            return b"".join(pieces)
        pieces.append(piece)


def read_exactly(fd, size):
    """``size`` bytes read from the file descriptor ``fd`` (``os.read`` may read less), or
    None if it ends first. Raises OSError as ``os.read`` does."""
    pieces, left = [], size
    while left:
        piece = os.read(fd, min(left, 1 << 20))
        if not piece:
            return None
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)


#: ``expect`` of :func:`write_atomic`: replace whatever is there
ANY = object()
#: a list that each :func:`write_atomic` which wrote ``path`` appends ``(path, data, st)`` to
#: (``st`` its ``os.stat_result`` after the rename) while it holds fewer than
#: :data:`WRITTEN_MAX`, for data of at most :data:`WRITTEN_BYTES`, or None: provenance records
#: hash the bytes in hand instead of reading the file back (suite.provenance.capture takes
#: and empties it after each execution)
written = None
WRITTEN_MAX = 64
WRITTEN_BYTES = 1 << 16
#: where a file can be renamed while open (the new file's stat is then taken after the rename,
#: its change time included, through the descriptor)
_RENAME_OPEN = os.name == "posix"


def write_atomic(path, data: bytes, mode=0o644, *, mtime_ns=None, expect=ANY):
    """Write ``data`` to ``path`` via a temporary file in the same directory and ``os.replace``;
    return the file's ``os.stat_result`` (taken after the rename where the system allows, so
    its change time is the file's; inode, size and mtime are the same either way).

    ``mtime_ns`` stamps the new file before it appears. With ``expect`` (``None``: no file;
    ``(size, mtime_ns[, inode])``) the file is replaced only if ``path`` is still that file
    (see :func:`replace_if_unchanged`); otherwise nothing changes and None is returned."""
    # the marker keeps a leftover (a process killed here) out of syncs and archives
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            write_all(fd, data)
            if mtime_ns is not None:
                os.utime(fd, ns=(mtime_ns, mtime_ns))
            if not _RENAME_OPEN:
                st = os.fstat(fd)
                os.close(fd)
                fd = None
            moved = (replace_if_unchanged(tmp, path, expect) if expect is not ANY
                     else os.replace(tmp, path) is None)
            if fd is not None:  # the rename moved the change time: the stat after it
                st = os.fstat(fd)
        finally:
            if fd is not None:
                os.close(fd)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if not moved:
        return None
    if written is not None and len(written) < WRITTEN_MAX and len(data) <= WRITTEN_BYTES:
        written.append((path, data, st))
    return st


def same_file(st, expect):
    """Whether ``st`` (an ``os.stat_result``, None for no file) is the file ``expect``
    describes: None for no file, else ``(size, mtime_ns[, inode])``."""
    if st is None or expect is None:
        return st is None and expect is None
    return st.st_size == expect[0] and st.st_mtime_ns == expect[1] and (
        len(expect) < 3 or st.st_ino == expect[2])


def lstat_or_none(path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def replace_if_unchanged(tmp, path, expect):
    """Move the finished file ``tmp`` onto ``path`` only if ``path`` is still the file
    ``expect`` describes (see :func:`same_file`); return whether it moved. ``tmp`` is gone
    afterwards either way.

    A file that must not exist is created by ``link`` (fails if one appeared). Otherwise the
    two are swapped in one step (Linux ``renameat2(RENAME_EXCHANGE)``) and what came out is
    checked; if it is not the expected file, it is swapped back. So a write by another process
    between the check and the replacement is never overwritten; where the swap is not
    supported, the check is one ``lstat`` just before ``os.replace``.

    Writers through this function take turns per directory (``flock`` on the directory), so
    none of them can read the version the swap briefly shows and write on top of it; where
    the file system has no such locks, the swap alone protects."""
    with _dir_lock(os.path.dirname(path) or "."):
        return _replace_if_unchanged(tmp, path, expect)


@contextlib.contextmanager
def _dir_lock(directory):
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # no locks on this file system (some NFS setups)
            pass
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _replace_if_unchanged(tmp, path, expect):
    try:
        if expect is None:
            try:
                os.link(tmp, path, follow_symlinks=False)  # a link stays a link
                return True
            except FileExistsError:
                return False
            except OSError:  # no hard links here
                if lstat_or_none(path) is not None:
                    return False
                os.replace(tmp, path)
                return True
        ours = os.lstat(tmp).st_ino
        try:
            swapped = _exchange(tmp, path)
        except FileNotFoundError:  # deleted meanwhile
            return False
        if not swapped:
            if not same_file(lstat_or_none(path), expect):
                return False
            os.replace(tmp, path)
            return True
        if same_file(lstat_or_none(tmp), expect):
            return True
        # ``path`` changed after it was listed: put that version back, unless an even newer
        # one replaced ours meanwhile (it supersedes both)
        now = lstat_or_none(path)
        if now is not None and now.st_ino == ours:
            _exchange(tmp, path)
            back = lstat_or_none(tmp)
            if back is not None and back.st_ino != ours:
                # yet another write landed between that check and the swap: it is the newest
                _exchange(tmp, path)
        return False
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


_renameat2 = None


def _exchange(a, b):
    """Swap the files ``a`` and ``b`` atomically; False where the system cannot."""
    global _renameat2
    if _renameat2 is None:
        import ctypes

        fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", False)
        if fn:
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                           ctypes.c_uint]
        _renameat2 = fn
    if not _renameat2:
        return False
    import ctypes

    at_fdcwd, rename_exchange = -100, 2
    if _renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False  # this file system (or kernel) cannot swap
    raise OSError(err, os.strerror(err), b)


def write_json(path, obj, **kwargs):
    """Serialise ``obj`` and write it atomically to ``path``. NaN and Infinity are kept: what
    is written this way (sync records) holds copies of documents, where signac puts them."""
    write_atomic(path, dumps(obj, keep_nonfinite=True, **kwargs).encode())
