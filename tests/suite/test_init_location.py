"""`suite init` / init_project refuse a project inside another project's workspace or job."""

import os
import subprocess
import sys

import pytest

import suite
from suite.errors import SuiteError


@pytest.mark.parametrize("where", ["workspace", "workspace/sub", "job", "job/deeper"])
def test_init_inside_a_workspace_or_job_is_refused(project, where):
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


def test_job_whose_project_is_gone_is_still_a_job(tmp_path):
    # a job directory copied out of its project (no config above it) is refused too
    project = suite.init_project(tmp_path / "p")
    job = project.open_job({"a": 1}).init()
    os.rename(job.path, tmp_path / job.id)
    with pytest.raises(SuiteError, match="inside the job directory"):
        suite.init_project(tmp_path / job.id / "x")


def test_init_beside_or_above_a_project_is_fine(project, tmp_path):
    assert suite.init_project(os.path.join(project.path, "analysis")).path.endswith("analysis")
    assert suite.init_project(project.path).path == project.path  # idempotent
    assert suite.init_project(tmp_path / "other").path == str(tmp_path / "other")
