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


@pytest.fixture
def suite_project(tmp_path):
    p = suite.init_project(tmp_path / "mine")
    for a in range(3):
        job = p.open_job({"a": a, "nested": {"c": a * 0.5}}).init()
        job.doc.result = a
        job.data["x"] = np.arange(3)
        os.makedirs(job.fn("out/deep"))
        with open(job.fn("out/deep/log.txt"), "w") as f:
            f.write(f"log {a}")
        os.chmod(job.fn("out"), 0o750)
    return p


@pytest.mark.parametrize("ending", ["", ".tar", ".tar.gz", ".zip"])
def test_suite_export_imports_into_signac(suite_project, tmp_path, ending):
    target = tmp_path / f"suite_export{ending}"
    archive.export_jobs(suite_project, target)
    sg = signac.init_project(str(tmp_path / "sg"))
    sg.import_from(str(target))
    assert sorted(j.id for j in sg) == sorted(j.id for j in suite_project)
    for job in suite_project:
        sj = sg.open_job(id=job.id)
        assert sj.statepoint() == job.sp() and sj.document() == job.doc()
        with open(sj.fn("out/deep/log.txt")) as f:
            assert f.read() == f"log {job.sp.a}"
        with sj.data:
            assert np.array_equal(sj.data["x"], np.arange(3))
    # and suite still reads its own archive back whole, directory modes included
    other = suite.init_project(tmp_path / "other")
    assert len(archive.import_jobs(other, target).imported) == 3
    umask = os.umask(0o022)
    os.umask(umask)
    for job in other:
        assert os.stat(job.fn("out")).st_mode & 0o777 == 0o750 & ~umask | 0o700


# -- import_from(schema=...): the paths must agree with the state points, as in signac ------
def _exported(tmp_path, manifest):
    """Ten jobs {a: i} exported (moved) to data/a/<i>, with or without suite's manifest."""
    project = suite.init_project(tmp_path / "p")
    for i in range(10):
        project.open_job({"a": i}).init()
    data = tmp_path / "data"
    project.export_to(str(data), copytree=os.replace)
    if not manifest:
        os.remove(data / "suite-manifest.json")
    return project, data


@pytest.mark.parametrize("manifest", [True, False], ids=["manifest", "statepoint-files"])
def test_import_schema_contradicting_the_statepoints_raises_signacs_error(tmp_path, manifest):
    project, data = _exported(tmp_path, manifest)
    for schema in ("a/{b:int}", "a/{a:str}"):
        with pytest.raises(suite.errors.StatepointParsingError, match="the path says"):
            project.import_from(str(data), schema=schema)
        with pytest.raises(archive.ArchiveError):  # suite's own class, as before
            archive.import_jobs(project, str(data), schema=schema.replace("{", "<").replace(
                "}", ">"))
        assert len(project) == 0  # nothing landed
    assert len(project.import_from(str(data), schema="a/{a:int}")) == 10
    assert sorted(j.sp.a for j in project) == list(range(10))


def test_import_schema_must_match_every_manifest_path(tmp_path):
    project, data = _exported(tmp_path, True)
    with pytest.raises(archive.ArchiveError, match="do not match the schema"):
        project.import_from(str(data), schema="b/{a:int}")
    assert len(project) == 0
    assert project.import_from(str(data), schema="b/{a:int}", ignore_unmatched=True) == {}
    assert len(project) == 0


def test_job_with_an_empty_statepoint_from_signac_imports(tmp_path):
    # signac allows the state point {} (the job 99914b93...); its export holds {} in the file
    sg = signac.init_project(str(tmp_path / "sg"))
    sg.open_job({}).init().doc.x = 1
    sg.open_job({"a": 1}).init()
    sg.export_to(str(tmp_path / "out"), path=False)
    project = suite.init_project(tmp_path / "mine")
    got = project.import_from(str(tmp_path / "out"))
    assert set(got) == {j.id for j in sg} and "99914b932bd37a50b983c5e7c90ae93b" in got
    assert project.open_job({}).doc() == {"x": 1}
    # a path the schema reads no key from, without a state point file, is still refused:
    # its state point is unknown, not {}
    empty = "99914b932bd37a50b983c5e7c90ae93b"
    os.remove(tmp_path / "out" / empty / "signac_statepoint.json")
    with pytest.raises(archive.ArchiveError, match="empty state point"):
        archive.import_jobs(suite.init_project(tmp_path / "other"), str(tmp_path / "out"),
                            schema="<id>")
