"""status from the index's whole-column caches (every state point and document at once, one
marshal blob each) answers as status from the rows a chunk at a time: the same counts, labels
and per-job entries, the same printed bytes, and a document changed between two commands is
seen by the second."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from suite import layout
from suite.flow import Runner, Workflow, scan
from suite.index import columns, keyrows


class W(Workflow):
    pass


@W.label
def started(job):
    return "step" in job.doc


@W.label
def parity(job):
    return "even" if job.sp.i % 2 == 0 else False


@W.pre.true("step")
@W.post.isfile("out.txt")
@W.operation
def second(job):
    pass


@W.post.true("done")
@W.operation
def first(job):
    pass


def _jobs(project, n):
    for i in range(n):
        job = project.open_job({"i": i}).init()
        if i % 2:
            job.doc.step = i
        if i % 5 == 0:
            job.doc.done = True
        if i % 3 == 0:
            open(job.fn("out.txt"), "w").close()


def _status(project, through_caches):
    """``(operations, labels, jobs)`` of a fresh Runner's status, from the caches or rows."""
    with pytest.MonkeyPatch.context() as mp:
        if not through_caches:
            mp.setattr(scan, "COLUMNS_MAX", -1)
        out = Runner(W, project).status()
    return out.operations, out.labels, dict(out.jobs.items())


def _doc_blob(project):
    with sqlite3.connect(project.fn(".suite/index.sqlite")) as db:
        return db.execute("SELECT count(*) FROM sigcache WHERE tag = ?",
                          (columns.DOC_TAG,)).fetchone()[0]


@pytest.mark.parametrize("chunk", [2, 50000])
def test_status_through_the_caches_is_status_from_the_rows(project, monkeypatch, chunk):
    """Documents missing, over the index's caps and unreadable included."""
    monkeypatch.setattr(columns, "SP_CACHE_MIN", 0)
    monkeypatch.setattr(scan, "CHUNK", chunk)
    monkeypatch.setattr(keyrows, "DOC_MAX_BYTES", 200)
    _jobs(project, 9)
    project.open_job({"i": 4}).doc.update({"step": 4, "pad": "x" * 400})  # over the caps
    bad = project.open_job({"i": 7})
    with open(bad.fn(layout.DOCUMENT), "w") as f:
        f.write("{not json")
    rows = _status(project, through_caches=False)
    assert _doc_blob(project) == 0  # the rows' path makes no blob
    cached = _status(project, through_caches=True)
    assert _doc_blob(project) == 1
    assert cached == rows == _status(project, through_caches=True)  # stored, then loaded
    ops, labels, jobs = cached
    assert labels == {"started": 4, "parity=even": 5}  # 1, 3, 4, 5 (7 cannot be read)
    assert "started" in jobs[project.open_job({"i": 4}).id]["labels"]
    assert bad.id not in jobs or "started" not in jobs[bad.id]["labels"]


def test_a_document_changed_between_two_statuses_is_seen(project, monkeypatch):
    """Rewritten in place to the same size within the same second, and replaced by rename:
    the change drops the documents' blob in the transaction that re-indexes it."""
    monkeypatch.setattr(columns, "SP_CACHE_MIN", 0)
    _jobs(project, 6)
    before = _status(project, through_caches=True)
    assert before[0]["second"] == {"eligible": 2, "complete": 2} and _doc_blob(project) == 1
    job = project.open_job({"i": 1})
    fn = job.fn(layout.DOCUMENT)
    old = os.stat(fn)
    with open(fn, "r+") as f:  # {"step": 1} -> {"stop": 1}: the same size, the same inode
        f.write(json.dumps({"stop": 1}))
    now = os.stat(fn)
    assert (now.st_size, now.st_ino) == (old.st_size, old.st_ino)
    assert now.st_mtime - old.st_mtime < 1
    after = _status(project, through_caches=True)
    assert after[0]["second"] == {"eligible": 1, "complete": 2}
    assert "started" not in after[2][job.id]["labels"]
    tmp = fn + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"done": True}, f)
    os.replace(tmp, fn)
    last = _status(project, through_caches=True)
    assert last[0]["second"] == {"eligible": 1, "complete": 2}
    assert last[0]["first"]["complete"] == before[0]["first"]["complete"] + 1
    assert last == _status(project, through_caches=False)


WORKFLOW = textwrap.dedent('''
    from suite.flow import Workflow

    class W(Workflow):
        pass

    @W.label
    def started(job):
        return "step" in job.doc

    @W.label
    def even(job):
        return job.sp.a % 2 == 0

    @W.post.true("step")
    @W.operation
    def first(job):
        job.doc.step = 1

    @W.pre.true("step")
    @W.post.isfile("second.txt")
    @W.operation
    def second(job):
        pass
''')
ROWS_PATH = ("import sys; from suite.flow import scan; scan.COLUMNS_MAX = -1; "
             "from suite.cli import main; main(sys.argv[1:])")


def test_the_cli_prints_the_same_from_the_caches_and_from_the_rows(tmp_path):
    """Enough jobs for the index to store its caches (columns.SP_CACHE_MIN): `suite status`
    in its forms prints the same bytes whichever way the jobs are read, also after a
    document changed in place to the same size."""
    import suite

    p = suite.init_project(tmp_path / "p")
    ws = p.workspace
    for a in range(columns.SP_CACHE_MIN + 5):  # plain files, as another tool writes them
        sp = {"a": a, "b": {"c": a % 3}}
        d = os.path.join(ws, suite.calc_id(sp))
        os.mkdir(d)
        with open(os.path.join(d, layout.STATEPOINT), "w") as f:
            json.dump(sp, f)
        if a % 4:
            with open(os.path.join(d, layout.DOCUMENT), "w") as f:
                json.dump({"step": a % 7}, f)
        if a % 3 == 1:
            open(os.path.join(d, "second.txt"), "w").close()
    with open(p.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)

    def both(*args):
        cached = subprocess.run(["suite", *args], cwd=p.path, capture_output=True)
        rows = subprocess.run([sys.executable, "-c", ROWS_PATH, *args], cwd=p.path,
                              capture_output=True)
        assert cached.returncode == rows.returncode == 0, (cached.stderr, rows.stderr)
        assert cached.stdout == rows.stdout
        return cached.stdout.decode()

    for args in (["status"], ["status", "--detailed"], ["status", "--json"]):
        both(*args)
    assert _doc_blob(p) == 1
    first = both("status")
    one = p.open_job({"a": 1, "b": {"c": 1}})
    with open(one.fn(layout.DOCUMENT), "r+") as f:  # {"step": 1} -> {"step": 0}: same size
        f.write(json.dumps({"step": 0}))
    changed = both("status")
    assert first != changed and "label started" in changed
