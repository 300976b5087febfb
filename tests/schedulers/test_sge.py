"""Grid Engine live: a real single-node SGE (Debian's gridengine) started by a fixture."""

import json
import subprocess
import textwrap
import time

import pytest

from schedulers import SGE, Submission
from schedulers.sge import parse_qstat_xml

WORKFLOW = textwrap.dedent('''
    from suite.flow import Workflow

    class Live(Workflow):
        pass

    @Live.post.isfile("done.txt")
    @Live.operation(cmd=True, directives={"np": 1, "walltime": 0.1})
    def work(job):
        return "sleep 1 && hostname > done.txt"
''')


@pytest.fixture
def sge_project(sge, project, monkeypatch):
    monkeypatch.setenv("SUITE_SCHEDULER", "sge")
    for a in range(3):
        project.open_job({"a": a}).init()
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    return project


def suite_cmd(project, *args):
    return subprocess.run(["suite", *args], cwd=project.path, capture_output=True, text=True)


def wait_for(predicate, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(1)
    return False


def counts(project):
    r = suite_cmd(project, "status", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["operations"]["work"]


def test_live_sge_submit_hold_release_complete(sge_project):
    r = suite_cmd(sge_project, "submit", "--hold")
    assert r.returncode == 0, r.stderr
    ids = r.stdout.split(":")[1].split()
    assert len(ids) == 3
    # the parser on the server's own output, captured now
    xml = subprocess.run(["qstat", "-xml", "-u", "*"], capture_output=True, text=True).stdout
    assert parse_qstat_xml(xml, ids) == dict.fromkeys(ids, "held")
    assert counts(sge_project)["submitted"] == 3
    assert suite_cmd(sge_project, "submit").stdout.startswith("submitted 0 script")
    subprocess.run(["qrls", *ids], check=True, capture_output=True)
    assert wait_for(lambda: counts(sge_project)["complete"] == 3)
    assert all(j.isfile("done.txt") for j in sge_project)
    # finished jobs leave the queue (a moment after their operation's file appeared)
    assert wait_for(lambda: SGE().query(ids) == dict.fromkeys(ids, "unknown"), timeout=30)
    assert counts(sge_project).get("submitted", 0) == 0


def test_live_sge_dependency_and_cancel(sge, tmp_path):
    scheduler = SGE()
    first = Submission("first", ["sleep 30"], {"np": 1}, hold=True)
    first_id = scheduler.submit(scheduler.render(first), first, str(tmp_path))
    after = Submission("after", ["true"], {"np": 2}, after=[first_id])
    script = scheduler.render(after)
    assert "#$ -pe smp 2" in script
    after_id = scheduler.submit(script, after, str(tmp_path))
    # waiting for another job is a hold in Grid Engine's terms (hqw)
    assert scheduler.query([first_id, after_id]) == {first_id: "held", after_id: "held"}
    scheduler.cancel([first_id, after_id])
    assert wait_for(lambda: set(scheduler.query([first_id, after_id]).values()) <= {
        "cancelled", "unknown"}, timeout=30)
