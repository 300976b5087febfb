"""`suite run`'s records through the paths where a record's timing matters (the same job twice
at once, a group, an aggregate, a failure with its traceback, an operation that forks, hooks
that read their own record, Ctrl-C, --parallel): one per execution, each whole, and the same
with the C modules as with SUITE_PURE_PYTHON=1 (what any change to when records are made, such
as session 15's helper thread, must keep)."""

import json
import textwrap

import suite

from .conftest import run_suite

WORKFLOW = textwrap.dedent('''
    import json
    import os
    import sys

    from suite.flow import Workflow, aggregator

    class Timed(Workflow):
        pass

    @Timed.operation
    def first(job):
        with open(job.fn("a.txt"), "w") as f:
            f.write(str(job.sp.x) * job.sp.x)
        job.doc.first = job.sp.x

    @Timed.operation
    def second(job):  # the same job again, at once (--order by-job)
        os.remove(job.fn("a.txt"))
        with open(job.fn("b.txt"), "wb") as f:
            f.write(b"b" * (70000 * (job.sp.x % 2)))  # more than one read for odd x

    grp = Timed.make_group("grp")

    @grp
    @Timed.operation
    def g1(job):
        with open(job.fn("g1.txt"), "w") as f:
            f.write("1")

    @grp
    @Timed.operation
    def g2(job):
        with open(job.fn("g1.txt"), "a") as f:
            f.write("2")

    @Timed.operation(aggregator=aggregator())
    def gather(*jobs):
        for job in jobs:
            with open(job.fn("gathered.txt"), "w") as f:
                f.write(str(len(jobs)))

    @Timed.operation
    def fails(job):
        with open(job.fn("tried.txt"), "w") as f:
            f.write("t")
        if job.sp.x % 2:
            raise ValueError("odd " + str(job.sp.x))

    @Timed.operation
    def forks(job):
        pid = os.fork()
        if pid == 0:  # the child unwinds through the runner's frames: it records nothing
            with open(job.fn("child.txt"), "w") as f:
                f.write("c")
            sys.exit(0)
        os.waitpid(pid, 0)

    @Timed.operation
    def stop(job):
        if job.sp.x == int(os.environ.get("STOP_AT", "-1")):
            raise KeyboardInterrupt
        with open(job.fn("stop.txt"), "w") as f:
            f.write("s")
''')

HOOKED = textwrap.dedent('''
    import json
    import os

    from suite.flow import Workflow

    def read_own(operation, job):
        with open(job.fn("suite_flow_log.jsonl")) as f:
            ops = [json.loads(line).get("operation") for line in f if '"blob"' not in line[:9]]
        with open(os.path.join(os.path.dirname(os.path.dirname(job.path)), "hooks.txt"),
                  "a") as f:
            f.write(f"{job.sp.x} {ops.count(operation)}\\n")

    class Hooked(Workflow):
        on_success = [read_own]

    @Hooked.operation
    def first(job):
        with open(job.fn("a.txt"), "w") as f:
            f.write("a")
''')

JOBS = 6


def make(path, workflow=WORKFLOW):
    proj = suite.init_project(path)
    for x in range(JOBS):
        proj.open_job({"x": x}).init()
    with open(proj.fn("workflow.py"), "w") as f:
        f.write(workflow)
    return proj


def run(proj, *args, pure=False, env=None):
    """``suite run ARGS`` (with ``SUITE_PURE_PYTHON=1`` if ``pure``)."""
    return run_suite(proj, "run", *args, env={**({"SUITE_PURE_PYTHON": "1"} if pure else {}),
                                              **(env or {})})


def records(proj):
    """{x: [record, ...]} in each job's log order, blob lines left out."""
    out = {}
    for job in proj:
        try:
            with open(job.fn("suite_flow_log.jsonl")) as f:
                lines = [json.loads(line) for line in f]  # every line whole
        except FileNotFoundError:
            lines = []
        out[job.sp.x] = [r for r in lines if "blob" not in r]
    return out


def comparable(recs):
    """What a record says apart from its id, times and the traceback's file paths."""
    keep = ("operation", "jobs", "status", "error", "files", "environment", "diff",
            "git_commit", "reason", "tags", "user")
    out = {}
    for x, rs in recs.items():
        rows = []
        for r in rs:
            row = {k: r.get(k) for k in keep}
            row["jobs"] = len(row["jobs"])  # ids differ between the two projects
            row["files"] = [{k: v for k, v in f.items() if k != "job"} for f in r["files"]]
            row["traceback"] = "ValueError: odd" in (r.get("traceback") or "")
            rows.append(row)
        out[x] = rows
    return out


STEPS = [("-o", "first", "-o", "second", "--order", "by-job"), ("-o", "grp"),
         ("-o", "gather",), ("-o", "fails"), ("-o", "forks"), ("-o", "stop", "--parallel", "2")]


def test_a_run_records_what_the_synchronous_path_records(tmp_path):
    deferred, pure = make(tmp_path / "deferred"), make(tmp_path / "pure")
    for step in STEPS:
        a, b = run(deferred, *step), run(pure, *step, pure=True)
        fails = 1 if "fails" in step else 0  # the run's exit status says some failed
        assert (a.returncode, b.returncode) == (fails, fails), (step, a.stderr, b.stderr)
    got, want = records(deferred), records(pure)
    assert comparable(got) == comparable(want)
    for x, rs in got.items():  # one record per execution, each once
        ops = [r["operation"] for r in rs]
        assert ops == ["first", "second", "g1", "g2", "gather", "fails", "forks", "stop"], \
            (x, ops)
        assert len({r["id"] for r in rs}) == len(rs)
        second = rs[1]["files"]
        assert [f["path"] for f in second] == ["b.txt", "a.txt"] and second[1]["removed"]
        assert [f["path"] for f in rs[6]["files"]] == ["child.txt"]
        assert (rs[5]["status"], bool(rs[5].get("traceback"))) == (
            ("failure", True) if x % 2 else ("success", False))


def test_hooks_read_their_own_record(tmp_path):
    proj = make(tmp_path / "p", HOOKED)
    out = run(proj, "-o", "first")
    assert out.returncode == 0, out.stderr
    with open(proj.fn("hooks.txt")) as f:
        assert sorted(f.read().split("\n")[:-1]) == [f"{x} 1" for x in range(JOBS)]


def test_ctrl_c_keeps_the_record_of_the_execution_before(tmp_path):
    proj = make(tmp_path / "p")
    order = sorted(proj, key=lambda j: j.id)
    stop_at = order[3].sp.x
    out = run(proj, "-o", "stop", "--order", "by-job", env={"STOP_AT": str(stop_at)})
    assert out.returncode != 0
    recs = records(proj)
    for k, job in enumerate(order):
        want = 1 if k < 3 else 0
        assert len(recs[job.sp.x]) == want, (k, recs[job.sp.x], out.stderr)
        if want:
            assert [f["path"] for f in recs[job.sp.x][0]["files"]] == ["stop.txt"]
