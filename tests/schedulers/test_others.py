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


def test_selection_by_host_name(tmp_path, monkeypatch):
    from schedulers import hosts
    from suite.errors import SuiteError

    monkeypatch.delenv("SUITE_SCHEDULER", raising=False)
    monkeypatch.setenv("SUITE_HOSTS", str(tmp_path / "hosts.json"))
    # built-in entries, matched on the whole name only
    assert hosts.match("login03.frontier.olcf.ornl.gov")["scheduler"] == "slurm"
    assert hosts.match("login1.summit.olcf.ornl.gov")["scheduler"] == "lsf"
    assert hosts.match("workstation") is None
    assert hosts.match("x.summit.olcf.ornl.gov.example.org") is None
    # a user entry comes first and may name a template
    (tmp_path / "hosts.json").write_text(json.dumps(
        [{"pattern": r"login\d\.summit\..*", "scheduler": "pbs", "template": "site.sh.j2"}]))
    assert hosts.match("login1.summit.olcf.ornl.gov")["scheduler"] == "pbs"
    # get_scheduler asks the host name when neither a name nor $SUITE_SCHEDULER is given
    monkeypatch.setattr(hosts, "_names", lambda: ["vm", "login7.summit.olcf.ornl.gov"])
    chosen = get_scheduler()
    assert (chosen.name, chosen.template) == ("pbs", "site.sh.j2")
    assert get_scheduler(template="other.sh.j2").template == "other.sh.j2"
    monkeypatch.setenv("SUITE_SCHEDULER", "sge")
    assert get_scheduler().name == "sge" and get_scheduler().template is None
    # a broken hosts file is an error naming it, not a silent fallback
    monkeypatch.delenv("SUITE_SCHEDULER")
    for bad in ("[{", '[{"pattern": "("  , "scheduler": "slurm"}]', '{"pattern": "x"}'):
        (tmp_path / "hosts.json").write_text(bad)
        with pytest.raises(SuiteError, match="hosts.json"):
            get_scheduler()


def test_submit_with_named_template(project, monkeypatch):
    import sys

    monkeypatch.setenv("SUITE_SCHEDULER", "pbs")
    project.open_job({"a": 1}).init()
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    os.makedirs(project.fn("templates"))
    with open(project.fn("templates/gpu-site.sh.j2"), "w") as f:
        f.write('{% extends "suite/pbs.sh.j2" %}\n{% block header %}{{ super() }}\n'
                '#PBS -A site-account\n{% endblock %}\n')

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "suite", "submit", "--pretend", *args],
                              cwd=project.path, capture_output=True, text=True)

    res = cli("--template", "gpu-site.sh.j2")
    assert res.returncode == 0, res.stderr
    assert "#PBS -A site-account" in res.stdout and "#PBS -N" in res.stdout
    assert "site-account" not in cli().stdout
    missing = cli("--template", "nope.sh.j2")
    assert missing.returncode == 1
    assert "'nope.sh.j2' not found" in missing.stderr and "templates" in missing.stderr


WORKFLOW = textwrap.dedent('''
    from suite.flow import Workflow

    class W(Workflow):
        pass

    @W.post.isfile("done.txt")
    @W.operation(cmd=True)
    def work(job):
        # runs until the test lets it end (a fixed pause was a bet on the load)
        return "while [ ! -e ../../go ]; do sleep 0.05; done; touch done.txt"
''')


def test_direct_end_to_end(project, private_tmpdir):
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
    try:
        assert Direct().query(pids) == {p: "running" for p in pids}
        again = run("submit", "--scheduler", "direct")
        assert again.stdout.startswith("submitted 0 script")  # never twice while running
    finally:
        open(project.fn("go"), "w").close()  # the scripts end, whatever was asserted
    deadline = time.time() + 120
    while time.time() < deadline and not all(j.isfile("done.txt") for j in project):
        time.sleep(0.3)
    while time.time() < deadline and set(Direct().query(pids).values()) != {"completed"}:
        time.sleep(0.3)
    assert set(Direct().query(pids).values()) == {"completed"}
    status = json.loads(run("status", "--json").stdout)["operations"]["work"]
    assert status["complete"] == 2 and status["eligible"] == 0


def test_direct_cancel_and_failure(tmp_path, private_tmpdir):
    d = Direct()
    long = Submission("long", ["sleep 30"])
    pid = d.submit(d.render(long), long, str(tmp_path))
    assert d.query([pid]) == {pid: "running"}
    d.cancel([pid])
    deadline = time.time() + 60
    while time.time() < deadline and d.query([pid])[pid] == "running":
        time.sleep(0.2)
    assert d.query([pid])[pid] in ("failed", "unknown")
    bad = Submission("bad", ["exit 4"])
    pid = d.submit(d.render(bad), bad, str(tmp_path))
    deadline = time.time() + 60  # a wait of its own (it shared the one above, of 10 s)
    while time.time() < deadline and d.query([pid])[pid] == "running":
        time.sleep(0.2)
    assert d.query([pid])[pid] == "failed"
    with pytest.raises(SchedulerError, match="cannot hold"):
        d.submit("", Submission("h", [], hold=True), str(tmp_path))
