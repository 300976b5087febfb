"""Nesting deeper than suite.statepoint.MAX_DEPTH (100 levels) is refused when written, reported
by check, and skipped with a report by queries and diffs (never a RecursionError)."""

import json
import shutil
import subprocess

import pytest

import suite
from suite import layout
from suite.diff import compare_jobs, diff_projects
from suite.statepoint import MAX_DEPTH


def nested(levels, leaf=1):
    """A value with ``levels`` levels of objects."""
    value = leaf
    for _ in range(levels):
        value = {"k": value}
    return value


def test_writes_past_the_limit_are_refused(project):
    job = project.open_job({"a": 1}).init()
    job.doc.ok = nested(MAX_DEPTH - 1)  # the document itself is the first level
    with pytest.raises(suite.InvalidStatepointError, match=f"more than {MAX_DEPTH} levels"):
        job.doc.deep = nested(MAX_DEPTH)
    job.doc.a = {}
    with pytest.raises(suite.InvalidStatepointError, match="levels"):
        job.doc.a.b = nested(MAX_DEPTH - 1)
    with pytest.raises(suite.InvalidStatepointError, match="levels"):
        job.doc.update({"x": [nested(MAX_DEPTH - 1)]})
    job.doc.l = []
    with pytest.raises(suite.InvalidStatepointError, match="levels"):
        job.doc.l.append(nested(MAX_DEPTH - 1))
    with pytest.raises(suite.InvalidStatepointError, match="levels"):
        project.open_job({"deep": nested(MAX_DEPTH)})
    assert set(job.doc()) == {"ok", "a", "l"}
    assert len(project.find_jobs({"doc.ok": {"$exists": True}})) == 1


@pytest.fixture
def deep_project(project):
    """Two jobs; another tool wrote a 600-level document into the first."""
    deep = project.open_job({"a": 1}).init()
    other = project.open_job({"a": 2}).init()
    deep.doc.x = 1
    other.doc.x = 1
    project.find_jobs({"doc.x": 1}).ids()  # index both before the damage
    with open(deep.fn(layout.DOCUMENT), "w") as f:
        json.dump({"x": 1, "deep": nested(600)}, f)
    return project, deep, other


def test_check_reports_a_deep_document(deep_project):
    project, deep, _ = deep_project
    problems = project.check_report().problems
    assert [(p.job_id, p.kind) for p in problems] == [(deep.id, "document")]
    assert f"more than {MAX_DEPTH} levels" in problems[0].message
    r = subprocess.run(["suite", "check"], cwd=project.path, capture_output=True, text=True)
    assert r.returncode == 1 and deep.id in r.stdout


def test_queries_skip_a_deep_document_with_a_report(deep_project):
    project, deep, other = deep_project
    assert project.find_jobs({"doc.x": 1}).ids() == [other.id]
    assert project.find_jobs({"doc.deep": {"$exists": False}}).ids() == [other.id]
    assert "levels" in project.index.problems[deep.id]
    assert sorted(project.find_jobs({"a": {"$gt": 0}}).ids()) == sorted([deep.id, other.id])
    with pytest.raises(suite.CorruptFileError, match="levels"):
        deep.doc()
    r = subprocess.run(["suite", "find", "doc.x", "1"], cwd=project.path, capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout.split() == [other.id]
    assert deep.id in r.stderr and "levels" in r.stderr


def test_diff_skips_a_deep_document_with_a_report(deep_project, tmp_path):
    project, deep, other = deep_project
    third = project.open_job({"a": 3}).init()
    third.doc.x = 2
    d = compare_jobs(deep, other, third, document=True)
    assert d.ids == [other.id, third.id] and d.keys == ["x"]
    assert deep.id in d.skipped and deep.id in d.format()
    assert deep.id in d.to_json()["skipped"]
    copy = tmp_path / "copy"
    shutil.copytree(project.path, copy)
    with open(project.open_job(id=other.id).fn(layout.DOCUMENT), "w") as f:
        json.dump({"x": 5}, f)
    pd = diff_projects(project, suite.get_project(copy))
    assert list(pd.documents) == [other.id]
    assert deep.id in pd.skipped and not pd.empty and deep.id in pd.format()


def test_nesting_beyond_the_parser_is_a_corrupt_file(project):
    job = project.open_job({"a": 1}).init()
    with open(job.fn(layout.DOCUMENT), "w") as f:
        f.write("[" * 200000 + "]" * 200000)
    with pytest.raises(suite.CorruptFileError):
        job.doc()
    assert project.find_jobs({"doc.x": 1}).ids() == []
    assert job.id in project.index.problems
