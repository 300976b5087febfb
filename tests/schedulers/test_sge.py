"""Grid Engine live: a real single-node SGE (Debian's gridengine) started by a fixture."""

import subprocess

import pytest

from schedulers import SGE, Submission
from schedulers.sge import parse_qstat_xml

from .live import make_live_project, status, suite_cmd, wait_for


@pytest.fixture
def sge_project(sge, project, monkeypatch):
    monkeypatch.setenv("SUITE_SCHEDULER", "sge")
    return make_live_project(project)


def test_live_sge_submit_hold_release_complete(sge_project):
    r = suite_cmd(sge_project, "submit", "--hold")
    assert r.returncode == 0, r.stderr
    ids = r.stdout.split(":")[1].split()
    assert len(ids) == 3
    # the parser on the server's own output, captured now
    xml = subprocess.run(["qstat", "-xml", "-u", "*"], capture_output=True, text=True).stdout
    assert parse_qstat_xml(xml, ids) == dict.fromkeys(ids, "held")
    assert status(sge_project)["submitted"] == 3
    assert suite_cmd(sge_project, "submit").stdout.startswith("submitted 0 script")
    subprocess.run(["qrls", *ids], check=True, capture_output=True)
    assert wait_for(lambda: status(sge_project)["complete"] == 3)
    assert all(j.isfile("done.txt") for j in sge_project)
    # finished jobs leave the queue (a moment after their operation's file appeared)
    assert wait_for(lambda: SGE().query(ids) == dict.fromkeys(ids, "unknown"), timeout=30)
    assert status(sge_project).get("submitted", 0) == 0


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


# captured from the test server (gridengine 8.1.9): array 34 with task 2 deleted and tasks
# 1 and 3 running, each listed on its own; array 35 with its 3 tasks pending as a range
CAPTURED_ARRAY_XML = """<?xml version='1.0'?>
<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd">
  <queue_info>
    <job_list state="running">
      <JB_job_number>34</JB_job_number>
      <JAT_prio>0.50000</JAT_prio>
      <JB_name>arr.sh</JB_name>
      <JB_owner>root</JB_owner>
      <state>r</state>
      <JAT_start_time>2026-11-28T21:34:42</JAT_start_time>
      <queue_name>all.q@vm</queue_name>
      <slots>1</slots>
      <tasks>1</tasks>
    </job_list>
    <job_list state="running">
      <JB_job_number>34</JB_job_number>
      <JAT_prio>0.50000</JAT_prio>
      <JB_name>arr.sh</JB_name>
      <JB_owner>root</JB_owner>
      <state>r</state>
      <JAT_start_time>2026-11-28T21:34:42</JAT_start_time>
      <queue_name>all.q@vm</queue_name>
      <slots>1</slots>
      <tasks>3</tasks>
    </job_list>
  </queue_info>
  <job_info>
    <job_list state="pending">
      <JB_job_number>35</JB_job_number>
      <JAT_prio>0.00000</JAT_prio>
      <JB_name>arr.sh</JB_name>
      <JB_owner>root</JB_owner>
      <state>qw</state>
      <JB_submission_time>2026-11-28T21:34:47</JB_submission_time>
      <queue_name></queue_name>
      <slots>1</slots>
      <tasks>1-3:1</tasks>
    </job_list>
  </job_info>
</job_info>
"""


def test_array_task_states_from_captured_qstat_xml():
    ids = ["34.1", "34.2", "34.3", "34", "35.1", "35.2", "35.3", "35", "36.1"]
    assert parse_qstat_xml(CAPTURED_ARRAY_XML, ids) == {
        "34.1": "running", "34.2": "unknown", "34.3": "running", "34": "running",
        "35.1": "queued", "35.2": "queued", "35.3": "queued", "35": "queued",
        "36.1": "unknown"}


def test_sge_array_script():
    sub = Submission("arr", [], {"np": 1}, tasks=[["echo one"], ["echo two"]])
    script = SGE().render(sub)
    assert "#$ -t 1-2\n" in script and "#$ -o arr.$TASK_ID.out" in script
    r = subprocess.run(["bash", "-c", script], env={"SGE_TASK_ID": "2", "PATH": "/usr/bin:/bin"},
                       capture_output=True, text=True)
    assert (r.stdout, r.returncode) == ("two\n", 0)


def test_live_sge_array(sge_project):
    r = suite_cmd(sge_project, "submit", "--array", "--hold")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("submitted 1 script")
    array_id = r.stdout.split(":")[1].split()[0]
    tasks = [f"{array_id}.{k}" for k in (1, 2, 3)]
    assert SGE().query(tasks) == dict.fromkeys(tasks, "held")
    assert status(sge_project)["submitted"] == 3
    subprocess.run(["qrls", array_id], check=True, capture_output=True)
    assert wait_for(lambda: status(sge_project)["complete"] == 3)
    assert all(j.isfile("done.txt") for j in sge_project)
