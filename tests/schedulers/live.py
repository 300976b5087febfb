"""Helpers for the live scheduler tests: a small project whose one operation writes a file,
the CLI, and waiting for a condition."""

import json
import subprocess
import textwrap
import time

WORKFLOW = textwrap.dedent('''
    from suite.flow import Workflow

    class Live(Workflow):
        pass

    @Live.post.isfile("done.txt")
    @Live.operation(cmd=True, directives={"np": 1, "walltime": 0.1})
    def work(job):
        return "sleep 2 && hostname > done.txt"
''')


def make_live_project(project, jobs=3):
    """``project`` with ``jobs`` jobs and the workflow above."""
    for a in range(jobs):
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
        time.sleep(0.5)
    return False


def status(project):
    """``suite status --json`` counts of the operation ``work``."""
    r = suite_cmd(project, "status", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["operations"]["work"]
