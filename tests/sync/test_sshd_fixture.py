"""The sshd fixture stops its daemon whatever ends it: closed at its yield (an interrupt, an
error in the session's teardown, a driver that stops early) it still terminates sshd."""

import os
import shutil
import socket
import time

from tests.conftest import skip_or_fail
from tests.sync import conftest
from tests.sync.conftest import SSHD, run_sshd
from tests.watchdog import alive


def test_sshd_closed_at_its_yield_stops(tmp_path):
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        skip_or_fail("openssh-server is not installed (apt-get install openssh-server)")
    gen = run_sshd(tmp_path)
    info = next(gen)
    pid = int((tmp_path / "sshd.pid").read_text()) if (tmp_path / "sshd.pid").exists() \
        else None
    deadline = time.time() + 60
    while pid is None and time.time() < deadline:  # sshd writes it once listening
        time.sleep(0.1)
        if (tmp_path / "sshd.pid").exists():
            pid = int((tmp_path / "sshd.pid").read_text())
    assert pid and alive(pid) and info["root"] == tmp_path
    gen.close()
    assert not alive(pid)


def test_a_port_taken_before_sshd_binds_it_is_passed_over(tmp_path, monkeypatch):
    """The port is found free, then bound by sshd later: another program may take it in
    between (a connection to it would then reach that program). The fixture waits for its
    own sshd's word that it listens, and picks another port when sshd could not bind."""
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        skip_or_fail("openssh-server is not installed (apt-get install openssh-server)")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        real = conftest.free_port
        ports = [taken.getsockname()[1]]
        monkeypatch.setattr(conftest, "free_port", lambda: ports.pop(0) if ports else real())
        gen = run_sshd(tmp_path)
        try:
            info = next(gen)
            assert not ports and info["port"] != taken.getsockname()[1]
            assert "Server listening on 127.0.0.1 port " \
                f"{info['port']}." in (tmp_path / "log").read_text()
        finally:
            gen.close()
