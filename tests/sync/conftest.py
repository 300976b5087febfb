"""A real OpenSSH server on 127.0.0.1 with its own host key and an authorized client key."""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, skip_or_fail

SSHD = "/usr/sbin/sshd"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """Start sshd; yield a dict with port, host key path, client key path, remote_suite."""
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        skip_or_fail("openssh-server is not installed (apt-get install openssh-server)")
    root = tmp_path_factory.mktemp("sshd")
    host_key = root / "host_ed25519"
    client_key = root / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
    (root / "authorized_keys").write_text((root / "client_ed25519.pub").read_text())
    port = _free_port()
    config = root / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {root}/authorized_keys\nPidFile {root}/sshd.pid\n"
        "PermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nPubkeyAuthentication yes\n"
        f"SetEnv PATH={os.path.dirname(sys.executable)}:/usr/bin:/bin PYTHONPATH={REPO}\n")
    os.makedirs("/run/sshd", exist_ok=True)
    proc = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(root / "log")])
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    else:
        proc.kill()
        skip_or_fail("sshd did not start listening")
    if proc.poll() is not None:
        skip_or_fail(f"sshd exited: {(root / 'log').read_text()[-500:]}")
    yield {"port": port, "host_key": str(host_key) + ".pub", "client_key": str(client_key),
           "remote_suite": f"{sys.executable} -m suite", "root": root}
    proc.terminate()
    proc.wait(timeout=10)


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
