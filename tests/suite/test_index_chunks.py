"""The index is built in chunks of new jobs (bounded memory at a million jobs): the result must
be the one a single pass gives."""

import os
import sqlite3

import suite
from suite import layout


def _view(project):
    ix = project.index
    return (ix.statepoints(), ix.documents(), dict(ix.problems),
            project.find_jobs({"doc.x": {"$gt": 3}}).ids(), project.find_jobs({"b.c": 1}).ids(),
            project.find_jobs({"a": {"$lt": 10}, "doc.y": {"$exists": False}}).ids())


def _kv_rows(project):
    """The key rows of every key (made now if not yet) and the key counts."""
    from suite.index import keyrows

    with sqlite3.connect(project.fn(".suite/index.sqlite")) as db:
        keyrows.make_every_key(db)
        return (sorted(db.execute("SELECT id, src, key, t, num, txt FROM kv")),
                sorted(db.execute("SELECT src, key, n FROM keys")))


def test_chunked_build_matches_one_pass(tmp_path, monkeypatch):
    from suite.index import ahead, refresh

    p = suite.init_project(tmp_path / "p")
    for i in range(45):
        job = p.open_job({"a": i, "b": {"c": i % 3}}).init()
        if i % 2:
            job.doc.x = i
        if i % 7 == 0:
            job.doc.y = [i, {"z": None}]
    bad = p.open_job({"a": 4, "b": {"c": 1}})
    with open(bad.fn(layout.DOCUMENT), "w") as f:
        f.write("{not json")
    monkeypatch.setattr(refresh, "ADD_CHUNK", 10 ** 6)
    one_pass, one_pass_kv = _view(suite.get_project(p.path)), _kv_rows(p)
    for chunk in (1, 4, 44):
        os.unlink(p.fn(".suite/index.sqlite"))
        monkeypatch.setattr(refresh, "ADD_CHUNK", chunk)
        monkeypatch.setattr(ahead, "PART", max(1, chunk // 2))
        fresh = suite.get_project(p.path)
        assert _view(fresh) == one_pass
        assert _kv_rows(p) == one_pass_kv  # no key row twice, none missing
    assert bad.id in one_pass[2] and len(one_pass[0]) == 45


def test_jobs_added_later_in_chunks_join_the_index(tmp_path, monkeypatch):
    from suite.index import refresh

    monkeypatch.setattr(refresh, "ADD_CHUNK", 3)
    p = suite.init_project(tmp_path / "p")
    for i in range(5):
        p.open_job({"a": i, "b": {"c": 0}}).init()
    assert len(p.find_jobs({"b.c": 0})) == 5
    # another tool adds jobs (and removes one) behind the index's back
    other = suite.init_project(tmp_path / "p")
    for i in range(5, 16):
        other.open_job({"a": i, "b": {"c": 0}}).init().doc.x = i
    other.open_job({"a": 0, "b": {"c": 0}}).remove()
    fresh = suite.get_project(p.path)
    assert len(fresh.find_jobs({"b.c": 0})) == 15
    assert len(fresh.find_jobs({"doc.x": {"$gte": 5}})) == 11


def test_jobs_another_process_indexed_after_the_listing_are_not_doubled(tmp_path, monkeypatch):
    """The presence check is skipped only while no other connection committed: here another
    index builds everything between this one's listing and its inserts."""
    from suite.index import refresh

    p = suite.init_project(tmp_path / "p")
    for i in range(30):
        p.open_job({"a": i, "b": {"c": i % 3}}).init().doc.x = i
    expected = _kv_rows_of_a_fresh_build(p)
    os.unlink(p.fn(".suite/index.sqlite"))
    real = refresh._jobs_came_and_went
    other = suite.Project(p.path)

    def listed_then_other_builds(*args):
        out = real(*args)
        if not calls:
            calls.append(1)
            other.index.refresh(documents=True)  # another connection commits every job
        return out

    calls = []

    monkeypatch.setattr(refresh, "_jobs_came_and_went", listed_then_other_builds)
    mine = suite.Project(p.path)
    assert len(mine.find_jobs({"b.c": 1})) == 10
    assert _kv_rows(p) == expected  # no key row twice
    assert len(mine.find_jobs()) == 30


def _kv_rows_of_a_fresh_build(project):
    if os.path.exists(project.fn(".suite/index.sqlite")):
        os.unlink(project.fn(".suite/index.sqlite"))
    suite.Project(project.path).index.refresh(documents=True)
    return _kv_rows(project)
