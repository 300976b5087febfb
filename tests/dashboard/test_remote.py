"""`suite dashboard --on REMOTE`: the dashboard started on the far side over a real sshd on
127.0.0.1 (through paramiko, and through the system ssh with a master connection of its own or
the user's ControlMaster), reached through a forwarded local port, stopped by Ctrl-C here."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import pytest

import suite
from tests.sync.conftest import openssh, ssh_home, sshd  # noqa: F401  (fixtures)

from .conftest import start_dashboard, stop_server
from .test_security import _request

pytestmark = pytest.mark.ssh


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _logins(sshd):  # noqa: F811
    return (sshd["root"] / "log").read_text().count("Accepted publickey")


@pytest.fixture
def masters(openssh):  # noqa: F811
    """``start(extra="")``: an ``--ssh-command`` whose config (``extra`` first) has a
    ControlMaster to 'cluster', started here as a user with ``ControlMaster auto`` starts it
    in the morning; they end with the test."""
    started = []

    def start(extra=""):
        root = tempfile.mkdtemp(dir="/tmp", prefix="cm")  # a socket path: at most ~100 bytes
        command = openssh(f"{extra}Host cluster\n  ControlMaster auto\n"
                          f"  ControlPath {root}/%C\n  ControlPersist 600\n")
        started.append((command, root))
        subprocess.run([*command.split(), "cluster", "true"], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return command

    yield start
    for command, root in started:
        subprocess.run([*command.split(), "-O", "exit", "cluster"], capture_output=True,
                       timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def master(masters):
    """The ``--ssh-command`` of a ControlMaster to 'cluster' (see :func:`masters`)."""
    return masters()


#: a config for interactive logins (see tests/sync/test_transports.py): a LocalCommand that
#: prints (into the far side's first line) and a RemoteCommand (a LocalForward: see
#: :func:`forwarding`)
INTERACTIVE = ("Host cluster\n  PermitLocalCommand yes\n  LocalCommand echo hello\n"
               "  RemoteCommand echo not-the-dashboard\n")


@pytest.fixture
def busy_port():
    """A port on 127.0.0.1 that another program listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def forwarding(port, fatal=True):
    """A config whose Host block forwards a port for interactive use (``port``: busy), and
    (``fatal``) makes a failed forwarding fatal, as users do to notice one."""
    return (f"Host cluster\n  LocalForward 127.0.0.1:{port} 127.0.0.1:22\n"
            + ("  ExitOnForwardFailure yes\n" if fatal else ""))


@pytest.mark.parametrize("kind", ["paramiko", "openssh", "openssh-master",
                                  "openssh-interactive-config", "openssh-localforward",
                                  "openssh-master-localforward"])
def test_dashboard_on_a_remote(kind, sshd, ssh_home, openssh, dash, special, tmp_path,  # noqa: F811
                               request):
    from sync.remotes import add_remote

    here = suite.init_project(tmp_path / "here")
    options = []
    if kind in ("openssh", "openssh-interactive-config", "openssh-localforward"):  # the remote's
        extra = {"openssh": "", "openssh-interactive-config": INTERACTIVE,
                 "openssh-localforward": ""}[kind]
        if kind == "openssh-localforward":
            extra = forwarding(request.getfixturevalue("busy_port"))
        add_remote(here, "hpc", f"cluster:{dash.path}", remote_suite=sshd["remote_suite"],
                   ssh="openssh", ssh_command=openssh(extra))
    else:
        add_remote(here, "hpc", f"cluster:{dash.path}", remote_suite=sshd["remote_suite"])
    if kind.startswith("openssh-master"):  # the command's options; auto finds the master open
        master = request.getfixturevalue("masters")(  # a master that went without the busy port
            forwarding(request.getfixturevalue("busy_port"), fatal=False)
            if kind == "openssh-master-localforward" else "")
        options = ["--ssh", "auto", "--ssh-command", master]
    logins = _logins(sshd)
    proc = start_dashboard(["--on", "hpc", "--no-browser", *options], cwd=here.path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read()
        note = proc.stderr.readline()
        assert f"through SSH ({kind.split('-')[0]})" in note, note
        far_port = int(note.split("127.0.0.1:")[1].split(" ")[0].rstrip(";"))
        assert _listening(far_port)
        parts = urllib.parse.urlsplit(url)
        assert parts.port != far_port
        token = urllib.parse.parse_qs(parts.query)["token"][0]
        # the far side's token is required through the tunnel too
        resp, _ = _request(url, path="/")
        assert resp.status == 403
        resp, _ = _request(url, path=f"/?token={token}")
        assert resp.status == 303
        cookie = resp.getheader("Set-Cookie").split(";")[0]
        resp, data = _request(url, path=f"/job/{special.id}", cookie=cookie)
        assert resp.status == 200 and special.id.encode() in data
        assert b"picture.png" in data
        resp, data = _request(url, path=f"/job/{special.id}/file/sub/result.txt",
                              cookie=cookie)
        assert data == b"42\n"
    finally:
        stop_server(proc, timeout=30)
    assert proc.returncode in (0, 130), proc.stderr.read()
    # Ctrl-C here stopped the far side and the forwarding
    deadline = time.monotonic() + 15
    while (_listening(far_port) or _listening(parts.port)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _listening(far_port) and not _listening(parts.port)
    if kind.startswith("openssh-master"):  # it rode on the master: no new login; it lives
        assert _logins(sshd) == logins
        assert subprocess.run([*master.split(), "-O", "check", "cluster"], capture_output=True,
                              timeout=30).returncode == 0
    else:
        assert _logins(sshd) == logins + 1


def test_on_a_local_directory_is_refused(dash, tmp_path):
    here = suite.init_project(tmp_path / "here")
    from sync.remotes import add_remote

    add_remote(here, "disk", dash.path)
    proc = subprocess.run([sys.executable, "-m", "suite", "dashboard", "--on", "disk",
                           "--no-browser"], cwd=here.path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert "run 'suite dashboard' there" in proc.stderr and "Traceback" not in proc.stderr


def test_far_command_quotes_the_path():
    from suite.dashboard.remote import far_command

    assert far_command("/a b/p;rm -rf x", "suite") == (
        "cd '/a b/p;rm -rf x' && suite dashboard --no-browser --port 0 --stop-on-eof")
    assert far_command("~/my proj").startswith("""cd "$HOME"/'my proj' && suite""")
    assert far_command("~", read_only=True).endswith("--stop-on-eof --read-only")


@pytest.mark.parametrize("kind", ["paramiko", "openssh"])
def test_a_far_side_that_does_not_start_is_one_line(kind, sshd, ssh_home, openssh, dash,  # noqa: F811
                                                    tmp_path):
    from sync.remotes import add_remote

    here = suite.init_project(tmp_path / "here")
    add_remote(here, "hpc", f"cluster:{dash.path}", remote_suite="/no/such/suite")
    proc = subprocess.run([sys.executable, "-m", "suite", "dashboard", "--on", "hpc",
                           "--no-browser", "--ssh", kind, "--ssh-command", openssh()],
                          cwd=here.path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("suite: error: the dashboard on cluster did not start: ") \
        and "/no/such/suite" in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_no_ssh_binary_names_the_transport_and_the_remedy(sshd, ssh_home, dash,  # noqa: F811
                                                          tmp_path):
    from sync.remotes import add_remote

    here = suite.init_project(tmp_path / "here")
    add_remote(here, "hpc", f"cluster:{dash.path}", ssh="openssh",
               ssh_command="/no/such/ssh -q")
    proc = subprocess.run([sys.executable, "-m", "suite", "dashboard", "--on", "hpc",
                           "--no-browser"], cwd=here.path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "openssh transport: cannot run '/no/such/ssh'" in proc.stderr \
        and "--ssh paramiko" in proc.stderr, proc.stderr
    assert not [d for d in os.listdir("/tmp") if d.startswith("suite-dash-")
                and os.stat(os.path.join("/tmp", d)).st_mtime > time.time() - 60]
