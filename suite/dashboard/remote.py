"""``suite dashboard --on REMOTE``: the dashboard runs on the far side of a sync remote (over
SSH, next to the data) and a local port is forwarded to it through the same connection, so a
project on a cluster is reviewed without copying it back.

The far side binds 127.0.0.1 and requires its own token, which is passed on in the local URL;
it stops when its standard input ends, so closing the connection (Ctrl-C here) stops it.
"""

import re
import select
import shlex
import socket
import threading

from suite.errors import SuiteError

#: seconds to wait for the far side's URL
START_TIMEOUT = 60.0


def far_command(path, remote_suite=None, read_only=False):
    """The shell command that starts the dashboard in ``path`` on the far side (quoted; a
    leading ``~/`` is the far side's home)."""
    if path == "~" or path.startswith("~/"):
        where = '"$HOME"' + (f"/{shlex.quote(path[2:])}" if path[2:] else "")
    else:
        where = shlex.quote(path)
    command = (f"cd {where} && {remote_suite or 'suite'} dashboard --no-browser --port 0 "
               "--stop-on-eof")
    return command + (" --read-only" if read_only else "")


def serve_on(project, remote, port=0, read_only=False, open_browser=True, echo=print,
             note=None, ssh=None, ssh_command=None):
    """Start the dashboard of the project at ``remote`` (a remote name of ``project`` or an SSH
    URL) on the far side and forward local ``port`` (0: any free one) on 127.0.0.1 to it;
    ``echo`` gets the local URL with the token first. Runs until interrupted (Ctrl-C), then
    stops the far side and the forwarding. ``ssh`` and ``ssh_command`` choose the transport as
    for :func:`sync.sync` (the argument, else the remote's setting, else the user config);
    over ``openssh`` the system ``ssh`` starts the far side and forwards the port
    (:mod:`suite.dashboard.openssh`).

    Raises
    ------
    SuiteError
        The remote is not reached over SSH, cannot be connected to, its dashboard did not
        start (the far side's message is included), or the port cannot be forwarded.
    """
    from sync.remotes import resolve_remote
    from sync.settings import transport_settings
    from sync.ssh import parse_url, pick_transport

    url, label, settings = resolve_remote(project, remote)
    if not (url.startswith("ssh://") or re.match(r"[^/]*:", url)):
        raise SuiteError(f"{remote} is a directory on this machine ({url}): run "
                         "'suite dashboard' there instead of --on")
    target = parse_url(url)
    ssh, ssh_command = transport_settings(ssh, ssh_command, settings)
    if ssh == "local":
        raise SuiteError("--ssh local takes a local path: run 'suite dashboard' there")
    if pick_transport(ssh, target, ssh_command) == "openssh":
        from .openssh import OpenSSHTunnel

        tunnel = OpenSSHTunnel(target, ssh_command)
    else:
        tunnel = ParamikoTunnel(target, settings.get("accept_new_host_key", False))
    try:
        line = tunnel.start(far_command(target.path, settings.get("remote_suite"), read_only))
        found = re.match(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)\Z", line)
        if not found:
            raise SuiteError(f"the dashboard on {target.host} did not start: "
                             f"{tunnel.why_not() or line or 'no output'}")
        far_port, token = int(found.group(1)), found.group(2)
        local = f"http://127.0.0.1:{tunnel.forward(far_port, port)}/?token={token}"
        echo(local)
        if note is not None:
            note(f"serving {label} ({target.host}:{target.path}) through SSH ({tunnel.name}); "
                 f"the far side listens on 127.0.0.1:{far_port} there; Ctrl-C stops both")
        if open_browser:
            from .server import open_in_browser

            open_in_browser(local)
        try:
            tunnel.wait()
        except KeyboardInterrupt:
            pass
    finally:
        tunnel.close()


class ParamikoTunnel:
    """The far side's dashboard over one paramiko connection, its port forwarded in
    direct-tcpip channels (:class:`Forwarder`); the interface of
    :class:`suite.dashboard.openssh.OpenSSHTunnel`."""

    name = "paramiko"

    def __init__(self, target, accept_new_host_key=False):
        from sync.ssh import connect

        self.target, self.forwarder, self.streams = target, None, None
        self.client = connect(target, accept_new_host_key)

    def start(self, command):
        self.streams = self.client.exec_command(command, timeout=START_TIMEOUT)
        try:
            return self.streams[1].readline().strip()
        except OSError:  # socket.timeout
            return ""

    def why_not(self):
        err = self.streams[2].read().decode(errors="replace").strip().splitlines()
        return err[-1] if err else ""

    def forward(self, far_port, port=0):
        self.streams[1].channel.settimeout(None)
        self.forwarder = Forwarder(self.client.get_transport(), far_port, port=port)
        return self.forwarder.port

    def wait(self):
        self.forwarder.serve_forever()

    def close(self):
        try:
            if self.forwarder is not None:
                self.forwarder.close()
            if self.streams is not None:
                stdin, stdout, _ = self.streams
                stdin.channel.shutdown_write()  # the far side stops at the end of its input
                stdout.channel.settimeout(10)
                try:
                    stdout.channel.recv_exit_status()
                except OSError:
                    pass
        finally:
            self.client.close()


class Forwarder:
    """Listens on 127.0.0.1:``port`` and carries each connection to ``127.0.0.1:far_port`` on
    the far side in a direct-tcpip channel of ``transport``."""

    def __init__(self, transport, far_port, port=0):
        self.transport = transport
        self.far_port = far_port
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self._closed = False

    def serve_forever(self):
        while not self._closed:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                if self._closed:
                    return
                raise
            threading.Thread(target=self._carry, args=(conn, peer), daemon=True).start()

    def close(self):
        self._closed = True
        self.sock.close()

    def _carry(self, conn, peer):
        try:
            chan = self.transport.open_channel("direct-tcpip", ("127.0.0.1", self.far_port),
                                               peer)
        except Exception:  # the far side is gone: the browser sees a closed connection
            conn.close()
            return
        try:
            while True:
                ready, _, _ = select.select([conn, chan], [], [], 60)
                if conn in ready:
                    data = conn.recv(65536)
                    if not data:
                        break
                    chan.sendall(data)
                if chan in ready:
                    data = chan.recv(65536)
                    if not data:
                        break
                    conn.sendall(data)
        except OSError:
            pass
        finally:
            chan.close()
            conn.close()
