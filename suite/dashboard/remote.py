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
             note=None):
    """Start the dashboard of the project at ``remote`` (a remote name of ``project`` or an SSH
    URL) on the far side and forward local ``port`` (0: any free one) on 127.0.0.1 to it;
    ``echo`` gets the local URL with the token first. Runs until interrupted (Ctrl-C), then
    stops the far side.

    Raises
    ------
    SuiteError
        The remote is not reached over SSH, cannot be connected to, or its dashboard did not
        start (the far side's message is included).
    """
    from sync.remotes import resolve_remote
    from sync.ssh import connect, parse_url

    url, label, settings = resolve_remote(project, remote)
    if not (url.startswith("ssh://") or re.match(r"[^/]*:", url)):
        raise SuiteError(f"{remote} is a directory on this machine ({url}): run "
                         "'suite dashboard' there instead of --on")
    target = parse_url(url)
    client = connect(target, settings.get("accept_new_host_key", False))
    try:
        command = far_command(target.path, settings.get("remote_suite"), read_only)
        stdin, stdout, stderr = client.exec_command(command, timeout=START_TIMEOUT)
        try:
            line = stdout.readline().strip()
        except OSError:  # socket.timeout
            line = ""
        found = re.match(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)\Z", line)
        if not found:
            err = stderr.read().decode(errors="replace").strip().splitlines()
            raise SuiteError(f"the dashboard on {target.host} did not start: "
                             f"{(err or [line or 'no output'])[-1]}")
        far_port, token = int(found.group(1)), found.group(2)
        stdout.channel.settimeout(None)
        forward = Forwarder(client.get_transport(), far_port, port=port)
        local = f"http://127.0.0.1:{forward.port}/?token={token}"
        echo(local)
        if note is not None:
            note(f"serving {label} ({target.host}:{target.path}) through SSH; the far side "
                 f"listens on 127.0.0.1:{far_port} there; Ctrl-C stops both")
        if open_browser:
            from .server import open_in_browser

            open_in_browser(local)
        try:
            forward.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            forward.close()
            stdin.channel.shutdown_write()  # the far side stops at the end of its input
            stdout.channel.settimeout(10)
            try:
                stdout.channel.recv_exit_status()
            except OSError:
                pass
    finally:
        client.close()


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
