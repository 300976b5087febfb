"""Progress bars redraw at most about ten times a second (and always show the final state);
``--quiet`` on sync, export and import prints no progress and no per-item lines, but errors
and conflicts."""

import os
import pty
import re
import subprocess
import sys
import time

import pytest

import suite


@pytest.fixture
def many(tmp_path):
    project = suite.init_project(tmp_path / "many")
    with suite.buffered():
        for a in range(600):
            project.open_job({"a": a}).init().doc.x = a
    return project


def run_on_terminal(args, cwd):
    """Run ``suite ARGS`` with stderr on a pseudo-terminal; (status, stdout, terminal text,
    seconds)."""
    master, slave = pty.openpty()
    start = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "suite", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other end closed
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read()
    proc.wait()
    os.close(master)
    return proc.returncode, out.decode(), b"".join(chunks).decode(errors="replace"), \
        time.time() - start


def test_export_redraws_at_most_ten_times_a_second(many, tmp_path):
    status, out, terminal, seconds = run_on_terminal(
        ["export", str(tmp_path / "out.tar")], many.path)
    assert status == 0, terminal
    draws = terminal.count("\r")
    assert 1 <= draws <= seconds * 10 + 3, (draws, seconds)  # it was one per job: 600
    assert "600/600" in terminal  # the final state is drawn
    assert out.startswith("exported 600 jobs")


@pytest.mark.parametrize("command", ["export", "import"])
def test_quiet_on_a_terminal_prints_nothing(many, tmp_path, command):
    target = tmp_path / "out.tar"
    if command == "import":
        assert run_on_terminal(["export", str(target)], many.path)[0] == 0
        cwd = suite.init_project(tmp_path / "other").path
    else:
        cwd = many.path
    for flag in ("--quiet", "-q"):
        status, out, terminal, _ = run_on_terminal(
            [command, str(target), flag] + (["--force"] if command == "export" else []), cwd)
        assert (status, out, terminal) == (0, "", "")
    if command == "import":
        assert len(suite.get_project(cwd)) == 600


def test_quiet_still_shows_errors(many, tmp_path):
    (tmp_path / "out.tar").write_text("")
    r = subprocess.run([sys.executable, "-m", "suite", "export", "-q", str(tmp_path / "out.tar")],
                       cwd=many.path, capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("suite: error: ") and "out.tar" in r.stderr


def test_quiet_sync_shows_only_conflicts(tmp_path):
    local = suite.init_project(tmp_path / "local")
    remote = suite.init_project(tmp_path / "remote")
    job = local.open_job({"a": 1}).init()
    job.doc.x = 0

    def sync(*args):
        return subprocess.run([sys.executable, "-m", "suite", "sync", remote.path, *args],
                              cwd=local.path, capture_output=True, text=True)

    verbose = sync("--dry-run")
    assert "create" in verbose.stdout or "job" in verbose.stdout
    quiet = sync("-q")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert remote.open_job(id=job.id).doc.x == 0
    job.doc.x = 1
    remote.open_job(id=job.id).doc.x = 2
    conflict = sync("--quiet")
    assert conflict.returncode == 3
    lines = conflict.stdout.splitlines()
    assert len(lines) == 1 and re.match(rf"CONFLICT {job.id} doc\.x", lines[0])
