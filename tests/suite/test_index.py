"""The persistent index stays correct when the workspace changes behind suite's back."""

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time

import pytest

import suite
from suite import layout


def fresh(project):
    """A new Project object, as a new process would see it (no in-memory state)."""
    return suite.Project(project.path)


def age_workspace(project, seconds=10):
    """Make the workspace mtime old, so the index may trust it (see RACY_SECONDS)."""
    past = time.time() - seconds
    os.utime(project.workspace, (past, past))


def test_index_is_persistent_and_deletable(sweep):
    assert len(sweep.find_jobs({"a": 1})) == 6
    path = sweep.index.path
    assert os.path.isfile(path)
    os.unlink(path)
    assert len(fresh(sweep).find_jobs({"a": 1})) == 6


def test_jobs_added_and_removed_behind_its_back(sweep, tmp_path):
    age_workspace(sweep)
    assert len(fresh(sweep).find_jobs({"a": 1})) == 6
    # another tool adds a job (as rsync or signac would: plain files)
    sp = {"a": 1, "b": {"c": 9, "d": ""}, "flag": True}
    job_id = suite.calc_id(sp)
    os.mkdir(os.path.join(sweep.workspace, job_id))
    with open(os.path.join(sweep.workspace, job_id, layout.STATEPOINT), "w") as f:
        json.dump(sp, f)
    assert job_id in fresh(sweep).find_jobs({"a": 1}).ids()
    age_workspace(sweep)
    shutil.rmtree(os.path.join(sweep.workspace, job_id))
    assert job_id not in fresh(sweep).find_jobs({"a": 1}).ids()
    assert len(fresh(sweep).find_jobs({"a": 1})) == 6


@pytest.mark.parametrize("in_place", [True, False])
def test_document_edited_behind_its_back(sweep, in_place):
    age_workspace(sweep)
    assert fresh(sweep).find_jobs({"doc.tag": "new"}).ids() == []
    target = sweep.find_jobs({"a": 0, "b.c": 0, "flag": True}).ids()[0]
    fn = os.path.join(sweep.workspace, target, layout.DOCUMENT)
    text = json.dumps({"tag": "new", "score": 0})
    if in_place:  # an editor writing into the same inode
        with open(fn, "r+") as f:
            f.seek(0)
            f.write(text)
            f.truncate()
        st = os.stat(fn)
        os.utime(fn, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    else:
        with open(fn + ".new", "w") as f:
            f.write(text)
        os.replace(fn + ".new", fn)
    assert fresh(sweep).find_jobs({"doc.tag": "new"}).ids() == [target]
    assert len(fresh(sweep).find_jobs({"doc.tag": "even"})) == 11


@pytest.mark.parametrize("parts", [1, 4])
def test_an_in_place_rewrite_moves_no_directory_time_and_is_found(sweep, monkeypatch, parts):
    """Why the freshness check stats every document (issue 18, session 13): a document
    rewritten in place (an editor, ``json.dump`` into ``open(fn, "w")``) changes no
    directory's time, so no directory time can vouch for the documents under it; and the
    rewritten documents matched nothing before, so checking only the documents whose indexed
    rows match would miss them. Both in one thread and split into parts taken by threads
    (where two cores are)."""
    from suite import native

    monkeypatch.setattr(native, "THREADS_MIN", 1 if parts > 1 else 10**9)
    ids = fresh(sweep).find_jobs().ids()
    old = time.time() - 60
    for job_id in ids:  # every directory old enough for any racy-time rule to trust it
        os.utime(os.path.join(sweep.workspace, job_id), (old, old))
    age_workspace(sweep, 60)
    assert fresh(sweep).find_jobs({"doc.tag": "new"}).ids() == []
    targets = sorted({ids[0], ids[5], ids[11], ids[12], ids[17], ids[-1]})  # in every part
    before = {d: os.stat(d).st_mtime_ns
              for d in [sweep.workspace] + [os.path.join(sweep.workspace, t) for t in targets]}
    for job_id in targets:
        with open(os.path.join(sweep.workspace, job_id, layout.DOCUMENT), "r+") as f:
            f.seek(0)
            f.write(json.dumps({"tag": "new", "score": -1}))
            f.truncate()
    assert {d: os.stat(d).st_mtime_ns for d in before} == before
    assert fresh(sweep).find_jobs({"doc.tag": "new"}).ids() == targets
    assert not set(targets) & set(fresh(sweep).find_jobs({"doc.tag": "even"}).ids())
    out = subprocess.run([sys.executable, "-m", "suite", "find", "doc.tag", "new"],
                         cwd=sweep.path, capture_output=True, text=True, check=True).stdout
    assert out.split() == targets


def test_corrupt_index_is_rebuilt(sweep):
    sweep.find_jobs().ids()
    with open(sweep.index.path, "wb") as f:
        f.write(b"this is not a database" * 100)
    assert len(fresh(sweep).find_jobs({"a": 2})) == 6


def test_corrupt_job_files_are_reported_not_fatal(sweep):
    target = sweep.find_jobs({"a": 0}).ids()[0]
    os.unlink(sweep.index.path)
    with open(os.path.join(sweep.workspace, target, layout.STATEPOINT), "w") as f:
        f.write("")
    p = fresh(sweep)
    # iterated and counted, as signac does; a query cannot judge it: it raises, as signac's
    # (or, asked to, leaves it out); reading it raises
    assert target in p.find_jobs().ids()
    assert target not in p.find_jobs({"a": 0}, skip_unreadable=True).ids()
    with pytest.raises(suite.JobsCorruptedError, match=target):
        p.find_jobs({"a": 0}).ids()
    with pytest.raises(suite.JobsCorruptedError, match=target):
        p.open_job(id=target).sp()
    assert target in p.index.problems and "empty" in p.index.problems[target]
    with open(os.path.join(sweep.workspace, target, layout.STATEPOINT), "w") as f:
        f.write("{}")  # a later fix is seen only after the job changes or reindex
    report = p.check_report()
    assert any(pr.job_id == target and pr.kind == "misnamed" for pr in report.problems)


def index_files_read_only(monkeypatch):
    """sqlite opens every index file read-only from now on (in-memory indexes stay writable)."""
    import sqlite3

    real_connect = sqlite3.connect

    def ro_connect(path, *a, **kw):
        if path == ":memory:":
            return real_connect(path, *a, **kw)
        return real_connect(f"file:{path}?mode=ro", *a, uri=True, **kw)

    monkeypatch.setattr(sqlite3, "connect", ro_connect)


def test_read_only_index_file_falls_back_to_memory(sweep, monkeypatch):
    """A read-only file system (as root we cannot chmod our way there): sqlite opens the
    index read-only and every write fails with 'readonly database'."""
    sweep.find_jobs().ids()
    index_files_read_only(monkeypatch)
    p = fresh(sweep)
    p.open_job({"new": 1}).init()
    assert len(p.find_jobs({"new": 1})) == 1
    assert p.index.in_memory


def _doc_writer(path, ids, rounds):
    p = suite.Project(path)
    for r in range(rounds):
        for i in ids:
            p.open_job(id=i).doc["round"] = r


def test_queries_while_other_processes_write_documents(sweep):
    ids = sweep.find_jobs().ids()
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_doc_writer, args=(sweep.path, ids[k::2], 20)) for k in (0, 1)]
    for w in writers:
        w.start()
    queries = 0
    while any(w.is_alive() for w in writers):
        found = fresh(sweep).find_jobs({"doc.round": {"$gte": 0}}).ids()
        assert set(found) <= set(ids)
        queries += 1
    for w in writers:
        w.join()
        assert w.exitcode == 0
    assert fresh(sweep).find_jobs({"doc.round": 19}).ids() == ids
    assert queries > 0


def test_statepoints_and_documents_maps(sweep):
    sps = fresh(sweep).index.statepoints()
    docs = fresh(sweep).index.documents()
    assert len(sps) == len(docs) == 24
    for job in sweep:
        assert sps[job.id] == job.sp()
        assert docs[job.id] == job.doc()


def test_job_caught_half_created_is_indexed_once_complete(sweep):
    """Another tool (signac) creates the directory first and the state point a moment later;
    a query in between must not hide the job forever."""
    sp = {"late": True}
    job_id = suite.calc_id(sp)
    os.mkdir(os.path.join(sweep.workspace, job_id))
    p = fresh(sweep)
    # counted and iterated as len(project) and signac count it; a query cannot judge it yet:
    # it raises, as signac's does in that moment (or, asked to, leaves it out)
    assert job_id in p.find_jobs().ids()
    assert not p.find_jobs({"late": True}, skip_unreadable=True).ids()
    with pytest.raises(suite.JobsCorruptedError, match=job_id):
        p.find_jobs({"late": True}).ids()
    with pytest.raises(suite.JobsCorruptedError, match="missing"):
        p.open_job(id=job_id).sp()
    assert "missing" in p.index.problems[job_id]
    with open(os.path.join(sweep.workspace, job_id, layout.STATEPOINT), "w") as f:
        json.dump(sp, f)
    assert p.find_jobs({"late": True}).ids() == [job_id]
    assert fresh(sweep).find_jobs({"late": True}).ids() == [job_id]
    assert job_id not in fresh(sweep).index.problems


def _index_view(project):
    ix = project.index
    return (ix.statepoints(), ix.documents(), dict(ix.problems),
            project.find_jobs({"doc.x": {"$gt": 3}}).ids(), project.find_jobs({"a": 7}).ids())


def test_two_process_build_and_check_match_one_process(tmp_path, monkeypatch):
    """Large projects are indexed (and their documents checked) in two processes; the result
    must be what one process finds, corrupt files included."""
    from suite.index import freshness

    p = suite.init_project(tmp_path / "p")
    for i in range(40):
        job = p.open_job({"a": i, "b": {"c": i % 3}}).init()
        if i % 2:
            job.doc.x = i
    bad = p.open_job({"a": 3, "b": {"c": 0}})
    with open(bad.fn(layout.DOCUMENT), "w") as f:
        f.write("{not json")
    serial = _index_view(suite.get_project(p.path))
    os.unlink(p.fn(".suite/index.sqlite"))
    monkeypatch.setattr(freshness, "PARALLEL_STAT_MIN", 2)
    fresh = suite.get_project(p.path)
    assert _index_view(fresh) == serial
    assert bad.id in serial[2]
    # documents changed behind its back are found by the two-process check as well
    for i in range(0, 40, 5):
        with open(p.open_job({"a": i, "b": {"c": i % 3}}).fn(layout.DOCUMENT), "w") as f:
            json.dump({"x": 100 + i}, f)
    assert len(suite.get_project(p.path).find_jobs({"doc.x": {"$gte": 100}})) == 8


def test_two_process_helper_redoes_a_failed_half():
    from suite.index import freshness

    parent = os.getpid()

    def fn(rows, ws):
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return [r * 2 for r in rows]

    assert freshness.in_two_processes(fn, list(range(10)), "") == [r * 2 for r in range(10)]


def test_documents_and_state_points_with_a_byte_order_mark_read_everywhere(project):
    """Other tools (Windows editors, PowerShell) write a UTF-8 byte-order mark: JSON's reader
    takes it, so must every reader of the index (find, documents, a workflow's conditions)."""
    job = project.open_job({"a": 1}).init()
    other = project.open_job({"a": 2}).init()
    other.doc.x = 3
    with open(job.fn("signac_job_document.json"), "wb") as f:
        f.write(b'\xef\xbb\xbf{"x": 2}')
    with open(job.fn("signac_statepoint.json"), "rb") as f:
        sp = f.read()
    with open(job.fn("signac_statepoint.json"), "wb") as f:
        f.write(b"\xef\xbb\xbf" + sp)
    again = suite.get_project(project.path)
    assert [j.id for j in again.find_jobs({"doc.x": 2})] == [job.id]
    assert again.index.documents() == {job.id: {"x": 2}, other.id: {"x": 3}}
    assert again.index.statepoints()[job.id] == {"a": 1}
    with open(os.path.join(project.path, "workflow.py"), "w") as f:
        f.write("from suite.flow import Workflow\n\n\nclass W(Workflow):\n    pass\n\n\n"
                "@W.operation\n@W.pre(lambda job: job.doc.get('x') == 2)\n"
                "def mark(job):\n    job.doc.y = 1\n")
    r = subprocess.run([sys.executable, "-m", "suite", "run"], cwd=project.path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert suite.get_project(project.path).open_job(id=job.id).doc() == {"x": 2, "y": 1}


def test_index_moved_to_memory_part_way_holds_every_job(sweep, monkeypatch):
    """The disk refusing a write part-way through a refresh (here: the first write of new
    jobs into an index that holds the others) must not leave a memory index that holds only
    what came after: every query answers as from the files."""
    everyone = sweep.find_jobs().ids()
    index_files_read_only(monkeypatch)
    p = fresh(sweep)
    new = p.open_job({"new": 1}).init()
    assert p.find_jobs().ids() == sorted(everyone + [new.id])
    assert p.index.in_memory
    assert sorted(p.index.statepoints()) == sorted(everyone + [new.id])


def test_an_index_of_another_version_is_rebuilt_not_misread(sweep):
    """Version 6 had a whole kv_txt index; an index file of that version (here with a
    wrong key row, as another layout would be read) is emptied and built again."""
    import sqlite3

    from suite.index import VERSION

    want = (sweep.find_jobs({"b.d": {"$regex": "x"}}).ids(), sweep.find_jobs({"a": 1}).ids())
    path = sweep.fn(".suite/index.sqlite")
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX kv_txt")
        db.execute("CREATE INDEX kv_txt ON kv (src, key, txt, t, id)")
        db.execute("UPDATE meta SET value='6' WHERE key='version'")
        db.execute("UPDATE kv SET num=-1 WHERE key='a' AND src=0")  # misread if kept
    p = fresh(sweep)
    assert (p.find_jobs({"b.d": {"$regex": "x"}}).ids(), p.find_jobs({"a": 1}).ids()) == want
    assert want[1]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='version'").fetchone()[0] == str(VERSION)
        (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name='kv_txt'").fetchone()
    assert "WHERE txt IS NOT NULL" in sql
