"""Key rows made per key on its first query (index version 9): the rows of every made key and
the counts of every key stay equal to what flattening the files now gives, through document
edits, new and removed jobs, and writes of other processes."""

import hashlib
import json
import math
import os
import sqlite3
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import suite
from suite import layout
from suite.index import keyrows

NAMES = st.sampled_from(["a", "b", "a.b", "b.c", "c", "é", "x"])
LEAVES = (st.integers(min_value=-2 ** 70, max_value=2 ** 70) | st.booleans() | st.none()
          | st.sampled_from([0.5, -0.0, 1.0, 1e300, math.nan, math.inf, -math.inf])
          | st.text(max_size=3))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(NAMES, inner, max_size=3), max_leaves=6)
DOCS = st.dictionaries(NAMES, VALUES, max_size=4)


def _doc_text(doc, duplicate):
    """JSON as other tools write it (NaN, Infinity); ``duplicate``: a key written twice, the
    first value lost to the second as Python's reader keeps the last."""
    text = json.dumps(doc)
    if duplicate and doc:
        text = '{"x": [1, {"lost": 2}], ' + text[1:]
    return text


def _write(job, doc, duplicate=False):
    with open(job.fn(layout.DOCUMENT), "w") as f:
        f.write(_doc_text(doc, duplicate))


def _job(project, sp):
    """A job whose state point may hold a key with a dot (refused by suite, written by other
    tools): its files written directly."""
    job_id = hashlib.md5(json.dumps(sp, sort_keys=True).encode()).hexdigest()
    os.makedirs(os.path.join(project.workspace, job_id))
    with open(os.path.join(project.workspace, job_id, layout.STATEPOINT), "w") as f:
        json.dump(sp, f)
    return project.open_job(id=job_id)


def _files(project):
    """``(key rows, key counts)`` flattening every job's files gives now."""
    rows = []
    for name in os.listdir(project.workspace):
        d = os.path.join(project.workspace, name)
        with open(os.path.join(d, layout.STATEPOINT)) as f:
            keyrows.flatten(name, 0, json.load(f), "", rows)
        if os.path.exists(os.path.join(d, layout.DOCUMENT)):
            with open(os.path.join(d, layout.DOCUMENT)) as f:
                keyrows.flatten(name, 1, json.load(f), "", rows)
    return rows, Counter((r[1], r[2]) for r in rows)


def _comparable(rows):
    # NaN is stored as NULL: compare it so
    return sorted((i, s, k, t, None if n is None or n != n else n, x)
                  for i, s, k, t, n, x in rows)


def _check(project):
    """The index's rows of its made keys and its key counts equal the files'."""
    rows, counts = _files(project)
    with sqlite3.connect(project.index.path) as db:
        made = keyrows.made_keys(db)
        held = db.execute("SELECT id, src, key, t, num, txt FROM kv").fetchall()
        assert dict(((s, k), n) for s, k, n in db.execute("SELECT src, key, n FROM keys")) \
            == dict(counts)
    assert _comparable(held) == _comparable(r for r in rows if (r[1], r[2]) in made)
    return made


def _expected(project, key, value):
    from suite.query import compile_filter, evaluate

    tree = compile_filter({key: value})
    return sorted(j.id for j in project.find_jobs() if evaluate(tree, j.sp(), j.doc()))


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(first=st.lists(DOCS, min_size=1, max_size=4), later=st.lists(DOCS, min_size=1,
       max_size=4), queried=st.lists(NAMES, min_size=1, max_size=3), dup=st.booleans())
def test_made_keys_stay_exact_through_changes(tmp_path_factory, first, later, queried, dup):
    project = suite.init_project(tmp_path_factory.mktemp("p"))
    jobs = [_job(project, {"i": i, "a.b": i % 2, "a": {"b": [i]}}) for i in range(len(first))]
    for job, doc in zip(jobs, first, strict=True):
        _write(job, doc, dup)
    project = suite.get_project(project.path)
    assert project.find_jobs({"doc.x": {"$exists": True}}).ids() == \
        _expected(project, "doc.x", {"$exists": True})
    # a key holding a dot is also the row of a nested one (the evaluator reads only the
    # nested one: not compared here; the rows are, by _check)
    project.find_jobs({"a.b": 1}).ids()
    for name in queried:
        project.find_jobs({f"doc.{name}": {"$exists": True}}).ids()
    assert {(0, "a.b"), (1, "x")} <= _check(project)
    # documents changed, a job removed, one added: every made key kept right
    os.utime(project.workspace)
    for job, doc in zip(jobs, later, strict=False):
        _write(job, doc, not dup)
        st_ = os.stat(job.fn(layout.DOCUMENT))
        os.utime(job.fn(layout.DOCUMENT), ns=(st_.st_atime_ns, st_.st_mtime_ns + 10 ** 9))
    jobs[0].remove()
    _write(_job(project, {"i": 99, "a.b": 1}), later[-1])
    assert project.find_jobs({"i": {"$gt": 0}}).ids() == _expected(project, "i", {"$gt": 0})
    assert project.find_jobs({"doc.x": {"$exists": False}}).ids() == \
        _expected(project, "doc.x", {"$exists": False})
    _check(project)


def test_missing_and_document_keys_answer_without_making_rows(tmp_path):
    project = suite.init_project(tmp_path / "p")
    for i in range(4):
        job = project.open_job({"i": i}).init()
        job.doc.update({"x": i, "n": {"m": i}} if i % 2 else {"y": i})
    from suite.query import compile_filter

    fresh = suite.get_project(project.path)
    fresh.index.refresh(documents=True)
    assert fresh.index.missing_keys(compile_filter({"doc.n.q": 1, "i": 1})) == [
        ("doc.n.q", "doc.n.m")]
    assert fresh.index.document_keys() == {"x": 2, "n": 2, "n.m": 2, "y": 2}
    assert _check(fresh) == set()  # nothing made
    assert fresh.find_jobs({"doc.n.m": 3}).ids() == [project.open_job({"i": 3}).id]
    assert _check(fresh) == {(1, "n.m")}


def _suite(project, *args):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(suite.__file__)))
    return subprocess.run([sys.executable, "-m", "suite", *args], cwd=project.path, env=env,
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("pure", ["0", "1"])
def test_keys_made_by_another_process_are_kept_right_here(tmp_path, monkeypatch, pure):
    """Another process (a real one, the CLI) makes a key and changes documents; this one,
    whose index connection was open all along, then changes documents and jobs: the rows of
    the key the other made are kept right by this process's writes."""
    monkeypatch.setenv("SUITE_PURE_PYTHON", pure)
    project = suite.init_project(tmp_path / "p")
    jobs = [project.open_job({"i": i}).init() for i in range(6)]
    for job in jobs:
        job.doc.x = job.sp.i % 3
    here = suite.get_project(project.path)
    assert len(here.find_jobs({"i": {"$lt": 3}})) == 3  # index open here, key i made
    jobs[1].doc.x = 7
    assert _suite(project, "find", "doc.x", "7").split() == [jobs[1].id]  # made there
    jobs[2].doc.x = 7
    jobs[3].remove()
    project.open_job({"i": 10}).init().doc.x = 7
    here.index.refresh(documents=True)
    assert (1, "x") in _check(here)
    assert sorted(_suite(project, "find", "doc.x", "7").split()) == _expected(here, "doc.x", 7)
    assert here.find_jobs({"doc.x": 7}).ids() == _expected(here, "doc.x", 7)


WORKFLOW = '''
from suite.flow import Workflow

class W(Workflow):
    pass

@W.label
def big(job):
    x = job.doc.get("x", 0)
    return isinstance(x, int) and x > 2

@W.post.true("x")
@W.operation
def first(job):
    job.doc.x = 1
'''
ITERATE = "import suite; print(sorted((j.id, j.sp()['i']) for j in suite.get_project()))"


def test_cli_answers_follow_documents_changed_between_commands(tmp_path):
    """find (state point and document keys), status and iteration through the CLI, each a
    fresh process as users run them, answer as the files say after every change."""
    project = suite.init_project(tmp_path / "p")
    with open(os.path.join(project.path, "workflow.py"), "w") as f:
        f.write(WORKFLOW)
    jobs = [project.open_job({"i": i, "b": {"c": i % 3}}).init() for i in range(12)]
    for job in jobs[:8]:
        job.doc.x = job.sp.i % 4
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(suite.__file__)))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "suite", *args], cwd=project.path, env=env,
                              capture_output=True, text=True, check=True).stdout

    def check():
        assert sorted(cli("find", "b.c", "1").split()) == _expected(project, "b.c", 1)
        for x in (1, 3):
            assert sorted(cli("find", "doc.x", str(x)).split()) == _expected(project, "doc.x", x)
        # made while no job had it: a job that gets it later gets its row
        assert sorted(cli("find", "doc.x.y", "1").split()) == _expected(project, "doc.x.y", 1)
        docs = [j.doc() for j in project.find_jobs()]
        big = sum(1 for d in docs if isinstance(d.get("x"), int) and d["x"] > 2)
        done = sum(1 for d in docs if d.get("x"))  # post.true: a true value
        assert " ".join(cli("status").split()).endswith(
            f"first {len(docs) - done} 0 0 {done} label big: {big}")
        out = subprocess.run([sys.executable, "-c", ITERATE], cwd=project.path, env=env,
                             capture_output=True, text=True, check=True).stdout
        assert out.strip() == str(sorted((j.id, j.sp.i) for j in project.find_jobs()))
        _check(project)

    check()
    for job in jobs[:5]:
        job.doc.x = 3
    jobs[9].doc.x = {"y": 1}
    check()
    jobs[3].remove()
    project.open_job({"i": 20, "b": {"c": 1}}).init().doc.x = 3
    check()


def test_an_index_of_version_8_is_rebuilt(tmp_path):
    """Version 8 held every key's rows and no key counts: its file is emptied and built
    again, never read as made keys (here a wrong row it holds would be misread)."""
    project = suite.init_project(tmp_path / "p")
    for i in range(5):
        project.open_job({"i": i}).init().doc.x = i
    project.index.refresh(documents=True)
    with sqlite3.connect(project.index.path) as db:  # the layout of version 8
        db.execute("DROP TABLE keys")
        db.execute("DROP TABLE made")
        db.execute("UPDATE meta SET value='8' WHERE key='version'")
        db.execute("INSERT INTO kv VALUES ('f' || hex(randomblob(15)), 1, 'x', 2, 3.0, NULL)")
    fresh = suite.get_project(project.path)
    assert fresh.find_jobs({"doc.x": 3}).ids() == [project.open_job({"i": 3}).id]
    assert fresh.index.document_keys() == {"x": 5}
    with sqlite3.connect(project.index.path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='version'").fetchone() == ("9",)
    _check(fresh)


def test_a_key_first_queried_on_a_read_only_index_is_made_in_memory(tmp_path, monkeypatch):
    """Making a key's rows is a write: where the index file is read-only (a read-only file
    system) the index moves to memory, is built there whole, and the answer is right."""
    from tests.suite.test_index import index_files_read_only

    project = suite.init_project(tmp_path / "p")
    for i in range(6):
        project.open_job({"i": i, "b": {"c": i % 2}}).init().doc.x = i % 3
    project.index.refresh(documents=True)  # built on the disk, no key made
    index_files_read_only(monkeypatch)
    fresh = suite.get_project(project.path)
    assert fresh.find_jobs({"b.c": 1}).ids() == _expected(project, "b.c", 1)
    assert fresh.index.in_memory
    assert fresh.find_jobs({"doc.x": 2}).ids() == _expected(project, "doc.x", 2)
    assert fresh.index.document_values("x") == {j.id: j.doc.x for j in project.find_jobs()}


def test_making_a_key_leaves_the_caches_and_the_collector_as_they_were(tmp_path):
    """A key's first query sorts its rows with larger page caches (no spill to /var/tmp) and
    without cyclic collection; both are as before once it answers, and after a failure."""
    import gc

    project = suite.init_project(tmp_path / "p")
    for i in range(30):
        project.open_job({"i": i, "b": {"c": i % 3}}).init().doc["x"] = i
    fresh = suite.get_project(project.path)
    fresh.index.refresh(documents=True)
    db = fresh.index._db
    sizes = [db.execute(f"PRAGMA {s}.cache_size").fetchone()[0] for s in ("main", "temp")]
    assert fresh.find_jobs({"b.c": 1}).ids() == sorted(
        project.open_job({"i": i, "b": {"c": 1}}).id for i in range(1, 30, 3))
    assert [db.execute(f"PRAGMA {s}.cache_size").fetchone()[0] for s in ("main", "temp")] == sizes
    assert gc.isenabled()

    def fail(texts, keys):
        raise RuntimeError("cut off")

    original = keyrows.rows_of_keys
    keyrows.rows_of_keys = fail
    try:
        with pytest.raises(RuntimeError):
            fresh.find_jobs({"doc.x": 1}).ids()
    finally:
        keyrows.rows_of_keys = original
    assert [db.execute(f"PRAGMA {s}.cache_size").fetchone()[0] for s in ("main", "temp")] == sizes
    assert gc.isenabled()
    assert _check(fresh) == {(0, "b.c")}  # the failed key was rolled back, not marked made
    assert fresh.find_jobs({"doc.x": 1}).ids() == [project.open_job({"i": 1, "b": {"c": 1}}).id]
