"""Reading and parsing job files for the index: state points and documents read in one
``open``/``fstat``/``read`` each, parsed, and flattened into key rows."""

import json
import os

from .. import layout
from ..errors import CorruptFileError
from ..jsonio import loads_checked
from . import keyrows


def read_raw(path, limit=None):
    """``(bytes, signature)`` of a file, or ``(None, "none")`` if it does not exist, or
    ``(TOO_BIG, signature)`` if it is larger than ``limit`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None, "none"
    except OSError as exc:
        return exc, "none"
    try:
        s = os.fstat(fd)
        if limit is not None and s.st_size > limit:
            return TOO_BIG, f"{s.st_mtime_ns}:{s.st_size}:{s.st_ino}"
        chunks = []
        while True:
            chunk = os.read(fd, max(s.st_size + 1, 4096))
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks), f"{s.st_mtime_ns}:{s.st_size}:{s.st_ino}"


TOO_BIG = b"(over DOC_MAX_BYTES)"




def read_many(paths, limit=None):
    """Read many small files. (Threads were measured slower here: the calls are short and
    contend for the GIL.)"""
    return [read_raw(p, limit) for p in paths]


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
    try:
        obj = loads_checked(data, path, job_id)
    except CorruptFileError as exc:
        return None, "{}" if missing_ok else None, str(exc)
    if not isinstance(obj, dict):
        return None, "{}" if missing_ok else None, f"job {job_id}: {path} is not a JSON object"
    try:
        # utf-8-sig: a byte-order mark (which other tools write) is read as JSON's reader
        # does, else every reader of the stored text would fail on it
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = json.dumps(obj)
    return obj, text, None


def read_jobs(ws, ids):
    """Rows (id, sp, sp_text, doc, doc_text, doc_sig, problem) for new jobs."""
    sp_files = [f"{ws}/{i}/{layout.STATEPOINT}" for i in ids]
    doc_files = [f"{ws}/{i}/{layout.DOCUMENT}" for i in ids]
    raws = read_many(sp_files) + read_many(doc_files, keyrows.DOC_MAX_BYTES)
    rows = []
    for k, job_id in enumerate(ids):
        sp, sp_text, bad = parse(raws[k], sp_files[k], job_id, missing_ok=False)
        doc, doc_text, doc_bad = parse(raws[len(ids) + k], doc_files[k], job_id)
        rows.append((job_id, sp, sp_text, doc if doc is not None else {}, doc_text,
                     raws[len(ids) + k][1], bad or doc_bad))
    return rows


def read_docs(ws, ids):
    """Rows (id, doc, doc_text, doc_sig, problem) for jobs whose document changed."""
    files = [f"{ws}/{i}/{layout.DOCUMENT}" for i in ids]
    rows = []
    for job_id, fn, raw in zip(ids, files, read_many(files, keyrows.DOC_MAX_BYTES),
                               strict=True):
        doc, text, bad = parse(raw, fn, job_id)
        rows.append((job_id, doc if doc is not None else {}, text, raw[1], bad))
    return rows


def prepare_jobs(ids, ws):
    """``(rows, kv)`` for new jobs: rows (id, sp_text, doc_text, doc_sig, problem) for
    the jobs table and their flattened key rows."""
    rows, kv = [], []
    for job_id, sp, sp_text, doc, doc_text, sig, bad in read_jobs(ws, ids):
        if sp is not None:
            keyrows.flatten(job_id, 0, sp, "", kv)
        if doc_text is not None and not keyrows.flatten_capped(job_id, doc, doc_text, kv):
            doc_text = None
        rows.append((job_id, sp_text, doc_text, sig, bad))
    return rows, kv


def prepare_docs(ids, ws):
    """``(rows, kv)`` for changed documents: rows (id, doc_text, doc_sig, problem) and
    their flattened key rows."""
    rows, kv = [], []
    for job_id, doc, text, sig, bad in read_docs(ws, ids):
        if text is not None and not keyrows.flatten_capped(job_id, doc, text, kv):
            text = None
        rows.append((job_id, text, sig, bad))
    return rows, kv


def join_prepared(a, b):
    """Two results of :func:`prepare_jobs` (or :func:`prepare_docs`) as one."""
    return a[0] + b[0], a[1] + b[1]
