"""An empty index is filled without a rollback journal (suite.index.store.Store.unjournaled):
the answers are those of a journalled build, and a build cut off part-way (its file possibly
torn) is found by its marker and made again, never read."""

import os
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

import suite
from suite.index import refresh, store

N = 60


def _project(tmp_path):
    p = suite.init_project(tmp_path / "p")
    for i in range(N):
        job = p.open_job({"a": i, "b": {"c": i % 3}}).init()
        if i % 2:
            job.doc.x = i
    return p


def _answers(project):
    p = suite.Project(project.path)
    return (p.find_jobs({"b.c": 1}).ids(), p.find_jobs({"doc.x": {"$gt": 30}}).ids(),
            sorted(p.index.statepoints()))


def _meta(project):
    with sqlite3.connect(project.fn(".suite/index.sqlite")) as db:
        return dict(db.execute("SELECT key, value FROM meta"))


@pytest.fixture
def small_bulk(monkeypatch):
    """Builds of a few jobs take the bulk path (as 5,000 and more do)."""
    monkeypatch.setattr(refresh, "BULK_MIN", 10)


def _journalled_answers(project, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(store.Store, "unjournaled", lambda self: _no_block())
        want = _answers(project)
    os.unlink(project.fn(".suite/index.sqlite"))
    return want


class _no_block:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_an_empty_index_is_filled_without_a_journal_and_answers_the_same(
        tmp_path, small_bulk, monkeypatch):
    p = _project(tmp_path)
    want = _journalled_answers(p, monkeypatch)
    modes = []
    real = refresh._add_new_jobs

    def watching(st, *args):
        modes.append(st.db.execute("PRAGMA journal_mode").fetchone()[0])
        return real(st, *args)

    monkeypatch.setattr(refresh, "_add_new_jobs", watching)
    assert _answers(p) == want
    # the build, then the later queries' refreshes (nothing new: journalled)
    assert modes[0] == "off" and set(modes[1:]) <= {"delete"}
    assert not [k for k in _meta(p) if k.startswith(store.BUILDING)]  # marker gone
    # later changes are journalled again (a second refresh: not an empty index)
    p.open_job({"a": 1000, "b": {"c": 1}}).init()
    ix = suite.Project(p.path).index
    ix.refresh()
    assert ix._db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert len(suite.Project(p.path).find_jobs({"b.c": 1})) == len(want[0]) + 1


_KILLED_PART_WAY = """
import os, signal, sys
import suite
from suite.index import ahead, refresh
refresh.BULK_MIN = 10
ahead.PART = 10
refresh.ADD_CHUNK = 10
real = refresh.add_jobs
calls = []
def add_then_die(db, rows, kv, check=True):
    real(db, rows, kv, check)
    calls.append(1)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
refresh.add_jobs = add_then_die
suite.Project(sys.argv[1]).find_jobs({"b.c": 1}).ids()
"""


def test_a_build_killed_part_way_is_made_again_not_read(tmp_path, small_bulk, monkeypatch):
    p = _project(tmp_path)
    want = _journalled_answers(p, monkeypatch)
    proc = subprocess.run([sys.executable, "-c", _KILLED_PART_WAY, p.path])
    assert proc.returncode == -9
    meta = _meta(p)
    assert [k for k in meta if k.startswith(store.BUILDING)]  # the dead build's marker
    with sqlite3.connect(p.fn(".suite/index.sqlite")) as db:
        assert 0 < db.execute("SELECT count(*) FROM jobs").fetchone()[0] < N  # part-way
    assert _answers(p) == want
    meta = _meta(p)
    assert not [k for k in meta if k.startswith(store.BUILDING)]
    assert int(meta["files_read"]) == 2 * N  # made again from the start, once


def test_the_marker_of_a_build_still_running_is_left_alone(tmp_path, small_bulk):
    p = _project(tmp_path)
    want = _answers(p)
    alive = f"{store.BUILDING}{store.this_machine()}:{os.getpid()}"
    with sqlite3.connect(p.fn(".suite/index.sqlite")) as db:
        db.execute("INSERT INTO meta VALUES (?, '')", (alive,))
    assert _answers(p) == want
    meta = _meta(p)
    assert alive in meta and int(meta["files_read"]) == 2 * N  # not built again


@pytest.mark.parametrize("owner", ["another-host.example:1", "{here}:{dead}",
                                   "{host}/an-earlier-boot:{alive}"])
def test_the_marker_of_a_gone_or_unknown_builder_makes_it_again(tmp_path, small_bulk, owner):
    p = _project(tmp_path)
    want = _answers(p)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    key = store.BUILDING + owner.format(here=store.this_machine(), dead=dead,
                                        host=socket.gethostname(), alive=os.getpid())
    path = p.fn(".suite/index.sqlite")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO meta VALUES (?, '')", (key,))
        db.execute("UPDATE kv SET num = -1 WHERE key = 'b.c'")  # misread if kept
    if owner.startswith("another-host"):  # another host's: taken as gone once still for long
        still = time.time() - store.OTHER_HOST_STILL - 60
        os.utime(path, (still, still))
    assert _answers(p) == want
    meta = _meta(p)
    assert key not in meta and int(meta["files_read"]) == 2 * N


def test_the_marker_of_another_host_on_a_file_still_changing_is_left_alone(tmp_path,
                                                                           small_bulk):
    """On a shared file system another login node may be building the index right now: its
    marker is taken as cut off only once the file has stopped changing."""
    p = _project(tmp_path)
    want = _answers(p)
    key = store.BUILDING + "another-host.example:1"
    with sqlite3.connect(p.fn(".suite/index.sqlite")) as db:
        db.execute("INSERT INTO meta VALUES (?, '')", (key,))
    assert _answers(p) == want
    meta = _meta(p)
    assert key in meta and int(meta["files_read"]) == 2 * N  # not wiped, not built again


def test_a_failure_during_the_build_deletes_the_file(tmp_path, small_bulk, monkeypatch):
    p = _project(tmp_path)
    want = _journalled_answers(p, monkeypatch)

    def fail(*args, **kwargs):
        raise RuntimeError("disk gone")

    with monkeypatch.context() as m:
        m.setattr(refresh, "_apply", fail)
        with pytest.raises(RuntimeError, match="disk gone"):
            suite.Project(p.path).find_jobs({"b.c": 1}).ids()
    assert not os.path.exists(p.fn(".suite/index.sqlite"))
    assert _answers(p) == want
