"""Byte streams over a subprocess's pipes with the client's timeout (for the openssh and
local transports; paramiko's channel times out by itself)."""

import os
import select

#: bytes each pipe to the far side holds, where the system lets us set it (Linux; 64 KiB by
#: default): a batch of frames (``Client.SEND_BATCH``) goes in one write while ``ssh`` or the
#: far side is busy, and each side reads and writes in larger pieces, woken less often
PIPE_SIZE = 1 << 20


def _enlarge(fd):
    import fcntl

    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (AttributeError, OSError):  # not Linux, or past the user's allowance: as it is
        pass


class Reader:
    """``read(n)``: up to ``n`` bytes (b"" at the end); TimeoutError after ``timeout`` s of
    silence, or ``first`` s (when set) before the first byte has come: a login may take long,
    but once the far side has said anything it answers within ``timeout``. Reads ahead in
    large blocks: frames are small and many."""

    BLOCK = 256 << 10

    def __init__(self, fd, timeout):
        self.fd, self.timeout, self.buf, self.pos = fd, timeout, b"", 0
        self.first = None

    def read(self, n):
        if self.pos >= len(self.buf):
            wait = self.timeout if self.first is None else self.first
            ready, _, _ = select.select([self.fd], [], [], wait)
            if not ready:
                raise TimeoutError
            self.buf, self.pos, self.first = os.read(self.fd, max(n, self.BLOCK)), 0, None
        out = self.buf[self.pos:self.pos + n]
        self.pos += len(out)
        return out


class Writer:
    """``write(data)`` all of it, or TimeoutError when the far side takes nothing for
    ``timeout`` s (a blocking write would wait for ever)."""

    def __init__(self, fd, timeout):
        self.fd, self.timeout = fd, timeout
        os.set_blocking(fd, False)

    def write(self, data):
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([], [self.fd], [], self.timeout)
            if not ready:
                raise TimeoutError
            try:
                view = view[os.write(self.fd, view):]
            except BlockingIOError:
                continue

    def flush(self):
        pass


class Process:
    """A started subprocess's pipes as a transport's reader and writer; stderr goes to a
    temporary file (read for the error message; a pipe nobody reads could fill)."""

    def __init__(self, argv, timeout, missing):
        import subprocess
        import tempfile

        self.stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.stderr)
        except OSError as exc:
            self.stderr.close()
            from ..replica import SyncError

            raise SyncError(f"{missing} ({exc.strerror})") from None
        for stream in (self.proc.stdin, self.proc.stdout):
            _enlarge(stream.fileno())
        self.reader = Reader(self.proc.stdout.fileno(), timeout)
        self.writer = Writer(self.proc.stdin.fileno(), timeout)

    def wait_for_exit(self, timeout):
        """Wait up to ``timeout`` seconds for the process to exit."""
        import subprocess

        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:  # reaped in the background when closed
            pass

    def ended(self, wait=10):
        """``(exit status or None, the last of stderr)``."""
        import subprocess

        try:
            status = self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            status = None
        self.stderr.seek(0)
        return status, self.stderr.read().decode(errors="replace").strip()[-500:]

    def close(self, wait=True):
        """End of input: the far side ends by itself (the client waited for it to end where
        it had work left: :meth:`wait_for_exit`), reaped in the background; without
        ``wait`` (a far side that stopped answering) the process is killed."""
        import threading

        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:  # the far side is gone: nothing was waiting in the pipe
                pass
        self.stderr.close()
        if not wait:
            self.proc.kill()
        from suite.forked import harmless_at_fork

        harmless_at_fork(threading.Thread(target=self.proc.wait, name="suite-reap",
                                          daemon=True)).start()
