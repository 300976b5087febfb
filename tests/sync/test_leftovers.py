"""Staging directories of a killed sync are removed by the next sync (sync.leftovers), and
only those: the name is a staging directory's, its process is dead, no other sync runs."""

import os
import signal
import subprocess
import sys
import time

import suite
import sync
from sync import landing
from sync.replica import Replica
from tests.conftest import skip_or_fail
from tests.sync.test_stage_ahead import CLI_AHEAD, contents, leftovers, make_source

#: the CLI as the console script runs it
CLI = "import sys; from suite.cli import main; sys.argv[0] = 'suite'; main()"

#: CLI_AHEAD whose main thread stops for good after landing 20 jobs (the stager goes on)
CLI_AHEAD_STOPS = CLI_AHEAD.replace("from suite.cli import main", """
import time
real, landed = r.Replica._land, []
def land(self, *args):
    landed.append(1)
    if len(landed) == 20:
        print("(stopped)", file=sys.stderr, flush=True)
        time.sleep(3600)
    return real(self, *args)
r.Replica._land = land
from suite.cli import main""")


def test_a_sync_killed_while_staging_ahead_leaves_what_the_next_sync_removes(tmp_path):
    """A real `suite sync` killed with SIGKILL while its second thread has jobs staged ahead
    leaves their staging directories; the next sync removes them and lands every job."""
    if landing.stage_copy is landing.stage_copy_python:
        skip_or_fail("sync._landing is not built here (or SUITE_PURE_PYTHON is set)")
    src = make_source(tmp_path, 300)
    dst = suite.init_project(tmp_path / "dst")
    proc = subprocess.Popen([sys.executable, "-c", CLI_AHEAD_STOPS, "sync", dst.path, "-q"],
                            cwd=src.path, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "(stopped)" not in line:  # its main thread sleeps from here on
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "the sync ended before it stopped"
        deadline = time.monotonic() + 30
        while not leftovers(dst) and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    left = leftovers(dst)
    assert left and all(n.endswith(f"-{proc.pid}") for n in left)
    assert len(os.listdir(dst.workspace)) - len(left) == 19  # landed before it stopped
    run = subprocess.run([sys.executable, "-c", CLI, "sync", dst.path, "-q"], cwd=src.path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert leftovers(dst) == []
    assert contents(suite.get_project(dst.path)) == contents(src)


def _dead_pid():
    """The id of a process that has ended (a real one, waited for)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_only_the_staging_of_a_dead_sync_is_removed(tmp_path):
    src = make_source(tmp_path, 3)
    dst = suite.init_project(tmp_path / "dst")
    job_id = "0123456789abcdef0123456789abcdef"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead": f".suite-tmp-sync-{job_id}-{_dead_pid()}",
            "live": f".suite-tmp-sync-{job_id}-{sleeper.pid}",
            "other": f".suite-tmp-{job_id}-{_dead_pid()}",  # not a sync's staging
            "short": f".suite-tmp-sync-0123-{_dead_pid()}",
        }
        for name in names.values():
            os.makedirs(os.path.join(dst.workspace, name, "sub"))
        # while another sync of the project holds its lock, nothing is removed
        other = Replica(dst.path)
        assert other.try_lock("f" * 32) is None
        sync.sync(src, dst.path)
        assert sorted(leftovers(dst)) == sorted(names.values())
        other.unlock("f" * 32)
        result = sync.sync(src, dst.path)
        assert result.exit_status == 0
        assert sorted(leftovers(dst)) == sorted(n for k, n in names.items() if k != "dead")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert contents(suite.get_project(dst.path)) == contents(src)
