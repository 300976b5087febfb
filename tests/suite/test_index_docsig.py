"""The documents' signatures (table ``docsig``, what freshness checks compare) are those of the
jobs' rows, whichever way ``store.add_jobs`` copies them: by SQLite from the rows just
inserted (the usual path) or bound one by one (the exact path, near the largest rowid)."""

import os
import sqlite3

import pytest

import suite
from suite.index import store


def _tables(project):
    with sqlite3.connect(project.fn(".suite/index.sqlite")) as db:
        jobs = sorted(db.execute("SELECT id, doc_sig FROM jobs"))
        sigs = sorted(db.execute("SELECT id, sig FROM docsig"))
    return jobs, sigs


@pytest.mark.parametrize("far", [False, True])
def test_signatures_follow_builds_additions_and_edits(tmp_path, monkeypatch, far):
    if far:
        monkeypatch.setattr(store, "_ROWID_FAR", 0)
    p = suite.init_project(tmp_path / "p")
    for i in range(40):
        p.open_job({"i": i}).init().doc["x"] = i
    fresh = suite.get_project(p.path)
    assert len(fresh.find_jobs({"doc.x": {"$lt": 100}}).ids()) == 40  # the build
    jobs, sigs = _tables(fresh)
    assert len(jobs) == 40 and sigs == jobs and None not in {s for _, s in sigs}
    for i in range(40, 46):  # new jobs into an index that holds some (not a bulk build)
        p.open_job({"i": i}).init().doc["x"] = i
    os.unlink(p.open_job({"i": 3}).fn("signac_job_document.json"))
    p.open_job({"i": 5}).doc["x"] = 500
    again = suite.get_project(p.path)
    assert again.find_jobs({"doc.x": 500}).ids() == [p.open_job({"i": 5}).id]
    assert len(again.find_jobs({"doc.x": {"$lt": 100}}).ids()) == 44
    jobs, sigs = _tables(again)
    assert len(jobs) == 46 and sigs == jobs


def test_a_job_given_twice_keeps_its_last_row_and_signature(tmp_path):
    db = sqlite3.connect(tmp_path / "i.sqlite", isolation_level=None)
    store.create(db)
    a, b = "a" * 32, "b" * 32
    store.add_jobs(db, [(a, "{}", "{}", "1:2:3", None), (b, "{}", "{}", "4:5:6", None)],
                   {}, check=False)
    store.add_jobs(db, [(a, "{}", "{}", "7:8:9", None), (a, "{}", "{}", "10:11:12", None)],
                   {}, check=False)
    assert sorted(db.execute("SELECT id, doc_sig FROM jobs")) == [(a, "10:11:12"), (b, "4:5:6")]
    assert sorted(db.execute("SELECT id, sig FROM docsig")) == [(a, "10:11:12"), (b, "4:5:6")]


def test_rows_with_a_problem_or_without_a_text_are_inserted_whole_and_in_order(tmp_path):
    """The rows without a None are bound without the problem's column, the others after them:
    every column as given, and where a job comes in both kinds its last row wins."""
    db = sqlite3.connect(tmp_path / "i.sqlite", isolation_level=None)
    store.create(db)
    a, b, c, d = "a" * 32, "b" * 32, "c" * 32, "d" * 32
    rows = [(a, "{}", "{}", "1:1:1", None), (b, None, "{}", "2:2:2", "job b: bad"),
            (c, "{}", None, "3:3:3", None), (d, "{}", "{}", "4:4:4", "job d: doc")]
    store.add_jobs(db, rows, {}, check=False)
    assert sorted(db.execute("SELECT * FROM jobs")) == sorted(rows)
    store.add_jobs(db, [(a, "{}", "{}", "5:5:5", "job a: x"), (a, "{}", "{}", "6:6:6", None),
                        (b, "{}", "{}", "7:7:7", None)], {}, check=False)
    assert sorted(db.execute("SELECT * FROM jobs WHERE id IN (?, ?)", (a, b))) == [
        (a, "{}", "{}", "6:6:6", None), (b, "{}", "{}", "7:7:7", None)]
    store.add_jobs(db, [(c, "{}", "{}", "8:8:8", None), (c, None, "{}", "9:9:9", "job c")],
                   {}, check=False)
    assert db.execute("SELECT * FROM jobs WHERE id=?", (c,)).fetchall() == [
        (c, None, "{}", "9:9:9", "job c")]
    assert sorted(db.execute("SELECT id, sig FROM docsig")) == sorted(
        db.execute("SELECT id, doc_sig FROM jobs"))
