"""The paramiko transport: one paramiko connection (see :func:`sync.ssh.connect`: part of
``~/.ssh/config``, known_hosts, the agent, keepalives), one channel running the server."""

from . import Transport, not_installed, server_command


class ParamikoTransport(Transport):
    name = "paramiko"

    def __init__(self, target, remote_suite=None, timeout=60.0, init=False,
                 accept_new_host_key=False):
        from ..ssh import connect

        self.host, self.path, self.timeout = target.host, target.path, timeout
        self.client = connect(target, accept_new_host_key, timeout=timeout)
        try:
            self.writer, stdout, self.stderr = self.client.exec_command(
                server_command(remote_suite, target.path, init), timeout=timeout)
            self.reader = _ChannelReader(stdout)
        except BaseException:
            self.close()
            raise

    def why_stopped(self):
        status = self.reader.channel.recv_exit_status()
        err = self.stderr.read().decode(errors="replace").strip()
        if status == 127 or "not found" in err:
            return not_installed(self.name, self.host)
        return f"the suite process on {self.host} stopped: {err[-500:]}"

    def close(self, wait=True):
        # the channel's files first. paramiko's file __del__ closes (and flushes) again; when
        # the garbage collector finalizes a reference cycle (an error's traceback holds this
        # transport) it may close the file's write buffer first, and that second flush then
        # prints a traceback at exit. Once closed here, a later flush has nothing to write.
        for name in ("writer", "reader", "stderr"):
            stream = getattr(self, name, None)
            if stream is not None:
                try:
                    stream.close()
                except (OSError, EOFError, ValueError):
                    pass
                stream.flush = _nothing
        client = self.client
        while client is not None:  # this connection, then the jump hosts it went through
            client.close()
            client = getattr(client, "jump_client", None)


class _ChannelReader:
    """The channel's output read ahead in large blocks (``recv`` takes what has arrived):
    paramiko's file reads a few kilobytes per call, and frames are small and many."""

    BLOCK = 256 << 10

    def __init__(self, file):
        self.file, self.channel = file, file.channel
        self.buf, self.pos = b"", 0

    def read(self, n):
        if self.pos >= len(self.buf):
            self.buf, self.pos = self.channel.recv(max(n, self.BLOCK)), 0
        out = self.buf[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def close(self):
        try:
            self.file.close()
        finally:  # the channel file's own __del__ flushes again: nothing left to write
            self.file.flush = _nothing

    def flush(self):
        pass


def _nothing():
    """A closed channel file's flush."""
