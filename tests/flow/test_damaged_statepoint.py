"""flow's commands with ``-f`` on a project where a job's state point file cannot be read: a
filter cannot tell whether that job matches (signac raises JobsCorruptedError, and so
signac-flow through it). ``suite status -f`` shows the jobs it can judge and names the
damaged one with exit status 3, as ``suite find`` does; ``run`` and ``submit`` refuse with an
error naming it (never run a selection that may be short without saying so)."""

import json
import os
import subprocess
import textwrap

import pytest

WORKFLOW = textwrap.dedent('''
    from suite.flow import Workflow

    class W(Workflow):
        pass

    @W.post.true("done")
    @W.operation
    def op(job):
        job.doc["done"] = True
''')


@pytest.fixture
def damaged(project):
    for i in range(4):
        project.open_job({"i": i}).init()
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    bad = project.open_job({"i": 2}).id
    sp_file = os.path.join(project.workspace, bad, "signac_statepoint.json")
    with open(sp_file + ".new", "w") as f:
        f.write('{"i": ')
    os.replace(sp_file + ".new", sp_file)
    return project, bad


def suite(proj, *args):
    return subprocess.run(["suite", *args], cwd=proj.path, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_status_with_a_filter_shows_the_rest_and_names_the_damaged_job(damaged, fmt):
    proj, bad = damaged
    args = ["status", "-f", "i.$gte 1"] + (["--json"] if fmt == "json" else ["--detailed"])
    out = suite(proj, *args)
    assert out.returncode == 3, out.stderr
    assert bad in out.stderr and "Traceback" not in out.stderr
    judged = {proj.open_job({"i": i}).id for i in (1, 3)}
    if fmt == "json":
        result = json.loads(out.stdout)
        assert set(result["jobs"]) == judged
        assert result["operations"]["op"]["eligible"] == 2
        assert list(result["unreadable"]) == [bad]
    else:
        assert all(i[:8] in out.stdout for i in judged) and bad[:8] not in out.stdout


@pytest.mark.parametrize("command", [["run"], ["submit", "--pretend"]])
def test_run_and_submit_with_a_filter_refuse_naming_the_damaged_job(damaged, command):
    proj, bad = damaged
    out = suite(proj, *command, "-f", "i.$gte 1")
    assert out.returncode not in (0, 2), out.stderr  # refused (2 would be a usage error)
    assert bad in out.stderr and "Traceback" not in out.stderr
    for i in (1, 3):  # nothing ran
        assert "done" not in proj.open_job({"i": i}).doc


def test_status_without_a_filter_is_unchanged_by_the_damaged_job(damaged):
    proj, _ = damaged
    out = suite(proj, "status")
    assert out.returncode == 0, out.stderr
