"""Documents holding NaN or Infinity, as signac 2.4.1 writes them, are read everywhere; NaN
compares equal to nothing, in SQL and in Python alike; suite itself never writes new NaN."""

import json
import math
import subprocess

import pytest

import suite
from suite import layout
from suite.diff import compare_jobs
from suite.query import compile_filter, evaluate

signac = pytest.importorskip("signac")


@pytest.fixture
def nan_project(tmp_path):
    """Four jobs whose documents signac wrote with NaN / Infinity."""
    sp_project = signac.init_project(str(tmp_path / "p"))
    values = [float("nan"), float("inf"), -float("inf"), 1.5]
    for i, v in enumerate(values):
        job = sp_project.open_job({"i": i}).init()
        job.doc.x = v
        job.doc.l = [v, 1]
        job.doc.ok = True
    return suite.get_project(tmp_path / "p"), sp_project


def _ids(project, flt):
    return set(project.find_jobs(flt).ids())


def _python_ids(project, flt):
    tree = compile_filter(flt)
    return {i for i in project.index.ids()
            if evaluate(tree, project.open_job(id=i).sp(), project.open_job(id=i).doc())}


def test_documents_with_nan_are_found_and_compared(nan_project):
    project, sp_project = nan_project
    assert "NaN" in open(sp_project.open_job({"i": 0}).fn(layout.DOCUMENT)).read()
    by_i = {j.sp.i: j.id for j in project}
    assert _ids(project, {"doc.ok": True}) == set(by_i.values())
    assert _ids(project, {"doc.x": {"$gt": 0}}) == {by_i[1], by_i[3]}
    assert _ids(project, {"doc.x": {"$lt": 0}}) == {by_i[2]}
    assert _ids(project, {"doc.x": {"$type": "float"}}) == set(by_i.values())
    assert _ids(project, {"doc.x": {"$near": 1.5}}) == {by_i[3]}
    assert _ids(project, {"doc.x": {"$near": [1e308, 1.0]}}) == {by_i[3]}  # not infinity
    # NaN equals nothing, not even NaN; $ne therefore holds
    assert _ids(project, {"doc.x": float("nan")}) == set()
    assert _ids(project, {"doc.l": [float("nan"), 1]}) == set()
    assert _ids(project, {"doc.x": {"$ne": 1.5}}) == {by_i[0], by_i[1], by_i[2]}
    assert _ids(project, {"doc.x": float("inf")}) == {by_i[1]}
    assert _ids(project, {"doc.l": [float("inf"), 1]}) == {by_i[1]}
    for flt in ({"doc.x": {"$gt": 0}}, {"doc.x": float("nan")}, {"doc.l": [float("nan"), 1]},
                {"doc.x": {"$ne": 1.5}}, {"doc.x": {"$near": [1e308, 1.0]}}):
        assert _ids(project, flt) == _python_ids(project, flt)
    assert project.index.problems == {}
    job = project.open_job(id=by_i[0])
    assert math.isnan(job.doc.x) and math.isnan(project.index.documents([job.id])[job.id]["x"])


def test_check_and_diff_read_nan_documents(nan_project):
    project, _ = nan_project
    assert project.check_report().problems == []
    r = subprocess.run(["suite", "check"], cwd=project.path, capture_output=True, text=True)
    assert r.returncode == 0 and "all jobs are valid" in r.stdout, r.stdout + r.stderr
    a, b = sorted(project, key=lambda j: j.sp.i)[:2]
    assert compare_jobs(a, b, document=True).keys == ["l", "x"]
    r = subprocess.run(["suite", "find", "doc.x.$gt", "0"], cwd=project.path,
                       capture_output=True, text=True)
    assert r.returncode == 0 and len(r.stdout.split()) == 2, r.stderr


def test_new_nan_is_refused_but_signacs_is_kept(nan_project):
    project, sp_project = nan_project
    job = next(j for j in project if j.sp.i == 0)
    with pytest.raises(suite.InvalidStatepointError, match="NaN"):
        job.doc.y = float("nan")
    job.doc.y = 2  # changing another key keeps the NaN signac wrote
    raw = json.loads(open(job.fn(layout.DOCUMENT)).read())
    assert math.isnan(raw["x"]) and raw["y"] == 2
    assert math.isnan(sp_project.open_job(id=job.id).doc["x"])


def test_records_written_by_write_json_keep_nonfinite_values(tmp_path):
    # sync records hold copies of documents; a signac document with NaN must not stop a sync
    from suite.jsonio import read_json, write_json

    path = tmp_path / "record.json"
    write_json(path, {"doc": {"x": float("nan"), "y": float("inf")}})
    back = read_json(path)
    assert math.isnan(back["doc"]["x"]) and back["doc"]["y"] == float("inf")
