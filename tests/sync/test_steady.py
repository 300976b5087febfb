"""Jobs in which nothing moved since the record are passed over without being looked at
(sync.steady.steady_jobs): every kind of change, on either side, must still be seen, and
what the quick check (size and mtime, as rsync's) cannot see is decided here. Every case runs
over each transport (paramiko, openssh, local: tests/sync/conftest.py)."""

import json
import os
import shutil

import pytest

import suite
from suite import layout
from sync.replica import Replica


@pytest.fixture
def pair(tmp_path, transport):
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    for i in range(3):
        job = lap.open_job({"i": i}).init()
        job.doc.step = 1
        with open(job.fn("out.txt"), "w") as f:
            f.write(f"result {i}")
        os.utime(job.fn("out.txt"), ns=(10**18, 10**18))  # far from this clock's tick
    assert transport.sync(lap, clu.path).exit_status == 0
    assert transport.sync(lap, clu.path).actions == []  # steady: nothing to do
    return lap, clu


def _job(project):
    return project.open_job({"i": 1})


def _rewrite(job, text, mtime_ns=None):
    with open(job.fn("out.txt"), "r+") as f:  # in place: the inode stays
        f.write(text)
        f.truncate()
    if mtime_ns is not None:
        os.utime(job.fn("out.txt"), ns=(mtime_ns, mtime_ns))


def _changes():
    return {
        "bigger file": lambda j: _rewrite(j, "result 1 and more"),
        "same size, other mtime": lambda j: _rewrite(j, "RESULT 1", 10**18 + 1),
        "new file": lambda j: open(j.fn("new.txt"), "w").write("new"),
        "file deleted": lambda j: os.unlink(j.fn("out.txt")),
        "doc value": lambda j: j.doc.__setitem__("step", 2),
        "doc int to float": lambda j: j.doc.__setitem__("step", 1.0),  # 1 == 1.0 in Python
        "doc key added": lambda j: j.doc.__setitem__("extra", [1]),
    }


@pytest.mark.parametrize("side", ["local", "remote"])
@pytest.mark.parametrize("change", sorted(_changes()))
def test_every_change_to_a_steady_job_is_synced(transport, pair, change, side):
    lap, clu = pair
    here, there = (lap, clu) if side == "local" else (clu, lap)
    _changes()[change](_job(here))
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0 and len(result.actions) == 1, result.format()
    a, b = _job(lap), _job(clu)
    assert sorted(os.listdir(a.path)) == sorted(os.listdir(b.path))
    for name in os.listdir(a.path):
        with open(a.fn(name), "rb") as f, open(b.fn(name), "rb") as g:
            assert f.read() == g.read(), name
    assert type(a.doc["step"]) is type(b.doc["step"])
    assert transport.sync(lap, clu.path).actions == []  # steady again


def test_a_rewrite_in_the_same_tick_and_size_needs_checksum(transport, pair):
    """Decided: as rsync's quick check, a file rewritten in place with the same size and
    the same mtime (two writes in one tick of the file system's clock) is not seen by size
    and mtime; ``--checksum`` compares contents and reports it (a conflict: the record
    cannot tell which side wrote), never overwriting either side."""
    lap, clu = pair
    _rewrite(_job(lap), "RESULT 1", 10**18)
    assert transport.sync(lap, clu.path).actions == []
    result = transport.sync(lap, clu.path, checksum=True)
    assert [c["path"] for c in result.conflicts] == ["out.txt"]
    with open(_job(lap).fn("out.txt")) as f, open(_job(clu).fn("out.txt")) as g:
        assert (f.read(), g.read()) == ("RESULT 1", "result 1")


@pytest.mark.parametrize("side", ["local", "remote"])
def test_a_job_deleted_on_one_side_is_deleted_on_the_other(transport, pair, side):
    """A far side's snapshot since the record leaves out its steady jobs and names the
    record's jobs it no longer has (``gone``): a job it deleted is not taken as steady."""
    lap, clu = pair
    here, there = (lap, clu) if side == "local" else (clu, lap)
    shutil.rmtree(_job(here).path)
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0 and [a["action"] for a in result.actions] == \
        ["delete job"], result.format()
    assert not os.path.exists(os.path.join(there.workspace, _job(lap).id))
    assert len(lap) == len(clu) == 2
    assert transport.sync(lap, clu.path).actions == []


def test_a_no_op_snapshot_holds_no_job(pair):
    """Since the record, a side with nothing changed lists no job, names its record by the
    digest the other side's copy has, and the engine finds nothing to do."""
    lap, clu = pair
    far, near = Replica(clu.path), Replica(lap.path)
    near.load_record(far.identity())
    snap = far.snapshot(since=near.identity())
    assert snap["jobs"] == {} and snap["since"]["gone"] == []
    assert snap["since"]["record"] == near.record_digest(far.identity()) is not None
    whole = far.snapshot()
    assert len(whole["jobs"]) == 3 and "since" not in whole
    _job(clu).doc.step = 5  # one job moved: only it is listed
    snap = far.snapshot(since=near.identity())
    assert list(snap["jobs"]) == [_job(clu).id] and snap["jobs"][_job(clu).id]["doc"] == \
        {"step": 5}
    assert far.snapshot(since="0" * 32) == far.snapshot()  # no record of that peer: whole


def test_a_far_record_that_is_not_this_sides_is_not_trusted(transport, pair):
    """The far side judges its jobs against its own copy of the record; when that copy is
    not this side's (a sync stopped before saving it there, or restored from a backup), a
    job it calls steady may not be: the whole listing is asked for instead. Here the far
    side's old record agrees with a change made there since, which must still come here."""
    lap, clu = pair
    far_record = os.path.join(clu.path, layout.SUITE_DIR, "sync",
                              f"{Replica(lap.path).identity()}.json")
    with open(far_record, "rb") as f:
        old = f.read()
    _job(clu).doc.step = 2
    assert len(transport.sync(lap, clu.path).actions) == 1 and _job(lap).doc.step == 2
    _job(clu).doc.step = 1  # as the old record says
    with open(far_record, "wb") as f:
        f.write(old)
    result = transport.sync(lap, clu.path)
    assert [a["action"] for a in result.actions] == ["merge doc"], result.format()
    assert _job(lap).doc.step == 1
    assert transport.sync(lap, clu.path).actions == []


def test_a_far_record_that_is_not_json_is_rewritten(transport, pair):
    """The far side's copy of the record is only read to leave out its steady jobs: one that
    cannot be read gets a whole listing and is rewritten at the end, as before."""
    lap, clu = pair
    far_record = os.path.join(clu.path, layout.SUITE_DIR, "sync",
                              f"{Replica(lap.path).identity()}.json")
    with open(far_record, "w") as f:
        f.write("{not json")
    _job(clu).doc.step = 3
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0 and len(result.actions) == 1, result.format()
    assert _job(lap).doc.step == 3
    with open(far_record) as f:
        assert json.load(f)["jobs"][_job(lap).id]["doc"] == {"step": 3}
    assert transport.sync(lap, clu.path).actions == []


def _many(tmp_path, n=60):
    project = suite.init_project(tmp_path / "many")
    for i in range(n):
        job = project.open_job({"i": i}).init()
        job.doc.step = i
        with open(job.fn("out.txt"), "w") as f:
            f.write(f"result {i}")
    len(list(project))  # indexed, as a project in use
    return project


def test_a_snapshot_of_a_few_ids_reads_their_files_and_agrees(tmp_path, monkeypatch):
    """A snapshot of a few jobs by id (those steady on one side only) reads their documents
    and state points from the files, not through the index's check of every document
    (issue #18); it answers what the whole snapshot answers for them, an unreadable
    document, a document changed since it was indexed and a state point that is not its
    job's (left to the copy that would land it, as a whole listing does) included."""
    from suite.index import Index

    project = _many(tmp_path, 120)
    ids = sorted(j.id for j in project)
    broken, moved = ids[3], ids[5]
    with open(os.path.join(project.workspace, broken, layout.DOCUMENT), "w") as f:
        f.write("{not json")
    with open(os.path.join(project.workspace, moved, layout.STATEPOINT), "w") as f:
        json.dump({"i": 1000}, f)
    project.open_job(id=ids[1]).doc.step = "new"  # changed since the index read it
    whole = Replica(project.path).snapshot()
    asked = [ids[1], broken, moved, ids[7], "f" * 32]
    seen = []
    monkeypatch.setattr(Index, "documents", lambda *a, **k: seen.append(a) or {})
    few = Replica(project.path).snapshot(asked)
    assert seen == []
    assert few["jobs"] == {j: whole["jobs"][j] for j in asked if j in whole["jobs"]}
    assert few["jobs"][ids[1]]["doc"]["step"] == "new"
    assert set(few["unreadable"]) == {broken} and few["unreadable"][broken]
    assert broken in whole["unreadable"] and moved in few["jobs"]


def test_jobs_steady_on_one_side_only_sync_among_many(transport, tmp_path):
    """Among 60 jobs, one changed here and one changed there (each steady on the other
    side, listed there by id: a few jobs) sync both ways, and an unreadable document among
    them is reported and left alone."""
    lap = _many(tmp_path)
    clu = suite.init_project(tmp_path / "cluster")
    assert transport.sync(lap, clu.path).exit_status == 0
    ids = sorted(j.id for j in lap)
    lap.open_job(id=ids[0]).doc.here = 1
    clu.open_job(id=ids[1]).doc.there = 2
    with open(os.path.join(clu.workspace, ids[2], layout.DOCUMENT), "w") as f:
        f.write("{not json")
    result = transport.sync(lap, clu.path)
    assert [u["job"] for u in result.unreadable] == [ids[2]], result.format()
    for side in (lap, clu):
        assert side.open_job(id=ids[0]).doc.here == 1
        assert side.open_job(id=ids[1]).doc.there == 2
    assert lap.open_job(id=ids[2]).doc() == {"step": lap.open_job(id=ids[2]).sp.i}
    with open(os.path.join(clu.workspace, ids[2], layout.DOCUMENT)) as f:
        assert f.read() == "{not json"


def _cold(project):
    os.unlink(project.fn(os.path.join(layout.SUITE_DIR, "index.sqlite")))  # a cache: rebuilt


@pytest.mark.parametrize("side", ["local", "remote"])
def test_a_cold_index_side_lists_since_the_record_a_chunk_at_a_time(transport, tmp_path,
                                                                    monkeypatch, side):
    """A side whose index is cold (a project another tool wrote, or its index deleted) reads
    its documents from the files, a chunk of jobs at a time since the record (this side's
    chunks made small here): every change in any chunk is still seen, a document that cannot
    be read is reported and left alone, and nothing else is done."""
    monkeypatch.setattr(Replica, "STEADY_CHUNK", 7)
    lap = _many(tmp_path)
    clu = suite.init_project(tmp_path / "cluster")
    assert transport.sync(lap, clu.path).exit_status == 0
    here, there = (lap, clu) if side == "local" else (clu, lap)
    ids = sorted(j.id for j in lap)
    _cold(here)
    ws = here.workspace
    with open(os.path.join(ws, ids[0], layout.DOCUMENT), "w") as f:
        json.dump({"step": lap.open_job(id=ids[0]).sp.i, "moved": 1}, f)
    with open(os.path.join(ws, ids[20], "out.txt"), "w") as f:  # a later chunk
        f.write("a longer result")
    with open(os.path.join(ws, ids[41], layout.DOCUMENT), "w") as f:
        f.write("{not json")
    result = transport.sync(lap, clu.path)
    assert [(u["job"], u["side"]) for u in result.unreadable] == [(ids[41], side)], \
        result.format()
    assert sorted(a["job"] for a in result.actions) == [ids[0], ids[20]], result.format()
    assert there.open_job(id=ids[0]).doc.moved == 1
    with open(os.path.join(there.workspace, ids[20], "out.txt")) as f:
        assert f.read() == "a longer result"
    with open(os.path.join(ws, ids[41], layout.DOCUMENT)) as f:
        assert f.read() == "{not json"
    assert transport.sync(lap, clu.path).actions == []


def test_a_cold_index_snapshot_since_the_record_holds_a_chunk(tmp_path, monkeypatch):
    """A cold side's snapshot since the record holds one chunk's listing at a time, not the
    whole listing (a million jobs: ~2.5 GB; issue #18): its peak is a fraction of a whole
    snapshot's, and it leaves out exactly the jobs that did not move."""
    import tracemalloc

    import sync

    lap = _many(tmp_path, 600)
    clu = suite.init_project(tmp_path / "cluster")
    assert sync.sync(lap, clu.path).exit_status == 0
    _cold(lap)
    moved = sorted(j.id for j in lap)[300]
    with open(os.path.join(lap.workspace, moved, "out.txt"), "a") as f:
        f.write(" and more")
    peer = Replica(clu.path).identity()
    monkeypatch.setattr(Replica, "STEADY_CHUNK", 50)

    def peak(**kwargs):
        replica = Replica(lap.path)
        replica.snapshot(**kwargs)  # the imports and caches of a first call left out
        replica = Replica(lap.path)
        tracemalloc.start()
        try:
            snap = replica.snapshot(**kwargs)
            return snap, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    whole, whole_peak = peak()
    since, since_peak = peak(since=peer)
    assert len(whole["jobs"]) == 600 and list(since["jobs"]) == [moved]
    assert since["jobs"][moved] == whole["jobs"][moved]
    assert since_peak < whole_peak * 0.75, (since_peak, whole_peak)


def test_a_cold_index_snapshot_since_the_record_agrees_with_the_files(tmp_path, monkeypatch):
    """A cold side's snapshots, whole and since the record (its files read many at a time),
    answer what the per-job reads answer for every job they list: a state point or document
    that is not an object, not JSON, empty, a directory, or no document at all."""
    import sync

    lap = _many(tmp_path, 40)
    clu = suite.init_project(tmp_path / "cluster")
    assert sync.sync(lap, clu.path).exit_status == 0
    _cold(lap)
    ids = sorted(j.id for j in lap)

    def put(job_id, name, text):
        with open(os.path.join(lap.workspace, job_id, name), "w") as f:
            f.write(text)

    put(ids[1], layout.STATEPOINT, "[1, 2]")
    put(ids[2], layout.STATEPOINT, '{"i": ')
    put(ids[9], layout.DOCUMENT, '["a list"]')
    put(ids[10], layout.DOCUMENT, "")
    put(ids[11], layout.DOCUMENT, "{not json")
    os.unlink(os.path.join(lap.workspace, ids[17], layout.DOCUMENT))
    os.unlink(os.path.join(lap.workspace, ids[18], layout.DOCUMENT))
    os.mkdir(os.path.join(lap.workspace, ids[18], layout.DOCUMENT))
    put(ids[30], layout.DOCUMENT, '{"step": "moved"}')
    monkeypatch.setattr(Replica, "STEADY_CHUNK", 6)
    since = Replica(lap.path).snapshot(since=Replica(clu.path).identity())
    whole = Replica(lap.path).snapshot()  # cold too: the files read many at a time
    # the reference: each job's files read one by one (as with --exclude)
    one_by_one = Replica(lap.path).snapshot(exclude=["*.matches-nothing"])
    assert whole == one_by_one
    assert since["unreadable"] == whole["unreadable"]
    assert set(since["unreadable"]) == {ids[1], ids[2], ids[9], ids[10], ids[11], ids[18]}
    assert since["jobs"] == {j: whole["jobs"][j] for j in (ids[17], ids[30])}
    assert since["jobs"][ids[17]]["doc"] == {} and since["jobs"][ids[30]]["doc"] == \
        {"step": "moved"}
