"""SLURM: scripts from templates, squeue parsing, and live submissions to a real SLURM."""

import json
import os
import subprocess

import pytest

import suite
from schedulers import Slurm, Submission, combine
from schedulers.slurm import parse_squeue

from .live import make_live_project, status, suite_cmd, wait_for

EXPECTED = os.path.join(os.path.dirname(__file__), "expected")


@pytest.mark.parametrize("case, directives", [
    ("serial", {"np": 1}),
    ("gpu_mem_time", {"np": 4, "ngpu": 2, "memory": 8, "walltime": 1.5}),
    ("openmp", {"np": 2, "omp_num_threads": 4, "walltime": 0.25}),
])
def test_template_output(case, directives):
    script = Slurm().render(Submission(f"job-{case}", ["echo one", "echo two"], directives))
    with open(os.path.join(EXPECTED, f"slurm_{case}.sh")) as f:
        assert script == f.read()


def test_user_template_extends_shipped_one(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "slurm.sh.j2").write_text(
        '{% extends "suite/slurm.sh.j2" %}{% block environment %}module load gcc\n'
        '{{ super() }}{% endblock %}')
    script = Slurm().render(Submission("x", ["true"], {"np": 1}), str(tmp_path))
    assert "module load gcc" in script and "#SBATCH --ntasks=1" in script


def test_combine_directives():
    ops = [{"np": 2, "ngpu": 1, "memory": 4, "walltime": 1.0},
           {"np": 3, "ngpu": 0, "memory": 2, "walltime": 0.5}]
    assert combine(ops, parallel=False) == {"np": 3, "ngpu": 1, "memory": 4, "walltime": 1.5}
    assert combine(ops, parallel=True) == {"np": 5, "ngpu": 1, "memory": 6, "walltime": 1.0}


def test_submit_command_never_blocks():
    cmd = Slurm().submit_command("/x.sh", Submission("x", [], hold=True, after=["12", "13"],
                                                     extra_flags=["--partition=gpu"]))
    assert cmd == ["sbatch", "--parsable", "--hold", "--dependency=afterok:12:13",
                   "--partition=gpu", "/x.sh"]
    assert "-W" not in cmd and "--wait" not in cmd


def test_parse_squeue_captured_output():
    # captured from the live SLURM below with --format=%i|%T|%r
    text = "2|CANCELLED|JobHeldUser\n1|COMPLETED|None\n3|PENDING|JobHeldUser\n4|RUNNING|None\n"
    states = parse_squeue(text, ["1", "2", "3", "4", "99"], Slurm.states)
    assert states == {"1": "completed", "2": "cancelled", "3": "held", "4": "running",
                      "99": "unknown"}


@pytest.fixture
def live_project(project):
    return make_live_project(project)


def test_live_submit_watch_and_complete(slurm, live_project):
    r = suite_cmd(live_project, "submit", "--pretend")
    assert r.returncode == 0 and r.stdout.count("#SBATCH --job-name=") == 3
    r = suite_cmd(live_project, "submit", "-n", "2")
    assert r.returncode == 0, r.stderr
    ids = r.stdout.split(":")[1].split()
    assert len(ids) == 2
    assert wait_for(lambda: status(live_project).get("running", 0) >= 1)
    # submitted or running work is never submitted again
    r = suite_cmd(live_project, "submit")
    assert r.stdout.startswith("submitted 1 script")
    assert wait_for(lambda: status(live_project)["complete"] == 3)
    assert all(j.isfile("done.txt") for j in live_project)
    assert status(live_project).get("submitted", 0) == 0


def test_live_bundle_after_hold_and_cancel(slurm, live_project):
    scheduler = Slurm()
    # the node has 2 CPUs: a parallel bundle of 2 one-task operations asks for 2 tasks
    r = suite_cmd(live_project, "submit", "--bundle", "2", "--parallel", "--hold")
    assert r.returncode == 0, r.stderr
    bundle_id, single_id = r.stdout.split(":")[1].split()
    assert scheduler.query([bundle_id, single_id]) == {bundle_id: "held", single_id: "held"}
    sub = Submission("after-bundle", ["true"], {"np": 1}, after=[bundle_id])
    dep_id = scheduler.submit(scheduler.render(sub), sub, str(live_project.fn(".suite")))
    assert scheduler.query([dep_id])[dep_id] == "queued"
    scheduler.cancel([dep_id])
    assert wait_for(lambda: scheduler.query([dep_id])[dep_id] in ("cancelled", "unknown"))
    subprocess.run(["scontrol", "release", bundle_id, single_id], check=True)
    assert wait_for(lambda: status(live_project)["complete"] == 3, timeout=90)
    script = open(live_project.fn(f".suite/flow/scripts/suite-work-"
                                  f"{live_project.find_jobs().ids()[0][:8]}-bundle2.sh")).read()
    assert script.count(" &\n") == 2 and "wait" in script and "--ntasks=2" in script


def test_status_falls_back_when_scheduler_fails(live_project, monkeypatch, tmp_path):
    book = live_project.fn(".suite/flow/submissions.json")
    os.makedirs(os.path.dirname(book))
    with open(book, "w") as f:
        json.dump({"7": {"scheduler": "slurm", "pairs": [["work", "x"]], "time": 0}}, f)
    env_bin = tmp_path / "bin"
    env_bin.mkdir()
    (env_bin / "squeue").write_text("#!/bin/sh\necho 'slurm_load_jobs error' >&2\nexit 1\n")
    (env_bin / "sbatch").write_text("#!/bin/sh\nexit 1\n")
    os.chmod(env_bin / "squeue", 0o755)
    os.chmod(env_bin / "sbatch", 0o755)
    r = subprocess.run(["suite", "status", "--json"], cwd=live_project.path, capture_output=True,
                       text=True, env={**os.environ, "PATH": f"{env_bin}:{os.environ['PATH']}"})
    assert r.returncode == 0
    assert "cannot ask the scheduler" in r.stderr
    assert json.loads(r.stdout)["operations"]["work"]["eligible"] == 3
    assert suite.get_project(live_project.path)


def test_array_script_and_refusal_elsewhere():
    from schedulers import PBS, SchedulerError

    sub = Submission("arr", [], {"np": 1}, tasks=[["echo zero"], ["echo one", "echo more"]])
    script = Slurm().render(sub)
    assert "#SBATCH --array=0-1\n" in script and "#SBATCH --output=arr_%a.out" in script
    body = script[script.index('case "$SLURM_ARRAY_TASK_ID" in'):]
    assert body.startswith('case "$SLURM_ARRAY_TASK_ID" in\n0)\necho zero\n;;\n1)\necho one\n'
                           'echo more\n;;\n')
    assert body.rstrip().endswith("esac")
    # the script runs only its own task, and refuses an index it does not have
    for k, expected, code in (("1", "one\nmore\n", 0), ("7", "", 1)):
        r = subprocess.run(["bash", "-c", script], env={**os.environ, "SLURM_ARRAY_TASK_ID": k},
                           capture_output=True, text=True)
        assert (r.stdout, r.returncode) == (expected, code)
    with pytest.raises(SchedulerError, match="job arrays are not supported"):
        PBS().render(sub)


def test_live_job_array(slurm, live_project):
    r = suite_cmd(live_project, "submit", "--array", "--hold")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("submitted 1 script")
    array_id = r.stdout.split(":")[1].split()[0]
    tasks = [f"{array_id}_{k}" for k in range(3)]
    assert Slurm().query(tasks) == dict.fromkeys(tasks, "held")
    assert status(live_project)["submitted"] == 3
    jobs = json.loads(suite_cmd(live_project, "status", "--json").stdout)["jobs"]
    assert [info.get("submitted") for info in jobs.values()] == [["work"]] * 3
    detailed = suite_cmd(live_project, "status", "--detailed").stdout
    assert detailed.count("submitted: work") == 3
    html = suite_cmd(live_project, "status", "--html").stdout
    assert "<th>submitted</th>" in html and "<td>work</td><td>3</td><td>3</td><td>0</td><td>0</td>" in html
    again = suite_cmd(live_project, "submit", "--array")  # all three are queued already
    assert again.stdout.startswith("submitted 0 script")
    subprocess.run(["scontrol", "release", array_id], check=True)
    assert wait_for(lambda: status(live_project)["complete"] == 3, timeout=90)
    assert all(j.isfile("done.txt") for j in live_project)
    scripts = os.listdir(live_project.fn(".suite/flow/scripts"))
    assert [s for s in scripts if s.endswith("-array3.sh")], scripts
