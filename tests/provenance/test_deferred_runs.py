"""`suite run` with each record's scan after on the capture's helper thread (taken before the
next execution that could touch its job): the records are those of the synchronous path
(SUITE_PURE_PYTHON=1), one per execution, through the same job twice, a group, an aggregate,
a failure with its traceback, hooks that read their own record, Ctrl-C, an operation that
forks, and --parallel."""

import json
import os
import subprocess
import textwrap

import pytest

import suite
from suite.provenance import capture

WORKFLOW = textwrap.dedent('''
    import json
    import os
    import sys

    from suite.flow import Workflow, aggregator

    class Later(Workflow):
        pass

    @Later.operation
    def first(job):
        with open(job.fn("a.txt"), "w") as f:
            f.write(str(job.sp.x) * job.sp.x)
        job.doc.first = job.sp.x

    @Later.operation
    def second(job):  # the same job again, at once (--order by-job)
        os.remove(job.fn("a.txt"))
        with open(job.fn("b.txt"), "wb") as f:
            f.write(b"b" * (70000 * (job.sp.x % 2)))  # more than one read for odd x

    grp = Later.make_group("grp")

    @grp
    @Later.operation
    def g1(job):
        with open(job.fn("g1.txt"), "w") as f:
            f.write("1")

    @grp
    @Later.operation
    def g2(job):
        with open(job.fn("g1.txt"), "a") as f:
            f.write("2")

    @Later.operation(aggregator=aggregator())
    def gather(*jobs):
        for job in jobs:
            with open(job.fn("gathered.txt"), "w") as f:
                f.write(str(len(jobs)))

    @Later.operation
    def fails(job):
        with open(job.fn("tried.txt"), "w") as f:
            f.write("t")
        if job.sp.x % 2:
            raise ValueError("odd " + str(job.sp.x))

    @Later.operation
    def forks(job):
        pid = os.fork()
        if pid == 0:  # the child unwinds through the runner's frames: it must not record
            with open(job.fn("child.txt"), "w") as f:
                f.write("c")
            sys.exit(0)
        os.waitpid(pid, 0)

    @Later.operation
    def peek(job):
        # whether the job run just before has its record on disk while this one runs
        before = os.environ.get("PEEK_BEFORE")
        logs = sorted(os.listdir(os.path.dirname(job.path)))
        found = {}
        for other in logs:
            try:
                with open(os.path.join(os.path.dirname(job.path), other,
                                       "suite_flow_log.jsonl")) as f:
                    found[other] = sum('"operation": "peek"' in line for line in f)
            except FileNotFoundError:
                found[other] = 0
        with open(job.fn("peek.json"), "w") as f:
            json.dump(found, f)

    @Later.operation
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
    extra = {"SUITE_PURE_PYTHON": "1"} if pure else {}
    return subprocess.run(["suite", "run", *args], cwd=proj.path, capture_output=True,
                          text=True, env={**os.environ, **extra, **(env or {})})


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


def need_native():
    if not capture.Capture(".", enabled=True).defers:
        pytest.skip("no helper thread without the C module (SUITE_PURE_PYTHON or not built)")


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


def test_each_record_is_taken_after_the_next_execution_natively(tmp_path):
    # the mechanism itself: while job k+1's operation runs, job k's record is not on disk yet
    # (natively), or already is (SUITE_PURE_PYTHON=1: synchronous)
    for pure in (False, True):
        proj = make(tmp_path / f"p{pure}")
        out = run(proj, "-o", "peek", "--order", "by-job", pure=pure)
        assert out.returncode == 0, out.stderr
        order = sorted(proj, key=lambda j: j.id)
        deferred = not pure and capture.Capture(".", enabled=True).defers
        for k in range(1, len(order)):
            with open(order[k].fn("peek.json")) as f:
                seen = json.load(f)
            assert seen[order[k - 1].id] == (0 if deferred else 1), (pure, k)
        assert all(len(rs) == 1 for rs in records(proj).values())


def test_hooks_read_their_own_record(tmp_path):
    proj = make(tmp_path / "p", HOOKED)
    out = run(proj, "-o", "first")
    assert out.returncode == 0, out.stderr
    with open(proj.fn("hooks.txt")) as f:
        assert sorted(f.read().split("\n")[:-1]) == [f"{x} 1" for x in range(JOBS)]


def test_ctrl_c_keeps_the_record_of_the_execution_before(tmp_path):
    need_native()
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
