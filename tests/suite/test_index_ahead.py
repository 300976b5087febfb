"""New jobs are read by a forked child ahead of their inserts (suite.index.ahead): every part
comes exactly once, whoever reads it, and a child that fails or dies costs nothing but time."""

import contextlib
import os
import signal
import time

import pytest

import suite
from suite.index import ahead


@pytest.fixture
def two_processes(monkeypatch):
    monkeypatch.setattr(ahead, "PARALLEL_STAT_MIN", 1)
    monkeypatch.setattr(ahead, "PART", 3)
    if not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
        pytest.skip("needs fork and two cores")


def _tagged(part, ws):
    return [(x, ws, os.getpid()) for x in part]


def _collect(gen):
    with contextlib.closing(gen):
        return [row for part in gen for row in part]


def test_every_part_once_and_both_processes_work(two_processes):
    def slow(part, ws):  # parts that take time: neither process has all of them ready
        time.sleep(0.01)
        return _tagged(part, ws)

    items = list(range(301))
    rows = _collect(ahead.prepared(slow, items, "w"))
    assert sorted(r[0] for r in rows) == items and {r[1] for r in rows} == {"w"}
    assert os.getpid() in {r[2] for r in rows}  # this process read some itself
    assert len({r[2] for r in rows}) == 2  # ... and the child the others


def test_a_failing_child_leaves_its_parts_to_this_process(two_processes):
    me = os.getpid()

    def fails_in_child(part, ws):
        if os.getpid() != me:
            raise RuntimeError("child breaks")
        return _tagged(part, ws)

    rows = _collect(ahead.prepared(fails_in_child, list(range(50)), "w"))
    assert sorted(r[0] for r in rows) == list(range(50)) and {r[2] for r in rows} == {me}


def test_a_killed_child_leaves_its_parts_to_this_process(two_processes):
    me = os.getpid()

    def dies_in_child(part, ws):
        if os.getpid() != me and part[0] >= 9:
            os.kill(os.getpid(), signal.SIGKILL)
        return _tagged(part, ws)

    rows = _collect(ahead.prepared(dies_in_child, list(range(60)), "w"))
    assert sorted(r[0] for r in rows) == list(range(60))


def test_stopping_early_ends_the_child(two_processes, monkeypatch):
    forked, fork = [], os.fork

    def recording_fork():
        pid = fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recording_fork)
    gen = ahead.prepared(_tagged, list(range(3000)), "w")
    first = next(gen)
    gen.close()
    assert first and len(forked) == 1
    # reaped: no child is left behind (asked of that child only: the test session has others,
    # such as the sshd fixture's, which must not be waited for here)
    with pytest.raises(ChildProcessError):
        os.waitpid(forked[0], os.WNOHANG)


def test_an_index_built_by_two_processes_is_the_one_built_by_one(tmp_path, two_processes,
                                                                 monkeypatch):
    p = suite.init_project(tmp_path / "p")
    for i in range(40):
        job = p.open_job({"a": i, "b": {"c": i % 3}}).init()
        if i % 2:
            job.doc.x = i
    with open(p.open_job({"a": 5, "b": {"c": 2}}).fn("signac_job_document.json"), "w") as f:
        f.write("{broken")

    def view():
        q = suite.get_project(p.path)
        return (q.index.statepoints(), q.index.documents(), dict(q.index.problems),
                q.find_jobs({"b.c": 1}).ids(), q.find_jobs({"doc.x": {"$gt": 10}}).ids())

    two = view()
    os.unlink(p.fn(".suite/index.sqlite"))
    monkeypatch.setattr(ahead, "PARALLEL_STAT_MIN", 10 ** 9)
    assert view() == two and len(two[0]) == 40 and len(two[2]) == 1
