"""The index stores at most DOC_MAX_BYTES / DOC_MAX_KEYS per document; larger documents are
evaluated in Python for document queries, so results stay the same (never silently missing)."""

import json
import os

import pytest

from suite import layout
from suite.index import keyrows
from suite.query import compile_filter, evaluate

FILTERS = [
    {"doc.x": 1}, {"doc.x": {"$exists": False}}, {"doc.k5": {"$gte": 5}},
    {"doc.s": {"$regex": "^y"}}, {"$or": [{"doc.x": 2}, {"a": 0}]}, {"$not": {"doc.k7": 7}},
    {"doc.n.m": {"$type": "int"}}, {"a": {"$lt": 3}}, {"doc.x": {"$ne": 1}},
]


def _python_ids(project, flt):
    tree = compile_filter(flt)
    out = set()
    for i in project.index.ids():
        job = project.open_job(id=i)
        if evaluate(tree, job.sp(), job.doc()):
            out.add(i)
    return out


def _kv_rows(project, job_id):
    db = project.index._connect()
    project.index._write(keyrows.make_every_key)
    return db.execute("SELECT count(*) FROM kv WHERE id=? AND src=1", (job_id,)).fetchone()[0]


@pytest.fixture
def capped(project, monkeypatch):
    monkeypatch.setattr(keyrows, "DOC_MAX_BYTES", 3000)
    monkeypatch.setattr(keyrows, "DOC_MAX_KEYS", 40)
    jobs = {}
    for a in range(6):
        job = project.open_job({"a": a}).init()
        job.doc.x = a % 3
        job.doc.n = {"m": a}
        jobs[a] = job
    jobs[1].doc.update({f"k{i}": i for i in range(60)})  # over the key cap
    jobs[2].doc.s = "y" * 5000  # over the byte cap
    jobs[4].doc.update({f"k{i}": i + 1 for i in range(10)})  # small: indexed
    return project, jobs


def test_over_the_cap_is_evaluated_in_python(capped):
    project, jobs = capped
    for flt in FILTERS:
        assert set(project.find_jobs(flt).ids()) == _python_ids(project, flt), flt
    assert _kv_rows(project, jobs[1].id) == 0 and _kv_rows(project, jobs[2].id) == 0
    assert _kv_rows(project, jobs[4].id) > 10
    docs = project.index.documents()
    assert docs[jobs[1].id]["k59"] == 59 and len(docs[jobs[2].id]["s"]) == 5000
    assert project.index.missing_keys(compile_filter({"doc.k50": 1})) == []


def test_a_document_crossing_the_cap_moves_both_ways(capped):
    project, jobs = capped
    assert jobs[2].id in project.find_jobs({"doc.s": {"$exists": True}}).ids()
    jobs[2].doc.s = "short"
    jobs[3].doc.update({f"k{i}": i for i in range(60)})
    for flt in FILTERS + [{"doc.s": "short"}, {"doc.k55": 55}]:
        assert set(project.find_jobs(flt).ids()) == _python_ids(project, flt), flt
    assert _kv_rows(project, jobs[2].id) > 0 and _kv_rows(project, jobs[3].id) == 0


def test_a_large_document_keeps_the_index_small(project):
    small = project.open_job({"a": 0}).init()
    small.doc.x = 1
    big = project.open_job({"a": 1}).init()
    payload = {"x": 2, "rows": [{"i": i, "v": "z" * 40} for i in range(60000)],
               "keys": {f"k{i}": i for i in range(30000)}}
    with open(big.fn(layout.DOCUMENT), "w") as f:
        json.dump(payload, f)
    assert os.path.getsize(big.fn(layout.DOCUMENT)) > 2 * keyrows.DOC_MAX_BYTES
    assert project.find_jobs({"doc.x": 2}).ids() == [big.id]
    assert project.find_jobs({"doc.keys.k29999": 29999}).ids() == [big.id]
    assert project.find_jobs({"doc.x": {"$exists": True}}).ids() == sorted([small.id, big.id])
    assert os.path.getsize(project.index.path) < 200_000


def test_an_unreadable_large_document_is_reported_until_fixed(capped):
    project, jobs = capped
    with open(jobs[2].fn(layout.DOCUMENT), "w") as f:
        f.write('{"x": 2, "s": "' + "y" * 5000)  # over the byte cap and cut short
    assert jobs[2].id not in project.find_jobs({"doc.x": {"$exists": True}}).ids()
    assert "corrupt" in project.index.problems[jobs[2].id]
    with open(jobs[2].fn(layout.DOCUMENT), "w") as f:
        json.dump({"x": 2}, f)
    assert jobs[2].id in project.find_jobs({"doc.x": 2}).ids()
    assert jobs[2].id not in project.index.problems


def test_documents_as_text_decode_to_the_documents(capped):
    """Sync's steady listing takes the documents as their stored text and decodes a chunk at
    a time: decoded, they are the documents, those over the caps included (read from their
    files, decoded), for all jobs and for some."""
    from suite.jsonio import loads_text

    project, _ = capped
    index = project.index
    for ids in (None, sorted(index.ids())[::2]):
        texts = index.documents(ids, text=True)
        assert any(type(t) is str for t in texts.values())
        assert any(type(t) is dict for t in texts.values())  # over the caps: decoded
        decoded = {i: loads_text(t) if type(t) is str else t for i, t in texts.items()}
        assert decoded == index.documents(ids) and len(decoded) == len(ids or index.ids())
