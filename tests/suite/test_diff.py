"""suite diff: differing keys, visible types, missing markers, files, other projects."""

import json
import os
import subprocess

import suite
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
