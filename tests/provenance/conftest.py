"""A project that is a git repository with a dirty tree, and a workflow whose operations write
files: deterministic, non-deterministic, failing, and an aggregate."""

import contextlib
import os
import subprocess
import textwrap
import threading

import pytest

import suite

WORKFLOW = textwrap.dedent('''
    import json
    import os
    import random

    from suite.flow import Workflow, aggregator

    class Prov(Workflow):
        pass

    @Prov.operation
    def compute(job):
        with open(job.fn("out.txt"), "w") as f:
            f.write(str(job.sp.x * 2))
        with open(job.fn("result.json"), "w") as f:
            json.dump({"value": job.sp.x * 1.5, "label": "ok"}, f)
        job.doc.y = job.sp.x ** 2

    @Prov.operation
    def noisy(job):
        with open(job.fn("noise.json"), "w") as f:
            json.dump({"stable": 1, "noise": random.random()}, f)
        with open(job.fn("stamp.bin"), "wb") as f:
            f.write(os.urandom(8))

    @Prov.operation
    def jitter(job):
        # differs from run to run only in the 12th significant digit
        with open(job.fn("float.json"), "w") as f:
            json.dump({"v": 1.0 + random.random() * 1e-12}, f)

    @Prov.operation
    def hdf(job):
        import numpy
        job.data["series"] = numpy.arange(5) * job.sp.x
        job.data["noise"] = numpy.random.random(3)

    @Prov.operation(cmd=True)
    def shout(job):
        return f"echo {job.sp.x} > shout.txt"

    @Prov.operation
    def tidy(job):
        os.remove(job.fn("out.txt"))
        with open(job.fn("tidy.txt"), "w") as f:
            f.write("tidied")

    @Prov.operation
    def nested(job):
        os.makedirs(job.fn("sub/deeper"), exist_ok=True)
        with open(job.fn("sub/deeper/a.txt"), "w") as f:
            f.write("a")
        if not os.path.lexists(job.fn("link")):
            os.symlink("sub/deeper/a.txt", job.fn("link"))

    @Prov.operation
    def broken(job):
        raise ValueError("bad input " + str(job.sp.x))

    @Prov.operation(aggregator=aggregator.all())
    def summarize(*jobs):
        first = sorted(jobs, key=lambda j: j.sp.x)[0]
        with open(first.fn("summary.json"), "w") as f:
            json.dump({"n": len(jobs)}, f)
''')

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org",
       "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]


def git(path, *args):
    return subprocess.run([*GIT, "-C", str(path), *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def prov_project(tmp_path):
    """Three jobs (x = 1, 2, 3) in a git repository whose workflow.py was changed after the
    commit (a dirty tree); the workspace is not tracked."""
    proj = suite.init_project(tmp_path / "project")
    for x in (1, 2, 3):
        proj.open_job({"x": x}).init()
    with open(proj.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    with open(proj.fn(".gitignore"), "w") as f:
        f.write("workspace/\n.suite/\n")
    git(proj.path, "init", "-q")
    git(proj.path, "add", "workflow.py", ".gitignore")
    git(proj.path, "commit", "-q", "-m", "workflow")
    with open(proj.fn("workflow.py"), "a") as f:
        f.write("\n# tuned after the commit\n")
    return proj


def run_suite(proj, *args, env=None):
    """``suite ARGS`` as a real process in the project directory."""
    return subprocess.run(["suite", *args], cwd=proj.path, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@contextlib.contextmanager
def other_thread(alive=True):
    """A second thread, waiting, while the block runs (if ``alive``)."""
    if not alive:
        yield
        return
    done = threading.Event()
    thread = threading.Thread(target=done.wait)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
