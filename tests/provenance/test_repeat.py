"""suite repeat: a deterministic operation reproduces; a non-deterministic one is reported
with the differing files and keys; the project is left untouched."""

import hashlib
import json
import os

import pytest

import suite
from suite.flow import Runner, load_workflow
from suite.provenance import records, repeat

from .conftest import run_suite


def snapshot(proj):
    """Every file of the project with its content hash and mtime."""
    out = {}
    for root, _, files in os.walk(proj.path):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, proj.path)] = (hashlib.sha256(f.read()).hexdigest(),
                                                         os.stat(path).st_mtime_ns)
    return out


def record_of(proj, operation):
    Runner(load_workflow(proj), proj).run([operation], ids=[proj.open_job({"x": 2}).id])
    return records(proj, operation=operation)[-1]


def test_deterministic_operation_reproduces_and_project_is_untouched(prov_project):
    rec = record_of(prov_project, "compute")
    before = snapshot(prov_project)
    result = repeat(prov_project, rec.id)
    assert result.reproduced, result.format()
    assert sorted(result.compared) == sorted(
        f"{rec.jobs[0][:8]}/{p}" for p in ("out.txt", "result.json", "signac_job_document.json"))
    assert snapshot(prov_project) == before
    out = run_suite(prov_project, "repeat", rec.id[:8])
    assert out.returncode == 0, out.stderr
    assert "reproduced (3 file(s) compared)" in out.stdout
    assert snapshot(prov_project) == before


def test_command_operation_reproduces(prov_project):
    rec = record_of(prov_project, "shout")
    assert [f["path"] for f in rec.files] == ["shout.txt"]
    result = repeat(prov_project, rec.id)
    assert result.reproduced and result.compared == [f"{rec.jobs[0][:8]}/shout.txt"]


def test_non_deterministic_operation_is_reported_with_files_and_keys(prov_project):
    rec = record_of(prov_project, "noisy")
    before = snapshot(prov_project)
    result = repeat(prov_project, rec.id)
    short = rec.jobs[0][:8]
    assert not result.reproduced
    assert result.differences == {f"{short}/noise.json": ["noise"],
                                  f"{short}/stamp.bin": ["content"]}
    out = run_suite(prov_project, "repeat", rec.id, "--json")
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert data["reproduced"] is False and data["differences"][f"{short}/noise.json"] == ["noise"]
    text = run_suite(prov_project, "repeat", rec.id).stdout
    assert "differs in 2 of 2 file(s)" in text and f"{short}/noise.json: noise" in text
    assert snapshot(prov_project) == before


def test_tolerance_for_json_numbers_and_hdf5_datasets(prov_project):
    jitter = record_of(prov_project, "jitter")
    assert repeat(prov_project, jitter.id).differences == {
        f"{jitter.jobs[0][:8]}/float.json": ["v"]}
    assert repeat(prov_project, jitter.id, rtol=1e-9).reproduced
    hdf = record_of(prov_project, "hdf")
    result = repeat(prov_project, hdf.id, rtol=1e-6)
    assert result.differences == {f"{hdf.jobs[0][:8]}/signac_data.h5": ["noise"]}


def test_failures_and_missing_records(prov_project):
    rec = record_of(prov_project, "broken")
    result = repeat(prov_project, rec.id)
    assert not result.reproduced and result.status == "failure"
    assert "ValueError: bad input 2" in result.format()
    with pytest.raises(suite.SuiteError, match="no record"):
        repeat(prov_project, "abcdef12")
    out = run_suite(prov_project, "repeat", "abcdef12")
    assert out.returncode == 1 and "no record 'abcdef12'" in out.stderr
    assert "Traceback" not in out.stderr
