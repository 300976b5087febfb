"""signac-flow's status of a group: ``print_status(operation=[GROUP])`` and ``python
project.py status -o GROUP`` show the group as one row (eligible where any of its operations
is, complete where all are), not its operations."""

import io
import os
import subprocess
import sys
import textwrap

PROJECT = textwrap.dedent('''
    from suite.flow import FlowProject


    class Project(FlowProject):
        pass


    group1 = Project.make_group(name="group1")
    group2 = Project.make_group(name="group2")


    @group1
    @Project.pre(lambda job: job.sp.b % 2 == 0)
    @Project.post.isfile("world.txt")
    @Project.operation(cmd=True, with_job=True)
    def op1(job):
        return "echo hello > world.txt"


    @group1
    @Project.post.true("test")
    @Project.operation
    def op2(job):
        job.doc.test = True


    @group2
    @Project.post.true("test2")
    @Project.operation
    def op3(job):
        job.doc.test2 = True


    if __name__ == "__main__":
        Project().main()
    ''')


def _project(project):
    with open(os.path.join(project.path, "project.py"), "w") as f:
        f.write(PROJECT)
    for a in range(2):
        for b in range(2):
            project.open_job({"a": a, "b": b}).init()
    namespace = {}
    exec(compile(PROJECT, os.path.join(project.path, "project.py"), "exec"), namespace)
    return namespace["Project"].get_project(project.path)


def _status(fp, names, **kwargs):
    out = io.StringIO()
    fp.print_status(operation=names, file=out, all_ops=True, **kwargs)
    return out.getvalue()


def _row(text, name):
    rows = [line.split() for line in text.splitlines() if line.split()[:1] == [name]]
    assert len(rows) == 1, text
    return [int(v) for v in rows[0][1:]]  # eligible, submitted, running, complete


def test_a_group_name_shows_the_group(project):
    fp = _project(project)
    for names, shown in ((["group1"], {"group1"}), (["group2"], {"group2"}),
                         (["group1", "group2"], {"group1", "group2"}),
                         (["group1", "op3"], {"group1", "op3"}),
                         (["op1", "group1"], {"op1", "group1"}), (["op1"], {"op1"})):
        text = _status(fp, names, detailed=True)
        for name in {"group1", "group2", "op1", "op2", "op3"}:
            assert (name in text) == (name in shown), (names, name, text)
    assert _row(_status(fp, ["group1"]), "group1") == [4, 0, 0, 0]
    fp.run(names=["op2"])  # op1 is left, and only where b is even
    assert _row(_status(fp, ["group1"]), "group1") == [2, 0, 0, 0]
    fp.run(names=["op1"])
    text = _status(fp, ["group1", "op1"])
    # where b is odd op1 never becomes eligible nor complete: the group is neither
    assert _row(text, "group1") == [0, 0, 0, 2] and _row(text, "op1") == [0, 0, 0, 2]


def test_status_o_group_on_the_command_line(project):
    _project(project)
    out = subprocess.run([sys.executable, "project.py", "status", "-o", "group1", "-d"],
                         cwd=project.path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "group1" in out.stdout and "op1" not in out.stdout and "op2" not in out.stdout
    # each job's line names the group as eligible
    assert sum(1 for line in out.stdout.splitlines() if "group1" in line) == 1 + 4
    bad = subprocess.run([sys.executable, "project.py", "status", "-o", "group9"],
                         cwd=project.path, capture_output=True, text=True)
    assert bad.returncode == 1 and "group9" in bad.stderr and "group1" in bad.stderr
