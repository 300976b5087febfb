"""The paramiko transport: one paramiko connection (see :func:`sync.ssh.connect`: part of
``~/.ssh/config``, known_hosts, the agent, keepalives), one channel running the server, and
for a large push a second channel on the same connection (:meth:`ParamikoTransport.second`:
no second login)."""

from . import Transport, not_installed, server_command


class ParamikoTransport(Transport):
    name = "paramiko"

    def __init__(self, target, remote_suite=None, timeout=60.0, init=False,
                 accept_new_host_key=False):
        from ..ssh import connect

        self.host, self.path, self.timeout = target.host, target.path, timeout
        self.remote_suite = remote_suite
        self.client = connect(target, accept_new_host_key, timeout=timeout)
        self.owner = True  # closes the connection (a second channel's transport does not)
        self._exec(server_command(remote_suite, target.path, init))

    def _exec(self, command):
        try:
            self.writer, stdout, self.stderr = self.client.exec_command(command,
                                                                        timeout=self.timeout)
            self.reader = _ChannelReader(stdout)
        except BaseException:
            self.close()
            raise

    def second(self):
        """A second channel on this connection running ``_sync-server PATH --data``."""
        other = object.__new__(type(self))
        other.host, other.path, other.timeout = self.host, self.path, self.timeout
        other.remote_suite, other.client, other.owner = self.remote_suite, self.client, False
        other._exec(server_command(self.remote_suite, self.path, False, data=True))
        return other

    def why_stopped(self):
        status = self.reader.channel.recv_exit_status()
        err = self.stderr.read().decode(errors="replace").strip()
        if status == 127 or "not found" in err:
            return not_installed(self.name, self.host)
        return f"the suite process on {self.host} stopped: {err[-500:]}"

    def wait_for_exit(self):
        # the event paramiko sets with the exit status (recv_exit_status waits on it, unbounded)
        self.reader.channel.status_event.wait(self.timeout)

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
        if not self.owner:  # the connection stays for the first channel: end this one
            reader = getattr(self, "reader", None)
            if reader is not None:
                reader.channel.close()
        client = self.client if self.owner else None
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
