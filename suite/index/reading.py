"""Reading and parsing job files for the index: state points and documents read in one
``open``/``fstat``/``read`` each, parsed, and their key rows counted."""

import json
import os

from .. import layout, native
from ..errors import CorruptFileError
from ..jsonio import loads_checked, open_quietly
from . import keyrows


def read_raw(path, limit=None):
    """``(bytes, signature)`` of a file, or ``(None, "none")`` if it does not exist, or
    ``(TOO_BIG, signature)`` if it is larger than ``limit`` bytes, or ``(OSError,
    "none")`` if it cannot be opened or read."""
    prefix, _, name = path.rpartition("/")
    return read_at_python(None, [name], "", limit, prefix, TOO_BIG, path)[0]


TOO_BIG = b"(over DOC_MAX_BYTES)"

_readmany = native.load("suite.index._readmany")
#: threads reading at once (native reading only: it runs without the GIL), so that a cold
#: disk has several reads to serve at a time
READ_THREADS = 4
#: files per thread, at least
READ_THREADS_MIN = 500


def read_many(paths, limit=None):
    """Read many small files by path (:func:`read_raw` each)."""
    return [read_raw(p, limit) for p in paths]


def read_files(ws, ids, name, limit=None, signed=True):
    """:func:`read_raw` of the file ``name`` of each job of ``ids`` in the workspace ``ws``:
    under the open workspace (two names for the kernel to walk instead of the whole path),
    in C where built (several threads at once), else :func:`read_at_python`. ``signed``
    false: the signatures are None (no ``fstat`` without a ``limit``)."""
    try:
        fd = os.open(ws, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return _by_paths(ws, ids, name, limit, signed)
    try:
        if os.open not in os.supports_dir_fd:
            return _by_paths(ws, ids, name, limit, signed)
        suffix = "/" + name
        if _readmany is None:
            return read_at_python(fd, ids, suffix, limit, ws, TOO_BIG, signed=signed)
        if len(ids) < 2 * READ_THREADS_MIN:
            return _readmany.read_at(fd, ids, suffix, limit, ws, TOO_BIG, signed)
        step = -(-len(ids) // min(READ_THREADS, len(ids) // READ_THREADS_MIN))
        parts = [ids[k:k + step] for k in range(0, len(ids), step)]
        # imported here: it brings logging and traceback (~9 ms), which every command that
        # opens the index paid at start while only a large read uses the threads
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(len(parts)) as pool:
            done = pool.map(lambda part: _readmany.read_at(fd, part, suffix, limit, ws,
                                                           TOO_BIG, signed), parts)
            return [pair for result in list(done) for pair in result]
    finally:
        os.close(fd)


def _by_paths(ws, ids, name, limit, signed):
    got = read_many([f"{ws}/{i}/{name}" for i in ids], limit)
    return got if signed else [(data, None) for data, _ in got]


def read_at_python(dir_fd, names, suffix, limit, prefix, too_big, path=None, signed=True):
    """The reference of the native ``read_at``: ``(bytes, signature)`` of the file
    ``dir_fd``/name+suffix for each name (:func:`read_raw`'s results: an error in opening or
    reading the file is returned, naming prefix/name+suffix, never raised); ``dir_fd`` None
    and ``path``: that one file. ``signed`` false: every signature is None, and without a
    ``limit`` the files are not stat'ed (one system call a file fewer)."""
    out = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError("names must be strings")
        try:
            fd = open_quietly(path or name + suffix, _FLAGS, dir_fd)
        except (FileNotFoundError, NotADirectoryError):
            out.append((None, "none" if signed else None))
            continue
        except OSError as exc:
            out.append((_named(exc, path or f"{prefix}/{name}{suffix}"),
                        "none" if signed else None))
            continue
        try:
            size, sig = 4095, None
            if signed or limit is not None:
                s = os.fstat(fd)
                size = s.st_size
                if signed:
                    sig = f"{s.st_mtime_ns}:{s.st_size}:{s.st_ino}"
                if limit is not None and s.st_size > limit:
                    out.append((too_big, sig))
                    continue
            chunks = []
            while True:
                chunk = os.read(fd, max(size + 1, 4096))
                if not chunk:
                    break
                chunks.append(chunk)
            out.append((b"".join(chunks), sig))
        except OSError as exc:
            out.append((_named(exc, path or f"{prefix}/{name}{suffix}"),
                        "none" if signed else None))
        finally:
            os.close(fd)
    return out


# O_NONBLOCK: a fifo under a job file's name must not hang the reader
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)


def _named(exc, path):
    return OSError(exc.errno, exc.strerror, path)


def parse(raw, path, job_id, missing_ok=True):
    """``(object, text, problem)`` from a :func:`read_raw` result; a document over
    :data:`DOC_MAX_BYTES` is not parsed: ``(None, None, None)``."""
    data, _ = raw
    if data is TOO_BIG:
        return None, None, None
    if data is None:
        if missing_ok:
            return None, "{}", None
        return None, None, f"job {job_id}: {path} is missing"
    if isinstance(data, Exception):
        return None, "{}" if missing_ok else None, f"job {job_id}: {path}: {data}"
    text = _plain_text(data)
    try:
        # the text decoded once (a fifth of parsing went to detecting the encoding and
        # decoding twice); anything else takes JSON's own detection
        obj = loads_checked(data if text is None else text, path, job_id)
    except CorruptFileError as exc:
        return None, "{}" if missing_ok else None, str(exc)
    if not isinstance(obj, dict):
        return None, "{}" if missing_ok else None, f"job {job_id}: {path} is not a JSON object"
    if text is None:
        try:
            # utf-8-sig: a byte-order mark (which other tools write) is read as JSON's
            # reader does, else every reader of the stored text would fail on it
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = json.dumps(obj)
    return obj, text, None


def _plain_text(data):
    """``data`` decoded if it is an object in UTF-8 without a byte-order mark (the text
    ``json.detect_encoding`` and ``utf-8-sig`` would give as well), else None."""
    if data[:1] != b"{" or data[1:2] == b"\x00":  # "{" then NUL: UTF-16
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


#: job files up to this size have their key names from the C scanner where built (larger
#: documents: names_capped measures their flattened size, which needs the parsed object)
NAMES_C_MAX_BYTES = keyrows.DOC_MAX_BYTES >> 6
_keyrows = native.load("suite.index._keyrows")
_names_of_file = None if _keyrows is None else _keyrows.names_of_file
_names_of_files = None if _keyrows is None else _keyrows.names_of_files


def text_and_names(raw, path, job_id, missing_ok=True, capped=False, fast=_names_of_file):
    """``(text, names, problem)`` of a :func:`read_raw` result: the text to store (None: not
    readable, or a document over the caps), the dotted key names its rows would have
    (:func:`keyrows.key_names` of the parsed object, None with no text) and the problem to
    record (None if none). ``capped``: a document, held to the caps
    (:func:`keyrows.names_capped`). ``fast``: the C scanner
    (``suite.index._keyrows.names_of_file``), tried first on small files; where it does not
    decide, or with None (the reference), the file is parsed (:func:`parse`)."""
    data = raw[0]
    if (fast is not None and type(data) is bytes and data is not TOO_BIG
            and len(data) <= NAMES_C_MAX_BYTES):
        got = fast(data)
        if got is not None:
            if capped and len(got[1]) > keyrows.DOC_MAX_KEYS:
                return None, None, None
            return got[0], got[1], None
    obj, text, bad = parse(raw, path, job_id, missing_ok)
    if text is None:
        return None, None, bad
    names = []
    if capped:
        if not keyrows.names_capped(obj if obj is not None else {}, text, names):
            return None, None, bad
    elif obj is not None:
        keyrows.key_names(obj, "", names)
    return text, names, bad


def _read_texts(ws, ids, name, missing_ok, capped, signed=True, fast=_names_of_files):
    """``[(text, names, problem, signature)]`` of the file ``name`` of each job of ``ids``
    (the signatures None if not ``signed``). ``fast``: the C loop
    (``suite.index._keyrows.names_of_files``) over the batch first; the files it leaves
    (None), or all with None, through :func:`text_and_names`."""
    limit = keyrows.DOC_MAX_BYTES if capped else None
    raws = read_files(ws, ids, name, limit, signed)
    got = (fast(raws, TOO_BIG, NAMES_C_MAX_BYTES, keyrows.DOC_MAX_KEYS if capped else -1)
           if fast is not None else [None] * len(raws))
    return [g if g is not None else
            (*text_and_names(raw, f"{ws}/{job_id}/{name}", job_id, missing_ok, capped), raw[1])
            for job_id, raw, g in zip(ids, raws, got, strict=True)]


def prepare_jobs(ids, ws):
    """``(rows, counts)`` for new jobs: rows (id, sp_text, doc_text, doc_sig, problem) for
    the jobs table and their key rows counted by key (:func:`keyrows.counted`; the rows
    themselves are made only for the keys queried, from the texts)."""
    # a state point's signature is not kept (it never changes under its id): no fstat
    sps = _read_texts(ws, ids, layout.STATEPOINT, False, False, signed=False)
    docs = _read_texts(ws, ids, layout.DOCUMENT, True, True)
    rows, sp_names, doc_names = [], [], []
    for job_id, (sp_text, sp_nm, bad, _), (doc_text, doc_nm, doc_bad, sig) in zip(
            ids, sps, docs, strict=True):
        if sp_nm:
            sp_names += sp_nm
        if doc_nm:
            doc_names += doc_nm
        rows.append((job_id, sp_text, doc_text, sig, bad or doc_bad))
    return rows, keyrows.counted(sp_names, doc_names)


def prepare_docs(ids, ws):
    """``(rows, counts)`` for changed documents: rows (id, doc_text, doc_sig, problem) and
    their key rows counted by key."""
    rows, names = [], []
    for job_id, (text, nm, bad, sig) in zip(
            ids, _read_texts(ws, ids, layout.DOCUMENT, True, True), strict=True):
        if nm:
            names += nm
        rows.append((job_id, text, sig, bad))
    return rows, keyrows.counted([], names)


def join_prepared(a, b):
    """Two results of :func:`prepare_jobs` (or :func:`prepare_docs`) as one."""
    return a[0] + b[0], keyrows.join_counts(a[1], b[1])
