"""Jobs in which nothing moved since the record are passed over without being looked at
(sync.steady.steady_jobs): every kind of change, on either side, must still be seen, and
what the quick check (size and mtime, as rsync's) cannot see is decided here. Every case runs
over each transport (paramiko, openssh, local: tests/sync/conftest.py)."""

import os

import pytest

import suite


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
