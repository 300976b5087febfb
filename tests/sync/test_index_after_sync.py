"""After a sync both sides' indexes hold the jobs it landed, made from what it wrote: the
first query there reads no job file (Index.files_read, kept in the index itself, so the far
side's reads are seen too), and a document changed right after the sync is still seen."""

import os
import time

import pytest

import suite
import sync
from suite import layout
from sync.replica import Replica

N = 12


def source(path):
    project = suite.init_project(path)
    for i in range(N):
        job = project.open_job({"i": i, "g": i % 3}).init()
        if i % 2:  # half without a document: no file
            job.doc.update({"x": i * 10, "tag": "odd", "nest": {"v": [i]}})
        with open(job.fn("data.txt"), "w") as f:
            f.write(str(i))
    return project


def check_answers(project, ids):
    """Queries on state point and document keys answer right, reading no job file."""
    assert project.find_jobs({"g": 1}).ids() == sorted(ids[i] for i in range(N) if i % 3 == 1)
    assert project.find_jobs({"doc.x": 30}).ids() == [ids[3]]
    assert project.find_jobs({"doc.nest.v": [5]}).ids() == [ids[5]]
    assert project.find_jobs({"doc.tag": {"$exists": False}}).ids() == \
        sorted(ids[i] for i in range(0, N, 2))
    assert project.index.files_read() == 0


def change_document(project, job_id):
    """Rewrite a document in place (same inode and size, as an editor might): only its
    modification time tells."""
    fn = os.path.join(project.workspace, job_id, layout.DOCUMENT)
    with open(fn, "rb") as f:
        text = f.read()
    with open(fn, "r+b") as f:
        f.write(text.replace(b'"odd"', b'"new"'))
    st = os.stat(fn)
    os.utime(fn, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_far_side_indexes_pushed_jobs_without_reading_them(transport, tmp_path):
    lap = source(tmp_path / "laptop")
    ids = {job.sp.i: job.id for job in lap}
    clu = tmp_path / "cluster"
    result = transport.sync(lap, clu, push=True, init=True)
    assert result.exit_status == 0, result.format()
    # indexed before the sync returned (the far side has ended), not later
    assert suite.Project(str(clu)).index.indexed_count() == N
    far = suite.Project(str(clu))
    check_answers(far, ids)
    change_document(far, ids[7])
    assert suite.Project(str(clu)).find_jobs({"doc.tag": "new"}).ids() == [ids[7]]
    assert far.index.files_read() == 1


def test_pulled_jobs_are_indexed_here_without_reading_them(transport, tmp_path):
    clu = source(tmp_path / "cluster")
    ids = {job.sp.i: job.id for job in clu}
    lap = suite.init_project(tmp_path / "laptop")
    result = transport.sync(lap, clu.path, pull=True)
    assert result.exit_status == 0, result.format()
    here = suite.Project(lap.path)
    assert here.index.indexed_count() == N  # before any query: the sync indexed them
    check_answers(here, ids)
    change_document(here, ids[9])
    assert suite.Project(lap.path).find_jobs({"doc.tag": "new"}).ids() == [ids[9]]
    assert here.index.files_read() == 1


@pytest.mark.parametrize("batch", [Replica.INDEX_HOLD, 5])
def test_local_sync_indexes_the_destination(tmp_path, monkeypatch, batch):
    # batch 5: the jobs go to the index several times during the sync (the memory cap)
    monkeypatch.setattr(Replica, "INDEX_HOLD", batch)
    lap = source(tmp_path / "laptop")
    ids = {job.sp.i: job.id for job in lap}
    dest = tmp_path / "copy"
    assert sync.sync(lap, str(dest), init=True).exit_status == 0
    copy = suite.Project(str(dest))
    assert copy.index.indexed_count() == N  # built as the sync landed the jobs
    check_answers(copy, ids)
    change_document(copy, ids[1])
    assert suite.Project(str(dest)).find_jobs({"doc.tag": "new"}).ids() == [ids[1]]


def test_cli_find_after_a_local_sync_reads_no_job(tmp_path):
    import subprocess
    import sys

    lap = source(tmp_path / "laptop")
    dest = tmp_path / "copy"
    run = [sys.executable, "-m", "suite"]
    subprocess.run(run + ["sync", str(dest), "--init"], cwd=lap.path, check=True,
                   capture_output=True)
    out = subprocess.run(run + ["find", "doc.x", "30"], cwd=dest, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == [lap.open_job({"i": 3, "g": 0}).id]
    assert suite.Project(str(dest)).index.files_read() == 0


def test_a_sync_returns_after_the_far_sides_work_on_the_project(transport, tmp_path):
    """The far side indexes the jobs it landed before the sync returns, so a script may delete
    the far project right after (it met "Directory not empty" when the far side's index
    files appeared during the rm). Once every job is synced the test takes a read lock of the
    far index (the far side's reads go on, its writes wait), so the far side's indexing after
    the last request waits on it for certain; the lock is let go when the sync returns, or
    after 5 s."""
    import shutil
    import sqlite3
    import threading

    lap = source(tmp_path / "laptop")
    clu = tmp_path / "cluster"
    suite.init_project(clu).find_jobs({}).ids()  # its index exists (empty)
    db = sqlite3.connect(clu / ".suite" / "index.sqlite", isolation_level=None,
                         check_same_thread=False)
    locked, returned, let_go = threading.Event(), threading.Event(), []

    def lock_when_all_synced(done, total):
        if done == total and not locked.is_set():
            db.execute("BEGIN")
            db.execute("SELECT count(*) FROM meta").fetchone()  # held to the rollback
            locked.set()

    def let_go_later():
        locked.wait()
        returned.wait(5)
        let_go.append(returned.is_set())
        db.rollback()
        db.close()

    helper = threading.Thread(target=let_go_later)
    helper.start()
    try:
        result = transport.sync(lap, clu, push=True, progress=lock_when_all_synced)
    finally:
        returned.set()
        locked.set()
        helper.join()
    assert result.exit_status == 0, result.format()
    # returned only once the far side could index: after the lock was let go by time
    assert let_go == [False], "the sync returned while the far side still had work to do"
    assert suite.Project(str(clu)).index.indexed_count() == N  # done, not pending
    shutil.rmtree(clu)  # nothing of the far side writes into it any more
    time.sleep(0.5)
    assert not clu.exists()
