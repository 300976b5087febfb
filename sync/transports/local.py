"""The local transport: a pipe to ``suite _sync-server PATH`` on this machine, so the whole
protocol (frames, pipelining, checks of every answer) runs without SSH."""

import shlex
import sys

from . import Transport, not_installed
from .pipe import Process


class LocalTransport(Transport):
    name = "local"

    def __init__(self, path, remote_suite=None, timeout=60.0, init=False, data=False):
        # messages name the far project by its path and the transport (no host "local")
        self.host, self.path, self.timeout = f"{path} (local transport)", path, timeout
        self.remote_suite = remote_suite
        argv = shlex.split(remote_suite) if remote_suite else [sys.executable, "-m", "suite"]
        argv += ["_sync-server", path] + (["--init"] if init else []) + \
            (["--data"] if data else [])
        self.process = Process(argv, timeout, f"{not_installed(self.name, self.host)}: cannot "
                                              f"run {argv[0]}")
        self.reader, self.writer = self.process.reader, self.process.writer

    def second(self):
        """A second server process (``--data``) beside the first."""
        return LocalTransport(self.path, self.remote_suite, self.timeout, data=True)

    def why_stopped(self):
        status, err = self.process.ended()
        if status == 127:
            return not_installed(self.name, self.host)
        return (f"local transport: the suite process for {self.path} stopped (status "
                f"{status}): {err or 'no message'}")

    def where(self):
        return self.host

    def wait_for_exit(self):
        self.process.wait_for_exit(self.timeout)

    def close(self, wait=True):
        self.process.close(wait)
