"""Jobs indexed from what their writer wrote (Index.add_known), and a document edit that
deletes exactly its old key rows."""

import json
import os
import sqlite3
import time

import pytest

import suite
from suite import index as index_mod
from suite import layout
from suite.index import keyrows, store


def fresh(project):
    """A new Project object, as a new process would see it (no in-memory state)."""
    return suite.Project(project.path)


def write_job(project, sp, doc):
    """Write a job's files as a sync does; the known row for Index.add_known."""
    job_id = suite.calc_id(sp)
    root = os.path.join(project.workspace, job_id)
    os.makedirs(root)
    sp_text = json.dumps(sp)
    with open(os.path.join(root, layout.STATEPOINT), "w") as f:
        f.write(sp_text)
    sig, doc_text = None, None
    if doc is not None:
        doc_text = json.dumps(doc)
        with open(os.path.join(root, layout.DOCUMENT), "w") as f:
            f.write(doc_text)
            f.flush()
            st = os.fstat(f.fileno())
            sig = (st.st_mtime_ns, st.st_size, st.st_ino)
    return (job_id, sp_text, sp, doc, doc_text, sig)


@pytest.mark.parametrize("bulk_min", [index_mod.BULK_KNOWN_MIN, 5])
def test_known_jobs_answer_queries_without_being_read(tmp_path, monkeypatch, bulk_min):
    # bulk_min 5: the key indexes are dropped and made again around the inserts
    monkeypatch.setattr(index_mod, "BULK_KNOWN_MIN", bulk_min)
    project = suite.init_project(tmp_path / "p")
    known = [write_job(project, {"i": i, "g": i % 3}, {"x": i * 2} if i % 2 else None)
             for i in range(12)]
    project.index.add_known(known)
    with sqlite3.connect(project.index.path) as db:  # the key indexes are there either way
        assert {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='index'")
                } >= set(store.INDEXES)
    again = fresh(project)
    assert again.find_jobs({"g": 1}).ids() == sorted(k[0] for k in known if k[2]["g"] == 1)
    assert again.find_jobs({"doc.x": 6}).ids() == [known[3][0]]
    assert again.find_jobs({"doc.x": {"$exists": False}}).ids() == \
        sorted(k[0] for k in known if k[3] is None)
    assert again.index.files_read() == 0
    expected = again.find_jobs({"g": 1}).ids()
    # the same answers as an index built by reading every file (which the counter sees)
    os.unlink(project.index.path)
    built = fresh(project)
    assert built.find_jobs({"doc.x": 6}).ids() == [known[3][0]]
    assert built.find_jobs({"g": 1}).ids() == expected
    assert built.index.files_read() == 24


@pytest.mark.parametrize("in_place", [True, False])
def test_document_changed_between_writing_and_indexing_is_read(tmp_path, in_place):
    project = suite.init_project(tmp_path / "p")
    row = write_job(project, {"i": 1}, {"x": 1})
    fn = os.path.join(project.workspace, row[0], layout.DOCUMENT)
    if in_place:  # same inode and size: only the modification time tells
        with open(fn, "r+") as f:
            f.write(json.dumps({"x": 2}))
        st = os.stat(fn)
        os.utime(fn, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    else:
        with open(fn + ".new", "w") as f:
            f.write(json.dumps({"x": 3, "y": 1}))
        os.replace(fn + ".new", fn)
    project.index.add_known([row])  # the signature of what was written, not of the file now
    again = fresh(project)
    assert again.find_jobs({"doc.x": 1}).ids() == []
    assert again.find_jobs({"doc.x": 2 if in_place else 3}).ids() == [row[0]]
    assert again.index.files_read() == 1


def test_known_job_already_indexed_is_left_alone(tmp_path):
    project = suite.init_project(tmp_path / "p")
    row = write_job(project, {"i": 1}, {"x": 1})
    assert project.find_jobs({"doc.x": 1}).ids() == [row[0]]  # indexed by reading
    project.index.add_known([row])
    assert _key_rows(project, row[0]) == 2  # not doubled


def test_known_document_over_the_caps_is_left_to_queries(tmp_path, monkeypatch):
    monkeypatch.setattr(keyrows, "DOC_MAX_KEYS", 3)
    project = suite.init_project(tmp_path / "p")
    row = write_job(project, {"i": 1}, {f"k{n}": n for n in range(5)})
    project.index.add_known([row])
    assert project.find_jobs({"doc.k4": 4}).ids() == [row[0]]
    assert _key_rows(project, row[0]) == 1  # the state point's only


def _key_rows(project, job_id):
    """The job's key rows, every key made first."""
    with sqlite3.connect(project.index.path) as db:
        keyrows.make_every_key(db)
        return db.execute("SELECT count(*) FROM kv WHERE id=?", (job_id,)).fetchone()[0]


OLD = {"s": "text", "i": 7, "f": 2.5, "b": True, "n": None, "l": [1, "a"],
       "d": {"e": {"f": 1}, "g": "h"}, "big": 2 ** 1100, "nan": float("nan")}
NEW = {"s": "other", "i": 8}


@pytest.mark.parametrize("exact_max", [keyrows.EXACT_DELETE_MAX, 0])
def test_edit_and_removal_delete_exactly_the_old_key_rows(tmp_path, monkeypatch, exact_max):
    # exact_max 0: every change takes the scan instead; both must leave the same rows
    monkeypatch.setattr(keyrows, "EXACT_DELETE_MAX", exact_max)
    project = suite.init_project(tmp_path / "p")
    keep, job, gone = (project.open_job(sp).init()
                       for sp in ({"i": 0}, {"i": 1, "nest": {"a": [1]}}, {"i": 2}))
    for j in (keep, job, gone):
        with open(j.fn(layout.DOCUMENT), "w") as f:  # NaN as other tools write it
            f.write(json.dumps(OLD))
    assert project.find_jobs({"doc.s": "text"}).ids() == sorted([keep.id, job.id, gone.id])
    before = _key_rows(project, keep.id)
    time.sleep(0.01)
    job.doc.clear()
    job.doc.update(NEW)
    gone.remove()
    for key, value in OLD.items():
        if key not in ("nan", "big"):  # NaN equals nothing; big: finds cannot take it yet
            assert project.find_jobs({f"doc.{key}": value}).ids() == [keep.id], key
    assert project.find_jobs({"doc.s": "other"}).ids() == [job.id]
    assert _key_rows(project, job.id) == 3 + len(NEW)  # i, nest, nest.a and the new keys
    assert _key_rows(project, gone.id) == 0
    assert _key_rows(project, keep.id) == before
