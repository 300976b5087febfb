"""The client side of the sync protocol: a :class:`sync.interface.ReplicaAPI` whose methods
are made from :data:`sync.ops.OPS`, spoken as frames (:mod:`sync.protocol`) over any
transport (:mod:`sync.transports`). Writes are posted without waiting (answers read in order,
at most :attr:`Client.WINDOW` in flight), queued frames go out in batches, requests marked
``later`` are answered while this side goes on.
"""

import collections
import inspect
import math
import time

from . import answers, ops, protocol
from .interface import FlowAPI, ReplicaAPI
from .replica import SyncError, read_jobs_by_files, read_jobs_later_by_files


class Client:
    """A replica on the far side of ``transport`` (see :class:`sync.transports.Transport`),
    after the handshake: the protocol version must match."""

    #: writes in flight without their answers, at most; when full, answers are read down to
    #: half, so the far side always has work queued (answers are small: ~40 bytes each)
    WINDOW = 512

    #: bytes of queued frames sent at once: one write per frame would make the transport's
    #: per-packet cost (paramiko encrypts in Python) dominate syncs of many small files
    SEND_BATCH = 256 << 10

    #: new jobs sent in one frame (``create_jobs``), at most, and their bytes: one frame and
    #: one answer per job were a third of the far side's work in a first sync of small jobs
    JOBS_PER_FRAME, JOB_FRAME_BYTES = 128, 4 << 20

    #: whether a failed write's error names its file (the second data stream's do)
    names_writes = False
    #: whether the round trip is measured with the hello (see round_trip; not by the second
    #: data stream, whose server serves writes only)
    measures = True

    #: capabilities (:class:`sync.interface.ReplicaAPI`): writes may take a second stream
    #: (:meth:`start_second`, :meth:`pick`); the record and the lock cross the link, so a
    #: patch saves bytes and an unlock behind the record a round trip
    second_stream = patches_record = unlocks_behind = True

    def __init__(self, transport, label=None, ahead=()):
        self.transport, self.host = transport, transport.host
        self.timeout = transport.timeout
        # one entry per answer not read yet, oldest first: None for a posted write, a list
        # for a request sent ahead (filled with its frame when read, see _later)
        self._expect = collections.deque()
        self._outbuf = bytearray()
        self._jobs, self._jobs_bytes = [], 0  # new jobs not sent yet (see create_job)
        self.changed = []  # refused writes' notes, from their answers (see Replica.changed)
        self._broken = False
        self._wrote = False  # a request that writes was sent: the far side works after close
        self._token = 0
        self._stream_files = {}  # token -> "job/rel" of a streamed write (names_writes)
        self._second = None  # the second data stream (sync.datastream.Second), once asked
        self._used = None  # its client, once a write went there (flush waits for it)
        self._split = [0, 0]  # bytes of large writes given to this stream and to the second
        self.ahead = []
        try:
            unsent = self._ask_ahead(ahead)
            self._handshake(label)
            if unsent is not None:  # said hello, yet took nothing
                raise SyncError(f"connection to {self.host} lost: {unsent}")
        except BaseException:
            self._broken = True
            self.close()
            raise

    def _ask_ahead(self, requests):
        """Send the heartbeat request and ``requests`` (``(op name, args)`` of read-only
        operations) before the hello is read: the far side reads them once it has said hello,
        so the first answer costs no round trip of its own (over a slow link, or while the
        far side's Python starts). ``self.ahead`` holds a function per request that returns
        its answer. Returns the error of a send that failed (None if all went): a far side
        that is not there or speaks another version is told by the hello, which
        :meth:`_handshake` explains."""
        # heartbeats while the far side works (answered in order, never waited for; a suite
        # too old to send them answers with an error, which is ignored)
        self._request("heartbeat", [max(0.5, self.timeout / 4)], b"", {}, flush=False)
        for name, args in requests:
            op = ops.lookup(name)
            values = tuple(args)
            wire, payload, extra = op.pack(values)
            answer = self._request(name, wire, payload, extra, flush=False)
            self.ahead.append(lambda op=op, answer=answer, values=values:
                              op.take(self, *answer(), values))
        try:
            self.transport.writer.write(bytes(self._outbuf))
            self.transport.writer.flush()
        except OSError as exc:  # TimeoutError included
            return exc
        finally:
            self._outbuf.clear()
        return None

    def _handshake(self, label):
        header, _ = self._frame()
        heard = time.monotonic()
        if header is None:
            raise SyncError(self.transport.why_stopped())
        if not header.get("ok"):
            raise SyncError(f"{self.transport.where()}: {header.get('error')}")
        if header.get("version") != protocol.VERSION:
            raise SyncError(
                f"the suite on {self.host} speaks sync protocol {header.get('version')}, "
                f"this one {protocol.VERSION}: install the same suite version on both machines")
        self.label = label or header.get("label") or self.host
        self._clock, self._measured = None, None
        if self.measures:
            # asked at once, answered at once: the far side's seconds from its hello to
            # this request are a round trip and this side's moment in between, which ends
            # as the request goes (a time taken after the write may wait for paramiko's
            # thread to give the interpreter back, and would shorten the round trip)
            delay = time.monotonic() - heard
            try:
                self._clock = (self._request("since_hello", [], b"", {}), delay)
            except SyncError:
                # the far side said hello and went (after the requests sent ahead, say): it
                # was reached; the reads of their answers report the loss as such
                self._clock = None

    #: a request read by a far side that waited less than this for it was there before
    #: the far side was ready for it (it worked on the requests sent ahead meanwhile): a
    #: read of what is there took up to 60 us on this machine under load; a round trip
    #: that could make a second stream pay is over 10 ms
    IDLE = 1e-3

    def round_trip(self):
        """``(seconds, start)``: a round trip to the far side (the link and both ends'
        wake-ups), measured at the hello, and the CPU seconds its server took to start; None
        when it is not known: a far side without the operation (an older suite), or one
        still at work on the requests sent ahead when the question came (the time then is
        that work's, not the link's). Its answer came long before a sync asks, mostly: this
        reads the answers up to it. Raises :class:`protocol.ProtocolError` when the far side
        answered with a wrong shape."""
        if self._clock is not None:
            (answer, delay), self._clock = self._clock, None
            try:
                value, _ = answer()
            except protocol.ProtocolError:
                raise
            except SyncError:  # an older far side (else the next read says what broke)
                if self._broken:
                    raise
                return None
            value = answers.shaped("since_hello", value, lambda v: isinstance(v, list) and
                                   len(v) == 3 and all(type(x) in (int, float) and
                                                       math.isfinite(x) and x >= 0 for x in v),
                                   self.host)
            if value[2] >= self.IDLE:
                self._measured = (max(0.0, value[0] - delay), float(value[1]))
        return self._measured

    # -- frames -----------------------------------------------------------------------------
    def _frame(self):
        """The next frame from the far side (heartbeats skipped); :class:`SyncError` naming
        the host when nothing came for ``timeout`` seconds, :class:`protocol.ProtocolError`
        for what is not a frame."""
        try:
            while True:
                header, payload = protocol.read_frame(self.transport.reader)
                if header is None or not header.get("heartbeat"):
                    return header, payload
        except TimeoutError:
            self._broken = True
            raise SyncError(
                f"{self.host} sent nothing for {self.timeout:g} s (the far side is "
                "stopped or unreachable); run the sync again to resume, or give a longer "
                "--timeout") from None
        except protocol.ProtocolError as exc:
            self._broken = True
            raise protocol.ProtocolError(f"{self.host}: {exc}") from None

    def _send(self, op, args, payload, extra, flush=True):
        if self._jobs and op != "create_jobs":  # queued jobs go first: requests keep order
            self._send_jobs()
        if not self._wrote and op in ops.OPS and ops.OPS[op].writes:
            self._wrote = True
        self._outbuf += protocol.encode_frame({"op": op, "args": list(args), **extra}, payload)
        if flush or len(self._outbuf) >= self.SEND_BATCH:
            self._flush()

    def _flush(self):
        if not self._outbuf:
            return
        try:
            self.transport.writer.write(bytes(self._outbuf))
            self.transport.writer.flush()
        except TimeoutError:
            self._broken = True
            self._outbuf.clear()  # (as below)
            raise SyncError(f"{self.host} took nothing for {self.timeout:g} s (the far "
                            "side is stopped or unreachable); run the sync again to resume, "
                            "or give a longer --timeout") from None
        except (OSError, EOFError) as exc:  # paramiko's word for a socket that took nothing
            self._broken = True
            # sent never: the reads of the answers still due say how the far side went
            # (written again at the next read, the same loss read "lost: Broken pipe" or
            # "closed" by which write saw it first)
            self._outbuf.clear()
            raise SyncError(f"connection to {self.host} lost: "
                            f"{exc or 'the far side closed it'}") from None
        self._outbuf.clear()

    @property
    def broken(self):
        """Whether the far side stopped answering or spoke badly (nothing more is sent)."""
        return self._broken

    def _post(self, op, *args, payload=b"", **extra):
        """Send a write without waiting: the work streams instead of one round trip each."""
        self._send(op, args, payload, extra, flush=False)
        if self.names_writes:
            if op == "write_open":
                self._stream_files[args[0]] = f"{args[1]}/{args[2]}"
            self._expect.append((op, args))
        else:
            self._expect.append(None)
        if len(self._expect) >= self.WINDOW:
            # read answers down to half the window, so the next writes go out as one batch
            while len(self._expect) > self.WINDOW // 2:
                self._answer()

    def _answer(self):
        """Read the oldest answer not read yet: a write's (raise if it failed) or that of a
        request sent ahead (kept for its caller)."""
        self._flush()
        holder = self._expect.popleft()
        if isinstance(holder, list):
            holder.append(self._frame())
            return
        try:
            header, _ = self._checked(*self._frame())
        except SyncError as exc:
            self._expect.clear()
            if holder is None:
                raise
            raise self.failed(str(exc), self._written(*holder)) from None
        result = header.get("result")
        if result is not None:  # writes refused: their targets changed (create_jobs: a list)
            for note in result if isinstance(result, list) else [result]:
                self.changed.append(answers.check_note(note, self.host))

    def failed(self, message, what):
        """The error of a failed write (``what``: its file, when ``names_writes``)."""
        return SyncError(message)

    def _written(self, op, args):
        """``job/rel`` of the file a posted write was writing (None if none)."""
        if op in ("write_open", "write_chunk", "write_close"):
            return self._stream_files.get(args[0])
        if len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
            return f"{args[0]}/{args[1]}"
        return None

    def _drain(self):
        if self._jobs:
            self._send_jobs()
        while self._expect:
            self._answer()

    def _later(self, op, *args, payload=b"", **extra):
        """Send a request now and return a function that returns its ``(result, payload)``
        later: the far side works on it while this side does other work (writes may be
        posted meanwhile; their answers are read in order)."""
        return self._request(op, args, payload, extra)

    def _request(self, op, args, payload, extra, flush=True):
        self._send(op, args, payload, extra, flush)
        holder = []
        self._expect.append(holder)

        def answer():
            while not holder:
                self._answer()
            header, data = self._checked(*holder[0])
            return header.get("result"), data

        return answer

    def _call(self, op, *args, payload=b"", **extra):
        """Send a request whose answer is read next (writes in flight are answered first)."""
        self._drain()
        self._send(op, args, payload, extra)
        header, data = self._checked(*self._frame())
        return header.get("result"), data

    def _checked(self, header, data):
        if header is None:
            raise SyncError(f"connection to {self.host} closed")
        if not header.get("ok"):
            raise SyncError(f"{self.host}: {header.get('error')}")
        return header, data

    def flush(self):
        """Wait for the answers to every write sent so far, on both streams (this one's
        first: its work is answered even when the second's fails); raise if one failed."""
        self._drain()
        second = self._used
        if second is not None:
            try:
                second.flush()
            finally:
                self.changed += second.changed
                second.changed = []

    # -- the second data stream (sync.datastream) -------------------------------------------
    def start_second(self):
        """Open a second stream for file writes in the background (once; see
        :mod:`sync.datastream`); until it is ready, and if it cannot be opened, this one
        carries them (:meth:`pick`)."""
        if self._second is None and not self._broken:
            from .datastream import Second

            self._second = Second(self.transport, self.label)

    def pick(self, size):
        """The stream to carry a file write of ``size`` bytes into a job the far side has:
        the second when it is open and has carried no more of the large writes than this
        one, else this one."""
        second = self._second.ready() if self._second is not None else None
        if second is None:
            return self
        k = 1 if self._split[1] <= self._split[0] else 0
        self._split[k] += size
        if k:
            self._used = second
        return second if k else self

    def close(self):
        if self._second is not None:  # its writes answered (or given up) before this end
            try:
                self._second.close()
            except SyncError:
                pass
        if not self._broken:  # a far side that stopped answering is not waited for again
            try:
                self._drain()
            except SyncError:
                pass
            try:
                protocol.write_frame(self.transport.writer, {"op": "close"})
                if self._wrote:  # else the far side has nothing left to do there
                    self.transport.writer.flush()
                    self._until_far_side_ends()
            except OSError:  # TimeoutError included: the far side took nothing
                self._broken = True
        self.transport.close(wait=not self._broken)

    def _until_far_side_ends(self):
        """Read to the end of the far side's stream: it ends once the far side has done its
        work on the project after the close (indexing the jobs it landed, removing the
        temporary files of streamed writes not finished), so a sync that wrote returns with
        nothing of it still writing there (a script may delete the far copy next). Its
        heartbeats keep a long wait alive; silence past the timeout gives up on it."""
        try:
            while self._frame()[0] is not None:
                pass  # nothing more is asked: what comes is not an answer
        except (SyncError, protocol.ProtocolError):  # stopped answering: not waited for
            self._broken = True
            return
        self.transport.wait_for_exit()

    # -- the composite methods of the interface ---------------------------------------------
    def create_job(self, job_id, statepoint, doc, files):
        """Queue a new job; queued jobs go out many to a frame (``create_jobs``) when the
        queue is full and before any other request (so requests keep their order); a job
        refused there (made meanwhile) leaves a note in :attr:`changed`."""
        if isinstance(statepoint, str):
            statepoint = statepoint.encode()
        self._jobs.append((job_id, statepoint, doc, files))
        self._jobs_bytes += len(statepoint) + sum(len(data) for _, data, _ in files)
        if len(self._jobs) >= self.JOBS_PER_FRAME or self._jobs_bytes >= self.JOB_FRAME_BYTES:
            self._send_jobs()

    def _send_jobs(self):
        jobs, self._jobs, self._jobs_bytes = self._jobs, [], 0
        wire, payload, _ = ops.pack_jobs(jobs)
        self._post("create_jobs", *wire, payload=payload)

    def read_jobs(self, requests):
        return read_jobs_by_files(self.read_files, requests)

    def read_jobs_later(self, requests):
        return read_jobs_later_by_files(self.read_files_later, requests)

    def read_chunks(self, job_id, rel):
        """``(mtime_ns, iterator of chunks)``; the iterator must be consumed before any other
        request on this connection."""
        self._drain()
        self._send("read_stream", [job_id, rel], b"", {})
        header, _ = self._checked(*self._frame())
        mtime = answers.shaped("read_stream", header.get("mtime"), lambda v: type(v) is int,
                               self.host)

        def chunks():
            while True:
                header, data = self._checked(*self._frame())
                if not header.get("more"):
                    return
                yield data

        return mtime, chunks()

    def write_stream(self, job_id, rel, chunks, mtime_ns, expect):
        self._token += 1
        self._post("write_open", self._token, job_id, rel, expect)
        size = 0
        for chunk in chunks:
            self._post("write_chunk", self._token, payload=chunk)
            size += len(chunk)
        self._post("write_close", self._token, mtime_ns)
        return size

    def flow_run(self, argv, output, stop=None):
        """Run ``suite run ARGV`` on the far side; ``output(stream, bytes)`` hears its output
        as it comes (stream: ``out``/``err``). Ctrl-C here (KeyboardInterrupt), or
        ``stop()`` returning true between frames, stops the far side's run (its process
        group); the KeyboardInterrupt is raised again once it has ended. Returns
        ``{exit, stopped}``."""
        self._drain()
        self._send("flow_run", [list(argv)], b"", {})
        stopped = []  # the stop goes once: at the exit frame, on stop() or on Ctrl-C

        def stop_once():
            if not stopped:
                self._send("stop", [], b"", {})
                stopped.append(True)

        interrupted = False
        while True:
            try:
                header, data = self._checked(*self._frame())
                if not header.get("more"):
                    break
                _heard(header, data, output, stop_once)
                if stop is not None and not stopped and stop():
                    stop_once()
            except KeyboardInterrupt:
                interrupted = True
                stop_once()
        if interrupted:
            raise KeyboardInterrupt
        return answers.shaped("flow_run", header.get("result"),
                              lambda v: isinstance(v, dict) and type(v.get("exit")) is int,
                              self.host)


def _heard(header, data, output, stop_once):
    # a frame of the far run: its exit asks for the stop that ends the stream; else output
    if "exit" in header:
        stop_once()
    elif header.get("stream") in ("out", "err"):
        output(header["stream"], data)


def _method(op):
    """The client method of ``op``: its arguments bound as :class:`ReplicaAPI` declares them,
    packed, sent as the mode says, the answer taken (checked) by the entry."""
    signature = inspect.signature(getattr(ReplicaAPI, op.name, None)
                                  or getattr(FlowAPI, op.name))
    params = list(signature.parameters.values())[1:]
    # positional arguments, the common case, are bound without inspect (a tenth of a
    # millisecond a call: one call per job in a sync of many small jobs)
    simple = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
    defaults = tuple(p.default for p in params)
    needed = sum(p.default is p.empty for p in params)

    def bound(self, *args, **kwargs):
        if simple and not kwargs and needed <= len(args) <= len(params):
            values = args + defaults[len(args):]
        else:
            call = signature.bind(self, *args, **kwargs)
            call.apply_defaults()
            values = tuple(call.arguments.values())[1:]
        return values, op.pack(values)

    if op.mode == "post":
        def method(self, *args, **kwargs):
            _, (wire, payload, extra) = bound(self, *args, **kwargs)
            self._post(op.name, *wire, payload=payload, **extra)
    elif op.mode == "call":
        def method(self, *args, **kwargs):
            values, (wire, payload, extra) = bound(self, *args, **kwargs)
            result, data = self._call(op.name, *wire, payload=payload, **extra)
            return op.take(self, result, data, values)
    else:  # later: NAME_later sends now, NAME waits for it
        def later(self, *args, **kwargs):
            values, (wire, payload, extra) = bound(self, *args, **kwargs)
            answer = self._later(op.name, *wire, payload=payload, **extra)
            return lambda: op.take(self, *answer(), values)

        def method(self, *args, **kwargs):
            return getattr(self, op.name + "_later")(*args, **kwargs)()

        later.__name__ = later.__qualname__ = op.name + "_later"
        setattr(Client, later.__name__, later)
    method.__name__ = method.__qualname__ = op.name
    method.__doc__ = f"{op.name} on the far side ({op.mode}); answer: {op.answer}."
    setattr(Client, op.name, method)


for _op in ops.OPS.values():
    if not _op.internal and _op.name not in vars(Client):  # not written out above
        _method(_op)
