"""Projects and jobs through the public API."""

import json
import os
import shutil

import pytest

import suite
from suite import layout


def test_init_and_get_project_search_upward(tmp_path):
    p = suite.init_project(tmp_path / "p")
    sub = tmp_path / "p" / "a" / "b"
    sub.mkdir(parents=True)
    assert suite.get_project(sub).path == p.path
    assert (tmp_path / "p" / ".signac" / "config").read_text() == "schema_version = 2\n"
    assert os.path.isdir(p.workspace)


def test_get_project_missing_names_directory(tmp_path):
    with pytest.raises(suite.ProjectNotFoundError, match=str(tmp_path)):
        suite.get_project(tmp_path)


def test_wrong_schema_version_refused(tmp_path):
    (tmp_path / ".signac").mkdir()
    (tmp_path / ".signac" / "config").write_text("schema_version = 1\n")
    with pytest.raises(suite.SuiteError, match="schema_version 1"):
        suite.Project(tmp_path)


def test_job_id_is_md5_of_sorted_json(project):
    import hashlib

    sp = {"b": 2, "a": {"y": 1, "x": [1, 2]}}
    expected = hashlib.md5(json.dumps(sp, sort_keys=True).encode()).hexdigest()
    job = project.open_job(sp)
    assert job.id == expected
    assert project.open_job({"a": 1}).id != project.open_job({"a": 1.0}).id


def test_init_creates_statepoint_file_and_is_idempotent(project):
    job = project.open_job({"a": 1}).init()
    with open(job.fn(layout.STATEPOINT)) as f:
        assert json.load(f) == {"a": 1}
    job.init()
    assert job in project and len(project) == 1
    assert not [n for n in os.listdir(project.workspace) if n.startswith(layout.TMP_PREFIX)]
    shutil.rmtree(job.path)  # removed behind the object's back: init creates it again
    job.init()
    with open(job.fn(layout.STATEPOINT)) as f:
        assert json.load(f) == {"a": 1}


def test_open_job_by_id_and_prefix(sweep):
    ids = sweep.find_jobs().ids()
    job = sweep.open_job(id=ids[0])
    assert job.sp() == sweep.open_job(id=ids[0][:12]).sp()
    with pytest.raises(suite.JobNotFoundError):
        sweep.open_job(id="0" * 32)
    with pytest.raises(suite.JobNotFoundError):
        sweep.open_job(id="zz")
    # a one-character prefix is ambiguous among 24 jobs (16 hex digits)
    first = {i[0] for i in ids}
    ambiguous = next(c for c in first if sum(i.startswith(c) for i in ids) > 1)
    with pytest.raises(suite.AmbiguousIdError):
        sweep.open_job(id=ambiguous)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"a": float("nan")}, "NaN"),
        ({"a": float("inf")}, "NaN and Infinity"),
        ({1: 2}, "not a string"),
        ({"a.b": 1}, "contains '.'"),
        ({"$a": 1}, "starts with '\\$'"),
        ({"a": object()}, "cannot be stored as JSON"),
        ({"a": {"b": {2: 1}}}, "not a string"),
    ],
)
def test_invalid_statepoints_are_refused(project, bad, match):
    with pytest.raises(suite.InvalidStatepointError, match=match):
        project.open_job(bad)
    assert len(project) == 0


def test_iteration_len_contains(sweep):
    jobs = list(sweep)
    assert len(jobs) == len(sweep) == 24
    assert [j.id for j in jobs] == sorted(j.id for j in jobs)
    assert all(j in sweep for j in jobs)
    assert {"a", "b", "flag"} == set(jobs[0].sp.keys())


def test_statepoint_change_moves_job_and_refuses_overwrite(project):
    job = project.open_job({"a": 1}).init()
    job.doc.x = 5
    old = job.id
    job.sp.a = 2
    assert job.id == project.open_job({"a": 2}).id
    assert not os.path.exists(os.path.join(project.workspace, old))
    assert job.doc.x == 5
    other = project.open_job({"a": 3}).init()
    with pytest.raises(suite.DestinationExistsError):
        other.sp.a = 2
    assert other.sp.a == 3 and os.path.isdir(other.path)
    job.update_statepoint({"b": 1})
    assert job.sp() == {"a": 2, "b": 1}
    with pytest.raises(KeyError):
        job.update_statepoint({"b": 7})
    job.update_statepoint({"b": 7}, overwrite=True)
    job.reset_statepoint({"z": 0})
    assert job.sp() == {"z": 0} and job.doc() == {"x": 5}


def test_nested_statepoint_edit(project):
    job = project.open_job({"b": {"c": 1}, "l": [1, 2]}).init()
    job.sp.b.c = 2
    job.sp.l.append(3)
    assert job.sp() == {"b": {"c": 2}, "l": [1, 2, 3]}
    assert suite.calc_id(job.sp()) == job.id


def test_remove_move_clone(tmp_path):
    a = suite.init_project(tmp_path / "a")
    b = suite.init_project(tmp_path / "b")
    job = a.open_job({"k": 1}).init()
    job.doc.v = 1
    copy = job.clone(b)
    assert copy.doc.v == 1 and job in a
    with pytest.raises(suite.DestinationExistsError):
        job.move(b)
    copy.remove()
    assert copy not in b
    job.move(b)
    assert job not in a and job in b and job.doc.v == 1


def test_with_job_changes_directory(project):
    job = project.open_job({"a": 1})
    before = os.getcwd()
    with job:
        assert os.path.realpath(os.getcwd()) == os.path.realpath(job.path)
        assert suite.get_job().id == job.id
    assert os.getcwd() == before


def test_fn_isfile(project):
    job = project.open_job({"a": 1}).init()
    assert not job.isfile("out.txt")
    with open(job.fn("out.txt"), "w") as f:
        f.write("x")
    assert job.isfile("out.txt")


def test_corrupt_statepoint_names_job_and_file(project):
    job = project.open_job({"a": 1}).init()
    with open(job.fn(layout.STATEPOINT), "w") as f:
        f.write("{not json")
    fresh = project.open_job(id=job.id)
    with pytest.raises(suite.CorruptFileError) as info:
        fresh.sp()
    assert job.id in str(info.value) and layout.STATEPOINT in str(info.value)
    with open(job.fn(layout.STATEPOINT)) as f:
        assert f.read() == "{not json"  # nothing rewritten


def test_detect_schema(sweep):
    schema = sweep.detect_schema()
    assert set(schema) == {"a", "b.c", "b.d", "flag"}
    assert schema["a"][int] == {0, 1, 2, 3}
    assert schema["flag"][bool] == {True, False}
    assert "'a': 'int([0, 1, 2, 3], 4)'" in str(schema)


def test_groupby(sweep):
    groups = dict((k, len(v)) for k, v in sweep.groupby("a"))
    assert groups == {0: 6, 1: 6, 2: 6, 3: 6}
    by_doc = dict((k, len(v)) for k, v in sweep.groupby("doc.tag"))
    assert by_doc == {"even": 12, "odd": 12}
    multi = list(sweep.find_jobs({"a": 0}).groupby(["b.c", "flag"]))
    assert len(multi) == 6 and all(len(v) == 1 for _, v in multi)


def test_to_dataframe(sweep):
    df = sweep.find_jobs({"a": 1}).to_dataframe()
    assert len(df) == 6
    assert set(df["sp.a"]) == {1} and set(df["doc.tag"]) == {"odd"}
