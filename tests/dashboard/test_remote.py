"""`suite dashboard --on REMOTE`: the dashboard started on the far side over a real sshd on
127.0.0.1, reached through a forwarded local port, stopped by Ctrl-C here."""

import signal
import socket
import subprocess
import sys
import time
import urllib.parse

import pytest

import suite
from tests.sync.conftest import ssh_home, sshd  # noqa: F401  (fixtures)

from .test_security import _request

pytestmark = pytest.mark.ssh


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_dashboard_on_a_remote(sshd, ssh_home, dash, special, tmp_path):  # noqa: F811
    from sync.remotes import add_remote

    here = suite.init_project(tmp_path / "here")
    add_remote(here, "hpc", f"cluster:{dash.path}", remote_suite=sshd["remote_suite"])
    proc = subprocess.Popen([sys.executable, "-m", "suite", "dashboard", "--on", "hpc",
                             "--no-browser"], cwd=here.path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read()
        note = proc.stderr.readline()
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
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    # Ctrl-C here stopped the far side
    deadline = time.monotonic() + 15
    while _listening(far_port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _listening(far_port)


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
