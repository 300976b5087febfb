"""The daemons the fixtures start die with the test process, even a SIGKILLed one whose
teardowns never run (tests/watchdog.py): each fixture is started in a child process standing
for pytest, which is then killed."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import REPO
from tests.watchdog import descendants, gone, guard


def _sleeper():
    return subprocess.Popen(["sleep", "60"])


def test_the_watchdog_ends_what_it_guards_by_name_only():
    named, other = _sleeper(), _sleeper()
    try:
        watch = guard([(named.pid, "sleep"), (other.pid, "sshd")], grace=1)
        watch.release()
        assert named.wait(timeout=10) == -signal.SIGTERM
        assert other.poll() is None  # not the program named: a pid used again, left alone
        watch.release()  # idempotent
    finally:
        for proc in (named, other):
            proc.kill()
            proc.wait()


def test_pid_files_are_read_when_the_pipe_ends(tmp_path):
    watch = guard([(tmp_path / "later.pid", "sleep"), (tmp_path / "*" / "x.pid", "sleep")],
                  grace=1)
    first, second = _sleeper(), _sleeper()  # started after the watchdog
    try:
        (tmp_path / "later.pid").write_text(f"{first.pid}\n")
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "x.pid").write_text(str(second.pid))
        watch.release()
        assert first.wait(timeout=10) == second.wait(timeout=10) == -signal.SIGTERM
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait()


def _killed_while_running(tmp_path, body, pid_files, timeout=90):
    """Run ``body`` (Python, with ``root`` the directory to use) in a child process that
    prints "ready" when its daemons run; SIGKILL it; return the daemons' pids, read from
    ``pid_files`` (relative to root) while they ran."""
    root = tmp_path / "root"
    root.mkdir()
    code = (f"import pathlib, sys, time\nsys.path.insert(0, {REPO!r})\n"
            f"root = pathlib.Path({str(root)!r})\n" + textwrap.dedent(body) +
            "\nprint('ready', flush=True)\ntime.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        line = proc.stdout.readline()  # "ready", or nothing if it failed
        if line.strip() != "ready":
            proc.kill()
            pytest.fail(f"the fixture did not start: {proc.stderr.read()[-2000:]}")
        deadline = time.monotonic() + timeout
        pids = []
        while len(pids) < len(pid_files) and time.monotonic() < deadline:
            pids = []
            for rel in pid_files:
                try:
                    pids.append(int((root / rel).read_text().strip()))
                except (OSError, ValueError):
                    pass
            time.sleep(0.1)
        assert len(pids) == len(pid_files), "a pid file is missing"
        assert not gone(pids, 0)  # running
    finally:
        proc.kill()  # as SIGKILL ends pytest: no teardown runs
        proc.wait()
    return pids


@pytest.mark.parametrize("fixture,programs,start,pid_files", [
    ("sshd", ["sshd"], "from tests.sync.conftest import run_sshd as run", ["sshd.pid"]),
    ("slurm", ["munged", "slurmctld", "slurmd", "sbatch", "squeue"],
     "from tests.conftest import run_slurm as run",
     ["munge/pid", "slurmctld.pid", "slurmd.pid"])])
def test_daemons_die_with_a_killed_test_process(tmp_path, fixture, programs, start, pid_files):
    if any(shutil.which(c) is None and not os.path.exists(f"/usr/sbin/{c}") for c in programs):
        pytest.skip(f"{fixture}'s programs are not installed")
    pids = _killed_while_running(tmp_path, f"{start}\ngen = run(root)\nnext(gen)\n",
                                 pid_files)
    assert gone(pids, 20), f"a daemon of the {fixture} fixture outlived the test process"


def test_directories_go_after_the_daemons(tmp_path):
    keep, gone_dir = tmp_path / "keep", tmp_path / "cell"
    (gone_dir / "spool").mkdir(parents=True)
    keep.mkdir()
    (gone_dir / "spool" / "x").write_text("x")
    daemon = _sleeper()
    try:
        watch = guard([(daemon.pid, "sleep")], grace=1, remove=[gone_dir])
        assert gone_dir.exists()  # only when the pipe ends
        watch.release()
        assert daemon.wait(timeout=10) == -signal.SIGTERM
        assert not gone_dir.exists() and keep.exists()
    finally:
        daemon.kill()
        daemon.wait()


def test_the_dashboard_dies_with_a_killed_test_process(tmp_path):
    pytest.importorskip("flask", reason="the dashboard extra (Flask) is not installed")
    pids = _killed_while_running(tmp_path, """
        import suite
        from tests.dashboard.conftest import start_server
        project = suite.init_project(root / "project")
        proc, url = start_server(project)
        (root / "dashboard.pid").write_text(str(proc.pid))
    """, ["dashboard.pid"])
    assert gone(pids, 20), "the dashboard's server outlived the test process"


def _removed(path, seconds):
    deadline = time.monotonic() + seconds
    while os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_grid_engine_dies_with_a_killed_test_process(tmp_path):
    if not os.path.exists("/usr/sbin/sge_qmaster") or os.geteuid() != 0 or "1" not in (
            os.environ.get("SUITE_REQUIRE_SERVICES"), os.environ.get("SUITE_TEST_SGE")):
        pytest.skip("Grid Engine is not installed, or not to be started (SUITE_TEST_SGE=1)")
    from tests.schedulers.sge_cell import Cell

    cell = Cell()
    try:
        pids = _killed_while_running(tmp_path, f"""
            from tests.schedulers.sge_cell import Cell
            cell = Cell()
            cell.name, cell.dir = {cell.name!r}, {cell.dir!r}
            cell.spool, cell.bin = {cell.spool!r}, {cell.bin!r}
            cell.env.update({{k: v for k, v in {dict(cell.env)!r}.items()
                             if k.startswith("SGE_") or k == "PATH"}})
            cell.create()
            work = root / "work"
            work.mkdir()
            cell.start(work)
            import glob, shutil
            for path in glob.glob(cell.spool + "/execd/*/execd.pid"):
                shutil.copy(path, root / "execd.pid")
            shutil.copy(cell.spool + "/qmaster/qmaster.pid", root / "qmaster.pid")
        """, ["qmaster.pid", "execd.pid"], timeout=120)
        assert gone(pids, 30), "a Grid Engine daemon outlived the test process"
        assert _removed(cell.dir, 30), f"the cell's directory {cell.dir} stayed"
    finally:
        cell.stop()  # the cell's directory (and any daemon left) goes


def test_what_guards_a_tree_ends_the_descendants_too(tmp_path):
    parent = subprocess.Popen(["bash", "-c", "sleep 60 & sleep 60 & wait"])
    try:
        children = []
        while len(children) < 2:  # the two sleeps, once bash has started them
            children = descendants(parent.pid)
            time.sleep(0.05)
        watch = guard([(parent.pid, "bash")], grace=1, descendants=True)
        watch.release()
        assert gone(children, 10), "a descendant outlived its guarded ancestor"
        assert parent.wait(timeout=10) != 0
    finally:
        parent.kill()
        parent.wait()


def test_the_browser_dies_with_a_killed_test_process(tmp_path):
    from tests.dashboard.browser import CHROMEDRIVER, CHROMIUM

    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    pytest.importorskip("selenium", reason="selenium is not installed")
    pids = _killed_while_running(tmp_path, """
        from tests.dashboard.browser import start_browser
        from tests.watchdog import descendants
        driver = start_browser(root)
        tree = descendants(driver.driver_process.pid)
        (root / "chromedriver.pid").write_text(str(driver.driver_process.pid))
        (root / "chromium.pid").write_text(str(tree[0]))
        (root / "tree").write_text(" ".join(map(str, tree)))
    """, ["chromedriver.pid", "chromium.pid"], timeout=120)
    tree = [int(p) for p in (tmp_path / "root" / "tree").read_text().split()]
    assert len(tree) > 1  # chromium and its helpers (zygote, renderers)
    assert gone(pids + tree, 30), "chromedriver or chromium outlived the test process"
