"""A run killed half way (SIGKILL, as a scheduler's hard limit or the OOM killer would) leaves
the record of every execution that finished before the kill, each whole."""

import json
import os
import subprocess
import textwrap

import suite

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
''')


def test_a_killed_run_keeps_every_finished_record(tmp_path):
    proj = suite.init_project(tmp_path / "project")
    for x in range(200):
        proj.open_job({"x": x}).init()
    with open(proj.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    order = sorted(proj, key=lambda j: j.id)
    kill_at = order[150].sp.x
    out = subprocess.run(["suite", "run", "-o", "step", "--order", "by-job"], cwd=proj.path,
                         capture_output=True, text=True,
                         env={**os.environ, "KILL_AT": str(kill_at)})
    assert out.returncode == -9, out.stderr
    for i, job in enumerate(order):
        log = job.fn("suite_flow_log.jsonl")
        lines = []
        if os.path.exists(log):
            with open(log) as f:
                lines = [json.loads(line) for line in f]  # every line whole
        recs = [r for r in lines if "blob" not in r]
        if i < 150:
            assert job.doc.get("done") is True
            assert len(recs) == 1 and recs[0]["status"] == "success", (i, recs)
            assert [f["path"] for f in recs[0]["files"]] == ["out.txt",
                                                             "signac_job_document.json"]
        else:
            assert recs == [] and "done" not in job.doc, (i, recs)
