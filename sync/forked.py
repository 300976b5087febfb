"""Work of a sync done in a child forked from this process, its answer read back later.

A sync between two projects on this machine lists the far one in such a child
(:meth:`sync.replica.Replica.snapshot_later`), so that both listings, their documents and
their records are worked on at once, on two cores where they are free, as rsync's processes
are; the rest of the sync stays in this process (a child serving every operation over the
sync protocol cost more CPU than it gained: the changed files' bytes went through a pipe).
The child may stay after its answer to answer more requests of the same kind (the listing of
a few jobs, :meth:`Child.ask`) from the project it has open, until :meth:`Child.close`.

The child starts with everything imported (no start-up to pay) and is forked only while this
process runs its main thread alone (:func:`can_fork`: a fork copies only the calling thread, so
a lock another thread held would stay held in the child for ever). It leaves by
``os._exit``: this process's exit handlers, buffers and database connections are not its own.
Its answers (or its exception, with the child's traceback as a note) come back pickled through
a pipe, each after its length: both ends are this program, nothing else writes to it. Ctrl-C
reaches both (one process group): the child leaves without an answer, this process unwinds as
it would alone. If this process dies, the child's end of the request pipe reads its end and
the child leaves.
"""

import os
import pickle
import struct
import threading

from suite.jsonio import read_exactly, write_all

#: the length before each message
_LENGTH = struct.Struct("<Q")


def can_fork():
    """Whether a child may be forked now: the system has ``fork`` and only this process's
    main thread runs."""
    return hasattr(os, "fork") and threading.active_count() == 1


class Child:
    """``fn()`` running in a forked child; :meth:`result` waits for what it returned and
    raises what it raised. ``what`` names the work in messages (e.g. "listing PATH").
    With ``serve``, the child stays after that answer: :meth:`ask` has it return (or raise)
    ``serve(request)``, until :meth:`close`. Raises OSError when the pipes or the fork fail
    (then nothing was started)."""

    def __init__(self, fn, what, serve=None):
        self.what, self.status, self._answer = what, None, None
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
            os.close(read_end)
            if requests:
                os.close(requests[1])
            _run_child(fn, write_end, serve, requests[0] if requests else None)  # no return
        os.close(write_end)
        if requests:
            os.close(requests[0])
        self.pid, self._fd = pid, read_end
        self._requests = requests[1] if requests else None

    def result(self):
        """What ``fn`` returned, or raise what it raised (its traceback in the child added as
        a note). :class:`sync.replica.SyncError` naming the work when the child ended
        without an answer (killed, out of memory)."""
        if self._answer is None:
            self._answer = self._read()
            if self._requests is None:  # nothing more to ask: it has left
                self._close()
                self._reap()
        return self._outcome(self._answer)

    @property
    def serving(self):
        """Whether the child has answered ``fn`` and waits for :meth:`ask`."""
        return self._answer is not None and self._requests is not None

    def ask(self, request):
        """``serve(request)`` in the child (after :meth:`result`): what it returned, or raise
        what it raised, as :meth:`result` does."""
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
        if self._requests is not None:
            os.close(self._requests)
            self._requests = None
        self._close()
        self._reap(block=wait)

    def cancel(self):
        """Stop the child if it still runs, and reap it (a sync that ended early)."""
        if self._requests is not None:
            os.close(self._requests)
            self._requests = None
        if self.status is None and self._reap(block=False) is None:
            import signal

            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._close()
        self._reap()

    def _outcome(self, data):
        ok, value, trace = pickle.loads(data)
        if ok:
            return value
        note = f"(raised in the process {self.what}, pid {self.pid}:)\n{trace}"
        if hasattr(value, "add_note"):  # Python 3.11+; 3.10 (supported) raises it without
            value.add_note(note)
        raise value

    def _read(self):
        """The next message from the child; :meth:`_fail` if it ended without one."""
        try:
            head = read_exactly(self._fd, _LENGTH.size) if self._fd is not None else None
            data = head and read_exactly(self._fd, _LENGTH.unpack(head)[0])
        except BaseException:  # Ctrl-C here: the child is not waited for
            self.cancel()
            raise
        if data is None:
            self._fail()
        return data

    def _fail(self):
        from .replica import SyncError

        if self._requests is not None:
            os.close(self._requests)
            self._requests = None
        self._close()
        raise SyncError(f"{self.what} failed: the process doing it (pid {self.pid}) "
                        f"{self._ended()}; run the sync again")

    def _close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _reap(self, block=True):
        """The child's wait status (None while it runs and ``block`` is false)."""
        if self.status is None:
            try:
                pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:  # reaped already elsewhere: its status is lost
                pid, status = self.pid, -1
            if pid:
                self.status = status
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


def _message(fn):
    """``fn()``'s outcome, pickled: ``(True, value, None)`` or ``(False, exception,
    traceback text)``."""
    try:
        out = (True, fn(), None)
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        import traceback

        out = (False, exc, traceback.format_exc())
    try:
        data = pickle.dumps(out, pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its words
        if out[0]:
            raise
        from .replica import SyncError

        data = pickle.dumps((False, SyncError(f"{type(out[1]).__name__}: {out[1]}"),
                             out[2]), pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def _run_child(fn, fd, serve, requests):
    """The forked child: write ``fn``'s outcome to ``fd``; with ``serve``, then answer each
    request read from ``requests`` until its end; leave."""
    status = 1
    try:
        write_all(fd, _message(fn))
        while serve is not None:
            head = read_exactly(requests, _LENGTH.size)
            if head is None:  # closed: nothing more is asked
                break
            data = read_exactly(requests, _LENGTH.unpack(head)[0])
            if data is None:
                break
            write_all(fd, _message(lambda data=data: serve(pickle.loads(data))))
        status = 0
    except KeyboardInterrupt:  # Ctrl-C: the parent has it too, and says so
        status = 130
    except BaseException:  # noqa: BLE001 - e.g. the parent gone (EPIPE): nothing to tell
        status = 1
    finally:
        os._exit(status)
