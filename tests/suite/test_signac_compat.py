"""On-disk compatibility with the real signac 2.4.1, both directions."""

import numpy as np
import pytest

import suite

signac = pytest.importorskip("signac")


SPS = [
    {"a": 1, "b": {"c": 2.5, "d": [1, 2]}, "s": "text"},
    {"a": 1.0, "b": {"c": 0, "d": []}, "s": ""},
    {"a": None, "flag": True, "nested": {"x": {"y": {}}}},
    {"unicode": "Grüße ✓", "neg": -3},
]


def test_signac_project_opens_in_suite(tmp_path):
    sp_project = signac.init_project(str(tmp_path))
    for i, sp in enumerate(SPS):
        job = sp_project.open_job(sp).init()
        job.doc.i = i
        job.doc.nested = {"k": [i, {"z": None}]}
        job.data["arr"] = np.arange(i + 1)
        job.data["group"] = {"x": float(i), "name": f"n{i}"}
    sp_project.doc.title = "from signac"
    sp_project.data["pdata"] = np.ones(2)

    p = suite.get_project(tmp_path)
    assert len(p) == len(SPS)
    assert {j.id for j in p} == {j.id for j in sp_project}
    for sj in sp_project:
        job = p.open_job(id=sj.id)
        assert job.sp() == sj.statepoint()
        assert job.doc() == sj.document()
        assert np.array_equal(job.data["arr"], np.arange(job.doc.i + 1))
        assert job.data["group"]["name"] == f"n{job.doc.i}"
        assert suite.calc_id(job.sp()) == sj.id
    assert p.doc() == {"title": "from signac"}
    assert np.array_equal(p.data["pdata"], np.ones(2))
    assert len(p.find_jobs({"doc.i": {"$gte": 2}})) == 2
    assert p.find_jobs({"a": 1}).ids() == sorted(
        sj.id for sj in sp_project.find_jobs({"a": 1}))


def test_suite_project_opens_in_signac(tmp_path):
    p = suite.init_project(tmp_path)
    for i, sp in enumerate(SPS):
        job = p.open_job(sp).init()
        job.doc.i = i
        job.data["arr"] = np.arange(i + 2)
        job.data["meta"] = {"label": f"l{i}", "none": None}
    p.doc.title = "from suite"

    sp_project = signac.get_project(str(tmp_path))
    assert len(sp_project) == len(SPS)
    for job in p:
        sj = sp_project.open_job(id=job.id)
        assert sj.statepoint() == job.sp()
        assert sj.document() == job.doc()
        with sj.data:
            assert np.array_equal(sj.data["arr"][()], np.arange(job.doc.i + 2))
            assert sj.data["meta"]["label"] == f"l{job.doc.i}"
            assert sj.data["meta"]["none"] is None
    assert sp_project.doc() == {"title": "from suite"}
    # signac edits are visible to suite immediately (the index refreshes itself)
    sj = sp_project.open_job(SPS[0])
    sj.doc.edited = "by signac"
    assert p.find_jobs({"doc.edited": "by signac"}).ids() == [sj.id]
    sp_project.open_job({"added": "by signac"}).init()
    assert len(p.find_jobs({"added": {"$exists": True}})) == 1


def test_int_and_float_are_different_jobs_in_both(tmp_path):
    p = suite.init_project(tmp_path)
    a = p.open_job({"a": 1}).init()
    b = p.open_job({"a": 1.0}).init()
    sp_project = signac.get_project(str(tmp_path))
    assert sp_project.open_job({"a": 1}).id == a.id
    assert sp_project.open_job({"a": 1.0}).id == b.id
    assert a.id != b.id
