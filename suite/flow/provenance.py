"""Provenance: one JSON line per execution in the job's ``suite_flow_log.jsonl``.

Lines are appended (one ``write`` of a whole line, with ``O_APPEND``), never rewritten: two
copies of a job synced from different machines each keep their lines, and a merge of the two
files is their union.
"""

import contextlib
import json
import os
import queue
import socket
import threading
import time

from suite import layout

LOG = layout.FLOW_LOG
#: bytes read back from the end of a job's log (once per job and run) to learn which blobs it
#: holds: a record with a few files takes ~1 KB, an environment blob ~4 KB
TAIL = 8192
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND
_READ_APPEND = os.O_RDWR | os.O_CREAT | os.O_APPEND


def _line(entry):
    import suite

    return (json.dumps({"host": socket.gethostname(), "suite_version": suite.__version__,
                        **entry}, sort_keys=True) + "\n").encode()


def _append(path, data, before=None, lead=None):
    """Append ``data`` to ``path`` in one ``write``, led by ``lead`` (bytes) or by what
    ``before(fd)`` returns (if given: judged through the same descriptor, opened for reading
    too). With ``lead``, one ``writev``: an append of both as one write (the kernel holds the
    file's lock for the whole call), without copying the lead (an environment's 3 KB) into a
    new bytes object per job."""
    fd = os.open(path, _READ_APPEND if before else _APPEND, 0o644)
    try:
        if before is not None:
            data = before(fd) + data
        if lead:
            os.writev(fd, (lead, data))
        else:
            os.write(fd, data)
    finally:
        os.close(fd)


def record(job, entry):
    """Append one provenance record to the job's log."""
    _append(os.path.join(job.path, LOG), _line(entry))


class Log:
    """Where a runner's provenance records go: appended at once, or, inside
    :meth:`background`, by one writer thread while the next operation runs once appending has
    proved slow.

    Why a thread: a job's first record creates a file, and on some disks (or in some minutes of
    a disk's life) creating a file costs as much as the operation's own document write; the two
    then overlap instead of adding up. Where creating a file is cheap, handing each record to a
    thread costs more than writing it, so records are written at once until the median cost
    of the last :attr:`WINDOW` passes :attr:`SLOW` (a median: on a busy machine one
    preemption inside a write lifted a running average past it, and the thread then cost a
    run with full records +50 % on a RAM disk, every system call of the runner waiting for the
    interpreter lock). One thread and one FIFO queue keep each job's records in
    order. :meth:`flush` waits until every record is on disk; the runner calls it before
    anything reads the logs ("after" conditions, hooks) and at the end of the run. A record
    that cannot be written (the job directory was removed, the disk is full) raises
    :class:`~suite.errors.SuiteError` naming the job: at once, or from the next :meth:`flush`.
    """

    #: records waiting at most; the runner blocks rather than piling up more (a killed run
    #: loses no more than these)
    BACKLOG = 256
    #: seconds per record (median of a window) above which a background run hands records to
    #: the writer thread; handing one over costs ~10 µs, creating a file here 15 µs to 1 ms
    SLOW = 100e-6
    #: records the median is taken over (the latest)
    WINDOW = 32

    def __init__(self):
        self._background = False
        self._costs = []
        self._queue = None
        self._thread = None
        self._failed = []
        self._have = set()  # (job id, blob name) known to be on disk
        self._wrote_all = {}  # job id -> the blobs (a list) its new log got all of at once
        self._joined = (None, b"")  # (blobs, their lines joined): one list all the run
        self._naming = {}  # blob name -> naming_field(name), or () for none
        #: bytes of existing logs read to learn which blobs they hold (a measure for tests
        #: and benchmarks)
        self.bytes_read = 0
        self._lock = threading.Lock()

    def record(self, job, entry, blobs=(), fresh=False):
        """Append ``entry`` (a dict, or a line already encoded by
        :meth:`~suite.provenance.capture.Capture.line`) to ``job``'s log (now, or queued for
        the writer thread), preceded in the same write by the blob lines (``[(name, line)]``)
        it names that the log does not hold yet (all of them if ``fresh``: the log did not
        exist before)."""
        data = entry if isinstance(entry, bytes) else _line(entry)
        item = (job.id, job.path, data, blobs, fresh)
        if self._queue is not None:
            self._queue.put(item)
            return
        start = time.perf_counter()
        self._write(item)
        if self._background:
            costs = self._costs
            costs.append(time.perf_counter() - start)
            if len(costs) % 4 == 0:  # a median of the last WINDOW, from 4 records on
                del costs[:-self.WINDOW]
                if sorted(costs)[len(costs) // 2] > self.SLOW:
                    self._start_writer()

    def _write(self, item):
        job_id, path, data, blobs, fresh = item
        try:
            if blobs and fresh:  # no log before this execution: every blob, nothing to read
                self._wrote_all[job_id] = blobs
                _append(os.path.join(path, LOG), data, None, self._lines(blobs))
            else:  # the blobs a log lacks are judged from its end, through the descriptor
                _append(os.path.join(path, LOG), data, (  # the append opens anyway
                    lambda fd: self._missing_blobs(job_id, fd, blobs)) if blobs else None)
        except Exception as exc:  # the writer thread must outlive any failure, or runs hang
            if threading.current_thread() is not self._thread:
                raise self._error([(job_id, exc)]) from exc
            self._failed.append((job_id, exc))

    def _lines(self, blobs):
        """The lines of ``blobs`` joined (once per list: a run's records share one)."""
        held, joined = self._joined
        if held is not blobs:
            joined = b"".join(line for _, line in blobs)
            self._joined = (blobs, joined)
        return joined

    def _missing_blobs(self, job_id, fd, blobs):
        """The blob lines the log open at ``fd`` lacks, joined (each is kept once per job);
        led by a newline if the log ends in a line cut short (a killed write), so that line
        stays apart from the record."""
        if self._wrote_all.get(job_id) is blobs:  # its log began with all of them
            return b""
        missing = [(name, line) for name, line in blobs if (job_id, name) not in self._have]
        if not missing:
            return b""
        self._have.update((job_id, name) for name, _ in missing)
        held, cut = self._held(fd, {name for name, _ in missing})
        return (b"\n" if cut else b"") + b"".join(
            line for name, line in missing if name not in held)

    def _held(self, fd, names):
        """``(held, cut)``: which of the blob ``names`` the log open at ``fd`` is proved to
        hold by its last lines, and whether its last line is cut short.

        A blob line is written in the same ``write`` as the first record that names it, and
        the log only grows (sync's merge is a union of lines), so a record naming a blob
        proves the blob is in the log. Only the last :data:`TAIL` bytes are read (more if they
        hold no whole line): a blob they cannot prove is written again, which readers take as
        one (a log whose records alternate between environments grows by a blob per switch)."""
        size = os.fstat(fd).st_size
        if not size:
            return set(), False
        start, tail = size, b""
        while start:  # back until the tail holds a whole line or the log's start
            begin = max(0, start - TAIL)
            tail = os.pread(fd, start - begin, begin) + tail
            self.bytes_read += start - begin
            start = begin
            if tail.find(b"\n", 0, len(tail) - 1) >= 0:
                break
        # whole lines only: the first may begin mid-line, the last may be cut short
        first, end = (tail.find(b"\n") + 1 if start else 0), tail.rfind(b"\n") + 1
        held = set()
        for name in names:
            if self._blob_at(tail, first, end, name) or self._named_at(tail, first, end, name):
                held.add(name)
        return held, end != len(tail)

    @staticmethod
    def _blob_at(tail, first, end, name):
        """Whether ``tail[first:end]`` (whole lines) holds the blob line of ``name``."""
        from suite.provenance.capture import BLOB_PREFIX  # not at start-up: status needs none

        key = BLOB_PREFIX + name.encode() + b'"'
        at = tail.find(key, first, end)
        while at >= 0:
            if at == first or tail[at - 1] == 10:  # at a line's start: the blob line
                return True
            at = tail.find(key, at + 1, end)
        return False

    def _named_at(self, tail, first, end, name):
        """Whether a record among ``tail[first:end]`` (whole lines) names the blob ``name``:
        the latest lines that hold the field's text are parsed (only those)."""
        from suite.provenance.capture import BLOB_PREFIX, naming_field

        naming = self._naming.get(name)
        if naming is None:
            naming = self._naming[name] = naming_field(name) or ()
        if not naming:
            return False
        key, value, text = naming
        at = tail.rfind(text, first, end)
        while at >= 0:
            start = tail.rfind(b"\n", 0, at) + 1
            line = tail[start:tail.find(b"\n", at)]
            if not line.startswith(BLOB_PREFIX):
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                if isinstance(record, dict) and record.get(key) == value:
                    return True
            at = tail.rfind(text, first, start)
        return False

    def _start_writer(self):
        with self._lock:  # `run --parallel` records from several threads
            if self._queue is None:
                q = queue.Queue(self.BACKLOG)
                self._thread = threading.Thread(target=self._drain, args=(q,), daemon=True,
                                                name="suite-provenance")
                self._thread.start()
                self._queue = q

    def _drain(self, q):
        while True:
            item = q.get()
            try:
                if item is None:
                    return
                self._write(item)
            finally:
                q.task_done()

    def _stop_writer(self):
        if self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = self._thread = None

    def flush(self):
        """Wait until every queued record is written; raise if any could not be."""
        if self._queue is not None:
            self._queue.join()
        if self._failed:
            failed, self._failed = self._failed, []
            raise self._error(failed)

    @staticmethod
    def _error(failed):
        from suite.errors import SuiteError

        job_id, exc = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return SuiteError(f"cannot write the provenance record of job {job_id}{more}: {exc}")

    @contextlib.contextmanager
    def background(self):
        """Context manager: records may go to a writer thread until it exits (which waits for
        them all, also when the block raises)."""
        if self._background:  # nested: the outer block owns the thread
            yield self
            return
        self._background, self._costs = True, []
        try:
            yield self
        finally:
            self._background = False
            self._stop_writer()
        self.flush()  # raises for failed records only when the block itself succeeded


def read(job):
    """The job's provenance records (unreadable lines are skipped)."""
    try:
        with open(os.path.join(job.path, LOG), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    return [record for _, record in lines_and_records(data)]


def lines_and_records(data):
    """``(line, record)`` for the records among the lines of ``data`` (bytes; the line names a
    record written before records had ids): blob lines are skipped unparsed, and lines that
    are not JSON objects (corrupt, cut short, not UTF-8) are skipped."""
    from suite.provenance.capture import BLOB_PREFIX  # not at start-up: getpass, platform

    for line in data.splitlines():
        if line.startswith(BLOB_PREFIX):  # an environment or a diff, not a record
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield line, record


def completed_operations(job):
    """Names of operations that completed successfully at least once for ``job``, from its
    whole log (:class:`~suite.flow.succeeded.Succeeded` reads only what is new)."""
    return {r.get("operation") for r in read(job) if r.get("status") == "success"}
