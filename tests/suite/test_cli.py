"""The core CLI, through click's runner and as a real subprocess."""

import json
import os
import subprocess

import pytest
from click.testing import CliRunner

import suite
from suite import layout
from suite.cli import cli


@pytest.fixture
def run(sweep, monkeypatch):
    monkeypatch.chdir(sweep.path)
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


def suite_cmd(*args, cwd):
    return subprocess.run(["suite", *args], cwd=cwd, capture_output=True, text=True)


def test_init_and_job(tmp_path):
    r = suite_cmd("init", str(tmp_path / "p"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = suite_cmd("job", '{"a": 1}', "--create", cwd=tmp_path / "p")
    assert r.returncode == 0
    job_id = r.stdout.strip()
    assert job_id == suite.calc_id({"a": 1})
    assert os.path.isdir(tmp_path / "p" / "workspace" / job_id)


def test_find_short_grammar(run, sweep):
    out = run("find", "a", "1", "b.c", "2").output.split()
    assert set(out) == set(sweep.find_jobs({"a": 1, "b.c": 2}).ids()) and len(out) == 2
    out = run("find", "a.$gt", "2").output.split()
    assert len(out) == 6
    out = run("find", "doc.tag", "odd", "flag", "true").output.split()
    assert len(out) == 6
    out = run("find", '{"a": {"$in": [0, 1]}}').output.split()
    assert len(out) == 12
    res = run("find", "a", "0", "b.c", "0", "--sp", "b.d,flag", "--doc", "score", "--json")
    data = json.loads(res.output)
    assert len(data) == 2
    assert all(v["doc"] == {"score": 0} and v["sp"]["b.d"] == "" for v in data.values())


def test_statepoint_and_document_commands(run, sweep):
    job_id = sweep.find_jobs({"a": 3, "b.c": 1, "flag": True}).ids()[0]
    assert json.loads(run("statepoint", job_id[:10]).output) == {
        "a": 3, "b": {"c": 1, "d": "x"}, "flag": True}
    out = run("document", job_id, "--set", "x.y", "2", "--set", "name", "run 1").output
    assert json.loads(out)["x"] == {"y": 2}
    assert sweep.open_job(id=job_id).doc.name == "run 1"
    run("document", job_id, "--delete", "x")
    assert "x" not in sweep.open_job(id=job_id).doc


def test_rm_move_clone(run, sweep, tmp_path):
    other = suite.init_project(tmp_path / "other")
    ids = sweep.find_jobs({"a": 0}).ids()
    run("clone", ids[0], "--to", other.path)
    assert ids[0] in other
    run("move", ids[1], "--to", other.path)
    assert ids[1] in other and ids[1] not in sweep
    run("rm", "--yes", ids[2])
    assert ids[2] not in sweep


def test_schema_and_reindex_and_check(run, sweep):
    assert "b.c: int([0, 1, 2], 3)" in run("schema").output
    assert json.loads(run("schema", "--json").output)["a"]["int"] == [0, 1, 2, 3]
    assert "indexed 24 jobs" in run("reindex").output
    assert "all jobs are valid" in run("check").output


def test_check_reports_and_repairs(sweep):
    job_id = sweep.find_jobs({"a": 0}).ids()[0]
    wrong = "f" * 32
    os.rename(os.path.join(sweep.workspace, job_id), os.path.join(sweep.workspace, wrong))
    bad = sweep.find_jobs({"a": 1}).ids()[0]
    with open(os.path.join(sweep.workspace, bad, layout.DOCUMENT), "w") as f:
        f.write("{oops")
    r = suite_cmd("check", cwd=sweep.path)
    assert r.returncode == 1
    assert wrong in r.stdout and job_id in r.stdout and bad in r.stdout
    r = suite_cmd("check", "--repair", cwd=sweep.path)
    assert "repaired" in r.stdout
    assert os.path.isdir(os.path.join(sweep.workspace, job_id))
    with open(os.path.join(sweep.workspace, bad, layout.DOCUMENT)) as f:
        assert f.read() == "{oops"  # never rewritten


def test_check_reports_temporary_leftovers_inside_jobs(sweep):
    job = sweep.open_job(id=sweep.find_jobs({"a": 2}).ids()[0])
    os.makedirs(job.fn("sub"))
    leftover = job.fn(f"sub/{layout.TMP_PREFIX}data.h5-99-abcd")
    with open(leftover, "w") as f:
        f.write("half a file")
    r = suite_cmd("check", cwd=sweep.path)
    assert r.returncode == 1 and leftover in r.stdout and "interrupted write" in r.stdout
    assert os.path.exists(leftover)  # reported, never deleted
    seen = []
    report = suite.get_project(sweep.path).check_report(progress=lambda *a: seen.append(a))
    assert seen and seen[-1][0] == seen[-1][1] == len(os.listdir(sweep.workspace))
    assert any(leftover in p.message for p in report.problems)


@pytest.mark.parametrize(
    "args, message",
    [
        (["find", "a.$foo", "1"], "unknown operator"),
        (["find", "{bad"], "not valid JSON"),
        (["statepoint", "0" * 32], "no job with id"),
        (["job", '{"a": NaN}'], "not JSON"),
        (["job", '{"a.b": 1}'], "reserved for nested keys"),
    ],
)
def test_errors_are_one_line_and_nonzero(sweep, args, message):
    r = suite_cmd(*args, cwd=sweep.path)
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_no_project_error(tmp_path):
    r = suite_cmd("find", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith("suite: error: no project in") and str(tmp_path) in r.stderr


def test_debug_shows_traceback(tmp_path):
    r = suite_cmd("--debug", "find", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_shell_command(sweep):
    r = suite_cmd("shell", "-c", "print(len(project))", cwd=sweep.path)
    assert r.returncode == 0 and r.stdout.strip() == "24"
    job_id = sweep.find_jobs().ids()[0]
    r = suite_cmd("shell", "-c", "print(job.id)", cwd=os.path.join(sweep.workspace, job_id))
    assert r.stdout.strip() == job_id


def test_demo_runs(tmp_path):
    r = suite_cmd("demo", str(tmp_path / "demo"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "created 12 jobs" in r.stdout
    r = suite_cmd("demo", str(tmp_path / "demo"), cwd=tmp_path)
    assert r.returncode == 1 and "not empty" in r.stderr


def test_find_names_unreadable_jobs_and_exits_3(sweep):
    """The other jobs are answered; the unreadable ones are named on stderr, every time
    (also when the index has nothing new to read)."""
    bad_doc, bad_sp = sweep.find_jobs({"a": 0}).ids()[:2]
    with open(os.path.join(sweep.workspace, bad_doc, layout.DOCUMENT), "w") as f:
        f.write("{broken")
    with open(os.path.join(sweep.workspace, bad_sp, layout.STATEPOINT), "w") as f:
        f.write("")
    os.unlink(sweep.index.path)  # so the state point is read again
    os.utime(sweep.workspace, (1e9, 1e9))  # old: the index trusts it and reads nothing new
    for _ in range(2):
        r = suite_cmd("find", "doc.score", cwd=sweep.path)
        assert r.returncode == 3, r.stderr
        assert "could not read 2 job(s)" in r.stderr
        assert f"{bad_doc}: corrupt file" in r.stderr and f"{bad_sp}: corrupt file" in r.stderr
        assert len(r.stdout.split()) == 22  # the other jobs are answered
        assert bad_sp not in r.stdout.split() and bad_doc not in r.stdout.split()
    ok = suite_cmd("find", "a", "1", cwd=sweep.path)
    assert ok.returncode == 3 and len(ok.stdout.split()) == 6


NO_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
          "--bounding-set=-dac_override,-dac_read_search"]


def test_check_goes_on_past_unreadable_jobs_and_files(sweep):
    """Run without root's permission override (tests run as root): unreadable state points,
    documents, files and directories are reported; the other jobs are still checked."""
    import sys

    if os.geteuid() == 0 and subprocess.run([*NO_DAC, "true"]).returncode != 0:
        pytest.skip("cannot drop CAP_DAC_OVERRIDE here")
    ids = sweep.find_jobs({"a": 0}).ids()
    ws = sweep.workspace
    os.chmod(os.path.join(ws, ids[0], layout.STATEPOINT), 0)
    os.chmod(os.path.join(ws, ids[1], layout.DOCUMENT), 0)
    with open(os.path.join(ws, ids[2], "secret.dat"), "w") as f:
        f.write("x")
    os.chmod(os.path.join(ws, ids[2], "secret.dat"), 0)
    os.makedirs(os.path.join(ws, ids[3], "closed"))
    os.chmod(os.path.join(ws, ids[3], "closed"), 0)
    wrong = "f" * 32  # a damaged job after the unreadable ones is still found
    os.rename(os.path.join(ws, ids[4]), os.path.join(ws, wrong))
    cmd = [sys.executable, "-m", "suite", "check", "--json"]
    r = subprocess.run([*NO_DAC, *cmd] if os.geteuid() == 0 else cmd, cwd=sweep.path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    got = {(p["job_id"], p["kind"]) for p in json.loads(r.stdout)}
    assert got == {(ids[0], "statepoint"), (ids[1], "document"), (ids[2], "unreadable"),
                   (ids[3], "unreadable"), (wrong, "misnamed")}


def test_find_notes_a_key_no_job_has(sweep):
    for job in sweep.find_jobs({"a": 0}):
        job.doc.temp = 1
    r = suite_cmd("find", "flg", "true", cwd=sweep.path)
    assert r.returncode == 0 and r.stdout == ""
    assert "no job has key 'flg'; did you mean 'flag'?" in r.stderr
    r = suite_cmd("find", "doc.tempx.$exists", "false", cwd=sweep.path)
    assert r.returncode == 0 and len(r.stdout.split()) == 24
    assert "no job has key 'doc.tempx'; did you mean 'doc.temp'?" in r.stderr
    r = suite_cmd("find", "zzzz", "1", cwd=sweep.path)
    assert "no job has key 'zzzz'" in r.stderr and "did you mean" not in r.stderr
    r = suite_cmd("find", "b.c", "1", "doc.temp", "1", cwd=sweep.path)
    assert r.returncode == 0 and r.stderr == "" and len(r.stdout.split()) == 2
