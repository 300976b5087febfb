"""Sync over SSH: remote URLs, the choice of transport (:func:`pick_transport`) and the
paramiko connection (:func:`connect`) the default transport rides on.

The paramiko connection honours ``~/.ssh/config`` (HostName, User, Port, IdentityFile, ProxyJump), the SSH agent and
``~/.ssh/known_hosts``; an unknown or changed host key is refused with its fingerprint unless
``accept_new_host_key`` (then a new key is appended to known_hosts; a changed key is always
refused). The transport sends keepalives; a far side that sends nothing for ``timeout``
seconds is given up on with an error naming the host.
"""

import os
import re
import socket
import threading
from dataclasses import dataclass

from suite.jsonio import write_all

from .client import Client
from .replica import SyncError
from .transports import check_kind

#: seconds without a byte from the far side before the sync gives up (``--timeout``); the
#: far side sends a heartbeat while it works on a long request, so only a stopped or
#: unreachable one is given up on
TIMEOUT = 60.0


@dataclass
class Target:
    user: str | None
    host: str
    port: int | None
    path: str


def parse_url(url):
    """``ssh://user@host:port/path`` or ``[user@]host:path``; a path starting with ``~``
    (``host:~/p``, ``ssh://host/~/p``) is under the home directory on the far side."""
    m = re.match(r"ssh://(?:([^@/]+)@)?([^:/]+)(?::([^/]*))?(/.*)\Z", url)
    if m:
        path = m.group(4)
        if path.startswith("/~"):  # as git and rsync read ssh://host/~/path
            path = path[1:]
        return Target(m.group(1), m.group(2), _port(m.group(3), url), path)
    m = re.match(r"(?:([^@/:]+)@)?([^:/]+):(.+)\Z", url)
    if m:
        if m.group(3).isdigit():  # host:2222 is a port, not a path, to whoever typed it
            _port(m.group(3), url)
            raise SyncError(f"{url}: a port goes in an ssh:// URL "
                            f"(ssh://{m.group(2)}:{m.group(3)}/path)")
        return Target(m.group(1), m.group(2), None, m.group(3))
    raise SyncError(f"{url} is not a remote URL ([user@]host:path or ssh://user@host:port/path)")


def _port(text, where):
    """A port number from ``where`` (None if not given); refuses what is not 1-65535."""
    if text is None:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise SyncError(f"{where}: port {text!r} is not a port number (1-65535)")
    return int(text)


def _fingerprint(key):
    import base64
    import hashlib

    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def connect(target, accept_new_host_key=False, via=None, timeout=TIMEOUT):
    """An authenticated paramiko SSHClient for ``target``, through its ProxyJump chain
    (``via`` overrides the configured one: ``"a,b"`` reaches ``b`` through ``a``), sending
    keepalives. Raises :class:`SyncError` naming the host when it cannot."""
    import io

    text = _config_text()
    paramiko = import_paramiko(text)
    config = paramiko.SSHConfig()
    config.parse(io.StringIO(text))
    opts = config.lookup(target.host)
    hostname = opts.get("hostname", target.host)
    port = target.port or _port(str(opts.get("port", 22)), f"~/.ssh/config, Host {target.host}")
    user = target.user or opts.get("user") or os.environ.get("USER") or "root"
    keys = [os.path.expanduser(k) for k in opts.get("identityfile", [])]
    sock = jump_client = None
    jump = via if via is not None else opts.get("proxyjump")
    if jump and jump.lower() != "none":
        # the last hop is reached through the ones before it, as OpenSSH does
        *before, last = [h.strip() for h in jump.split(",")]
        jump_client = connect(_hop(last), accept_new_host_key, via=",".join(before) or "none",
                              timeout=timeout)
        try:
            sock = jump_client.get_transport().open_channel(
                "direct-tcpip", (hostname, port), ("127.0.0.1", 0))
        except Exception as exc:
            raise SyncError(f"jump host {last} cannot reach {hostname}:{port}: {exc}") from None
    known = os.path.expanduser("~/.ssh/known_hosts")
    client = paramiko.SSHClient()
    for path in ("/etc/ssh/ssh_known_hosts", known):
        _load_known_hosts(client.get_host_keys(), path)
    client.set_missing_host_key_policy(_Policy(accept_new_host_key, known))
    try:
        client.connect(hostname, port=port, username=user, key_filename=keys or None,
                       sock=sock, timeout=timeout, banner_timeout=timeout,
                       auth_timeout=timeout, channel_timeout=timeout, allow_agent=True,
                       look_for_keys=not keys, **_gcm_first(paramiko))
    except paramiko.BadHostKeyException as exc:
        raise SyncError(
            f"the host key of {hostname} changed: it is now {_fingerprint(exc.key)}, "
            f"known_hosts has {_fingerprint(exc.expected_key)}; if that is expected, remove "
            f"the old key (ssh-keygen -R {hostname}) and connect again") from None
    except paramiko.AuthenticationException as exc:
        raise SyncError(f"cannot log in to {user}@{hostname}:{port}: {exc}") from None
    except (OSError, paramiko.SSHException) as exc:
        if isinstance(exc, SyncError):
            raise
        if isinstance(exc, socket.gaierror):  # often a host only OpenSSH's config knows
            raise SyncError(
                f"paramiko transport: cannot connect to {hostname}:{port}: no such host "
                f"({exc.strerror}); "
                "paramiko reads only part of ~/.ssh/config (no Include, Match exec, "
                f"ProxyCommand): if 'ssh {target.host}' works, use --ssh openssh") from None
        raise SyncError(f"cannot connect to {hostname}:{port}: {exc}") from None
    client.jump_client = jump_client  # keeps the hop's connection open as long as this one
    # keeps NAT and firewall state alive through quiet stretches; a dead link then fails
    client.get_transport().set_keepalive(max(1, min(15, int(timeout // 4))))
    return client


#: the ciphers offered first: AEAD ones, whose tag comes with the encryption. paramiko's own
#: first choice, aes128-ctr with hmac-sha2-256, hashes every packet a second time in a
#: Python-driven HMAC: 100 MiB sent took 0.35 s of CPU against 0.16 s with aes128-gcm (and
#: received 0.45 against 0.23 s; docs/benchmarks.md, session 9). A server without them gets
#: paramiko's usual list.
GCM_FIRST = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


def _gcm_first(paramiko):
    """``connect``'s keyword for a transport offering :data:`GCM_FIRST` first (nothing for a
    paramiko without ``transport_factory``, before 3.2, or without these ciphers)."""
    try:
        if tuple(int(n) for n in paramiko.__version__.split(".")[:2]) < (3, 2):
            return {}
    except ValueError:  # a version string of another shape: paramiko's defaults
        return {}

    def make(sock, **kwargs):
        transport = paramiko.Transport(sock, **kwargs)
        options = transport.get_security_options()
        have = options.ciphers
        options.ciphers = tuple(c for c in GCM_FIRST if c in have) + \
            tuple(c for c in have if c not in GCM_FIRST)
        return transport

    return {"transport_factory": make}


#: a ``Match exec`` line in ~/.ssh/config: paramiko runs it with ``invoke``
_MATCH_EXEC = re.compile(r"^\s*match\b.*\bexec\b", re.IGNORECASE | re.MULTILINE)


def _config_text():
    try:
        with open(os.path.expanduser("~/.ssh/config")) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def import_paramiko(config_text=None):
    """paramiko, imported without ``invoke`` unless the ssh config (``config_text``, default
    ~/.ssh/config) has a ``Match exec`` line: paramiko's config module imports invoke at once
    (about half of paramiko's import time: asyncio, unittest.mock, yaml) only to run those.
    ``invoke`` stays importable later."""
    import sys

    if config_text is None:
        config_text = _config_text()
    match_exec = _MATCH_EXEC.search(config_text) is not None
    with _IMPORTING:  # connections may start in threads: one sets and clears the block
        if not match_exec and "paramiko" not in sys.modules and "invoke" not in sys.modules:
            sys.modules["invoke"] = None  # an ImportError for paramiko, which it expects
            try:
                import paramiko
            finally:
                del sys.modules["invoke"]
        import paramiko

    return paramiko


_IMPORTING = threading.Lock()


def _load_known_hosts(host_keys, path):
    """Add the entries of a known_hosts file to paramiko's ``host_keys``, skipping the lines
    paramiko cannot read (``@cert-authority``, ``@revoked``, broken ones) where its own
    loader would fail."""
    from paramiko import SSHException
    from paramiko.hostkeys import HostKeyEntry, InvalidHostKey

    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith(("#", "@")):
            continue
        try:
            entry = HostKeyEntry.from_line(line, lineno)
        except (InvalidHostKey, SSHException, ValueError):
            continue
        if entry is not None:
            for name in entry.hostnames:
                host_keys.add(name, entry.key.get_name(), entry.key)


def _hop(text):
    """A ProxyJump entry ``[user@]host[:port]`` as a Target."""
    user, _, rest = text.rpartition("@")
    host, _, port = rest.partition(":")
    return Target(user or None, host, _port(port, f"ProxyJump {text}") if port else None, "/")


class _Policy:
    def __init__(self, accept_new, known_hosts):
        self.accept_new = accept_new
        self.known_hosts = known_hosts

    def missing_host_key(self, client, hostname, key):
        if not self.accept_new:
            raise SyncError(
                f"unknown host key for {hostname}: {key.get_name()} {_fingerprint(key)}; "
                "check it, then run again with --accept-new-host-key to trust it")
        client.get_host_keys().add(hostname, key.get_name(), key)
        # one line appended, never the file rewritten: paramiko would drop comments and lines
        # it cannot parse (options, certificates, @markers)
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n".encode()
        os.makedirs(os.path.dirname(self.known_hosts), exist_ok=True)
        fd = os.open(self.known_hosts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size:
                with open(self.known_hosts, "rb") as f:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        line = b"\n" + line
            write_all(fd, line)
        finally:
            os.close(fd)


class SSHReplica(Client):
    """A :class:`sync.replica.Replica` on another machine, reached through the transport
    ``ssh`` (``paramiko``, ``openssh`` or ``auto``; see :mod:`sync.transports`): the
    :class:`sync.client.Client` of the protocol over that transport. Raises
    :class:`SyncError` naming the transport and the remedy when it cannot start."""

    def __init__(self, url, remote_suite=None, accept_new_host_key=False, label=None,
                 timeout=None, init=False, ssh="paramiko", ssh_command=None, verbose=None,
                 ahead=()):
        self.target = parse_url(url)
        self.path = self.target.path
        timeout = TIMEOUT if timeout is None else timeout
        if not timeout > 0:
            raise SyncError(f"the timeout must be a number of seconds above 0, not {timeout!r}")
        ssh = pick_transport(ssh, self.target, ssh_command, verbose)
        if ssh == "openssh":
            from .transports.openssh import OpenSSHTransport

            transport = OpenSSHTransport(self.target, remote_suite, timeout, init, ssh_command)
        else:
            from .transports.paramiko_ssh import ParamikoTransport

            transport = ParamikoTransport(self.target, remote_suite, timeout, init,
                                          accept_new_host_key)
        super().__init__(transport, label, ahead)


def pick_transport(ssh, target, ssh_command=None, verbose=None):
    """``paramiko`` or ``openssh`` for ``ssh``; ``auto`` is openssh when a master connection
    to the host is open (``ssh -O check``), else paramiko, and says which to ``verbose``."""
    check_kind(ssh)
    if ssh == "local":
        raise SyncError(f"--ssh local takes a local path, not a host ({target.host})")
    if ssh != "auto":
        if verbose is not None:
            verbose(f"transport to {target.host}: {ssh}")
        return ssh
    from .transports.openssh import master_state

    state = master_state(target, ssh_command)
    ssh = "openssh" if state == "open" else "paramiko"
    if verbose is not None:
        verbose(f"transport to {target.host}: {ssh} (auto: {state})")
    return ssh
