"""Interrupted syncs resume; a malicious peer cannot write outside the project. The peers here
are in-process replicas with a fault built in (a hook no far side process has), except the
killed sync, which also runs over each transport."""

import os
import signal
import subprocess
import sys

import pytest

import suite
import sync
from sync.engine import Sync
from sync.replica import Replica


@pytest.fixture
def pair(tmp_path):
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    for i in range(30):
        job = lap.open_job({"i": i}).init()
        job.doc.step = i
        with open(job.fn("out.txt"), "w") as f:
            f.write(str(i) * 100)
    return lap, clu


class Flaky(Replica):
    """A replica whose connection drops after some jobs arrived."""

    def __init__(self, path, fail_after):
        super().__init__(path, label="flaky")
        self.left = fail_after

    def _arrive(self):
        if self.left == 0:
            raise ConnectionError("connection dropped")
        self.left -= 1

    def create_job(self, *args, **kwargs):
        self._arrive()
        return super().create_job(*args, **kwargs)

    def copy_local_job(self, *args, **kwargs):  # how a local sync lands a plain job
        self._arrive()
        return super().copy_local_job(*args, **kwargs)


def test_dropped_connection_then_resume(pair):
    lap, clu = pair
    with pytest.raises(ConnectionError):
        Sync(Replica(lap.path), Flaky(clu.path, 12)).run()
    assert len(clu) == 12  # complete jobs only
    assert all(j.doc.step == j.sp.i for j in clu)
    assert not [n for n in os.listdir(clu.workspace) if n.startswith(".suite-tmp")]
    result = sync.sync(lap, clu.path)
    assert result.exit_status == 0 and len(clu) == 30
    assert sync.sync(lap, clu.path).actions == []


KILL = r"""
import os, signal, sys
import suite, sync
from sync import replica
count = {"n": 0}
def killing(real):
    def land(self, *a, **k):
        real(self, *a, **k)
        count["n"] += 1
        if count["n"] == 7:
            os.kill(os.getpid(), signal.SIGKILL)
    return land
# a local sync lands plain jobs by copy_local_job, others by create_job
replica.Replica.create_job = killing(replica.Replica.create_job)
replica.Replica.copy_local_job = killing(replica.Replica.copy_local_job)
sync.sync(suite.get_project(sys.argv[1]), sys.argv[2])
"""


def test_killed_process_then_resume(pair):
    lap, clu = pair
    proc = subprocess.run([sys.executable, "-c", KILL, lap.path, clu.path])
    assert proc.returncode == -signal.SIGKILL
    assert len(clu) == 7
    lap.open_job({"i": 0}).doc.changed = "after the kill"
    result = sync.sync(lap, clu.path)
    assert result.exit_status == 0 and len(clu) == 30
    assert clu.open_job(id=lap.open_job({"i": 0}).id).doc.changed == "after the kill"


#: killed inside create_job, after the 7th job's files are written into its staging directory
#: and before that directory is renamed to the job's name
KILL_STAGED = r"""
import os, signal, sys
import suite, sync
from sync import replica
real, count = os.rename, {"n": 0}
def rename(src, dst, *a, **k):
    if os.path.basename(src).startswith(".suite-tmp-sync-"):
        count["n"] += 1
        if count["n"] == 7:
            os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, *a, **k)
replica.os.rename = rename
sync.sync(suite.get_project(sys.argv[1]), sys.argv[2])
"""


def test_killed_while_a_job_is_staged_then_resume(pair):
    """A job's files are written into one staging directory, renamed once: killed before
    that rename, no part of the job is under its name, and the next sync lands it whole."""
    lap, clu = pair
    proc = subprocess.run([sys.executable, "-c", KILL_STAGED, lap.path, clu.path])
    assert proc.returncode == -signal.SIGKILL
    assert len(clu) == 6
    staged = [n for n in os.listdir(clu.workspace) if n.startswith(".suite-tmp-sync-")]
    assert len(staged) == 1  # the 7th job, whole, under a temporary name only
    assert sorted(os.listdir(os.path.join(clu.workspace, staged[0]))) == [
        "out.txt", "signac_job_document.json", "signac_statepoint.json"]
    assert staged[0][len(".suite-tmp-sync-"):][:32] not in os.listdir(clu.workspace)
    result = sync.sync(lap, clu.path)
    assert result.exit_status == 0 and len(clu) == 30
    assert not [n for n in os.listdir(clu.workspace) if n.startswith(".suite-tmp")]  # removed
    for job in clu:
        assert job.doc.step == job.sp.i
        with open(job.fn("out.txt")) as f:
            assert f.read() == str(job.sp.i) * 100
        assert os.stat(job.fn("out.txt")).st_mtime_ns == \
            os.stat(lap.open_job(id=job.id).fn("out.txt")).st_mtime_ns


def test_a_staging_directory_left_by_the_same_process_id_is_replaced(pair):
    """Process ids come round again: a staging directory a killed sync left under this
    process's name is emptied, not merged into the new job."""
    lap, clu = pair
    job = lap.open_job({"i": 4})
    stale = os.path.join(clu.workspace, f".suite-tmp-sync-{job.id}-{os.getpid()}")
    os.makedirs(os.path.join(stale, "old"))
    with open(os.path.join(stale, "left.txt"), "w") as f:
        f.write("from the killed sync")
    with open(job.fn("signac_statepoint.json"), "rb") as f:
        sp = f.read()
    assert Replica(clu.path).create_job(job.id, sp, {"step": 4}, [("out.txt", b"x", 5)]) is None
    assert sorted(os.listdir(os.path.join(clu.workspace, job.id))) == [
        "out.txt", "signac_job_document.json", "signac_statepoint.json"]
    assert not os.path.exists(stale)
    assert clu.open_job(id=job.id).doc() == {"step": 4}


#: a sync over a transport (argv: project, url, options as JSON) whose process is killed once
#: 8 jobs are done: the far side's suite process sees its input end mid-stream
KILL_CLIENT = r"""
import json, os, signal, sys
import suite, sync
def progress(done, total):
    if done == 8:
        os.kill(os.getpid(), signal.SIGKILL)
sync.sync(suite.get_project(sys.argv[1]), sys.argv[2], progress=progress,
          **json.loads(sys.argv[3]))
"""


def test_killed_process_over_a_transport_then_resume(transport, pair):
    """Killed half-way with writes in flight to the far side: only complete jobs there, no
    temporary files left, and the next sync (waiting for the far side's lock if its process
    is still ending) finishes the job."""
    import json

    lap, clu = pair
    proc = subprocess.run([sys.executable, "-c", KILL_CLIENT, lap.path,
                           transport.url(clu.path), json.dumps(transport.options)])
    assert proc.returncode == -signal.SIGKILL
    assert len(clu) < 30
    assert all(j.doc.step == j.sp.i and j.isfile("out.txt") for j in clu)
    lap.open_job({"i": 0}).doc.changed = "after the kill"
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0 and len(clu) == 30
    assert clu.open_job(id=lap.open_job({"i": 0}).id).doc.changed == "after the kill"
    assert not [n for n in os.listdir(clu.workspace) if n.startswith(".suite-tmp")]
    assert not [p for j in clu for p in os.listdir(j.path) if "suite-tmp" in p]


#: a first pull over a transport (argv: project, url, options as JSON) in batches of two
#: jobs, three asked for ahead, killed once 9 jobs are done: answers left unread in flight
KILL_PULL = r"""
import json, os, signal, sys
import suite, sync
from sync.engine import Sync
Sync.FETCH_JOBS, Sync.FETCH_AHEAD = 2, 3
def progress(done, total):
    if done == 9:
        os.kill(os.getpid(), signal.SIGKILL)
sync.sync(suite.get_project(sys.argv[1]), sys.argv[2], progress=progress,
          **json.loads(sys.argv[3]))
"""


def test_first_pull_killed_with_batches_in_flight_then_resume(transport, pair, tmp_path):
    """A first pull killed while batches asked for ahead are unread lands complete jobs only,
    and the next pull brings the rest, each file as the far side has it."""
    import json

    lap, _ = pair
    here = suite.init_project(tmp_path / "here")
    proc = subprocess.Popen([sys.executable, "-c", KILL_PULL, here.path,
                             transport.url(lap.path), json.dumps(transport.options)])
    assert proc.wait(timeout=300) == -signal.SIGKILL
    assert 0 < len(here) < 30
    assert all(j.doc.step == j.sp.i and j.isfile("out.txt") for j in here)
    # a batch being staged when the kill came may have left its hidden staging directory
    # (named for the dead process; no job): the next sync removes it (sync/leftovers.py)
    staged = [n for n in os.listdir(here.workspace) if n.startswith(".suite-tmp")]
    assert all(n.endswith(f"-{proc.pid}") for n in staged), staged
    result = transport.sync(here, lap.path)
    assert result.exit_status == 0 and len(here) == 30
    assert not [n for n in os.listdir(here.workspace) if n.startswith(".suite-tmp")]
    for job in here:
        assert job.doc.step == job.sp.i
        with open(job.fn("out.txt")) as f:
            assert f.read() == str(job.sp.i) * 100
    assert not transport.sync(here, lap.path).actions


class Malicious(Replica):
    """A peer that lists files with paths leaving the job."""

    def snapshot(self, ids=None, exclude=()):
        snap = super().snapshot(ids, exclude)
        for entry in snap["jobs"].values():
            entry["files"]["../../../../escaped.txt"] = [3, 1]
        return snap

    def read(self, job_id, rel):
        return b"bad", 1


def test_malicious_peer_paths_refused(pair, tmp_path):
    lap, clu = pair
    sync.sync(lap, clu.path)
    with pytest.raises(sync.SyncError, match="refused path"):
        Sync(Replica(lap.path), Malicious(clu.path)).run()
    assert not any(p.name == "escaped.txt" for p in tmp_path.rglob("escaped.txt"))


def test_create_job_checks_every_file_name_after_good_ones(pair):
    """Names are checked once each (a cache): a bad or reserved name after many good ones
    is still refused, and no part of that job lands."""
    import json

    lap, clu = pair
    replica = Replica(clu.path)
    for i in range(3):
        sp = json.dumps({"i": i}).encode()
        assert replica.create_job(suite.calc_id({"i": i}), sp, {}, [("a/out.txt", b"x", 1)]) \
            is None
    for bad, match in (("../out.txt", "refused path"), ("a//b", "refused path"), (7, "refused path"),
                       ("signac_statepoint.json", "ordinary file"), ("/etc/x", "refused path")):
        sp = json.dumps({"i": 9}).encode()
        with pytest.raises(sync.SyncError, match=match):
            replica.create_job(suite.calc_id({"i": 9}), sp, {},
                               [("a/out.txt", b"x", 1), (bad, b"y", 1)])
        assert len(clu) == 3
    assert sorted(os.listdir(clu.workspace)) == sorted(j.id for j in clu)


def test_peer_sending_a_wrong_statepoint_refused(pair):
    lap, clu = pair
    replica = Replica(clu.path)
    with pytest.raises(sync.SyncError, match="hashes to"):
        replica.create_job("0" * 32, b'{"i": 1}', {}, [])
    assert len(clu) == 0


def test_corrupt_document_is_reported_instead_of_looking_empty(pair):
    lap, clu = pair
    sync.sync(lap, clu.path)
    job = lap.open_job({"i": 3})
    with open(job.fn("signac_job_document.json"), "w") as f:
        f.write("{broken")
    result = sync.sync(lap, clu.path)
    assert result.exit_status == 5
    assert [(u["job"], u["side"]) for u in result.unreadable] == [(job.id, "local")]
    assert job.id in result.unreadable[0]["reason"]
    assert clu.open_job(id=job.id).doc() == {"step": 3}  # the other side kept its document


def test_cold_index_snapshot_reads_documents_and_refuses_corrupt_ones(pair):
    """A side whose index holds fewer than half its jobs (just unpacked or synced there)
    reads documents directly; a corrupt one is listed as unreadable, naming the job."""
    lap, clu = pair
    sync.sync(lap, clu.path)
    os.unlink(clu.fn(".suite/index.sqlite"))  # the index is a cache: gone, nothing lost
    replica = Replica(clu.path)
    snap = replica.snapshot()
    assert replica.index_cold
    assert {i: e["doc"] for i, e in snap["jobs"].items()} == {j.id: j.doc() for j in lap}
    job = clu.open_job({"i": 2})
    with open(job.fn("signac_job_document.json"), "w") as f:
        f.write("{broken")
    os.unlink(clu.fn(".suite/index.sqlite"))
    snap = Replica(clu.path).snapshot()
    assert job.id not in snap["jobs"] and "corrupt file" in snap["unreadable"][job.id]
    warm = Replica(lap.path)  # its index knows every job: documents come from the index
    assert warm.snapshot()["jobs"] and not warm.index_cold
