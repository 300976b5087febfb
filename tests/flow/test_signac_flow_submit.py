"""A signac-flow project.py submitted to a real SLURM by suite.flow (`python project.py
submit`), with a signac-flow templates/script.sh: the cluster's work ends as signac-flow's own
`run` of the same project ends."""

import os
import subprocess
import sys

import pytest

from .twins import make_twins, project_py, snapshot

pytest.importorskip("flow")

SUBMITTED = '''
class Project(FlowProject):
    pass


@Project.post.isfile("out.txt")
@Project.operation(cmd=True, with_job=True, directives={"walltime": 0.1})
def simulate(job):
    return f"echo {job.sp.T} > out.txt && echo $FROM_TEMPLATE > template.txt"


@Project.pre.after(simulate)
@Project.post.true("value")
@Project.operation(directives={"np": 1})
def analyse(job):
    ran("analyse", job)
    with open(job.fn("out.txt")) as f:
        job.doc.value = int(f.read())
'''


SCRIPT_SH = '''{% extends base_script %}
{% block header %}
{{ super() }}
#SBATCH --partition=debug
{% endblock header %}
{% block project_header %}
export FROM_TEMPLATE=yes
{{ super() }}
{% endblock project_header %}
'''


def _status(d):
    out = subprocess.run([sys.executable, "project.py", "status", "--json"], cwd=d,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    import json

    return json.loads(out.stdout)["operations"]


def _diagnose(d):
    """The scripts and their outputs, for a failure's message."""
    out = []
    for where in (os.path.join(d, ".suite", "flow", "scripts"), d):
        for name in sorted(os.listdir(where)):
            if name.endswith((".sh", ".out")):
                with open(os.path.join(where, name)) as f:
                    out.append(f"--- {name}\n{f.read()[-1500:]}")
    return "\n".join(out)


def test_project_py_submit_to_slurm_with_a_signac_flow_template(slurm, tmp_path):  # noqa: F811
    from tests.schedulers.live import wait_for

    dirs = make_twins(tmp_path, SUBMITTED, [{"T": t} for t in (1, 2, 3)])
    d = dirs["suite"]
    os.makedirs(os.path.join(d, "templates"))
    with open(os.path.join(d, "templates", "script.sh"), "w") as f:
        f.write(SCRIPT_SH)
    env = {**os.environ, "SUITE_SCHEDULER": "slurm"}

    def submit(*args):
        out = subprocess.run([sys.executable, "project.py", "submit", *args], cwd=d,
                             capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert "submitted 3 script(s)" in submit("-o", "simulate", "--", "--partition=debug")
    assert wait_for(lambda: _status(d)["simulate"]["complete"] == 3), _diagnose(d)
    assert "submitted 1 script(s)" in submit("-o", "analyse", "-b")  # one bundle of all 3
    assert wait_for(lambda: _status(d)["analyse"]["complete"] == 3), _diagnose(d)
    scripts = os.path.join(d, ".suite", "flow", "scripts")
    assert [n for n in os.listdir(scripts) if "bundle3" in n]
    project_py(dirs["flow"], "run")
    result = snapshot(d)
    for job in result["jobs"].values():  # the template's line ran before the operation
        assert job["files"].pop("template.txt") == "yes\n"
    expected = snapshot(dirs["flow"])
    for job in expected["jobs"].values():
        assert job["files"].pop("template.txt") == "\n"
    assert expected == result
