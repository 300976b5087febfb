"""The sshd fixture stops its daemon whatever ends it: closed at its yield (an interrupt, an
error in the session's teardown, a driver that stops early) it still terminates sshd."""

import os
import shutil
import time

from tests.conftest import skip_or_fail
from tests.sync.conftest import SSHD, run_sshd
from tests.watchdog import alive


def test_sshd_closed_at_its_yield_stops(tmp_path):
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        skip_or_fail("openssh-server is not installed (apt-get install openssh-server)")
    gen = run_sshd(tmp_path)
    info = next(gen)
    pid = int((tmp_path / "sshd.pid").read_text()) if (tmp_path / "sshd.pid").exists() \
        else None
    deadline = time.time() + 10
    while pid is None and time.time() < deadline:  # sshd writes it once listening
        time.sleep(0.1)
        if (tmp_path / "sshd.pid").exists():
            pid = int((tmp_path / "sshd.pid").read_text())
    assert pid and alive(pid) and info["root"] == tmp_path
    gen.close()
    assert not alive(pid)
