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

    def create_job(self, *args, **kwargs):
        if self.left == 0:
            raise ConnectionError("connection dropped")
        self.left -= 1
        return super().create_job(*args, **kwargs)


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
real = replica.Replica.create_job
count = {"n": 0}
def create_job(self, *a, **k):
    real(self, *a, **k)
    count["n"] += 1
    if count["n"] == 7:
        os.kill(os.getpid(), signal.SIGKILL)
replica.Replica.create_job = create_job
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
