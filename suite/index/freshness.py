"""Freshness checks: which jobs came or went (the workspace listing, re-read only when the
workspace directory changed) and which documents changed (one ``stat`` each), split over two
processes for large projects."""

import marshal
import os

from .. import forked, layout, native
from . import columns

_fsstat = native.load("suite._fsstat")

#: a recorded workspace mtime younger than this is not trusted: a change within the same clock
#: tick would not move it (git's "racy timestamp" rule)
RACY_SECONDS = 2.0
#: from this many jobs on, document freshness checks use two processes
PARALLEL_STAT_MIN = 20000


def workspace_signature(ws):
    """``(stat of the workspace directory or None, its signature text)``: the set of jobs
    is unchanged while the signature is."""
    try:
        st = os.stat(ws)
    except FileNotFoundError:
        return None, "missing"
    return st, f"{st.st_mtime_ns}:{st.st_ino}"


def list_job_inodes(ws):
    """``{job id: inode of its directory}`` (scandir has the inode without a stat)."""
    with os.scandir(ws) as it:
        return {e.name: e.inode() for e in it if layout.is_job_id(e.name)}


def changed_documents(store, ws, removed=()):
    """Ids of the indexed jobs (but ``removed``) whose document's signature changed: one
    ``stat`` each, against the signatures' cache. Raises OSError as :func:`stat_changed`."""
    # all that is made here is freed here, inside the pause: the collector's count of new
    # objects falls back, so resuming starts no collection that walks them (0.02-0.04 s)
    with columns.gc_paused():
        value = columns.cached(store, "sigcache", columns.read_packed_signatures,
                               columns.is_packed)
        packed = columns.is_packed(value)
        if _fsstat is not None and not removed and packed:
            changed = _packed_changed(value, ws)
            if changed is not None:
                return changed
        ids, sigs = columns.unpack_signatures(*value) if packed else value
        rows = list(zip(ids, sigs, strict=True))
        del ids, sigs, value
        if removed:
            rows = [r for r in rows if r[0] not in removed]
        changed = split_work(stat_changed, rows, ws)
        del rows
    return changed


def _packed_changed(value, ws):
    """:func:`changed_documents` in C over the packed signatures, threads sharing the
    ``stat`` calls (:func:`suite.native.in_threads`); None where the workspace cannot be
    opened as a directory."""
    ids, sigs = value
    try:
        fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    suffix, width = "/" + layout.DOCUMENT, columns.ID_WIDTH
    try:
        return native.in_threads(lambda lo, hi: _fsstat.stat_changed_packed(
            fd, ids, width, sigs, suffix, lo, hi), len(ids) // (width + 1))
    finally:
        os.close(fd)


def stat_changed_packed_python(dir_fd, ids, width, sigs, suffix, start, stop):
    """The native ``suite._fsstat.stat_changed_packed`` in Python (its reference): the ids
    among packed rows ``start..stop`` (see :func:`suite.index.columns.read_packed_signatures`)
    whose document ``dir_fd/id/suffix`` changed, as :func:`stat_changed_python` finds them.
    Raises ValueError for packed rows that do not fit together or a NUL in a path of rows
    ``start..stop`` (before any file is examined; the rows outside are not looked at), OSError
    for a file that cannot be examined (not a missing one)."""
    stride = width + 1  # each id and its separator
    n = len(ids) // stride if width > 0 else 0
    if (not ids.isascii() or width <= 0 or len(ids) != n * stride
            or len(sigs) != n * columns.PACKED_SIG.size or not 0 <= start <= stop <= n):
        raise ValueError("packed ids and signatures do not fit together")
    if "\0" in ids[start * stride:stop * stride] or "\0" in suffix:
        raise ValueError("embedded null byte")
    changed = []
    for k in range(start, stop):
        job_id = ids[k * stride:k * stride + width]
        mtime, size, inode = columns.PACKED_SIG.unpack_from(sigs, k * columns.PACKED_SIG.size)
        try:
            s = os.stat(job_id + suffix, dir_fd=dir_fd)
        except (FileNotFoundError, NotADirectoryError):
            if size != -1:
                changed.append(job_id)
            continue
        if size == -1 or s.st_mtime_ns != mtime or s.st_size != size or s.st_ino != inode:
            changed.append(job_id)
    return changed


def stat_changed(rows, ws):
    """Ids among ``rows`` (id, recorded signature: see :func:`suite.index.columns.read_signatures`) whose
    document signature changed. Raises OSError for a document that cannot be examined (not
    for a missing one)."""
    if _fsstat is not None:
        try:
            fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return stat_changed_by_path(rows, ws)
        try:
            return _fsstat.stat_changed(fd, rows, "/" + layout.DOCUMENT)
        finally:
            os.close(fd)
    return stat_changed_python(rows, ws)


def stat_changed_python(rows, ws):
    """:func:`stat_changed` in Python: the reference of the native ``suite._fsstat``."""
    changed = []
    stat, suffix = os.stat, "/" + layout.DOCUMENT
    # paths relative to the open workspace: the kernel walks two names instead of the whole
    # path, and no signature tuple is made per file (together 6-8 % of this loop)
    try:
        fd = os.open(ws, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        fd = None
    if fd is None or stat not in os.supports_dir_fd:
        if fd is not None:
            os.close(fd)
        return stat_changed_by_path(rows, ws)
    try:
        for job_id, sig in rows:
            try:
                s = stat(job_id + suffix, dir_fd=fd)
            except (FileNotFoundError, NotADirectoryError):
                if sig is not None:
                    changed.append(job_id)
                continue
            if (sig is None or s.st_mtime_ns != sig[0] or s.st_size != sig[1]
                    or s.st_ino != sig[2]):
                changed.append(job_id)
    finally:
        os.close(fd)
    return changed


def stat_changed_by_path(rows, ws):
    """:func:`stat_changed` where the workspace cannot be opened as a directory."""
    changed = []
    stat = os.stat
    prefix, suffix = ws + "/", "/" + layout.DOCUMENT
    for job_id, sig in rows:
        try:
            s = stat(prefix + job_id + suffix)
            now = (s.st_mtime_ns, s.st_size, s.st_ino)
        except (FileNotFoundError, NotADirectoryError):
            now = None
        if now != sig:
            changed.append(job_id)
    return changed


def split_work(fn, rows, ws, join=lambda a, b: a + b):
    """``fn(rows, ws)``, in two processes (:func:`in_two_processes`) from
    :data:`PARALLEL_STAT_MIN` rows on, where a child may be forked
    (:func:`suite.forked.can_fork`) and the machine has two cores."""
    if len(rows) >= PARALLEL_STAT_MIN and (os.cpu_count() or 1) > 1 and forked.can_fork():
        return in_two_processes(fn, rows, ws, join)
    return fn(rows, ws)


def in_two_processes(fn, rows, ws, join=lambda a, b: a + b):
    """Run ``fn(rows, ws)`` on two halves at once, the second half in a forked child
    (:class:`suite.forked.Child`), and ``join`` the two results (lists, tuples, dicts, strings
    and numbers: sent by marshal). Raises what ``fn`` raises here.

    ``stat`` and reading files cost system time per file; on a 100,000-job workspace two
    cores halve the wait. The child only reads files and writes its result to a pipe; if it
    fails, its half is redone here, so the result never silently misses anything.
    """
    half = len(rows) // 2
    try:
        child = forked.Child(lambda: fn(rows[half:], ws), "reading half of the documents",
                             codec=marshal)
    except OSError:  # no process or pipe to be had now: all of it here
        return fn(rows, ws)
    try:
        mine = fn(rows[:half], ws)
    except BaseException:
        child.cancel()
        raise
    try:
        theirs = child.result()
    except Exception:  # noqa: BLE001 - any failure of the child: its half is redone here
        theirs = fn(rows[half:], ws)
    return join(mine, theirs)
