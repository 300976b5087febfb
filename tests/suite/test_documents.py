"""Documents: JSON-backed mappings written atomically, buffered mode, concurrency."""

import json
import multiprocessing
import os

import pytest

import suite
from suite import layout


def test_document_attribute_and_item_access(project):
    job = project.open_job({"a": 1})
    job.doc.x = 1
    job.doc["y"] = {"z": [1, {"w": 2}]}
    job.doc.y.z[1].w = 3
    job.doc.y.z.append(4)
    assert job.doc() == {"x": 1, "y": {"z": [1, {"w": 3}, 4]}}
    with open(job.fn(layout.DOCUMENT)) as f:
        assert json.load(f) == job.doc()
    del job.doc.x
    assert "x" not in job.doc
    assert job.doc.get("missing", 7) == 7
    assert job.doc.setdefault("n", 0) == 0
    assert job.doc.pop("n") == 0
    job.doc.update({"u": 1}, v=2)
    assert job.doc.u == 1 and job.doc.v == 2
    with pytest.raises(AttributeError):
        job.doc.nothing  # noqa: B018


def test_document_write_initialises_job(project):
    job = project.open_job({"a": 1})
    assert job not in project
    job.doc.x = 1
    assert job in project


def test_invalid_document_values_refused_and_file_unchanged(project):
    job = project.open_job({"a": 1})
    job.doc.x = 1
    for bad in (float("nan"), object(), {"a.b": 1}):
        with pytest.raises(suite.InvalidStatepointError):
            job.doc.y = bad
    assert job.doc() == {"x": 1}


def test_views_are_stored_as_plain_copies_and_other_callables_refused(project):
    """A view of a state point or document (suite.synced.is_view) is stored as the plain
    data it shows; any other callable is refused."""
    job = project.open_job({"a": {"b": [1, 2]}}).init()
    job.doc.d = job.sp.a
    job.doc.l = job.sp.a.b
    job.doc["nested"] = {"in": job.doc.l}
    other = project.open_job({"copied": job.sp.a}).init()
    with open(job.fn(layout.DOCUMENT)) as f:
        assert json.load(f) == {"d": {"b": [1, 2]}, "l": [1, 2], "nested": {"in": [1, 2]}}
    assert other.sp() == {"copied": {"b": [1, 2]}}
    assert other.id == project.open_job({"copied": {"b": [1, 2]}}).id
    for bad in (len, lambda: {"b": 1}):
        with pytest.raises(suite.InvalidStatepointError):
            job.doc.y = bad
    assert "y" not in job.doc


def test_document_sees_changes_from_other_writers(project):
    job = project.open_job({"a": 1})
    job.doc.x = 1
    other = project.open_job(id=job.id)
    other.doc.x = 2
    assert job.doc.x == 2
    with open(job.fn(layout.DOCUMENT), "w") as f:
        f.write('{"x": 3, "y": 4}')
    assert job.doc() == {"x": 3, "y": 4}


def test_corrupt_document_error_names_job_and_file(project):
    job = project.open_job({"a": 1}).init()
    for content in ("", "{", "[1, 2]"):
        with open(job.fn(layout.DOCUMENT), "w") as f:
            f.write(content)
        fresh = project.open_job(id=job.id)
        with pytest.raises(suite.CorruptFileError) as info:
            fresh.doc()
        assert job.id in str(info.value)
        with open(job.fn(layout.DOCUMENT)) as f:
            assert f.read() == content


def test_buffered_writes_once_per_file(project):
    jobs = [project.open_job({"i": i}).init() for i in range(5)]
    with suite.buffered():
        for j in jobs:
            for k in range(10):
                j.doc[f"k{k}"] = k
            assert not os.path.exists(j.fn(layout.DOCUMENT))
    for j in jobs:
        with open(j.fn(layout.DOCUMENT)) as f:
            assert json.load(f) == {f"k{k}": k for k in range(10)}


def test_project_document(project):
    project.doc.title = "sweep"
    assert suite.get_project(project.path).doc() == {"title": "sweep"}
    with open(project.fn(layout.PROJECT_DOCUMENT)) as f:
        assert json.load(f) == {"title": "sweep"}


def _writer(path, job_id, key, n):
    p = suite.Project(path)
    job = p.open_job(id=job_id)
    for i in range(n):
        job.doc[key] = i


def test_concurrent_writers_never_tear_the_file(project):
    job = project.open_job({"a": 1}).init()
    job.doc.start = True
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(project.path, job.id, f"w{i}", 200))
             for i in range(3)]
    for p in procs:
        p.start()
    seen = 0
    while any(p.is_alive() for p in procs):
        with open(job.fn(layout.DOCUMENT)) as f:
            data = json.load(f)  # a torn file would fail to parse here
        assert isinstance(data, dict)
        seen += 1
    for p in procs:
        p.join()
        assert p.exitcode == 0
    final = project.open_job(id=job.id).doc()
    assert isinstance(final, dict) and seen > 0
    # last writer wins per write: every key present holds a value its writer wrote
    assert all(final[k] in range(200) for k in final if k.startswith("w"))
    assert not [n for n in os.listdir(job.path) if n.endswith(".tmp")]
