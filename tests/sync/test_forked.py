"""A local sync run before lists the far project in a forked child (sync/forked.py): the same
result as in one process, the first sync and a process running threads stay in one, and a
child that fails or is killed ends the sync with an error while the next sync completes."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import suite
import sync
from sync.replica import Replica, SyncError


def make(project, n, start=0):
    for i in range(start, start + n):
        job = project.open_job({"i": i}).init()
        job.doc.step = i
        with open(job.fn("out.txt"), "w") as f:
            f.write(f"result {i}")


def state(project):
    out = {}
    for job in project:
        files = {}
        for name in sorted(os.listdir(job.path)):
            with open(os.path.join(job.path, name), "rb") as f:
                files[name] = f.read()
        out[job.id] = files
    return out


@pytest.fixture
def forks(monkeypatch):
    """The number of processes forked so far (os.fork counted, then called). Threads of
    earlier tests are waited for (the pipe transports reap their far process in a daemon
    thread, which lives as long as that process brings its index up to date); if one still
    runs after 60 s, no child would be forked: skipped (the CLI tests below fork anyway)."""
    deadline = time.monotonic() + 60
    while threading.active_count() > 1:
        if time.monotonic() > deadline:
            pytest.skip("other threads run in this process: no child is forked")
        time.sleep(0.05)
    count = [0]
    real = os.fork

    def fork():
        count[0] += 1
        return real()

    monkeypatch.setattr(os, "fork", fork)
    return count


def pair(tmp_path, n=6):
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    make(lap, n)
    return lap, clu


def test_a_sync_run_before_lists_the_far_side_in_a_child_with_the_same_result(tmp_path, forks):
    lap, clu = pair(tmp_path)
    assert sync.sync(lap, clu.path).exit_status == 0
    assert forks[0] == 0  # a first sync copies file to file, in one process
    assert sync.sync(lap, clu.path).exit_status == 0  # nothing to do
    assert forks[0] == 1
    # changes on both sides: documents, a new file, a deletion, new jobs each side
    jobs = sorted(lap, key=lambda j: j.sp.i)
    jobs[0].doc.step = "here"
    clu.open_job(id=jobs[1].id).doc.extra = "there"
    with open(jobs[2].fn("new.bin"), "wb") as f:
        f.write(os.urandom(70000))
    os.unlink(clu.open_job(id=jobs[3].id).fn("out.txt"))
    make(lap, 2, start=100)
    make(clu, 2, start=200)
    result = sync.sync(lap, clu.path)
    assert result.exit_status == 0 and forks[0] == 2
    assert state(lap) == state(clu)
    assert len(state(lap)) == 10
    here = lap.open_job(id=jobs[1].id).doc
    assert (here.step, here.extra) == (1, "there")
    assert not os.path.exists(lap.open_job(id=jobs[3].id).fn("out.txt"))
    assert sync.sync(lap, clu.path).actions == [] and forks[0] == 3
    # --checksum lists everything: in one process
    assert sync.sync(lap, clu.path, checksum=True).actions == [] and forks[0] == 3


def test_without_fork_or_with_a_thread_running_the_sync_stays_in_one_process(tmp_path, forks,
                                                                              monkeypatch):
    lap, clu = pair(tmp_path)
    sync.sync(lap, clu.path)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        lap.open_job({"i": 0}).doc.step = "a"
        assert sync.sync(lap, clu.path).exit_status == 0
    finally:
        stop.set()
        thread.join()
    assert forks[0] == 0
    monkeypatch.delattr(os, "fork")  # a system without fork
    lap.open_job({"i": 1}).doc.step = "b"
    assert sync.sync(lap, clu.path).exit_status == 0
    assert state(lap) == state(clu)
    assert clu.open_job({"i": 1}).doc.step == "b"


def _in_child_only(parent, action):
    """A replacement of Replica.snapshot_steady that does ``action`` in a forked child."""
    real = Replica.snapshot_steady

    def snapshot_steady(self, *args, **kwargs):
        if os.getpid() != parent:
            action()
        return real(self, *args, **kwargs)

    return snapshot_steady


def test_a_killed_child_ends_the_sync_with_an_error_and_the_next_sync_completes(
        tmp_path, forks, monkeypatch):
    lap, clu = pair(tmp_path)
    sync.sync(lap, clu.path)
    lap.open_job({"i": 0}).doc.step = "changed"
    make(clu, 1, start=300)
    monkeypatch.setattr(Replica, "snapshot_steady", _in_child_only(
        os.getpid(), lambda: os.kill(os.getpid(), signal.SIGKILL)))
    with pytest.raises(SyncError) as err:
        sync.sync(lap, clu.path)
    message = str(err.value)
    assert f"listing {clu.path} failed" in message
    assert "killed by signal 9 (SIGKILL)" in message and "run the sync again" in message
    assert clu.open_job({"i": 0}).doc.step == 0  # nothing written
    monkeypatch.undo()
    result = sync.sync(lap, clu.path, lock_wait=5)  # the locks were given back
    assert result.exit_status == 0
    assert state(lap) == state(clu)
    assert clu.open_job({"i": 0}).doc.step == "changed"
    assert lap.open_job({"i": 300}) in lap


def test_an_error_in_the_child_is_raised_here_with_its_traceback(tmp_path, forks, monkeypatch):
    lap, clu = pair(tmp_path)
    sync.sync(lap, clu.path)
    lap.open_job({"i": 0}).doc.step = "changed"

    def fail():
        raise RuntimeError("the far listing broke")

    monkeypatch.setattr(Replica, "snapshot_steady", _in_child_only(os.getpid(), fail))
    with pytest.raises(RuntimeError, match="the far listing broke") as err:
        sync.sync(lap, clu.path)
    notes = "\n".join(getattr(err.value, "__notes__", []))
    assert f"raised in the process listing {clu.path}" in notes
    assert "in fail" in notes and "Traceback" in notes
    monkeypatch.undo()
    assert sync.sync(lap, clu.path, lock_wait=5).exit_status == 0
    assert clu.open_job({"i": 0}).doc.step == "changed"


def test_the_cli_shows_a_failure_in_the_child_and_syncs_next_time(tmp_path):
    """The command line, as a user runs it: a child that dies (killed from the outside while
    it lists) ends the sync with status 1 and a message naming the project; then a sync
    completes."""
    lap, clu = pair(tmp_path, n=3)
    sync.sync(lap, clu.path)
    lap.open_job({"i": 0}).doc.step = "changed"
    code = ("import os, signal, sys\n"
            "from sync.replica import Replica\n"
            "parent, real = os.getpid(), Replica.snapshot_steady\n"
            "def snapshot_steady(self, *a, **k):\n"
            "    if os.getpid() != parent:\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n"
            "    return real(self, *a, **k)\n"
            "Replica.snapshot_steady = snapshot_steady\n"
            "from suite.cli import main\n"
            f"sys.argv = ['suite', 'sync', {str(clu.path)!r}, '-q']\n"
            "main()\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=lap.path, capture_output=True,
                          text=True)
    assert done.returncode == 1, done.stderr
    assert f"listing {clu.path} failed" in done.stderr and "SIGKILL" in done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "suite", "sync", clu.path, "-q"],
                          cwd=lap.path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert clu.open_job({"i": 0}).doc.step == "changed"


def test_ctrl_c_stops_both_processes_and_the_next_sync_completes(tmp_path):
    """Ctrl-C (SIGINT to the terminal's process group) while the child lists: the command
    ends as an interrupted one does (status 130), no process of it is left, the locks are
    free."""
    lap, clu = pair(tmp_path, n=3)
    sync.sync(lap, clu.path)
    lap.open_job({"i": 0}).doc.step = "changed"
    _interrupt_sync_while_the_child_lists(
        tmp_path, lap, clu, "(self, *a, **k)", "os.getpid() != parent", "(self, *a, **k)")
    assert sync.sync(lap, clu.path, lock_wait=5).exit_status == 0
    assert clu.open_job({"i": 0}).doc.step == "changed"


def test_the_child_removes_a_dead_syncs_staging_on_the_far_side(tmp_path, forks):
    """Leftovers cleanup (sync/leftovers.py) runs in the child, which lists the far side
    under the locks this process holds: a dead sync's staging directory goes, a live one's
    stays."""
    lap, clu = pair(tmp_path)
    sync.sync(lap, clu.path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    job_id = "0123456789abcdef0123456789abcdef"
    names = {"dead": f".suite-tmp-sync-{job_id}-{int(dead.stdout)}",
             "live": f".suite-tmp-sync-{job_id}-{sleeper.pid}"}
    try:
        for name in names.values():
            os.makedirs(os.path.join(clu.workspace, name, "sub"))
        assert sync.sync(lap, clu.path).exit_status == 0
        assert forks[0] == 1
        left = sorted(n for n in os.listdir(clu.workspace) if n.startswith(".suite-tmp"))
        assert left == [names["live"]]
    finally:
        sleeper.kill()
        sleeper.wait()


def _second_listing_in_child(parent, action):
    """A replacement of Replica.snapshot_steady that does ``action`` in a forked child when
    it lists given jobs whole (the second request: no record to leave steady jobs out by)."""
    real = Replica.snapshot_steady

    def snapshot_steady(self, ids=None, exclude=(), base_jobs=None):
        if os.getpid() != parent and ids is not None and base_jobs is None:
            action()
        return real(self, ids, exclude, base_jobs)

    return snapshot_steady


def _changed_here_only(lap, clu):
    """A pair synced before, then two jobs changed on this side only: steady on the far side
    and not here, so the far side is asked for their listing a second time."""
    sync.sync(lap, clu.path)
    jobs = sorted(lap, key=lambda j: j.sp.i)
    jobs[0].doc.step = "changed"
    with open(jobs[1].fn("new.bin"), "wb") as f:
        f.write(os.urandom(5000))
    return jobs


def test_the_child_lists_the_jobs_changed_here_only_and_then_leaves(tmp_path, forks,
                                                                    monkeypatch):
    """The far side's listing of the jobs steady there but changed here is the child's too
    (this process never lists the far project), and the child is gone when the sync ends."""
    lap, clu = pair(tmp_path)
    jobs = _changed_here_only(lap, clu)
    parent, real = os.getpid(), Replica.snapshot_steady
    listed_here = []

    def snapshot_steady(self, *args, **kwargs):
        if os.getpid() == parent:
            listed_here.append(str(self.path))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Replica, "snapshot_steady", snapshot_steady)
    pids = []
    real_fork = os.fork

    def fork():
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    result = sync.sync(lap, clu.path)
    assert result.exit_status == 0 and len(pids) == 1
    assert listed_here == [str(lap.path)]  # the far side: in the child only, twice
    assert state(lap) == state(clu)
    assert clu.open_job(id=jobs[0].id).doc.step == "changed"
    with pytest.raises(ProcessLookupError):  # it left and was reaped
        os.kill(pids[0], 0)
    monkeypatch.undo()
    assert sync.sync(lap, clu.path).actions == []


def test_a_child_killed_in_its_second_listing_ends_the_sync_and_the_next_completes(
        tmp_path, forks, monkeypatch):
    lap, clu = pair(tmp_path)
    jobs = _changed_here_only(lap, clu)
    monkeypatch.setattr(Replica, "snapshot_steady", _second_listing_in_child(
        os.getpid(), lambda: os.kill(os.getpid(), signal.SIGKILL)))
    with pytest.raises(SyncError) as err:
        sync.sync(lap, clu.path)
    message = str(err.value)
    assert f"listing {clu.path} failed" in message
    assert "killed by signal 9 (SIGKILL)" in message and "run the sync again" in message
    assert clu.open_job(id=jobs[0].id).doc.step == 0  # nothing written
    assert not os.path.exists(clu.open_job(id=jobs[1].id).fn("new.bin"))
    monkeypatch.undo()
    assert sync.sync(lap, clu.path, lock_wait=5).exit_status == 0  # the locks are free
    assert state(lap) == state(clu)


def test_an_error_in_the_childs_second_listing_is_raised_here(tmp_path, forks, monkeypatch):
    lap, clu = pair(tmp_path)
    jobs = _changed_here_only(lap, clu)

    def fail():
        raise PermissionError(13, "the second listing was refused")

    monkeypatch.setattr(Replica, "snapshot_steady", _second_listing_in_child(os.getpid(), fail))
    with pytest.raises(PermissionError, match="the second listing was refused") as err:
        sync.sync(lap, clu.path)
    notes = "\n".join(getattr(err.value, "__notes__", []))
    assert f"raised in the process listing {clu.path}" in notes and "in fail" in notes
    assert clu.open_job(id=jobs[0].id).doc.step == 0
    monkeypatch.undo()
    assert sync.sync(lap, clu.path, lock_wait=5).exit_status == 0
    assert state(lap) == state(clu)


def test_ctrl_c_while_the_child_lists_a_second_time_stops_both(tmp_path):
    """Ctrl-C to the CLI's process group while the child answers the second request: status
    130, no process left, the next sync completes."""
    lap, clu = pair(tmp_path, n=3)
    _changed_here_only(lap, clu)
    _interrupt_sync_while_the_child_lists(
        tmp_path, lap, clu, "(self, ids=None, exclude=(), base_jobs=None)",
        "os.getpid() != parent and ids is not None and base_jobs is None",
        "(self, ids, exclude, base_jobs)")
    assert sync.sync(lap, clu.path, lock_wait=5).exit_status == 0
    assert state(lap) == state(clu)


def _interrupt_sync_while_the_child_lists(tmp_path, lap, clu, params, when, args):
    """Run ``suite sync`` of ``lap`` to ``clu`` in a process group of its own, its forked
    child stopping in ``Replica.snapshot_steady`` (declared with ``params``, called on with
    ``args``) where ``when`` holds; send Ctrl-C (SIGINT to the group) there. The command ends
    as an interrupted one does (status 130, no traceback) and no process of it is left."""
    marker = tmp_path / "listing"
    code = ("import os, sys, time\n"
            "from sync.replica import Replica\n"
            "parent, real = os.getpid(), Replica.snapshot_steady\n"
            f"def snapshot_steady{params}:\n"
            f"    if {when}:\n"
            f"        open({str(marker)!r}, 'w').close()\n"
            "        time.sleep(60)\n"
            f"    return real{args}\n"
            "Replica.snapshot_steady = snapshot_steady\n"
            "from suite.cli import main\n"
            f"sys.argv = ['suite', 'sync', {str(clu.path)!r}, '-q']\n"
            "main()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=lap.path, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err  # as any interrupted command ("suite: interrupted")
    assert "Traceback" not in err
    deadline = time.monotonic() + 10
    while True:  # the child was reaped by the command or ended with it: none is left
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a process of the interrupted sync is left"
        time.sleep(0.05)
