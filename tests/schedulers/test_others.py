"""PBS/Torque, LSF, SGE: scripts and parsing of their documented output formats; direct: live."""

import json
import os
import subprocess
import textwrap
import time

import pytest

from schedulers import LSF, PBS, SGE, Direct, SchedulerError, Submission, get_scheduler
from schedulers.lsf import parse_bjobs
from schedulers.pbs import parse_qstat_f
from schedulers.sge import parse_qstat_xml

EXPECTED = os.path.join(os.path.dirname(__file__), "expected")
CASES = {"serial": {"np": 1}, "gpu_mem_time": {"np": 4, "ngpu": 2, "memory": 8, "walltime": 1.5},
         "openmp": {"np": 2, "omp_num_threads": 4, "walltime": 0.25}}


@pytest.mark.parametrize("cls", [PBS, LSF, SGE])
@pytest.mark.parametrize("case", sorted(CASES))
def test_templates(cls, case):
    script = cls().render(Submission(f"job-{case}", ["echo one", "echo two"], CASES[case]))
    with open(os.path.join(EXPECTED, f"{cls.name}_{case}.sh")) as f:
        assert script == f.read()


def test_gpu_requests_in_every_template():
    sub = Submission("g", ["true"], {"np": 1, "ngpu": 2})
    assert ":gpus=2" in PBS().render(sub)
    assert '-gpu "num=2"' in LSF().render(sub)
    assert "-l gpu=2" in SGE().render(sub)


def test_submit_commands_and_dependencies():
    sub = Submission("x", [], hold=True, after=["11", "12"])
    assert PBS().submit_command("/s.sh", sub) == ["qsub", "-h", "-W", "depend=afterok:11:12",
                                                  "/s.sh"]
    assert LSF().submit_command("/s.sh", sub) == ["bsub", "-H", "-w", "done(11) && done(12)"]
    assert SGE().submit_command("/s.sh", sub) == ["qsub", "-terse", "-h", "-hold_jid", "11,12",
                                                  "/s.sh"]
    assert PBS().parse_submit("1234.head-node\n") == "1234.head-node"
    assert LSF().parse_submit("Job <5678> is submitted to queue <normal>.\n") == "5678"
    assert SGE().parse_submit("91\n") == "91"
    with pytest.raises(SchedulerError):
        LSF().parse_submit("Request aborted by esub.")


def test_parse_qstat_f():
    # the block format of `qstat -f` as in the Torque and PBS Pro manuals
    text = textwrap.dedent("""\
        Job Id: 6.head
            Job_Name = a
            job_state = R
            queue = batch
        Job Id: 7.head
            Job_Name = b
            job_state = C
            exit_status = 1
        Job Id: 8.head
            job_state = H
        Job Id: 9.head
            job_state = Q
        """)
    assert parse_qstat_f(text, ["6.head", "7.head", "8", "9.head", "10.head"], PBS.states) == {
        "6.head": "running", "7.head": "failed", "8": "held", "9.head": "queued",
        "10.head": "unknown"}


def test_parse_bjobs():
    # `bjobs -noheader -o "jobid stat delimiter='|'"` prints one ID|STAT line per job
    text = "101|RUN\n102|PEND\n103|PSUSP\n104|DONE\n105|EXIT\n"
    assert parse_bjobs(text, ["101", "102", "103", "104", "105", "106"], LSF.states) == {
        "101": "running", "102": "queued", "103": "held", "104": "completed",
        "105": "failed", "106": "unknown"}


def test_parse_qstat_xml():
    # the job_info/queue_info structure of `qstat -xml` (Grid Engine qstat(1))
    text = textwrap.dedent("""\
        <?xml version='1.0'?>
        <job_info>
          <queue_info>
            <job_list state="running"><JB_job_number>101</JB_job_number>
              <state>r</state></job_list>
          </queue_info>
          <job_info>
            <job_list state="pending"><JB_job_number>102</JB_job_number>
              <state>hqw</state></job_list>
            <job_list state="pending"><JB_job_number>103</JB_job_number>
              <state>qw</state></job_list>
            <job_list state="pending"><JB_job_number>104</JB_job_number>
              <state>Eqw</state></job_list>
          </job_info>
        </job_info>
        """)
    assert parse_qstat_xml(text, ["101", "102", "103", "104", "105"]) == {
        "101": "running", "102": "held", "103": "queued", "104": "failed", "105": "unknown"}
    with pytest.raises(SchedulerError):
        parse_qstat_xml("error: no such thing", ["1"])


def test_selection(monkeypatch):
    monkeypatch.setenv("SUITE_SCHEDULER", "lsf")
    assert get_scheduler().name == "lsf"
    assert get_scheduler("pbs").name == "pbs"
    with pytest.raises(SchedulerError, match="unknown scheduler"):
        get_scheduler("condor")


WORKFLOW = textwrap.dedent('''
    from suite.flow import Workflow

    class W(Workflow):
        pass

    @W.post.isfile("done.txt")
    @W.operation(cmd=True)
    def work(job):
        return "sleep 1 && touch done.txt"
''')


def test_direct_end_to_end(project):
    for a in range(2):
        project.open_job({"a": a}).init()
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)

    def run(*args):
        return subprocess.run(["suite", *args], cwd=project.path, capture_output=True,
                              text=True)

    r = run("submit", "--scheduler", "direct")
    assert r.returncode == 0, r.stderr
    pids = r.stdout.split(":")[1].split()
    assert Direct().query(pids) == {p: "running" for p in pids}
    again = run("submit", "--scheduler", "direct")
    assert again.stdout.startswith("submitted 0 script")  # never twice while running
    deadline = time.time() + 30
    while time.time() < deadline and not all(j.isfile("done.txt") for j in project):
        time.sleep(0.3)
    while time.time() < deadline and set(Direct().query(pids).values()) != {"completed"}:
        time.sleep(0.3)
    assert set(Direct().query(pids).values()) == {"completed"}
    status = json.loads(run("status", "--json").stdout)["operations"]["work"]
    assert status["complete"] == 2 and status["eligible"] == 0


def test_direct_cancel_and_failure(tmp_path):
    d = Direct()
    long = Submission("long", ["sleep 30"])
    pid = d.submit(d.render(long), long, str(tmp_path))
    assert d.query([pid]) == {pid: "running"}
    d.cancel([pid])
    deadline = time.time() + 10
    while time.time() < deadline and d.query([pid])[pid] == "running":
        time.sleep(0.2)
    assert d.query([pid])[pid] in ("failed", "unknown")
    bad = Submission("bad", ["exit 4"])
    pid = d.submit(d.render(bad), bad, str(tmp_path))
    while time.time() < deadline and d.query([pid])[pid] == "running":
        time.sleep(0.2)
    assert d.query([pid])[pid] == "failed"
    with pytest.raises(SchedulerError, match="cannot hold"):
        d.submit("", Submission("h", [], hold=True), str(tmp_path))
