"""Syncs while other processes write: no write is ever lost, and records stay honest.

A real writer process (tests/sync/writer.py) keeps updating documents and files of many jobs
on both sides while a sync runs, directly and over each transport; two real sync processes of
the same pair run at once (the far side's lock over each transport)."""

import os
import subprocess
import sys
import threading
import time

import pytest

import suite
import sync
from tests.sync.conftest import started_far_side
from tests.sync.writer import Writer, content

N = 240
#: each side's writer: its document key and the files it rewrites (ones the sync replaces or
#: deletes on that side)
LAPTOP = {"key": "wl", "files": ["shared.txt", "gone.txt"]}
CLUSTER = {"key": "wr", "files": ["pushed.txt", "rgone.txt"]}


def write(job, name, text):
    with open(job.fn(name), "w") as f:
        f.write(text)


def read(job, name):
    try:
        with open(job.fn(name)) as f:
            return f.read()
    except FileNotFoundError:
        return None


@pytest.fixture
def busy_pair(tmp_path):
    """Two synced projects of N jobs, then changes on both sides that the next sync carries
    over in both directions: documents merged on both sides, files replaced and deleted."""
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    with suite.buffered():
        for i in range(N):
            job = lap.open_job({"i": i}).init()
            job.doc.i = i
            for name in ("shared.txt", "gone.txt", "pushed.txt", "rgone.txt"):
                write(job, name, f"{name} as first synced")
    assert sync.sync(lap, clu.path).exit_status == 0
    with suite.buffered():
        for job in clu:
            job.doc.b = 1
            write(job, "shared.txt", "changed on the cluster")
            os.unlink(job.fn("gone.txt"))
        for job in lap:
            job.doc.a = 1
            write(job, "pushed.txt", "changed on the laptop")
            os.unlink(job.fn("rgone.txt"))
    return lap, clu


def _slowly(go):
    """A progress callback: the writer starts once the sync has listed both sides, and each
    job takes a little longer, so that the two meet half-way."""

    def progress(done, total):
        if done == 1:
            open(go, "w").close()
        time.sleep(0.002)

    return progress


def _lost(lap, clu, last, conflicts):
    """The writer's last writes missing: on the side it wrote, or on the other side without
    a conflict that explains it."""
    lost = []
    for (side, spec), other in (((lap, LAPTOP), clu), ((clu, CLUSTER), lap)):
        for job_id, n in last[side.path].items():
            here, there = side.open_job(id=job_id), other.open_job(id=job_id)
            for where in (here, there):
                if where.doc.get(spec["key"]) != n:
                    lost.append((job_id, spec["key"], where.doc.get(spec["key"]), n))
            for name in spec["files"]:
                if read(here, name) != content(spec["key"], n):
                    lost.append((job_id, name, "here"))
                if read(there, name) != content(spec["key"], n) and \
                        (job_id, name) not in conflicts:
                    lost.append((job_id, name, "there"))
    return lost


def _run_with_writer(tmp_path, lap, clu, dest, **kwargs):
    """The sync during the writer's run, then two more; ``kwargs`` as for sync.sync."""
    go = str(tmp_path / "go")
    writer = Writer(tmp_path, [{"path": lap.path, **LAPTOP}, {"path": clu.path, **CLUSTER}],
                    go=go)
    try:
        writer.wait_armed()
        result = sync.sync(lap, dest, progress=_slowly(go), **kwargs)
    finally:
        done = writer.stop()
    # the writer has stopped: two more syncs bring every write to both sides
    sync.sync(lap, dest, **kwargs)
    final = sync.sync(lap, dest, **kwargs)
    conflicts = {(c["job"], c.get("path")) for c in final.conflicts}
    return result, final, done, _lost(lap, clu, done["last"], conflicts)


def _check(result, final, done, lost):
    print(f"writer: {done['writes']} steps; sync during it: {len(result.actions)} actions, "
          f"{len(getattr(result, 'changed', []))} changed during sync; lost: {len(lost)}")
    assert not lost, lost[:10]
    # the writer did run while the sync did (or the test proves nothing)
    assert result.changed and result.exit_status == sync.engine.EXIT_CHANGED, result.format()
    assert {c["side"] for c in result.changed} == {"local", "remote"}, result.changed
    assert not final.changed, final.format()
    assert final.exit_status in (0, sync.engine.EXIT_CONFLICTS), final.format()
    # conflicts only where both sides really changed a file (the writer vs the other side)
    assert all(c.get("path") in ("shared.txt", "gone.txt", "pushed.txt", "rgone.txt")
               for c in final.conflicts)


def test_no_write_is_lost_during_a_local_sync(tmp_path, busy_pair):
    lap, clu = busy_pair
    _check(*_run_with_writer(tmp_path, lap, clu, clu.path))
    # the documents' merged keys survive as well
    for side in (lap, clu):
        assert all(j.doc.get("a") == 1 and j.doc.get("b") == 1 for j in side)


def test_no_write_is_lost_during_a_sync_over_each_transport(tmp_path, busy_pair, transport):
    lap, clu = busy_pair
    _check(*_run_with_writer(tmp_path, lap, clu, transport.url(clu.path), **transport.options))
    for side in (lap, clu):
        assert all(j.doc.get("a") == 1 and j.doc.get("b") == 1 for j in side)


#: a sync that holds the pair's lock: after listing, it stops until the file argv[4] exists
#: (at most 120 s), so that the syncs that must wait for it do whatever the machine's load
HOLDER = """
import os, sys, time
import suite, sync
def progress(done, total):
    if done == 1:
        open(sys.argv[3], "w").close()
        deadline = time.monotonic() + 120
        while not os.path.exists(sys.argv[4]) and time.monotonic() < deadline:
            time.sleep(0.01)
sys.exit(sync.sync(suite.get_project(sys.argv[1]), sys.argv[2], progress=progress).exit_status)
"""


def _hold_lock(tmp_path, lap, clu):
    """The holding sync, once it holds the lock; it goes on when ``tmp_path/"release"`` is
    made."""
    started = tmp_path / "started"
    first = subprocess.Popen([sys.executable, "-c", HOLDER, lap.path, clu.path, str(started),
                              str(tmp_path / "release")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists():
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return first


def _all_synced(lap, clu):
    for side in (lap, clu):
        assert len(side) == N
        for job in side:
            assert job.doc.get("a") == 1 and job.doc.get("b") == 1
            assert read(job, "shared.txt") == "changed on the cluster"
            assert read(job, "pushed.txt") == "changed on the laptop"
            assert read(job, "gone.txt") is None and read(job, "rgone.txt") is None
    again = sync.sync(lap, clu.path)
    assert not again.actions and not again.conflicts and not again.changed


def test_two_syncs_of_one_pair_take_turns(tmp_path, busy_pair):
    """A second sync of the same pair (here started from the other side, as a cron job on the
    cluster would) waits for the first, says so, then finds nothing left to do."""
    lap, clu = busy_pair
    first = _hold_lock(tmp_path, lap, clu)
    with pytest.raises(sync.SyncError, match="another sync .* still running after 0 s"):
        sync.sync(clu, lap.path, lock_wait=0.2)
    with open(tmp_path / "second.err", "w+") as err_file:
        second = subprocess.Popen(["suite", "sync", lap.path], cwd=clu.path, text=True,
                                  stdout=subprocess.PIPE, stderr=err_file)
        deadline = time.monotonic() + 120  # it says it waits; then the first may go on
        while "waiting for another sync" not in (tmp_path / "second.err").read_text():
            assert second.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        (tmp_path / "release").touch()
        second_out = second.communicate(timeout=300)[0]
        second_err = (tmp_path / "second.err").read_text()
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, out + err
    assert second.returncode == 0, second_out + second_err
    assert "waiting for another sync of this pair to finish (sync pid" in second_err
    assert "changed 0 item(s)" in second_out  # the first one had done everything
    _all_synced(lap, clu)


def test_a_sync_over_a_transport_waits_for_the_far_sides_lock(tmp_path, busy_pair, transport):
    """The far side's record is locked too (by its suite process), in the same order from
    either side, so syncs started from both ends cannot deadlock."""
    lap, clu = busy_pair
    first = _hold_lock(tmp_path, lap, clu)
    # one of these two takes the far side's lock first: the lock op goes over the wire
    for here, there in ((lap, clu), (clu, lap)):
        with pytest.raises(sync.SyncError, match="another sync .* still running"):
            transport.sync(here, there.path, lock_wait=0.2)
    waited = []

    def notify(message):  # it waits: now the first may go on
        waited.append(message)
        (tmp_path / "release").touch()

    result = transport.sync(clu, lap.path, notify=notify)
    assert first.wait(timeout=300) == 0
    assert result.exit_status == 0 and not result.actions and waited
    _all_synced(lap, clu)


#: holds one side's lock of a pair (argv: project, peer identity, flag file, release file)
#: until the release file exists (at most 120 s)
LOCKER = """
import os, sys, time
from sync.replica import Replica
replica = Replica(sys.argv[1])
assert replica.try_lock(sys.argv[2]) is None
open(sys.argv[3], "w").close()
deadline = time.monotonic() + 120
while not os.path.exists(sys.argv[4]) and time.monotonic() < deadline:
    time.sleep(0.01)
"""


def test_waiting_for_the_far_sides_lock_does_not_trip_the_read_timeout(tmp_path, busy_pair,
                                                                        transport):
    """The far side waits for its lock inside one request, longer than the read timeout:
    its heartbeats keep the connection alive, and the sync then runs."""
    lap, clu = busy_pair
    flag, release = tmp_path / "locked", tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", LOCKER, clu.path,
                               sync.Replica(lap.path).identity(), str(flag), str(release)])
    waited, timers = [], []

    def notify(message):
        # the far side waits now: the lock goes 2.5 read timeouts later, whatever the load
        waited.append(message)
        if not timers:
            timers.append(threading.Timer(5, release.touch))
            timers[0].start()

    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert holder.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        # started ahead: the 2 s are for the heartbeats, not for a loaded machine's start
        with started_far_side(tmp_path, "", clu.path) as (remote, _):
            result = transport.sync(lap, clu.path, remote_suite=remote, timeout=2,
                                    notify=notify)
        assert release.exists()  # it did wait, for longer than the timeout
    finally:
        for timer in timers:
            timer.join()
        release.touch()
        holder.wait(timeout=60)
    assert waited and result.exit_status == 0, result.format()
    _all_synced(lap, clu)


@pytest.mark.parametrize("here_id", ["smaller", "larger"])
def test_no_lock_is_held_while_a_sync_waits_for_the_other(tmp_path, busy_pair, transport,
                                                         here_id):
    """The far side's lock is asked for with the connection (issue #18: a round trip less),
    before this side knows the pair's order (the smaller id's side first). Whichever side's
    lock another process holds, the sync waits holding neither: a far lock taken out of
    order is given back before this side's is waited for, so syncs started from both ends
    cannot deadlock. The sync then runs."""
    from sync.replica import Replica

    lap, clu = busy_pair
    ids = {p: Replica(p.path).identity() for p in (lap, clu)}
    here, there = sorted((lap, clu), key=ids.get, reverse=here_id == "larger")
    # the lock the pair's order takes first is held: here's when its id is the smaller
    busy, peer, other = (here, ids[there], there) if here_id == "smaller" else \
        (there, ids[here], here)
    flag, release = tmp_path / "locked", tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", LOCKER, busy.path, peer, str(flag),
                               str(release)])
    free = []

    def notify(message):  # waiting: the other side's lock of the pair must be free
        if not free:
            replica = Replica(other.path)
            free.append(replica.try_lock(ids[busy]))
            replica.unlock(ids[busy])
            release.touch()

    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert holder.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        result = transport.sync(here, there.path, notify=notify)
    finally:
        release.touch()
        holder.wait(timeout=60)
    assert free == [None], free
    assert result.exit_status == 0, result.format()
    _all_synced(lap, clu)


def test_each_write_checks_its_target(tmp_path):
    """The replica's writes, one by one, against a target changed after it was listed."""
    from sync.replica import Replica

    proj = suite.init_project(tmp_path / "p")
    job = proj.open_job({"i": 0}).init()
    job.doc.a = 1
    write(job, "f.txt", "listed")
    replica = Replica(proj.path)
    listed = replica.snapshot()["jobs"][job.id]
    write(job, "f.txt", "changed meanwhile")
    note = {"job": job.id, "path": "f.txt"}
    assert replica.write(job.id, "f.txt", b"from the sync", 1, listed["files"]["f.txt"]) == note
    assert replica.delete_file(job.id, "f.txt", listed["files"]["f.txt"]) == note
    assert replica.write(job.id, "f.txt", b"x", 1, None) == note  # expected no file there
    assert read(job, "f.txt") == "changed meanwhile"
    assert replica.delete_job(job.id, {"files": listed["files"], "doc": "whatever"}) == \
        {"job": job.id, "path": None}
    assert job in proj and read(job, "f.txt") == "changed meanwhile"
    # a job made here meanwhile is not replaced by the other side's copy
    assert replica.create_job(job.id, replica.statepoint(job.id), {}, []) == \
        {"job": job.id, "path": None}
    # documents: a change meanwhile in other keys is merged, in the same keys refused
    job.doc.w = 5
    assert replica.write_doc(job.id, {"a": 1, "b": 2}, {"a": 1}) is None
    assert job.doc() == {"a": 1, "w": 5, "b": 2}
    job.doc.a = 7
    doc_note = {"job": job.id, "path": "signac_job_document.json"}
    assert replica.write_doc(job.id, {"a": 3, "b": 2, "w": 5}, {"a": 1, "b": 2, "w": 5}) == \
        doc_note
    assert job.doc() == {"a": 7, "w": 5, "b": 2}
    assert replica.changed.count(doc_note) == 1 and len(replica.changed) == 6
    # unchanged targets are written
    now = replica.snapshot()["jobs"][job.id]
    assert replica.write(job.id, "f.txt", b"from the sync", 1, now["files"]["f.txt"]) is None
    assert read(job, "f.txt") == "from the sync"
    assert os.stat(job.fn("f.txt")).st_mtime_ns == 1
    assert not [n for n in os.listdir(job.path) if ".suite-tmp" in n]


def test_a_job_deleted_during_the_sync_is_not_brought_back(tmp_path):
    """Files (small or streamed in chunks) for a job deleted here after the listing are not
    written: no job directory without its state point appears."""
    from sync.replica import Replica

    proj = suite.init_project(tmp_path / "p")
    job = proj.open_job({"i": 0}).init()
    write(job, "f.txt", "listed")
    replica = Replica(proj.path)
    listed = replica.snapshot()["jobs"][job.id]["files"]["f.txt"]
    job.remove()
    assert replica.write(job.id, "f.txt", b"new", 1, listed) == {"job": job.id, "path": "f.txt"}
    assert replica.write(job.id, "sub/g.txt", b"new", 1, None)["path"] == "sub/g.txt"
    assert replica.write_stream(job.id, "big.h5", iter([b"x" * 10, b"y"]), 1, None) == 11
    assert replica.apply_delta(job.id, "f.txt", b"", 1, listed)["path"] == "f.txt"
    assert replica.write_doc(job.id, {"a": 1}, {})["path"] == "signac_job_document.json"
    assert not os.path.exists(job.path) and len(replica.changed) == 5


def test_links_are_written_and_deleted_with_the_same_checks(tmp_path):
    """write_link and the deletion of a link check what is there as every write does, and a
    link stays a link (never a hard link to its target) when made where nothing was or put
    back after a refused deletion."""
    from sync.replica import Replica

    proj = suite.init_project(tmp_path / "p")
    job = proj.open_job({"i": 0}).init()
    write(job, "a.txt", "a")
    write(job, "b.txt", "b")
    os.symlink("a.txt", job.fn("alias"))
    replica = Replica(proj.path)
    listed = replica.snapshot()["jobs"][job.id]["files"]
    assert listed["alias"][3] == "a.txt" and len(listed["a.txt"]) == 3
    # made where nothing was listed: a link, not a copy of its target
    assert replica.write_link(job.id, "new", "b.txt", 1, None) is None
    assert os.readlink(job.fn("new")) == "b.txt"
    assert replica.write_link(job.id, "new", "a.txt", 1, None) == {"job": job.id, "path": "new"}
    # retargeted after the listing: neither replaced nor deleted; it stays the newer link
    os.unlink(job.fn("alias"))
    os.symlink("b.txt", job.fn("alias"))
    assert replica.write_link(job.id, "alias", "a.txt", 1, listed["alias"])["path"] == "alias"
    assert replica.delete_file(job.id, "alias", listed["alias"])["path"] == "alias"
    assert os.path.islink(job.fn("alias")) and os.readlink(job.fn("alias")) == "b.txt"
    # unchanged since the listing: replaced
    now = replica.snapshot()["jobs"][job.id]["files"]["alias"]
    assert replica.write_link(job.id, "alias", "a.txt", 1, now) is None
    assert os.readlink(job.fn("alias")) == "a.txt"
    assert not [n for n in os.listdir(job.path) if ".suite-tmp" in n]
