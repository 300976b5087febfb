"""A run learns whether a job's log holds its environment and diff blobs from the log's end,
not by reading the job's whole history (issue #17): the cost per execution stays flat as the
log grows, and no blob a record names is ever missing from the log."""

import json

from suite.flow import Runner, load_workflow
from suite.provenance import records
from suite.provenance.capture import blob_line
from suite.provenance.logs import code_diff, environment

from .conftest import run_suite

LOG = "suite_flow_log.jsonl"
OTHER_ENV = "f" * 16


def lines(job):
    with open(job.fn(LOG), "rb") as f:
        return f.read().splitlines()


def blob_names(job):
    return [json.loads(raw)["blob"] for raw in lines(job) if raw.startswith(b'{"blob": ')]


def execute(proj, op, job):
    """One execution by a new runner (a new ``suite run``); returns the runner."""
    r = Runner(load_workflow(proj), proj)
    r.execute(r.operation(op), (job,))
    return r


def first_record(job):
    """The job's first record line, as a dict."""
    return json.loads(next(raw for raw in lines(job) if not raw.startswith(b'{"blob": ')))


def rewrite(job, raw_lines):
    with open(job.fn(LOG), "wb") as f:
        f.write(b"".join(raw + b"\n" for raw in raw_lines))


def assert_latest_resolves(proj, job, operation):
    latest = [r for r in records(proj, [job.id]) if r.operation == operation][-1]
    assert environment(proj, latest)["packages"]["click"]
    assert "+# tuned after the commit" in code_diff(proj, latest)


def test_a_long_history_is_not_read_again(prov_project):
    job = prov_project.open_job({"x": 1})
    execute(prov_project, "compute", job)
    history = lines(job)
    old = history[-1]  # the record; the blobs come before it
    rewrite(job, history + [old] * 2000)  # a job that has run 2,000 times
    size = len(b"\n".join(lines(job)))
    assert size > 1_000_000
    r = execute(prov_project, "noisy", job)
    assert r.log.bytes_read <= 16384  # the end of the log, not its 1 MB of history
    assert sorted(blob_names(job)) == sorted(set(blob_names(job)))  # none written twice
    assert len(blob_names(job)) == 2
    assert_latest_resolves(prov_project, job, "noisy")


def test_blobs_are_written_when_the_last_record_names_another_environment(prov_project):
    job = prov_project.open_job({"x": 1})
    execute(prov_project, "compute", job)
    foreign = {**first_record(job), "environment": OTHER_ENV, "diff": None}
    # a log made elsewhere (synced in): its own environment's blob, records naming it
    rewrite(job, [blob_line(f"env-{OTHER_ENV}", {"python": "2.7"}).rstrip(),
                  json.dumps(foreign).encode()])
    execute(prov_project, "noisy", job)
    assert len(blob_names(job)) == 3  # the foreign one, and this run's environment and diff
    assert_latest_resolves(prov_project, job, "noisy")


def test_blobs_are_written_after_records_of_an_older_version(prov_project):
    job = prov_project.open_job({"x": 1})
    old = {"operation": "compute", "jobs": [job.id], "start": 1.0, "end": 2.0,
           "status": "success", "host": "h", "suite_version": "0.1"}  # no environment
    rewrite(job, [json.dumps(old).encode()] * 50)
    execute(prov_project, "noisy", job)
    assert len(blob_names(job)) == 2
    assert_latest_resolves(prov_project, job, "noisy")


def test_a_cut_last_line_does_not_hide_the_record_before_it(prov_project):
    job = prov_project.open_job({"x": 1})
    execute(prov_project, "compute", job)
    with open(job.fn(LOG), "ab") as f:
        f.write(b'{"id": "cut short by a kill')  # no newline: a write cut short
    r = execute(prov_project, "noisy", job)
    assert len(blob_names(job)) == 2  # the record before the cut line proved them there
    assert r.log.bytes_read > 0
    assert [x.operation for x in records(prov_project, [job.id])] == ["compute", "noisy"]


def test_a_last_record_longer_than_the_tail_is_read_whole(prov_project):
    job = prov_project.open_job({"x": 1})
    execute(prov_project, "compute", job)
    long = {**first_record(job), "id": "a" * 32, "reason": "x" * 50_000}
    rewrite(job, lines(job) * 1 + [json.dumps(long).encode()])
    r = execute(prov_project, "noisy", job)
    assert len(blob_names(job)) == 2
    assert 50_000 < r.log.bytes_read < 120_000
    assert_latest_resolves(prov_project, job, "noisy")


def test_a_missing_blob_is_written_even_if_a_record_names_it_in_text(prov_project):
    job = prov_project.open_job({"x": 1})
    execute(prov_project, "compute", job)
    rec = first_record(job)
    # a record of another environment whose reason quotes this run's environment field
    foreign = {**rec, "environment": OTHER_ENV, "diff": None,
               "reason": f'"environment": "{rec["environment"]}"'}
    rewrite(job, [json.dumps(foreign).encode()])
    execute(prov_project, "noisy", job)
    assert len(blob_names(job)) == 2
    assert_latest_resolves(prov_project, job, "noisy")


def test_runs_of_the_cli_keep_each_blob_once(prov_project):
    for op in ("compute", "noisy", "jitter"):  # three runs (processes)
        out = run_suite(prov_project, "run", "-o", op)
        assert out.returncode == 0, out.stderr
    for job in prov_project:
        assert sorted(blob_names(job)) == sorted(set(blob_names(job))) and len(
            blob_names(job)) == 2
        assert [r.operation for r in records(prov_project, [job.id])] == ["compute", "noisy", "jitter"]


def test_a_new_log_gets_every_blob_once_and_is_not_read_back_in_the_same_run(prov_project):
    job = prov_project.open_job({"x": 3})
    r = Runner(load_workflow(prov_project), prov_project)
    r.execute(r.operation("compute"), (job,))  # the job had no log: its blobs go with this record
    r.execute(r.operation("noisy"), (job,))    # this runner wrote them: nothing to read back
    assert r.log.bytes_read == 0
    names = blob_names(job)
    assert sorted(names) == sorted(set(names)) and len(names) == 2  # environment, diff
    assert lines(job)[0].startswith(b'{"blob": ')  # before the first record naming them
    assert_latest_resolves(prov_project, job, "noisy")
