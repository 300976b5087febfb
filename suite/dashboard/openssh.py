"""``suite dashboard --on REMOTE`` over the openssh transport: the far side is started by the
system ``ssh -T HOST COMMAND`` (all of ``~/.ssh/config`` applies, as for ``suite sync --ssh
openssh``), and the local port is forwarded with ``ssh -O forward -L
127.0.0.1:LOCAL:127.0.0.1:FAR`` on a ControlMaster: the user's, when one is open to the host,
else the ``ssh`` process that started the far side, made a master of its own for this purpose
(so a login that asks for a one-time code asks once). The ``-O`` commands read no config file
and name the master's socket, so the host's own ``LocalForward`` lines are not asked for again.
"""

import os
import shutil
import socket
import subprocess
import tempfile

from suite.errors import SuiteError

#: seconds the far side's first line may take: ssh may be asking a person for a one-time code
LOGIN_TIMEOUT = 300.0


class OpenSSHTunnel:
    """The far side's dashboard behind the system ``ssh``: :meth:`start` runs it and returns
    its first line, :meth:`forward` forwards a local port to it, :meth:`wait` waits until it
    ends (or Ctrl-C), :meth:`close` cancels the forwarding and stops the far side."""

    name = "openssh"

    def __init__(self, target, ssh_command=None):
        from sync.transports.openssh import master_state, ssh_argv

        self.target, self.spec, self.session = target, None, None
        self.argv = ssh_argv(target, ssh_command)
        self.own, self.master = None, []  # our own master socket's directory, its options
        if master_state(target, ssh_command) != "open":
            # short, private (0700) and ours: a socket path is limited to ~100 bytes
            self.own = tempfile.mkdtemp(prefix="suite-dash-", dir="/tmp")
            self.socket = os.path.join(self.own, "master")
            self.argv += ["-o", f"ControlPath={self.socket}"]
            # ControlPersist=no: a master in the background would outlive us
            self.master = ["-o", "ControlMaster=yes", "-o", "ControlPersist=no"]
        else:
            self.socket = self._control_path()

    def start(self, command):
        """Run ``command`` (a shell command line, already quoted) on the far side; its first
        line of output ("" when it printed none within :data:`LOGIN_TIMEOUT`)."""
        from sync.transports.openssh import SESSION_OPTIONS
        from sync.transports.pipe import Process

        # the sync transport's session options (a LocalCommand would print into the first
        # line); the forwarding is asked of the master afterwards, which they leave alone
        self.session = Process(
            [*self.argv, *self.master, *SESSION_OPTIONS, "-T", "--", self.target.host, command],
            LOGIN_TIMEOUT,
            f"openssh transport: cannot run {self.argv[0]!r}; install the OpenSSH client, "
            "give --ssh-command COMMAND, or use --ssh paramiko")
        line = b""
        try:
            while b"\n" not in line:
                data = self.session.reader.read(4096)
                if not data:
                    break
                line += data
        except TimeoutError:
            pass
        return line.split(b"\n")[0].decode(errors="replace").strip()

    def why_not(self):
        """The last line the far side (or ssh) wrote to stderr ("" for none)."""
        _, err = self.session.ended(wait=5)
        return err.splitlines()[-1] if err else ""

    def forward(self, far_port, port=0):
        """Forward 127.0.0.1:``port`` here (0: a free one) to 127.0.0.1:``far_port`` there;
        the local port. :class:`SuiteError` with ssh's message when it cannot."""
        if not port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        spec = f"127.0.0.1:{port}:127.0.0.1:{far_port}"
        done = self._control("forward", spec)
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            raise SuiteError(f"openssh transport: cannot forward 127.0.0.1:{port} to port "
                             f"{far_port} on {self.target.host}: "
                             f"{(err or ['ssh -O forward failed'])[-1]}")
        self.spec = spec
        return port

    def wait(self):
        """Until the far side ends (KeyboardInterrupt passes through)."""
        self.session.proc.wait()

    def close(self):
        if self.spec is not None:
            self._control("cancel", self.spec)
        if self.session is not None:
            self.session.proc.stdin.close()  # the far side stops at the end of its input
            try:
                self.session.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.session.proc.kill()
            self.session.close()
        if self.own is not None:
            shutil.rmtree(self.own, ignore_errors=True)

    def _control_path(self):
        """The user's master socket as their config resolves it (``ssh -G``), or None."""
        argv = [*self.argv, "-G", "--", self.target.host]
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        for line in done.stdout.decode(errors="replace").splitlines():
            key, _, value = line.partition(" ")
            if key == "controlpath" and value not in ("", "none"):
                return value
        return None

    def _control(self, command, spec):
        # ``-O forward`` sends the config's LocalForward lines with ours, and one whose port
        # is busy fails the request (ClearAllForwardings would clear ours too): so the config
        # is not read (the last -F wins) and the master's socket is named instead
        alone = []
        if self.socket and '"' not in self.socket:
            named = self.socket.replace("%", "%%")  # ssh expands % tokens again
            alone = ["-F", "/dev/null", "-o", f'ControlPath="{named}"']
        # ControlMaster=no: a client that may be a master does not ask the one there is
        argv = [*self.argv, *alone, "-o", "ControlMaster=no", "-O", command, "-L", spec, "--",
                self.target.host]
        try:
            return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return subprocess.CompletedProcess(argv, 255, b"", str(exc).encode())
