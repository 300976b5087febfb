"""suite diff: differing keys, visible types, missing markers, files, other projects."""

import json
import os
import subprocess

import pytest

import suite
from suite import jobfiles
from suite.diff import compare_jobs, diff_files


def test_differing_keys_only(sweep):
    jobs = list(sweep.find_jobs({"a": 0, "flag": True}))
    d = compare_jobs(*jobs)
    assert d.keys == ["b.c", "b.d"]
    assert sorted(d.values[j.id]["b.c"] for j in jobs) == [0, 1, 2]


def test_types_and_missing_keys_are_visible(project):
    a = project.open_job({"x": 1, "y": [1, 2], "e": {}}).init()
    b = project.open_job({"x": 1.0, "y": [1, 3], "e": {}}).init()
    c = project.open_job({"x": "1", "z": True, "e": {}}).init()
    d = compare_jobs(a, b, c)
    assert d.keys == ["x", "y", "z"]
    text = d.format()
    assert '"1"' in text and "1.0" in text and "(missing)" in text
    assert "y" in d.details  # nested values described by deepdiff
    data = d.to_json()
    assert data["missing"][c.id] == ["y"] and data["missing"][a.id] == ["z"]


def test_documents(sweep):
    jobs = list(sweep.find_jobs({"a": {"$in": [0, 1]}, "b.c": 0, "flag": True}))
    d = compare_jobs(*jobs, document=True)
    assert d.keys == ["score", "tag"]


def test_identical(project):
    a = project.open_job({"x": 1}).init()
    b = project.open_job({"x": 2}).init()
    assert compare_jobs(a, b, document=True).empty


def test_files(project):
    a = project.open_job({"x": 1}).init()
    b = project.open_job({"x": 2}).init()
    for job, content in ((a, "one"), (b, "two")):
        with open(job.fn("same.txt"), "w") as f:
            f.write("same")
        with open(job.fn("changed.txt"), "w") as f:
            f.write(content)
    with open(a.fn("only_a.txt"), "w") as f:
        f.write("a")
    fd = diff_files(a, b)
    assert fd.only_first == ["only_a.txt"] and fd.only_second == []
    assert fd.different == ["changed.txt", "signac_statepoint.json"]


def run(*args, cwd):
    return subprocess.run(["suite", *args], cwd=cwd, capture_output=True, text=True)


def test_cli(sweep, tmp_path):
    ids = sweep.find_jobs({"a": 2, "flag": False}).ids()
    r = run("diff", *ids, cwd=sweep.path)
    assert r.returncode == 0
    assert r.stdout.splitlines()[0].split() == ["job", "b.c", "b.d"]
    r = run("diff", "-f", "a 2", "-f", "flag false", "--json", cwd=sweep.path)
    assert json.loads(r.stdout)["keys"] == ["b.c", "b.d"]
    r = run("diff", ids[0], ids[1], "--files", cwd=sweep.path)
    assert "~ signac_statepoint.json" in r.stdout
    r = run("diff", ids[0], cwd=sweep.path)
    assert r.returncode == 1 and "at least two jobs" in r.stderr


def test_against_another_project(sweep, tmp_path):
    other = suite.init_project(tmp_path / "other")
    for job in sweep.find_jobs({"a": 0}):
        job.clone(other)
    changed = other.open_job(id=sweep.find_jobs({"a": 0}).ids()[0])
    changed.doc.score = -1
    with open(changed.fn("new.txt"), "w") as f:
        f.write("x")
    r = run("diff", "--against", other.path, "--json", cwd=sweep.path)
    data = json.loads(r.stdout)
    assert len(data["only_here"]) == 18 and data["only_there"] == []
    assert list(data["documents"]) == [changed.id]
    assert data["files"][changed.id]["only_second"] == ["new.txt"]
    r = run("diff", "--against", "no-such-host.invalid:/scratch/p", cwd=sweep.path)
    assert r.returncode == 1 and "cannot connect to no-such-host.invalid" in r.stderr
    assert os.path.isdir(sweep.workspace)


@pytest.mark.timeout(60)  # a fifo that is opened never answers
def test_files_link_policy_and_fifos(project, tmp_path):
    a = project.open_job({"x": 1}).init()
    b = project.open_job({"x": 2}).init()
    for job, target in ((a, "data"), (b, "other")):
        for name in ("data", "other"):
            with open(job.fn(name), "w") as f:
                f.write(name)
        os.symlink(target, job.fn("latest"))  # inside: compared by target
        os.symlink("data", job.fn("alias"))
        os.symlink("/etc/passwd", job.fn("passwd"))  # leaves: skipped, never read
        os.mkfifo(job.fn("pipe"))
        os.makedirs(job.fn("sub"))
        os.symlink("sub", job.fn("subdir"))
    os.symlink("../..", a.fn("escape"))
    fd = diff_files(a, b)
    assert fd.different == ["latest", "signac_statepoint.json"]
    assert fd.only_first == [] and fd.only_second == []
    assert sorted((s["job"], s["path"], s["reason"]) for s in fd.skipped) == sorted(
        [(a.id, "escape", jobfiles.LINK_LEAVES)]
        + [(j.id, "passwd", jobfiles.LINK_LEAVES) for j in (a, b)]
        + [(j.id, "pipe", jobfiles.SPECIAL) for j in (a, b)])
    assert "? pipe  (not compared" in fd.format()
    r = subprocess.run(["suite", "diff", a.id, b.id, "--files"], cwd=project.path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "skipped 5 item(s):" in r.stderr and "~ latest" in r.stdout


def test_against_another_project_lists_skipped_files_and_documents(project, tmp_path):
    """Paths not compared (links that leave, fifos) and jobs whose documents were not
    compared are two lists: ``skipped_files`` and ``skipped``."""
    from suite import layout
    from suite.diff import diff_projects

    other = suite.init_project(tmp_path / "other")
    a = project.open_job({"x": 1}).init()
    b = project.open_job({"x": 2}).init()
    a.clone(other)
    b.clone(other)
    os.symlink("/etc/passwd", a.fn("passwd"))
    os.mkfifo(other.open_job(id=a.id).fn("pipe"))
    with open(other.open_job(id=b.id).fn(layout.DOCUMENT), "w") as f:
        f.write("{broken")
    pd = diff_projects(project, other)
    assert sorted((s["job"], s["path"], s["reason"]) for s in pd.skipped_files) == [
        (a.id, "passwd", jobfiles.LINK_LEAVES), (a.id, "pipe", jobfiles.SPECIAL)]
    assert list(pd.skipped) == [b.id] and not pd.empty
    r = subprocess.run(["suite", "diff", "--against", other.path, "--json"], cwd=project.path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert list(data["skipped"]) == [b.id] and len(data["skipped_files"]) == 2
    assert "skipped 2 item(s):" in r.stderr and "passwd" in r.stderr
