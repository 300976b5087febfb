"""A real OpenSSH server on 127.0.0.1 with its own host key and an authorized client key, and
the ``transport`` fixture through which sync tests reach their far side.

Every test in tests/sync/ that syncs with a far side takes ``transport`` and so runs three
times: over paramiko and openssh (to the real sshd; the openssh cases share one ControlMaster
per session, as a user with ``ControlMaster auto`` would) and over the local transport (a pipe
to a ``suite _sync-server`` subprocess); test_active.py's ``far`` is ``transport`` whose far
side sees the test SLURM. The model-based test runs directly (in-process) and
over local and openssh (``test_model_over_transport``). What stays on one transport, and why:

* paramiko only: host keys and known_hosts (``test_unknown_host_key_refused_with_fingerprint``,
  ``test_new_host_key_is_appended_never_rewriting_known_hosts``), its keepalives, its own
  reading of ProxyJump and of ports in ~/.ssh/config (``test_proxyjump_chain``,
  ``test_ports_in_ssh_config_and_proxyjump_are_checked``); OpenSSH does these itself.
* openssh only: ControlMaster, ProxyCommand, Match, Include, a stale master socket, no ``ssh``
  binary, a slow login, a config's settings for interactive logins (test_transports.py).
* the pipe under openssh and local, with real pipes and processes but no far side
  (test_pipe.py): frames cut at every byte, a batch handed over without waiting.
* paramiko and openssh: ``~`` as the far side's home (``ssh_transport``); a local DEST is
  expanded here.
* in-process only: replicas with a fault built in (test_failures.py: ``Flaky``,
  ``Malicious``), the replica's own checks (``Replica`` called directly), the server driven
  with frames (test_peer.py; among them ``test_answers_go_out_in_batches`` and
  ``test_answers_are_out_before_a_request_that_may_take_long``, which count the server's
  writes or replace a ``Replica`` method in this process, and ``test_snapshots_and_records_
  larger_than_a_header_travel``, which lowers this process's header limit where a far side
  would need a snapshot past the real 64 MiB), arguments refused before any far side is
  reached (``test_wait_and_include_active_exclude_each_other``), the resolution of a local
  DEST (``test_dest_inside_a_project_is_refused_not_walked_up``,
  ``test_cli_init_and_its_suggestion``), two local CLI syncs taking turns
  (``test_two_syncs_of_one_pair_take_turns``), and the model with a concurrent writer or
  with every file streamed (this process's stream limits).
"""

import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from tests.conftest import REPO, skip_or_fail, start_server, stop_process

SSHD = "/usr/sbin/sshd"


def free_port():
    """A port of 127.0.0.1 free now (it may be taken before it is bound: see
    :func:`start_listening_sshd`)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_listening_sshd(root, config, tries=5):
    """``sshd -D`` under ``root`` (its config ``root/sshd_config``, the text ``config(port)``;
    its log ``root/log``) on a port picked here: ``(process, port)`` once sshd's log says it
    listens there (a connection alone may reach another program's server). A port found
    free may be taken by another program before sshd binds it (other test runs on this
    machine): then another is picked. skip_or_fail when sshd does not listen."""
    os.makedirs("/run/sshd", exist_ok=True)
    log = root / "log"
    for _ in range(tries):
        port = free_port()
        (root / "sshd_config").write_text(config(port))
        log.unlink(missing_ok=True)
        proc = start_server([SSHD, "-D", "-f", str(root / "sshd_config"), "-E", str(log)],
                            "sshd")
        listening = f"Server listening on 127.0.0.1 port {port}."
        deadline = time.monotonic() + 60
        while True:
            ended = proc.poll() is not None  # before the log is read: its last words are in
            text = log.read_text() if log.exists() else ""
            if listening in text:
                return proc, port
            if ended or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        stop_process(proc)
        if "Address already in use" not in text:
            skip_or_fail(f"sshd did not start listening: {text[-500:]}")
    skip_or_fail(f"sshd found the port it was given taken {tries} times")


@contextlib.contextmanager
def started_far_side(tmp_path, patch, path):
    """A far side whose Python has started, imported the server and run ``patch`` before the
    sync begins: yields ``(remote_suite, process)``, ``remote_suite`` a shell script that
    joins the sync's streams to it through two FIFOs (``cat`` starts in milliseconds). For
    tests with a short ``timeout``: it covers the handshake, and a far side's Python start
    alone took up to 1.7 s of a 2 s timeout on this machine under load. ``path`` is the far
    project; the process is killed when the block ends."""
    fifos = tmp_path / "far-fifos"
    fifos.mkdir()
    requests, answers, ready = fifos / "in", fifos / "out", fifos / "ready"
    os.mkfifo(requests)
    os.mkfifo(answers)
    process = subprocess.Popen([sys.executable, "-c", (
        "import os, signal, sys, time\nfrom sync import protocol, replica, server\n"
        f"{patch}\nopen({str(ready)!r}, 'w').close()\n"
        f"stdin, stdout = open({str(requests)!r}, 'rb'), open({str(answers)!r}, 'wb')\n"
        f"sys.exit(server.serve({path!r}, stdin=stdin, stdout=stdout))\n")])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        relay = tmp_path / "far-relay"
        # the sync's arguments (_sync-server PATH) are the started far side's already
        relay.write_text(f"#!/bin/sh\ncat {answers} &\nexec cat > {requests}\n")
        relay.chmod(0o755)
        yield str(relay), process
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """Start sshd; yield a dict with port, host key path, client key path, remote_suite."""
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        skip_or_fail("openssh-server is not installed (apt-get install openssh-server)")
    yield from run_sshd(tmp_path_factory.mktemp("sshd"))


def run_sshd(root):
    """A generator: start sshd under ``root`` (a pathlib.Path), yield the :func:`sshd`
    dict, stop it when resumed or closed (whatever ends the generator after the start)."""
    host_key = root / "host_ed25519"
    client_key = root / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
    (root / "authorized_keys").write_text((root / "client_ed25519.pub").read_text())
    proc, port = start_listening_sshd(root, lambda port: (
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {root}/authorized_keys\nPidFile {root}/sshd.pid\n"
        "PermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nPubkeyAuthentication yes\n"
        # SHLVL=1: bash, started by sshd for each session's command, then does not read the
        # login user's ~/.bashrc (on a machine with pyenv that costs ~0.5 s per sync); PATH
        # and PYTHONPATH here are all the far side needs
        f"SetEnv PATH={os.path.dirname(sys.executable)}:/usr/bin:/bin PYTHONPATH={REPO} "
        "SHLVL=1\n"))
    try:
        yield {"port": port, "host_key": str(host_key) + ".pub", "client_key": str(client_key),
               "remote_suite": f"{sys.executable} -m suite", "root": root}
    finally:
        stop_process(proc)


@pytest.fixture
def ssh_home(sshd, tmp_path, monkeypatch):
    """A HOME whose ~/.ssh/config names the test server 'cluster' (and knows its key)."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        f"Host cluster 127.0.0.1\n  HostName 127.0.0.1\n  Port {sshd['port']}\n  User root\n"
        f"  IdentityFile {sshd['client_key']}\n")
    key_type, key = open(sshd["host_key"]).read().split()[:2]
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{sshd['port']} {key_type} {key}\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


@pytest.fixture
def openssh(sshd, ssh_home):
    """``openssh(extra="")``: an ``--ssh-command`` for the openssh transport reading its own
    config file (``extra`` first, then the test server as 'cluster' and the known host key).
    The system ssh reads the login user's home, not $HOME, hence ``-F``."""
    config = ssh_home / ".ssh" / "openssh_config"

    def make(extra=""):
        config.write_text(
            extra + (ssh_home / ".ssh" / "config").read_text() +
            f"Host *\n  UserKnownHostsFile {ssh_home}/.ssh/known_hosts\n"
            "  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n"
            "  BatchMode yes\n  IdentitiesOnly yes\n")
        return f"ssh -F {shlex.quote(str(config))}"

    return make


class Transport:
    """How a test reaches the 'cluster' project over one transport: ``url(path)``, ``host``
    (as the far side is named in messages), the options of :func:`sync.sync` (``cli`` the
    same as command-line options) and ``sync(project, path, **options)``."""

    def __init__(self, kind, sshd, ssh_command=None):
        self.kind, self.remote_suite, self.ssh_command = kind, sshd["remote_suite"], ssh_command
        self.port = sshd["port"]
        # the local transport names the far project "PATH (local transport)"
        self.host = "(local transport)" if kind == "local" else "cluster"

    def __repr__(self):
        return f"<transport {self.kind}>"

    def url(self, path):
        return str(path) if self.kind == "local" else f"cluster:{path}"

    @property
    def options(self):
        options = {"remote_suite": self.remote_suite}
        if self.kind != "paramiko":
            options["ssh"] = self.kind
        if self.ssh_command:
            options["ssh_command"] = self.ssh_command
        return options

    @property
    def cli(self):
        return self.args()

    def args(self, **options):
        """``cli`` with ``options`` replacing some (``remote_suite="x"``: ``--remote-suite x``)."""
        return [arg for key, value in {**self.options, **options}.items()
                for arg in (f"--{key.replace('_', '-')}", value)]

    def sync(self, project, path, **options):
        """:func:`sync.sync` of ``project`` with the project at ``path`` over this transport
        (``options`` may replace ``remote_suite``)."""
        import sync

        return sync.sync(project, self.url(path), **{**self.options, **options})


@pytest.fixture(scope="session")
def control_dir(sshd):
    """A short directory (a socket path is limited to ~100 bytes) for the ControlMaster the
    openssh transport's tests share: one login, then a session on it per sync, as a user
    with ``ControlMaster auto`` has (no key exchange each time). The master ends with the
    session; the tests of ControlMaster itself use their own."""
    root = tempfile.mkdtemp(dir="/tmp", prefix="cm")
    try:
        yield root
    finally:
        for name in os.listdir(root):
            subprocess.run(["ssh", "-F", "/dev/null", "-S", os.path.join(root, name), "-O",
                            "exit", "cluster"], capture_output=True, timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def make_transport(kind, sshd, openssh, control_dir):
    """A :class:`Transport` of ``kind``; openssh rides on the shared master connection."""
    if kind != "openssh":
        return Transport(kind, sshd)
    return Transport(kind, sshd, openssh(
        f"Host cluster\n  ControlMaster auto\n  ControlPath {control_dir}/%C\n"
        "  ControlPersist 600\n"))


#: every transport under the sync protocol (which tests run over which: module docstring)
TRANSPORTS = ["paramiko", "openssh", "local"]


@pytest.fixture(params=TRANSPORTS)
def transport(request, sshd, ssh_home, openssh, control_dir):
    """Each of the three transports in turn (see :class:`Transport`)."""
    return make_transport(request.param, sshd, openssh, control_dir)


@pytest.fixture(params=["paramiko", "openssh"])
def ssh_transport(request, sshd, ssh_home, openssh, control_dir):
    """The two SSH transports, for what only a far side behind SSH has (its own home)."""
    return make_transport(request.param, sshd, openssh, control_dir)
