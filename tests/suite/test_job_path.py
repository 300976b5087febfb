"""A job's directory is made on first use (not held by every job of an iteration): every way
of getting a job gives the same path, equality and hash, before and after a move or a change of
state point, with and without the native maker."""

import os
import pickle
import subprocess
import sys

import suite
from suite.job import jobs_of


def _jobs(project):
    return {
        "iterated": list(project),
        "found": list(project.find_jobs({"a": {"$gte": 0}})),
        "by id": [project.open_job(id=j.id) for j in project],
        "by state point": [project.open_job(j.sp()) for j in project],
        "status's": list(jobs_of(project, [j.id for j in project], [j.sp() for j in project],
                                 with_paths=True)),
    }


def test_every_way_to_a_job_gives_its_directory(project):
    for a in range(3):
        project.open_job({"a": a}).init()
    ways = _jobs(project)
    want = sorted(os.path.join(project.workspace, j.id) for j in project)
    for how, jobs in ways.items():
        assert sorted(j.path for j in jobs) == want, how
        assert sorted(j.ws for j in jobs) == want, how
        assert all(j.fn("x") == os.path.join(j.path, "x") for j in jobs), how
    # equal and of one hash across the ways: a set of all holds three jobs
    assert len({j for jobs in ways.values() for j in jobs}) == 3
    job = ways["iterated"][0]
    again = pickle.loads(pickle.dumps(job))
    assert again == job and again.path == job.path and hash(again) == hash(job)


def test_the_directory_follows_a_move_and_a_new_state_point(project, tmp_path):
    for a in range(2):
        project.open_job({"a": a}).init()
    first, second = sorted(project, key=lambda j: j.sp()["a"])
    first.update_statepoint({"b": 1})
    assert first.path == os.path.join(project.workspace, first.id) and os.path.isdir(first.path)
    other = suite.init_project(tmp_path / "other")
    second.move(other)
    assert second.path == os.path.join(other.workspace, second.id)
    assert os.path.isdir(second.path) and second.doc() == {}


def test_without_the_native_maker(project):
    for a in range(2):
        project.open_job({"a": a}).init()
    code = ("import os, sys, suite\n"
            "p = suite.get_project(sys.argv[1])\n"
            "paths = sorted(j.path for j in p)\n"
            "assert paths == sorted(os.path.join(p.workspace, i) for i in os.listdir("
            "p.workspace)), paths\n"
            "print(len(paths))\n")
    out = subprocess.run([sys.executable, "-c", code, project.path], capture_output=True,
                         text=True, check=True, env={**os.environ, "SUITE_PURE_PYTHON": "1"})
    assert out.stdout.strip() == "2"
