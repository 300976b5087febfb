"""One project.py, run by signac-flow 0.29.1 and by suite.flow: the same results.

Each test writes a project from signac-flow's documentation into two directories (see
twins.py), runs the same ``python project.py ...`` commands in both and compares documents,
HDF5 data, files and which operations ran."""

import json
import os

import pytest

from .twins import both, job_status_script, make_twins, project_py, snapshot

pytest.importorskip("flow")

SWEEP = [{"T": t, "p": p} for t in (1, 2, 3) for p in (0.5, 1.5)]

BASIC = '''
class Project(FlowProject):
    pass


@Project.label
def computed(job):
    return job.isfile("energy.txt")


@Project.label("phase")
def phase(job):
    return "hot" if job.sp.T > 2 else False


@Project.post.isfile("energy.txt")
@Project.operation(cmd=True, with_job=True)
def compute(job):
    return f"echo {job.sp.T * job.sp.p} > energy.txt && echo compute {job.id} >> ../../ran.txt"


@Project.pre.after(compute)
@Project.post.true("energy")
@Project.operation
def read(job):
    ran("read", job)
    with open(job.fn("energy.txt")) as f:
        job.doc.energy = float(f.read())


@Project.pre.true("energy")
@Project.pre(lambda job: job.sp.p > 1)
@Project.post(lambda job: "squared" in job.data)
@Project.operation(name="square")
def store_square(job):
    ran("square", job)
    with job.data:
        job.data["squared"] = job.doc.energy ** 2


@Project.pre.after(compute)
@Project.post.false("dirty")
@Project.operation
def cleanup(job):
    ran("cleanup", job)


@Project.pre.isfile("energy.txt")
@Project.pre.not_(lambda job: job.sp.T == 1)
@Project.post.isfile("report.txt")
@Project.operation(with_job=True)
def report(job):
    ran("report", job)
    with open("report.txt", "w") as f:
        f.write(f"{job.sp.T} {job.doc.energy}\\n")
'''


def test_run_status_next_and_exec_agree(tmp_path):
    dirs = make_twins(tmp_path, BASIC, SWEEP)
    first = {t: job_status_script(d) for t, d in dirs.items()}
    assert first["flow"] == first["suite"]
    # one job first, chosen by id prefix; then a filter; then everything left
    job_id = sorted(os.listdir(os.path.join(dirs["flow"], "workspace")))[0]
    both(dirs, "run", "-o", "compute", "-j", job_id[:10])
    assert snapshot(dirs["flow"]) == snapshot(dirs["suite"])
    both(dirs, "run", "-f", "T", "2")
    assert snapshot(dirs["flow"]) == snapshot(dirs["suite"])
    nxt = both(dirs, "next", "square")
    assert sorted(nxt["flow"].stdout.split()) == sorted(nxt["suite"].stdout.split())
    both(dirs, "run", "--progress")
    after = snapshot(dirs["suite"])
    assert snapshot(dirs["flow"]) == after
    assert any(j["data"] for j in after["jobs"].values())  # job.data was written
    # compute and read on 6 jobs, square on 3 (p > 1), report on 4 (T != 1); cleanup's
    # postcondition holds from the start, so it never runs
    assert len(after["ran"]) == 6 + 6 + 3 + 4
    second = {t: job_status_script(d) for t, d in dirs.items()}
    assert second["flow"] == second["suite"] and second["suite"] != first["suite"]
    # exec runs whatever the conditions say; run -n limits; --pretend runs nothing
    both(dirs, "exec", "cleanup", job_id)
    both(dirs, "run", "-n", "2", "-o", "cleanup")
    both(dirs, "run", "--pretend")
    final = snapshot(dirs["suite"])
    assert snapshot(dirs["flow"]) == final and final["ran"].count(f"cleanup {job_id}") == 1
    for args in (["-d", "-p", "T", "doc.energy"], ["--pretty"], ["--full"], ["--json"],
                 ["--output-format", "markdown"]):
        out = project_py(dirs["suite"], "status", *args)
        assert out.stdout.strip(), args
    detailed = project_py(dirs["suite"], "status", "-d", "-p", "T").stdout
    assert job_id in detailed and "hot" in detailed


def test_suite_cli_runs_a_project_py(tmp_path):
    import subprocess

    dirs = make_twins(tmp_path, BASIC, SWEEP)
    out = subprocess.run(["suite", "run", "--num-passes", "5"], cwd=dirs["suite"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    both_flow = project_py(dirs["flow"], "run")
    assert both_flow.returncode == 0
    assert snapshot(dirs["flow"]) == snapshot(dirs["suite"])
    status = json.loads(subprocess.run(["suite", "status", "--json"], cwd=dirs["suite"],
                                       capture_output=True, text=True).stdout)
    assert status["operations"]["compute"]["eligible"] == 0


def test_a_project_half_run_with_signac_flow_moves_on(tmp_path):
    import shutil

    dirs = make_twins(tmp_path, BASIC, SWEEP)
    project_py(dirs["flow"], "run", "-o", "compute", "read")
    shutil.rmtree(dirs["suite"])
    shutil.copytree(dirs["flow"], dirs["suite"], symlinks=True)
    from .twins import to_suite

    with open(os.path.join(dirs["suite"], "project.py")) as f:
        source = to_suite(f.read())
    with open(os.path.join(dirs["suite"], "project.py"), "w") as f:
        f.write(source)
    both(dirs, "run")
    result = snapshot(dirs["suite"])
    assert snapshot(dirs["flow"]) == result
    assert sum(line.startswith("compute") for line in result["ran"]) == 6  # not run again
