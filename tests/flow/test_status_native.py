"""``suite status`` and ``suite find`` print the same bytes with the native modules and with
their pure-Python references (``SUITE_PURE_PYTHON=1``): the jobs, views and document roots
made without ``__init__`` (suite._slots), the file conditions asked relative to the workspace,
the labels that read ``job.sp`` and ``job.doc``."""

import os
import subprocess
import textwrap

WORKFLOW = textwrap.dedent('''
    from suite.flow import Workflow

    class W(Workflow):
        pass

    @W.label
    def started(job):
        return "step" in job.doc

    @W.label
    def parity(job):
        return "even" if job.sp.a % 2 == 0 else job.sp.b.c

    @W.post.true("step")
    @W.operation
    def first(job):
        job.doc.step = 1

    @W.pre.true("step")
    @W.post.isfile("second.txt")
    @W.operation
    def second(job):
        pass

    @W.pre.isfile("second.txt")
    @W.post.true("done")
    @W.operation
    def third(job):
        pass
''')


def both(project, *args):
    outs = []
    for pure in ("0", "1"):
        proc = subprocess.run(["suite", *args], cwd=project.path, capture_output=True,
                              env={**os.environ, "SUITE_PURE_PYTHON": pure})
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    assert outs[0] == outs[1]
    return outs[0].decode()


def test_status_and_find_print_the_same_with_and_without_native_modules(project):
    for a in range(12):
        job = project.open_job({"a": a, "b": {"c": f"c{a % 3}"}}).init()
        if a % 3:
            job.doc.step = a
        if a % 4 == 1:
            with open(os.path.join(job.path, "second.txt"), "w") as f:
                f.write("x")
        if a == 5:
            os.mkdir(os.path.join(job.path, "second.txt.d"))
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    text = both(project, "status", "--detailed")
    # 8 jobs have a step; jobs 1, 5, 9 have second.txt (1 has no step: not eligible anyway)
    lines = {ln.split()[0]: ln.split()[1:] for ln in text.splitlines() if ln.strip()}
    assert lines["first"][0] == "4" and lines["first"][3] == "8"
    assert lines["second"][0] == "6" and lines["second"][3] == "3"
    assert "label started: 8" in text and "label parity=even: 6" in text
    assert both(project, "find", "b.c", "c1").split() == sorted(
        j.id for j in project if j.sp.b.c == "c1")
    assert both(project, "find", "doc.step", "4").split() == [
        project.open_job({"a": 4, "b": {"c": "c1"}}).id]
