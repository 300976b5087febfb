"""Work of a sync done in a child forked from this process, its answer read back later.

A sync between two projects on this machine lists the far one in such a child
(:meth:`sync.replica.Replica.snapshot_later`), so that both listings, their documents and
their records are worked on at once, on two cores where they are free, as rsync's processes
are; the rest of the sync stays in this process (a child serving every operation over the
sync protocol cost more CPU than it gained: the changed files' bytes went through a pipe).

The child starts with everything imported (no start-up to pay) and is forked only while this
process runs its main thread alone (:func:`can_fork`: a fork copies only the calling thread, so
a lock another thread held would stay held in the child for ever). It leaves by
``os._exit``: this process's exit handlers, buffers and database connections are not its own.
Its answer (or its exception, with the child's traceback as a note) comes back pickled through
a pipe: both ends are this program, nothing else writes to it. Ctrl-C reaches both (one
process group): the child leaves without an answer, this process unwinds as it would alone.
"""

import os
import pickle
import threading


def can_fork():
    """Whether a child may be forked now: the system has ``fork`` and only this process's
    main thread runs."""
    return hasattr(os, "fork") and threading.active_count() == 1


class Child:
    """``fn()`` running in a forked child; :meth:`result` waits for what it returned and
    raises what it raised. ``what`` names the work in messages (e.g. "listing PATH").
    Raises OSError when the pipe or the fork fail (then nothing was started)."""

    def __init__(self, fn, what):
        self.what, self.status, self._data = what, None, None
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        if pid == 0:
            os.close(read_end)
            _run_child(fn, write_end)  # never returns
        os.close(write_end)
        self.pid, self._fd = pid, read_end

    def result(self):
        """What ``fn`` returned, or raise what it raised (its traceback in the child added as
        a note). :class:`sync.replica.SyncError` naming the work when the child ended
        without an answer (killed, out of memory)."""
        data = self._read()
        if not data:
            from .replica import SyncError

            raise SyncError(f"{self.what} failed: the process doing it (pid {self.pid}) "
                            f"{self._ended()}; run the sync again")
        ok, value, trace = pickle.loads(data)
        if ok:
            return value
        note = f"(raised in the process {self.what}, pid {self.pid}:)\n{trace}"
        if hasattr(value, "add_note"):  # Python 3.11+; 3.10 (supported) raises it without
            value.add_note(note)
        raise value

    def cancel(self):
        """Stop the child if it still runs, and reap it (a sync that ended early)."""
        if self._fd is not None and self._reap(block=False) is None:
            import signal

            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._close()
        self._reap()

    def _read(self):
        if self._data is None:
            chunks = []
            try:
                while chunk := os.read(self._fd, 1 << 20):
                    chunks.append(chunk)
            except BaseException:  # Ctrl-C here: the child is not waited for
                self.cancel()
                raise
            self._close()
            self._reap()
            self._data = b"".join(chunks)
        return self._data

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


def _run_child(fn, fd):
    """The forked child: run ``fn``, write the pickled outcome to ``fd``, leave."""
    status = 1
    try:
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
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        status = 0
    except KeyboardInterrupt:  # Ctrl-C: the parent has it too, and says so
        status = 130
    except BaseException:  # noqa: BLE001 - e.g. the parent gone (EPIPE): nothing to tell
        status = 1
    finally:
        os._exit(status)
