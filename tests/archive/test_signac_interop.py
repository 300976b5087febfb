"""Archives written by the real signac 2.4.1 (`signac export`) import into suite."""

import os
import subprocess

import numpy as np
import pytest

import archive
import suite

signac = pytest.importorskip("signac")


@pytest.fixture
def signac_project(tmp_path):
    p = signac.init_project(str(tmp_path / "sg"))
    for a in range(3):
        for b in ("u", "v"):
            job = p.open_job({"a": a, "b": b, "nested": {"c": a * 0.5}}).init()
            job.doc.result = a
            job.data["x"] = np.arange(3)
            with open(job.fn("out.txt"), "w") as f:
                f.write(f"{a}{b}")
    return p


@pytest.mark.parametrize("ending", ["", ".tar.gz", ".zip"])
def test_signac_export_imports_into_suite(signac_project, tmp_path, ending):
    target = tmp_path / f"sg_export{ending}"
    r = subprocess.run(["signac", "export", str(target)], cwd=signac_project.path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(target)
    project = suite.init_project(tmp_path / "mine")
    result = archive.import_jobs(project, target)
    assert sorted(result.imported) == sorted(j.id for j in signac_project)
    for sj in signac_project:
        job = project.open_job(id=sj.id)
        assert job.sp() == sj.statepoint()
        assert job.doc() == sj.document()
        with open(job.fn("out.txt")) as f:
            assert f.read() == f"{sj.sp.a}{sj.sp.b}"
        assert np.array_equal(job.data["x"], np.arange(3))
