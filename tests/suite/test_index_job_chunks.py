"""``Index.job_chunks`` (status's rows at a million jobs): the state points from their cache,
the documents from the rows a chunk at a time, the same jobs, state points, documents and
signatures as :meth:`~suite.index.Index.job_rows` gives them parsed."""

import json
import marshal
import sqlite3

import pytest

import suite
from suite import layout
from suite.index import columns, keyrows


def _rows_parsed(index):
    """``{id: (state point, document, signature)}`` from job_rows, the reference."""
    out = {}
    for rows in index.job_rows():
        for job_id, sp, doc, sig in rows:
            out[job_id] = (json.loads(sp), doc, sig)
    return out


def _chunks(index, chunk):
    out, sizes = {}, []
    for ids, sps, docs, sigs in index.job_chunks(chunk):
        assert len(ids) == len(sps) == len(docs) == len(sigs)
        sizes.append(len(ids))
        for row in zip(ids, sps, docs, sigs, strict=True):
            assert row[0] not in out  # no job twice
            out[row[0]] = row[1:]
    return out, sizes


@pytest.fixture
def mixed(tmp_path, monkeypatch):
    """Eleven jobs: documents plain, absent, unreadable and over the caps; one state point
    unreadable (not a job of the rows)."""
    monkeypatch.setattr(keyrows, "DOC_MAX_BYTES", 200)
    p = suite.init_project(tmp_path / "p")
    for i in range(11):
        job = p.open_job({"i": i, "b": {"c": [i, None]}}).init()
        if i % 3 == 0:
            job.doc.x = i
        if i == 4:
            job.doc.big = "y" * 1000  # over the caps: read from its file
    with open(p.open_job({"i": 5, "b": {"c": [5, None]}}).fn(layout.DOCUMENT), "w") as f:
        f.write("{not json")
    with open(p.open_job({"i": 7, "b": {"c": [7, None]}}).fn(layout.STATEPOINT), "w") as f:
        f.write("[1, 2")
    return p


@pytest.mark.parametrize("chunk", [1, 3, 10, None])
def test_job_chunks_give_the_rows_parsed(mixed, chunk):
    index = suite.get_project(mixed.path).index
    want = _rows_parsed(index)
    got, sizes = _chunks(index, chunk)
    assert got == want and len(got) == 10
    assert all(n == chunk for n in sizes[:-1]) and 0 < sizes[-1] <= (chunk or 10)
    big = mixed.open_job({"i": 4, "b": {"c": [4, None]}}).id
    assert got[big][1] == {"big": "y" * 1000}
    assert mixed.open_job({"i": 5, "b": {"c": [5, None]}}).id in index.problems


@pytest.mark.parametrize("through_cache", [False, True])
def test_job_chunks_see_a_document_changed_since_the_last_command(mixed, monkeypatch,
                                                                  through_cache):
    """The state point cache outlives document changes; the documents do not come from it."""
    if through_cache:
        monkeypatch.setattr(columns, "SP_CACHE_MIN", 1)
    index = suite.get_project(mixed.path).index
    _chunks(index, 4)
    job = mixed.open_job({"i": 1, "b": {"c": [1, None]}})
    job.doc.x = "changed"
    index = suite.get_project(mixed.path).index
    got, _ = _chunks(index, 4)
    sp, doc, _ = got[job.id]
    assert sp == {"i": 1, "b": {"c": [1, None]}} and json.loads(doc) == {"x": "changed"}
    assert got == _rows_parsed(index)


def test_job_chunks_parse_what_the_cache_lacks(mixed, monkeypatch):
    """A job whose state point the cache does not hold (its row gained one after the cache
    was made, by another process) gets it from its row."""
    monkeypatch.setattr(columns, "SP_CACHE_MIN", 1)
    index = suite.get_project(mixed.path).index
    want = _rows_parsed(index)
    index.all_statepoints()  # the cache made
    db = sqlite3.connect(mixed.fn(".suite/index.sqlite"))
    with db:
        tag, blob = db.execute("SELECT tag, blob FROM spcache").fetchone()
        ids, sps = marshal.loads(blob)
        lacking = ids[3]
        db.execute("UPDATE spcache SET blob = ? WHERE tag = ?",
                   (marshal.dumps((ids[:3] + ids[4:], sps[:3] + sps[4:])), tag))
    db.close()
    got, _ = _chunks(suite.get_project(mixed.path).index, 2)
    assert lacking in got and got == want
