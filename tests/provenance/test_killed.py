"""A run killed half way (SIGKILL, as a scheduler's hard limit or the OOM killer would) leaves
the record of every execution that finished before the kill, each whole; with the writer thread
(a slow disk) it loses at most the queued ones, never one out of order, and an interrupted
run (an exception through the runner) still writes them all."""

import json
import os
import subprocess
import sys
import textwrap

import suite
from suite.flow.provenance import Log

WORKFLOW = textwrap.dedent('''
    import os
    import signal

    from suite.flow import Workflow

    class Killed(Workflow):
        pass

    @Killed.operation
    def step(job):
        if job.sp.x == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)
        with open(job.fn("out.txt"), "w") as f:
            f.write(str(job.sp.x))
        job.doc["done"] = True

    @Killed.operation
    def interrupted(job):
        if job.sp.x == int(os.environ["KILL_AT"]):
            raise KeyboardInterrupt
        job.doc["done"] = True
''')

# the runner in a process of its own with the writer thread forced on: every append counts as
# slow, so from the fourth record on they are queued while the next operation runs
THREADED = textwrap.dedent('''
    import sys
    import suite
    from suite.flow import Runner, load_workflow
    from suite.flow.provenance import Log

    Log.SLOW = float(sys.argv[3]) if len(sys.argv) > 3 else 0
    project = suite.get_project(sys.argv[1])
    Runner(load_workflow(project), project).run([sys.argv[2]], order="by-job")
''')
# ... or forced off (no append counts as slow): on a loaded machine the median append can pass
# Log.SLOW, and then `suite run` itself would queue records, which the next test covers
UNTHREADED = [sys.executable, "-c", THREADED]


def _project(tmp_path):
    proj = suite.init_project(tmp_path / "project")
    for x in range(200):
        proj.open_job({"x": x}).init()
    with open(proj.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    order = sorted(proj, key=lambda j: j.id)
    return proj, order, order[150].sp.x


def _records(job):
    log = job.fn("suite_flow_log.jsonl")
    if not os.path.exists(log):
        return []
    with open(log) as f:
        lines = [json.loads(line) for line in f]  # every line whole
    return [r for r in lines if "blob" not in r]


def test_a_killed_run_keeps_every_finished_record(tmp_path):
    proj, order, kill_at = _project(tmp_path)
    out = subprocess.run([*UNTHREADED, proj.path, "step", "inf"], cwd=proj.path,
                         capture_output=True, text=True,
                         env={**os.environ, "KILL_AT": str(kill_at)})
    assert out.returncode == -9, out.stderr
    for i, job in enumerate(order):
        recs = _records(job)
        if i < 150:
            assert job.doc.get("done") is True
            assert len(recs) == 1 and recs[0]["status"] == "success", (i, recs)
            assert [f["path"] for f in recs[0]["files"]] == ["out.txt",
                                                             "signac_job_document.json"]
        else:
            assert recs == [] and "done" not in job.doc, (i, recs)


def test_a_killed_run_with_the_writer_thread_loses_only_queued_records_in_order(tmp_path):
    proj, order, kill_at = _project(tmp_path)
    out = subprocess.run([sys.executable, "-c", THREADED, proj.path, "step"],
                         capture_output=True, text=True,
                         env={**os.environ, "KILL_AT": str(kill_at)})
    assert out.returncode == -9, out.stderr
    written = [bool(_records(job)) for job in order]
    kept = written.index(False)  # records are written in the order of the executions
    assert not any(written[kept:]), "a record after a lost one"
    assert 150 - kept <= Log.BACKLOG + 1
    for job in order[:kept]:
        (rec,) = _records(job)
        assert rec["status"] == "success" and job.doc.get("done") is True


def test_an_interrupted_run_with_the_writer_thread_writes_every_queued_record(tmp_path):
    proj, order, kill_at = _project(tmp_path)
    out = subprocess.run([sys.executable, "-c", THREADED, proj.path, "interrupted"],
                         capture_output=True, text=True,
                         env={**os.environ, "KILL_AT": str(kill_at)})
    assert out.returncode != 0 and "KeyboardInterrupt" in out.stderr, out.stderr
    for i, job in enumerate(order):
        recs = _records(job)
        assert len(recs) == (1 if i < 150 else 0), (i, recs)
