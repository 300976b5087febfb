"""Transports under the sync protocol: each gives a byte stream each way to a
``suite _sync-server PATH`` process (:mod:`sync.server`); framing, batching, pipelining,
compression, heartbeats and timeouts are the client's (:mod:`sync.client`), the same over all.

* ``paramiko`` (:mod:`.paramiko_ssh`): one paramiko connection; the default.
* ``openssh`` (:mod:`.openssh`): the system ``ssh -T HOST COMMAND`` as a subprocess, so all of
  ``~/.ssh/config`` applies (ControlMaster reuse, ProxyCommand, ProxyJump, Match, ...).
* ``local`` (:mod:`.local`): a pipe to a ``suite _sync-server`` subprocess on this machine, so
  the whole protocol runs without SSH (tests, and ``--ssh local`` for a local path).

``auto`` picks openssh when a master connection to the host is open, else paramiko.

A transport may open a second stream to a second far process, ``suite _sync-server PATH
--data``, which takes file writes only (:meth:`Transport.second`; see
:mod:`sync.datastream`): large pushes are paced by each stream's SSH window, and two streams
have two windows.
"""

import shlex
from abc import ABC, abstractmethod

from ..replica import SyncError

KINDS = ("paramiko", "openssh", "local", "auto")


class Transport(ABC):
    """A started server process: ``reader.read(n)`` (raises TimeoutError after ``timeout``
    seconds of silence) and ``writer.write(data)``/``flush()`` carry the frames."""

    #: the transport's name, as ``--ssh`` takes it
    name = ""
    #: what messages call the far side (a host name; the local transport: its path)
    host: str
    path: str
    timeout: float
    reader: object
    writer: object

    def where(self):
        """The far project as messages name it: ``host:path``."""
        return f"{self.host}:{self.path}"

    def second(self):
        """A second transport to a far ``_sync-server PATH --data`` (writes only), or None
        when this transport has none to give cheaply (then one stream carries all)."""
        return None

    @abstractmethod
    def why_stopped(self):
        """One line saying why the server ended before its first frame, and the remedy."""

    @abstractmethod
    def wait_for_exit(self):
        """Once the far side's stream has ended: wait (up to ``timeout``) for its process to
        exit, so that nothing of it still runs when the client returns."""

    @abstractmethod
    def close(self, wait=True):
        """Close the streams and end what the transport started (``wait``: let the far side
        end by itself; else it stopped answering and is not waited for)."""


def server_command(remote_suite, path, init, data=False):
    """The command line that starts the far side: the path quoted (the far side expands a
    leading ``~``), ``remote_suite`` given as the user wrote it (it is a command); ``data``:
    the second stream's server (writes only)."""
    command = f"{remote_suite or 'suite'} _sync-server {shlex.quote(path)}"
    return command + (" --init" if init else "") + (" --data" if data else "")


def not_installed(transport, host):
    return (f"{transport} transport: suite is not installed on {host} (or not on the PATH of a "
            "non-interactive shell); install it there or give --remote-suite PATH")


def check_kind(kind, where="--ssh"):
    if kind not in KINDS:
        raise SyncError(f"{where} takes {', '.join(KINDS)}, not {kind!r}")
    return kind
