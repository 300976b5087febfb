"""The openssh transport: the system ``ssh [-l USER] [-p PORT] OPTIONS -T HOST COMMAND`` as
a subprocess, frames over its stdin/stdout (OPTIONS: :data:`SESSION_OPTIONS`, all it sets
itself). All of ``~/.ssh/config`` applies as for any ``ssh``:
ControlMaster/ControlPath (a live master is reused: no new login), ProxyCommand, ProxyJump,
Match, certificates, GSSAPI, agents; host keys are OpenSSH's business. ``ssh_command``
(``--ssh-command``, as rsync's ``-e``) replaces ``ssh``, split as a shell would."""

import shlex
import subprocess

from . import Transport, not_installed, server_command
from .pipe import Process


def ssh_argv(target, ssh_command=None):
    """The ``ssh`` command line before the host (which always follows ``--``, so it is
    never read as an option)."""
    argv = shlex.split(ssh_command) if ssh_command else ["ssh"]
    if target.user:
        argv += ["-l", target.user]
    if target.port:
        argv += ["-p", str(target.port)]
    return argv


def master_state(target, ssh_command=None):
    """Whether a ControlMaster connection to the host is open (``ssh -O check``): ``open``,
    or a few words why not (no ssh, no ControlPath, no master, a stale socket)."""
    argv = [*ssh_argv(target, ssh_command), "-O", "check", "--", target.host]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    except OSError as exc:
        return f"cannot run {argv[0]!r}: {exc.strerror}"
    except subprocess.TimeoutExpired:
        return "ssh -O check did not answer"
    if done.returncode == 0:
        return "open"
    err = done.stderr.decode(errors="replace")
    if "Connection refused" in err:
        return ("the master socket is stale: no master answers on it; remove it or start the "
                f"master again (ssh -M {target.host})")
    if "No ControlPath" in err:
        return "no ControlPath configured"
    return "no master connection"


#: what the transport sets for its session, whatever ~/.ssh/config says (ssh takes the first
#: value it reads, and the command line comes first): settings meant for interactive logins
#: that would break a session carrying frames or only slow its start, cleared as scp clears
#: them. ``-x``/``-a``: no X11 (sshd would run xauth) or agent forwarding to the far side;
#: ClearAllForwardings: the host's LocalForward/RemoteForward/DynamicForward are not set up
#: again (a port another ssh holds fails the login under ExitOnForwardFailure);
#: PermitLocalCommand=no: a LocalCommand's output would land in the frames;
#: RemoteCommand=none: ssh refuses a command line beside a RemoteCommand. ``-T`` (no
#: terminal) is given with the host. Nothing else is set: cipher, compression (payloads
#: above 4 KiB are compressed already; ssh's default is off), ControlMaster, IPQoS, proxies
#: and keys are the user's.
SESSION_OPTIONS = ("-x", "-a", "-o", "ClearAllForwardings=yes", "-o", "PermitLocalCommand=no",
                   "-o", "RemoteCommand=none")

#: seconds the first byte may take: ssh may be asking a person for a one-time code
LOGIN_TIMEOUT = 300.0


class OpenSSHTransport(Transport):
    name = "openssh"

    def __init__(self, target, remote_suite=None, timeout=60.0, init=False, ssh_command=None,
                 data=False):
        self.host, self.path, self.timeout = target.host, target.path, timeout
        self.target, self.remote_suite, self.ssh_command = target, remote_suite, ssh_command
        argv = ssh_argv(target, ssh_command)
        self.process = Process(
            [*argv, *SESSION_OPTIONS, "-T", "--", target.host,
             server_command(remote_suite, target.path, init, data)],
            timeout, f"openssh transport: cannot run {argv[0]!r}; install the OpenSSH client, "
                     "give --ssh-command COMMAND, or use --ssh paramiko")
        self.reader, self.writer = self.process.reader, self.process.writer
        self.reader.first = max(timeout, LOGIN_TIMEOUT)  # then ``timeout`` (a login is over)

    def second(self):
        """A second ``ssh`` running ``_sync-server PATH --data``, only over an open master
        connection (a session of it: no login). Without one it would be a second login,
        which may ask a person for a password or a one-time code again: None."""
        if master_state(self.target, self.ssh_command) != "open":
            return None
        return OpenSSHTransport(self.target, self.remote_suite, self.timeout,
                                ssh_command=self.ssh_command, data=True)

    def why_stopped(self):
        status, err = self.process.ended()
        last = err.splitlines()[-1] if err else "no message"
        if status == 255:  # ssh's own failure, before or instead of the remote command
            if "ontrol socket" in err or "mux_client" in err:
                return (f"openssh transport: the master connection to {self.host} is stale "
                        f"({last}); end it (ssh -O exit {self.host}) or remove its socket, "
                        "then run again")
            return (f"openssh transport: cannot log in to {self.host}: {last}; check that "
                    f"'ssh {self.host}' works, or use --ssh paramiko")
        if status == 127 or "not found" in err or "No such file" in err:
            return not_installed(self.name, self.host)
        return f"openssh transport: the suite process on {self.host} stopped: {last}"

    def wait_for_exit(self):
        self.process.wait_for_exit(self.timeout)

    def close(self, wait=True):
        self.process.close(wait)
