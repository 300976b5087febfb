"""What each execution records: fields, code (commit, dirty, diff), environment, files."""

import hashlib
import json
import os

from suite.flow import Runner, load_workflow
from suite.provenance import records
from suite.provenance.capture import Capture
from suite.provenance.logs import code_diff, environment

from .conftest import git, run_suite


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def runner(proj, **kw):
    r = Runner(load_workflow(proj), proj)
    for k, v in kw.items():
        setattr(r.capture, k, v)
    return r


def test_record_fields_code_environment_and_files(prov_project, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    r = runner(prov_project, reason="first try", tags=["calib", "v1"])
    r.run(["compute"])
    found = records(prov_project)
    assert len(found) == 3 and len({rec.id for rec in found}) == 3
    rec = found[0]
    job = prov_project.open_job(id=rec.jobs[0])
    assert rec.operation == "compute" and rec.status == "success" and rec.error is None
    assert rec.end >= rec.start and abs(rec.duration - (rec.end - rec.start)) < 1e-9
    assert rec.scheduler_job_id == "4242"
    assert rec.user and rec.host and rec.suite_version
    assert rec.reason == "first try" and rec.tags == ["calib", "v1"]
    # code: the commit of the repository, dirty, and the diff kept by its hash in the job
    assert rec.git_commit == git(prov_project.path, "rev-parse", "HEAD").strip()
    assert rec.git_dirty is True
    expected_diff = git(prov_project.path, "diff", "HEAD")
    assert "+# tuned after the commit" in code_diff(prov_project, rec)
    assert code_diff(prov_project, rec) == expected_diff
    assert rec.diff == hashlib.sha256(expected_diff.encode()).hexdigest()[:16]
    # environment: once per run, the same hash for every record, the blob in each job
    assert {x.environment for x in found} == {rec.environment}
    env = environment(prov_project, rec)
    assert env["packages"]["click"] and env["python"] and env["executable"]
    for x in found:  # kept in each job's log, before the record that names it
        with open(prov_project.open_job(id=x.jobs[0]).fn("suite_flow_log.jsonl")) as f:
            lines = [json.loads(line) for line in f]
        assert [line.get("blob") for line in lines] == [f"env-{rec.environment}",
                                                        f"diff-{rec.diff}", None]
        assert lines[0]["data"] == env
    # files created or modified, with size and content hash
    files = {f["path"]: f for f in rec.files}
    assert set(files) == {"out.txt", "result.json", "signac_job_document.json"}
    assert files["out.txt"] == {"job": job.id, "path": "out.txt", "size": 1,
                                "sha256": sha256(job.fn("out.txt"))}
    assert files["result.json"]["sha256"] == sha256(job.fn("result.json"))


def test_unchanged_files_are_not_listed_and_removed_ones_are(prov_project):
    r = runner(prov_project)
    r.run(["compute"])
    job = prov_project.open_job({"x": 1})
    r.execute(r.operation("tidy"), (job,))
    rec = records(prov_project, [job.id], operation="tidy")[0]
    listed = {f["path"]: f for f in rec.files}
    assert set(listed) == {"tidy.txt", "out.txt"}  # result.json untouched: not listed
    assert listed["out.txt"] == {"job": job.id, "path": "out.txt", "removed": True}


def test_clean_tree_and_no_repository(prov_project, tmp_path):
    git(prov_project.path, "commit", "-q", "-am", "tuned")
    runner(prov_project).run(["compute"], ids=[prov_project.open_job({"x": 1}).id])
    rec = records(prov_project)[0]
    assert rec.git_dirty is False and rec.diff is None and len(rec.git_commit) == 40
    outside = Capture(str(tmp_path))
    assert outside.base()["git_commit"] is None and outside.base()["git_dirty"] is None


def test_failure_keeps_error_and_traceback(prov_project):
    runner(prov_project).run(["broken"])
    failed = records(prov_project, failed=True)
    assert len(failed) == 3
    assert failed[0].error.startswith("ValueError: bad input")
    assert "raise ValueError" in failed[0].traceback


def test_aggregate_record_is_kept_by_each_job_and_listed_once(prov_project):
    runner(prov_project).run(["summarize"])
    found = records(prov_project)
    assert len(found) == 1 and len(found[0].jobs) == 3
    first = prov_project.open_job({"x": 1})
    assert [(f["job"], f["path"]) for f in found[0].files] == [(first.id, "summary.json")]
    for job in prov_project:
        assert len(records(prov_project, [job.id])) == 1


def test_records_off_keeps_the_old_line(prov_project, monkeypatch):
    monkeypatch.setenv("SUITE_RECORDS", "off")
    runner(prov_project).run(["compute"])
    job = prov_project.open_job({"x": 1})
    with open(job.fn("suite_flow_log.jsonl")) as f:
        line = json.loads(f.readline())
    assert set(line) == {"operation", "jobs", "start", "end", "duration", "status", "error",
                         "git_commit", "host", "suite_version"}
    with open(job.fn("suite_flow_log.jsonl")) as f:
        assert len(f.readlines()) == 1  # no blob lines


def test_reason_and_tags_from_the_cli(prov_project):
    out = run_suite(prov_project, "run", "-o", "compute", "--reason", "why not",
                    "--tag", "a", "--tag", "b")
    assert out.returncode == 0, out.stderr
    out = run_suite(prov_project, "exec", "noisy", prov_project.open_job({"x": 2}).id,
                    "--tag", "solo")
    assert out.returncode == 0, out.stderr
    found = records(prov_project)
    assert [(x.operation, x.reason, x.tags) for x in found][-1] == ("noisy", None, ["solo"])
    assert {(x.reason, tuple(x.tags)) for x in found if x.operation == "compute"} == {
        ("why not", ("a", "b"))}


def test_blobs_are_kept_once_per_job_per_hash(prov_project):
    job = prov_project.open_job({"x": 1})
    runner(prov_project).run(["compute"], ids=[job.id])
    noisy = Runner(load_workflow(prov_project), prov_project).operation("noisy")
    runner(prov_project).execute(noisy, (job,))  # a second run (process) in the same environment
    with open(job.fn("suite_flow_log.jsonl")) as f:
        kinds = [json.loads(line).get("blob", "record") for line in f]
    assert kinds[2:] == ["record", "record"] and len(kinds) == 4
    assert [r.operation for r in records(prov_project)] == ["compute", "noisy"]


def test_files_in_subdirectories_and_links(prov_project):
    job = prov_project.open_job({"x": 1})
    r = runner(prov_project)
    r.execute(r.operation("nested"), (job,))
    r.execute(r.operation("nested"), (job,))  # the second time: a.txt rewritten, the link kept
    first, second = records(prov_project)
    files = {f["path"]: f for f in first.files}
    assert set(files) == {"sub/deeper/a.txt", "link"}
    assert files["sub/deeper/a.txt"]["sha256"] == sha256(job.fn("sub/deeper/a.txt"))
    assert files["link"]["sha256"] == hashlib.sha256(b"sub/deeper/a.txt").hexdigest()
    assert [f["path"] for f in second.files] == ["sub/deeper/a.txt"]


def test_submit_carries_reason_and_tags_into_the_scripts(prov_project):
    out = run_suite(prov_project, "submit", "-o", "compute", "--pretend", "--scheduler",
                    "direct", "--reason", "it's $(late)", "--tag", "t 1")
    assert out.returncode == 0, out.stderr
    assert """exec compute""" in out.stdout
    assert """--reason 'it'"'"'s $(late)' --tag 't 1'""" in out.stdout


def test_file_hash_at_read_size_boundaries(tmp_path):
    from suite.provenance.capture import CHUNK, file_sha256

    for size in (0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 20 * CHUNK + 7):
        path = tmp_path / f"f{size}"
        data = os.urandom(size)
        path.write_bytes(data)
        assert file_sha256(str(path)) == hashlib.sha256(data).hexdigest(), size
    assert file_sha256(str(tmp_path / "gone")) is None


def test_reason_may_change_between_runs_of_one_runner(prov_project):
    r = runner(prov_project, reason="first")
    job = prov_project.open_job({"x": 1})
    r.run(["compute"], ids=[job.id])
    r.capture.reason, r.capture.tags = "second", ["t"]
    r.execute(r.operation("noisy"), (job,))
    assert [(x.reason, x.tags) for x in records(prov_project)] == [("first", []),
                                                                   ("second", ["t"])]


def test_a_log_removed_between_executions_gets_its_blobs_again(prov_project):
    job = prov_project.open_job({"x": 1})
    r = runner(prov_project)
    r.execute(r.operation("compute"), (job,))
    os.remove(job.fn("suite_flow_log.jsonl"))  # reset by hand while the runner lives
    r.execute(r.operation("noisy"), (job,))
    (rec,) = records(prov_project)
    assert rec.operation == "noisy"
    assert environment(prov_project, rec)["packages"]["click"]
    assert "+# tuned after the commit" in code_diff(prov_project, rec)


def test_environment_and_code_are_captured_once_per_run(prov_project, monkeypatch):
    """One run of two operations over three jobs asks git and the installed distributions
    once, not once per execution."""
    from suite.provenance import capture

    calls = {"environment": 0, "git_state": 0}

    def counted(name):
        original = getattr(capture, name)

        def wrapper(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)
        return wrapper

    for name in calls:
        monkeypatch.setattr(capture, name, counted(name))
    runner(prov_project).run(["compute", "noisy"])
    found = records(prov_project)
    assert sorted(r.operation for r in found) == ["compute"] * 3 + ["noisy"] * 3
    assert calls == {"environment": 1, "git_state": 1}
