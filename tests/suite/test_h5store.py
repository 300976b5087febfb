"""HDF5 stores through real h5py files."""

import h5py
import numpy as np
import pytest


def test_job_data_roundtrip(project):
    job = project.open_job({"a": 1})
    job.data["arr"] = np.arange(10.0)
    job.data["scalar"] = 3
    job.data["text"] = "hello"
    job.data["none"] = None
    job.data["nested"] = {"x": 1.5, "deeper": {"y": np.ones(3)}}
    assert np.array_equal(job.data["arr"], np.arange(10.0))
    assert job.data["scalar"] == 3 and job.data.text == "hello"
    assert job.data["none"] is None
    assert job.data["nested"]["x"] == 1.5
    assert np.array_equal(job.data["nested"]["deeper"]["y"], np.ones(3))
    assert set(job.data) == {"arr", "scalar", "text", "none", "nested"}
    del job.data["scalar"]
    assert "scalar" not in job.data
    with h5py.File(job.fn("signac_data.h5"), "r") as f:
        assert list(f["arr"][()]) == list(range(10))


def test_context_manager_keeps_file_open_and_reads_lazily(project):
    job = project.open_job({"a": 1})
    job.data["big"] = np.arange(1000)
    with job.data as data:
        ds = data["big"]
        assert isinstance(ds, h5py.Dataset)  # lazy: not read yet
        assert ds[10:12].tolist() == [10, 11]
        assert data.file.id.valid
    with pytest.raises(RuntimeError):
        job.data.file  # noqa: B018


def test_named_stores(project):
    job = project.open_job({"a": 1})
    job.stores["results"]["x"] = np.zeros(2)
    assert "results" in job.stores and list(job.stores) == ["results"]
    assert job.isfile("results.h5")
    assert np.array_equal(job.stores.results["x"], np.zeros(2))


def test_project_data(project):
    project.data["meta"] = {"n": 3}
    assert project.data["meta"]["n"] == 3


def test_missing_key_raises(project):
    job = project.open_job({"a": 1})
    with pytest.raises(KeyError):
        job.data["nothing"]  # noqa: B018
    job.data["x"] = 1
    with pytest.raises(KeyError):
        job.data["nothing"]  # noqa: B018
