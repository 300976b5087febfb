"""What the CLI draws on a terminal and what it writes to a file, run as a user runs it: the
command's stdin, stdout and stderr all one pseudo-terminal (or stdout and stderr one file).

On a terminal: the first command over a project of 5,000 new jobs says it is indexing; export,
import and sync draw a progress bar. To a file: no bar, no note, the same report."""

import os
import pty
import subprocess
import sys
import threading

import pytest

import suite

N_INDEXING = 5000  # suite.index.refresh says "indexing" from this many new jobs on


def on_terminal(args, cwd, columns=80):
    """``(status, text)`` of ``suite ARGS`` on a terminal of ``columns`` (0: no size set)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        proc = subprocess.Popen([sys.executable, "-m", "suite", *args], cwd=cwd, stdin=slave,
                                stdout=slave, stderr=slave, start_new_session=True)
    finally:
        os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the command has closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.wait()
    return proc.returncode, b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


def to_file(args, cwd, path):
    """``(status, text)`` of ``suite ARGS`` with stdout and stderr to the file ``path``."""
    with open(path, "wb") as f:
        status = subprocess.run([sys.executable, "-m", "suite", *args], cwd=cwd, stdout=f,
                                stderr=f, stdin=subprocess.DEVNULL).returncode
    with open(path) as f:
        return status, f.read()


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    project = suite.init_project(tmp_path_factory.mktemp("terminal") / "big")
    with suite.buffered():
        for a in range(N_INDEXING):
            project.open_job({"a": a}).init()
    return project


@pytest.fixture
def small(tmp_path):
    project = suite.init_project(tmp_path / "small")
    with suite.buffered():
        for a in range(300):
            project.open_job({"a": a, "b": a % 3}).init().doc.x = a
    return project


def drop_index(project):
    path = os.path.join(project.path, ".suite", "index.sqlite")
    if os.path.exists(path):
        os.unlink(path)


def test_project_on_progress_is_told_before_a_long_index_build(big):
    drop_index(big)
    project = suite.get_project(big.path)
    assert project.on_progress is None
    seen = []
    project.on_progress = seen.append
    assert len(project.find_jobs({"a": 1})) == 1
    assert len(seen) == 1 and seen[0].startswith(f"indexing {N_INDEXING} new jobs")
    seen.clear()
    assert len(project.find_jobs({"a": 2})) == 1  # an index up to date: nothing to say
    assert seen == []


def test_an_index_made_in_another_thread_tells_the_project_on_progress(big):
    drop_index(big)
    project = suite.get_project(big.path)
    seen = []
    project.on_progress = seen.append
    found = []
    thread = threading.Thread(target=lambda: found.append(len(project.find_jobs({"a": 3}))))
    thread.start()
    thread.join()
    assert found == [1]
    assert len(seen) == 1 and seen[0].startswith(f"indexing {N_INDEXING} new jobs")


def test_first_find_says_indexing_on_a_terminal_and_not_to_a_file(big, tmp_path):
    drop_index(big)
    status, text = on_terminal(["find", "a", "7"], big.path)
    assert status == 0, text
    assert f"suite: indexing {N_INDEXING} new jobs" in text
    assert big.open_job({"a": 7}).id in text
    drop_index(big)
    status, text = to_file(["find", "a", "7"], big.path, tmp_path / "log")
    assert status == 0, text
    assert text == big.open_job({"a": 7}).id + "\n"


def test_quiet_export_says_nothing_while_indexing_on_a_terminal(big, tmp_path):
    drop_index(big)
    status, text = on_terminal(["export", str(tmp_path / "out.tar"), "-q"], big.path)
    assert (status, text) == (0, "")


@pytest.mark.parametrize("command", ["export", "import"])
def test_export_and_import_draw_a_bar_on_a_terminal_and_none_to_a_file(small, tmp_path, command):
    archive = tmp_path / "a.tar"
    assert to_file(["export", str(archive)], small.path, tmp_path / "log")[0] == 0
    reports = {}
    for mode in ("terminal", "file"):
        if command == "export":
            args, cwd = ["export", str(tmp_path / "out.tar"), "--force"], small.path
        else:
            args, cwd = ["import", str(archive)], suite.init_project(tmp_path / mode).path
        status, text = (on_terminal(args, cwd) if mode == "terminal"
                        else to_file(args, cwd, tmp_path / "log"))
        assert status == 0, text
        reports[mode] = text
    label = "exporting" if command == "export" else "importing"
    terminal, file = reports["terminal"], reports["file"]
    assert label in terminal and "300/300" in terminal  # the bar's last state is drawn
    assert terminal.endswith(file)  # then the same report as to a file
    assert label not in file and "\r" not in file and "\x1b" not in file
    assert file.startswith("exported 300 jobs" if command == "export" else "imported 300 jobs")
    if command == "import":
        assert len(suite.get_project(tmp_path / "terminal")) == 300


def test_sync_draws_a_bar_on_a_terminal_and_lists_every_job_as_to_a_file(small, tmp_path):
    reports = {}
    for mode in ("terminal", "file"):
        dest = suite.init_project(tmp_path / f"dest-{mode}").path
        args = ["sync", dest]
        status, text = (on_terminal(args, small.path) if mode == "terminal"
                        else to_file(args, small.path, tmp_path / "log"))
        assert status == 0, text
        reports[mode] = text
        assert len(suite.get_project(dest)) == 300
    terminal, file = reports["terminal"], reports["file"]
    assert "syncing jobs" in terminal and "300/300" in terminal
    assert terminal.endswith(file)
    lines = file.splitlines()
    assert len(lines) == 301 and lines[-1] == "changed 300 item(s); 0 conflict(s)"
    assert sorted(line.split()[-1] for line in lines[:-1]) == sorted(j.id for j in small)
    assert "syncing" not in file and "\r" not in file


def test_import_dry_run_lists_every_job_on_a_terminal_as_to_a_file(small, tmp_path):
    archive = tmp_path / "a.tar"
    assert to_file(["export", str(archive)], small.path, tmp_path / "log")[0] == 0
    cwd = suite.init_project(tmp_path / "empty").path
    status, terminal = on_terminal(["import", str(archive), "--dry-run"], cwd)
    assert status == 0, terminal
    status, file = to_file(["import", str(archive), "--dry-run"], cwd, tmp_path / "log")
    assert status == 0, file
    assert terminal.endswith(file)
    lines = file.splitlines()
    assert lines[0] == "would import 300 jobs; 0 already present"
    assert sorted(line.split()[-1] for line in lines[1:]) == sorted(j.id for j in small)
    assert len(suite.get_project(cwd)) == 0


@pytest.mark.parametrize("columns", [40, 0])
def test_the_bar_fits_a_narrow_terminal(small, tmp_path, columns):
    """A line longer than the terminal would wrap, and each redraw would leave a line behind;
    a terminal that was given no size is taken as 80 columns wide."""
    status, text = on_terminal(["export", str(tmp_path / "out.tar")], small.path, columns)
    assert status == 0, text
    bar, report = text.rsplit("\n", 2)[:2]
    assert report.startswith("exported 300 jobs")
    draws = [d for d in bar.split("\r") if d]
    assert draws and all(len(d) <= (columns or 80) - 1 for d in draws), draws
    assert draws[-1].rstrip().endswith("]  300/300")  # the bar narrows; the count stays
    assert draws[-1].startswith("exporting")
