"""The direct scheduler's exit statuses live in a private directory of this user: one planted
by someone else, or a link, is refused; links inside it are not followed; statuses that are
not its own are not believed."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from schedulers import Direct, SchedulerError, Submission
from schedulers.direct import status_dir

from .live import wait_for


def planted_path(base):
    return base / f"suite-direct-{os.getuid()}"


def submit(d, tmp_path, commands):
    sub = Submission("s", commands)
    return d.submit(d.render(sub), sub, str(tmp_path / "scripts"))


def test_status_dir_is_private(private_tmpdir):
    path = status_dir()
    assert path == str(planted_path(private_tmpdir))
    st = os.lstat(path)
    assert st.st_uid == os.getuid() and st.st_mode & 0o777 == 0o700
    assert status_dir() == path  # found again as it is


def test_planted_link_is_refused_and_not_followed(private_tmpdir, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me")
    planted_path(private_tmpdir).symlink_to(victim)
    d = Direct()
    with pytest.raises(SchedulerError, match="suite-direct-.*not a private directory"):
        submit(d, tmp_path, ["true"])
    with pytest.raises(SchedulerError, match="not a private directory"):
        d.query(["1"])
    time.sleep(0.5)
    assert os.listdir(victim) == ["precious"]
    assert (victim / "precious").read_text() == "keep me"
    assert not (tmp_path / "scripts" / "s.sh.out").exists()  # nothing ran


def test_directory_others_can_write_is_refused(private_tmpdir, tmp_path):
    planted_path(private_tmpdir).mkdir()
    os.chmod(planted_path(private_tmpdir), 0o777)
    with pytest.raises(SchedulerError, match="not a private directory"):
        submit(Direct(), tmp_path, ["true"])


@pytest.mark.skipif(os.geteuid() != 0, reason="planting as another user needs root")
def test_directory_of_another_user_and_its_statuses_are_not_believed(private_tmpdir, tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        planted = planted_path(private_tmpdir)
        planted.mkdir(mode=0o700)
        (planted / str(sleeper.pid)).write_text("0\n")  # a fake "completed"
        os.chown(planted / str(sleeper.pid), 65534, 65534)
        os.chown(planted, 65534, 65534)
        with pytest.raises(SchedulerError, match="owned by uid 65534"):
            Direct().query([str(sleeper.pid)])
        with pytest.raises(SchedulerError, match="owned by uid 65534"):
            submit(Direct(), tmp_path, ["true"])
    finally:
        sleeper.kill()
        sleeper.wait()


def test_links_inside_are_not_followed(private_tmpdir, tmp_path):
    d = Direct()
    pid = submit(d, tmp_path, ["sleep 2"])
    private = status_dir()
    outside = tmp_path / "outside"
    outside.write_text("0\n")
    os.symlink(outside, os.path.join(private, pid))
    assert d.query([pid]) == {pid: "running"}  # the link is not read
    assert wait_for(lambda: d.query([pid])[pid] != "running", timeout=20)
    assert d.query([pid]) == {pid: "completed"}
    assert not os.path.islink(os.path.join(private, pid))  # replaced, not written through
    assert outside.read_text() == "0\n"


def test_failed_dependency_fails_without_running(private_tmpdir, tmp_path):
    d = Direct()
    first = submit(d, tmp_path, ["exit 3"])
    sub = Submission("second", [f"touch {tmp_path}/ran"], after=[first])
    second = d.submit(d.render(sub), sub, str(tmp_path / "scripts"))
    assert wait_for(lambda: d.query([first, second]) == {first: "failed", second: "failed"},
                    timeout=20)
    assert not (tmp_path / "ran").exists()
    with pytest.raises(SchedulerError, match="not a process id"):
        d.submit("", Submission("x", [], after=["1; touch pwned"]), str(tmp_path))


DAY = 86400


def age(path, days):
    then = time.time() - days * DAY
    os.utime(path, (then, then), follow_symlinks=False)


def plant_statuses(private, days, names):
    for name in names:
        path = os.path.join(private, name)
        with open(path, "w") as f:
            f.write("0\n")
        age(path, days)


def test_statuses_of_jobs_ended_a_week_ago_are_pruned_the_rest_kept(private_tmpdir, tmp_path):
    private = status_dir()
    plant_statuses(private, 8, ["4000001", "4000002", "4000003.tmp"])  # ended 8 days ago
    plant_statuses(private, 6, ["4000004"])  # 6 days: still kept
    plant_statuses(private, 30, ["notes.txt"])  # not a status file: never ours to remove
    plant_statuses(private, 8, [".pruning-999999999-140000"])  # left by a pruner killed midway
    outside = tmp_path / "outside"
    outside.write_text("0\n")
    age(outside, 30)
    os.symlink(outside, os.path.join(private, "4000005"))
    age(os.path.join(private, "4000005"), 30)  # an old link: removed, its target not touched
    d = Direct()
    assert d.query(["4000001", "4000004"]) == {"4000001": "unknown", "4000004": "completed"}
    assert sorted(os.listdir(private)) == ["4000004", "notes.txt"]
    assert outside.read_text() == "0\n"
    pid = submit(d, tmp_path, ["true"])  # a new job's status lands beside the kept one
    assert wait_for(lambda: d.query([pid])[pid] == "completed", timeout=20)
    assert sorted(os.listdir(private)) == sorted(["4000004", "notes.txt", pid])


def test_two_processes_pruning_at_once_remove_each_old_status_once(private_tmpdir):
    private = status_dir()
    old = [str(5000000 + i) for i in range(400)]
    fresh = [str(6000000 + i) for i in range(50)]
    plant_statuses(private, 10, old)
    plant_statuses(private, 0, fresh)
    code = "from schedulers.direct import prune_statuses; print(prune_statuses())"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    assert sum(int(out) for out, _ in outs) == len(old)  # each removed by exactly one
    assert sorted(os.listdir(private)) == sorted(fresh)


def test_a_stale_status_under_a_new_jobs_id_is_gone_once_submit_returns(
        private_tmpdir, tmp_path, monkeypatch):
    """Process ids come round again (32768 of them by default), and a status file outlives
    its process: the one an earlier process left under the new job's id must be gone when
    submit returns, or a query at once reads the new job as already ended. The wrapper's
    ``rm`` of it is made slow here, so that a submit that does not wait for it loses every
    time."""
    d = Direct()
    statuses = status_dir()
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    with open("/proc/sys/kernel/ns_last_pid") as f:
        last = int(f.read())
    # every id the next processes may get: "completed" by an earlier process
    planted = {(last + k) % pid_max for k in range(1, 5000)} - set(range(300))
    for pid in planted:
        with open(os.path.join(statuses, str(pid)), "w") as f:
            f.write("0\n")
    slow = tmp_path / "bin"
    slow.mkdir()
    (slow / "rm").write_text(f'#!/bin/sh\nsleep 2\nexec {shutil.which("rm")} "$@"\n')
    (slow / "rm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{slow}:{os.environ['PATH']}")
    go = tmp_path / "go"
    pid = submit(d, tmp_path, [f"while [ ! -e {go} ]; do sleep 0.05; done", "exit 7"])
    try:
        assert int(pid) in planted  # the test planted under the id the job got
        assert d.query([pid]) == {pid: "running"}
    finally:
        go.touch()  # the job ends, whatever was asserted
    assert wait_for(lambda: d.query([pid]) == {pid: "failed"}, timeout=120)
