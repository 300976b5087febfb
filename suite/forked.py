"""Work done in a child forked from this process, its answer read back through a pipe: the
one way suite forks (a sync's far listing, the index's two-process checks and reading ahead,
status's workers).

A child starts with this process's memory as it stands (everything imported, the parsed
workflow, the index's columns: nothing to send) and answers through a pipe, each answer after
its length: both ends are this program, nothing else writes to it. Two shapes:

* :class:`Child` — ``fn()`` in one child, its answer read later (:meth:`Child.result`); or
  each item of ``fn()`` as it comes (``each=True``, :meth:`Child.receive`, :meth:`Child.ready`);
  or, after its answer, more requests answered by the same child (``serve``, :meth:`Child.ask`).
* :func:`map_parts` — ``fn(k, part)`` for each part, each in a child of its own, at once.

The contract, for both:

* **Raised.** ``OSError`` where no pipe or process could be had (then nothing runs). An
  exception raised by the work in the child is raised here, with the child's traceback as a
  note (one that does not pickle comes back as :class:`ChildFailed` with its words).
  :class:`ChildFailed` where the child ended without an answer (killed by a signal, out of
  memory, an exit of its own); its message names the work and how the child ended.
* **Only the main thread.** Fork only where :func:`can_fork`: a fork copies the calling
  thread alone, so a lock another thread held would stay held in the child for ever. The
  caller asks (and does the work itself where the answer is no).
* **Ctrl-C.** It reaches the child too (one process group): the child leaves without an
  answer; here, a KeyboardInterrupt while waiting kills and reaps the children before it goes
  on. SIGINT is held back while a child is forked and noted, so it cannot run this process's
  code on in the child, nor leave a child nobody reaps.
* **The parent dying.** The child's next write fails (EPIPE) or its read of requests ends:
  it leaves. Every child closes the pipe ends this module holds for other children, so an
  end closed here is closed everywhere.
* **Leaving.** The child leaves by ``os._exit`` after flushing stdout and stderr (what the
  work printed): this process's exit handlers, buffers and database connections are not its
  own. Buffered output is flushed here before each fork, or every child would write it again.
* **Reaped.** Every child is reaped before :meth:`Child.result` returns, :meth:`Child.close`
  or :meth:`Child.cancel` return, or :func:`map_parts` returns or raises; its CPU time is
  then :attr:`Child.cpu`.
"""

import os
import struct
import sys
import weakref  # imported with the interpreter's start already

from .errors import SuiteError
from .jsonio import read_exactly, write_all

#: before each answer: its length and its kind, a value or an exception raised (the payload
#: is written and read apart from it: answers of megabytes are not copied to join them)
_HEAD = struct.Struct("<Qc")
_VALUE, _RAISED = b"v", b"e"
#: before each request: its length
_LENGTH = struct.Struct("<Q")
#: threads :func:`can_fork` does not count (:func:`harmless_at_fork`)
_harmless = weakref.WeakSet()
#: pipe ends this process holds for its children (or, in a child, its own): a new child
#: closes them all but its own
_held = set()


class ChildFailed(SuiteError):
    """A forked child ended without an answer; :attr:`status` is its wait status (None where
    it is not known)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def can_fork():
    """Whether a child may be forked now: the system has ``fork`` and only this process's
    main thread runs, besides threads marked :func:`harmless_at_fork`."""
    if not hasattr(os, "fork"):
        return False
    threading = sys.modules.get("threading")  # not imported: no thread was started by it
    if threading is None or threading.active_count() == 1:
        return True
    main = threading.main_thread()
    return all(t is main or t in _harmless for t in threading.enumerate())


def harmless_at_fork(thread):
    """Mark ``thread`` (not started yet, or running) as one a fork may leave behind, so that
    :func:`can_fork` does not count it; returns it. Only for a thread that waits for a
    subprocess of its own (``Popen.wait``) and nothing else: it holds no lock but that
    ``Popen``'s, which no child touches (a sync's far process reaped after the sync
    returned would otherwise keep status serial for as long as the far side works)."""
    _harmless.add(thread)
    return thread


class Child:
    """``fn()`` running in a forked child. ``what`` names the work in messages (e.g.
    "listing PATH"); ``codec`` turns answers into bytes and back (``pickle`` by default, or
    ``marshal`` for plain data, faster). With ``each``, ``fn()`` is iterable and each item
    is an answer of its own (:meth:`receive`). With ``serve``, the child stays after its answers:
    :meth:`ask` has it return (or raise) ``serve(request)``, until :meth:`close`.
    Raises OSError when the pipes or the fork fail (then nothing was started)."""

    def __init__(self, fn, what, serve=None, codec=None, each=False):
        import signal

        if codec is None:  # imported here: every index query imports this module, few fork
            import pickle as codec

        self.what, self.codec, self.status, self.cpu = what, codec, None, None
        self._answer, self._fd, self._requests = None, None, None
        _flush_output()
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            fds = list(os.pipe())
            try:
                if serve is not None:
                    fds += os.pipe()
                pid = os.fork()
            except OSError:
                for fd in fds:
                    os.close(fd)
                raise
            read_end, write_end, *requests = fds
            if pid == 0:
                _run_child(fn, codec, each, serve, write_end,
                           requests[0] if requests else None, [read_end, *requests[1:]],
                           held)  # never returns
            os.close(write_end)
            if requests:
                os.close(requests[0])
            self.pid, self._fd = pid, read_end
            self._requests = requests[1] if requests else None
            _held.update(fd for fd in (self._fd, self._requests) if fd is not None)
        finally:
            try:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
            except BaseException:
                # a Ctrl-C held back while forking is raised as SIGINT is let through,
                # before the caller has this object to stop the child with: stopped here
                if self._fd is not None:
                    self.cancel()
                raise

    def result(self):
        """What ``fn`` returned, or raise what it raised (its traceback in the child added as
        a note); :class:`ChildFailed` when the child ended without an answer. Without
        ``serve`` the child is reaped then. The same answer on every call."""
        if self._answer is None:
            self._answer = self._read()
            if self._requests is None:  # nothing more to ask: it has left
                self._close_answers()
                self._reap()
        return self._outcome(self._answer)

    def receive(self):
        """The next answer (with ``each``: the next item), or raise what the child raised
        making it; :class:`ChildFailed` when the child ended first."""
        return self._outcome(self._read())

    def ready(self, timeout=0):
        """Whether an answer (or the child's end) can be read without waiting longer than
        ``timeout`` seconds (None: until it can)."""
        import select

        return self._fd is not None and bool(select.select([self._fd], [], [], timeout)[0])

    @property
    def serving(self):
        """Whether the child has answered ``fn`` and waits for :meth:`ask`."""
        return self._answer is not None and self._requests is not None

    def ask(self, request):
        """``serve(request)`` in the child (after :meth:`result`): what it returned, or raise
        what it raised, as :meth:`result` does."""
        import pickle

        data = pickle.dumps(request, pickle.HIGHEST_PROTOCOL)
        try:
            write_all(self._requests, _LENGTH.pack(len(data)) + data)
        except BrokenPipeError:  # it has ended: its status says how
            self._fail()
        except BaseException:
            self.cancel()
            raise
        return self._outcome(self._read())

    def close(self, wait=True):
        """Let a child that has answered leave (one waiting for :meth:`ask` reads the end of
        the requests) and reap it, or with ``wait`` false only if it has left already (call
        again to reap it); a child still at its first work is stopped (:meth:`cancel`).
        Idempotent."""
        if self._answer is None:
            self.cancel()
            return
        self._close_requests()
        self._close_answers()
        self._reap(block=wait)

    def cancel(self):
        """Stop the child if it still runs (SIGKILL), and reap it. Idempotent."""
        self._close_requests()
        if self.status is None and self._reap(block=False) is None:
            import signal

            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._close_answers()
        self._reap()

    def _outcome(self, message):
        kind, data = message
        if kind == _VALUE:
            return self.codec.loads(data)
        import pickle

        try:
            value, trace = pickle.loads(data)
        except Exception:  # noqa: BLE001 - an exception that pickles but does not load
            value, trace = ChildFailed(f"{self.what} failed: the process doing it raised "
                                       "an exception that could not be read back"), ""
        note = f"(raised in the process {self.what}, pid {self.pid}:)\n{trace}"
        if hasattr(value, "add_note"):  # Python 3.11+; 3.10 (supported) raises it without
            value.add_note(note)
        raise value

    def _read(self):
        """The next answer from the child, ``(kind, payload)``; :meth:`_fail` if it ended
        without one."""
        try:
            head = read_exactly(self._fd, _HEAD.size) if self._fd is not None else None
            if head is not None:
                size, kind = _HEAD.unpack(head)
                data = read_exactly(self._fd, size)
        except BaseException:  # Ctrl-C here: the child is stopped, not waited for
            self.cancel()
            raise
        if head is None or data is None or kind not in (_VALUE, _RAISED):
            self._fail()
        return kind, data

    def _fail(self):
        self._close_requests()
        self._close_answers()
        raise ChildFailed(f"{self.what} failed: the process doing it (pid {self.pid}) "
                          f"{self._ended()}", self.status)

    def _close_answers(self):
        if self._fd is not None:
            _held.discard(self._fd)
            os.close(self._fd)
            self._fd = None

    def _close_requests(self):
        if self._requests is not None:
            _held.discard(self._requests)
            os.close(self._requests)
            self._requests = None

    def _reap(self, block=True):
        """The child's wait status (None while it runs and ``block`` is false)."""
        if self.status is None:
            try:
                pid, status, usage = os.wait4(self.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:  # reaped already elsewhere: its status is lost
                pid, status, usage = self.pid, -1, None
            if pid:
                self.status = status
                self.cpu = usage and usage.ru_utime + usage.ru_stime
        return self.status

    def _ended(self):
        status = self._reap()
        if status == -1:
            return "ended"
        if os.WIFSIGNALED(status):
            import signal

            sig = os.WTERMSIG(status)
            try:
                name = f" ({signal.Signals(sig).name})"
            except ValueError:
                name = ""
            return f"was killed by signal {sig}{name}"
        return f"ended with status {os.waitstatus_to_exitcode(status)} and no answer"


def map_parts(fn, parts, codec=None, what="part", cpu=None):
    """``[fn(0, parts[0]), fn(1, parts[1]), ...]``, each called in a child of its own, all at
    once; answers by ``codec`` (default ``marshal``); ``what`` names the parts in messages.
    Raises as :class:`Child` does: OSError where a child could not be started, else the
    first part's exception or :class:`ChildFailed` (in part order). Every child is reaped
    before this returns or raises (a KeyboardInterrupt kills them first). ``cpu``: a list
    that gets each child's CPU seconds (user + system), in part order."""
    import signal

    if codec is None:
        import marshal as codec
    children = []
    try:
        # a Ctrl-C while forking comes once every child is in the list the finally stops
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for k, part in enumerate(parts):
                children.append(Child(lambda k=k, part=part: fn(k, part), f"{what} {k}",
                                      codec=codec))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        answers = [child.result() for child in children]
    finally:
        for child in children:  # no-ops for the reaped ones
            child.cancel()
    if cpu is not None:
        cpu[:] = [child.cpu for child in children]
    return answers


def _unpickle(data):
    import pickle

    return pickle.loads(data)


def _flush_output():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # none, closed, or a broken pipe
            pass


def _message(fn, codec):
    """``fn()``'s outcome as an answer, ``(kind, payload)``: its value by ``codec``, or the
    exception it raised (:func:`_raised`)."""
    try:
        return _VALUE, codec.dumps(fn())
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        return _raised(exc)


def _send(fd, message):
    """Write the answer ``(kind, payload)`` to ``fd``: its head and payload in one
    ``writev`` (the rest, if it wrote less, by :func:`suite.jsonio.write_all`)."""
    kind, data = message
    head = _HEAD.pack(len(data), kind)
    done = os.writev(fd, [head, data])
    if done < len(head) + len(data):
        write_all(fd, (head + data)[done:] if done < len(head) else
                  memoryview(data)[done - len(head):])


def _raised(exc):
    """The answer of an exception raised in the child: it and the traceback text, pickled
    (its words where it does not pickle)."""
    import pickle
    import traceback

    trace = "".join(traceback.format_exception(exc))
    try:
        return _RAISED, pickle.dumps((exc, trace), pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its words
        return _RAISED, pickle.dumps(
            (ChildFailed(f"{type(exc).__name__}: {exc}"), trace), pickle.HIGHEST_PROTOCOL)


def _send_each(fn, codec, fd):
    """Write a message for each item of ``fn()``; an exception making the iterable or an
    item is the last message (one writing, such as the parent gone, ends the child)."""
    try:
        items = iter(fn())
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        _send(fd, _raised(exc))
        return
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - as above
            _send(fd, _raised(exc))
            return
        _send(fd, _message(lambda item=item: item, codec))


def _run_child(fn, codec, each, serve, fd, requests, own_spares, held):
    """The forked child: write ``fn``'s outcome (with ``each``, each item's) to ``fd``; with
    ``serve``, then answer each request read from ``requests`` until its end; leave."""
    import signal

    status = 1
    try:
        for spare in own_spares:  # this process's ends of the new pipes
            os.close(spare)
        for other in _held:  # the ends held for other children: theirs, not ours
            os.close(other)
        _held.clear()
        _held.update(x for x in (fd, requests) if x is not None)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        if each:
            _send_each(fn, codec, fd)
        else:
            _send(fd, _message(fn, codec))
        while serve is not None:
            head = read_exactly(requests, _LENGTH.size)
            if head is None:  # closed: nothing more is asked
                break
            data = read_exactly(requests, _LENGTH.unpack(head)[0])
            if data is None:
                break
            _send(fd, _message(lambda data=data: serve(_unpickle(data)), codec))
        status = 0
    except KeyboardInterrupt:  # Ctrl-C: the parent has it too, and says so
        status = 130
    except BaseException:  # noqa: BLE001 - e.g. the parent gone (EPIPE): nothing to tell
        status = 1
    finally:
        _flush_output()
        os._exit(status)
