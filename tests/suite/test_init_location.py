"""`suite init` / init_project refuse a project inside another project's workspace, except
inside a job directory: a project in a job is signac's nested project (job data)."""

import os
import subprocess
import sys

import pytest

import suite
from suite.errors import SuiteError


@pytest.mark.parametrize("where", ["workspace", "workspace/sub"])
def test_init_inside_a_workspace_is_refused(project, where):
    job = project.open_job({"a": 1}).init()
    path = {"workspace": project.workspace, "job": job.path}[where.split("/")[0]]
    if "/" in where:
        path = os.path.join(path, where.split("/")[1])
        os.makedirs(path)
    with pytest.raises(SuiteError, match="inside the workspace of the project"):
        suite.init_project(path)
    assert not os.path.exists(os.path.join(path, ".signac"))
    r = subprocess.run([sys.executable, "-m", "suite", "init"], cwd=path, capture_output=True,
                       text=True)
    assert r.returncode == 1
    assert r.stderr.startswith("suite: error: ") and project.path in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not os.path.exists(os.path.join(path, ".signac"))


@pytest.mark.parametrize("where", ["job", "job/deeper"])
def test_a_project_inside_a_job_is_signacs_nested_project(project, where):
    job = project.open_job({"a": 1}).init()
    path = job.path if where == "job" else job.fn("deeper")
    os.makedirs(path, exist_ok=True)
    old = os.getcwd()
    os.chdir(path)
    try:
        nested = suite.init_project()
        nested.open_job({"b": 2}).init()
        # inside the job, the job is still found through the outer project
        assert project.get_job() == job and suite.get_job() == job
        assert suite.get_project().path == nested.path  # the nearest project, as in signac
    finally:
        os.chdir(old)
    assert list(project) == [job] and len(nested) == 1
    assert project.open_job(id=job.id).sp() == {"a": 1}
    r = subprocess.run([sys.executable, "-m", "suite", "init"], cwd=job.path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_job_whose_project_is_gone_may_hold_a_project(tmp_path):
    project = suite.init_project(tmp_path / "p")
    job = project.open_job({"a": 1}).init()
    os.rename(job.path, tmp_path / job.id)
    assert suite.init_project(tmp_path / job.id / "x").path == str(tmp_path / job.id / "x")


def test_init_beside_or_above_a_project_is_fine(project, tmp_path):
    assert suite.init_project(os.path.join(project.path, "analysis")).path.endswith("analysis")
    assert suite.init_project(project.path).path == project.path  # idempotent
    assert suite.init_project(tmp_path / "other").path == str(tmp_path / "other")
