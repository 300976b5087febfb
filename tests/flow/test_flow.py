"""Workflows: conditions, labels, hooks, provenance, run options and the CLI."""

import json
import os
import subprocess
import textwrap

import pytest

import suite
from suite.flow import Runner, Workflow, load_workflow, provenance

WORKFLOW = textwrap.dedent('''
    from suite.flow import Workflow

    class Sweep(Workflow):
        pass

    @Sweep.label
    def simulated(job):
        return job.isfile("out.txt")

    @Sweep.post.isfile("out.txt")
    @Sweep.operation(cmd=True)
    def simulate(job):
        return f"echo {job.sp.a} > out.txt"

    @Sweep.pre.after(simulate)
    @Sweep.post.true("analysed")
    @Sweep.operation
    def analyse(job):
        with open(job.fn("out.txt")) as f:
            job.doc.value = int(f.read())
        job.doc.analysed = True

    @Sweep.pre.true("analysed")
    @Sweep.post.isfile("never")
    @Sweep.operation(cmd=True)
    def fails(job):
        return "exit 3"
''')


@pytest.fixture
def flow_project(project):
    for a in range(5):
        project.open_job({"a": a}).init()
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    return project


def runner(project):
    return Runner(load_workflow(project), project)


def test_status_and_run_follow_conditions(flow_project):
    r = runner(flow_project)
    status = r.status()
    assert status.operations == {"simulate": {"eligible": 5, "complete": 0},
                                 "analyse": {"eligible": 0, "complete": 0},
                                 "fails": {"eligible": 0, "complete": 0}}
    done = r.run(["simulate"])
    assert [d[2] for d in done] == ["success"] * 5
    assert r.status().operations["analyse"]["eligible"] == 5
    assert r.status().labels == {"simulated": 5}
    r.run(["analyse"])
    assert sorted(j.doc.value for j in flow_project) == [0, 1, 2, 3, 4]
    assert r.status().operations["analyse"] == {"eligible": 0, "complete": 5}
    assert r.run(["simulate", "analyse"]) == []  # nothing eligible


def test_num_passes_runs_a_chain(flow_project):
    r = runner(flow_project)
    done = r.run(["simulate", "analyse"], num_passes=3)
    assert len(done) == 10
    assert all(j.doc.analysed for j in flow_project)


def test_failures_are_recorded(flow_project):
    r = runner(flow_project)
    r.run(["simulate", "analyse"], num_passes=2)
    done = r.run(["fails"], num=2)
    assert [d[2] for d in done] == ["failure", "failure"]
    job = flow_project.open_job(id=done[0][1])
    records = provenance.read(job)
    assert [x["operation"] for x in records] == ["simulate", "analyse", "fails"]
    last = records[-1]
    assert last["status"] == "failure" and last["error"] == "exit status 3"
    assert set(last) >= {"host", "suite_version", "start", "end", "duration", "jobs",
                         "git_commit"}


def test_pretend_and_timeout(flow_project, capsys):
    r = runner(flow_project)
    out = []
    r.run(["simulate"], pretend=True, echo=out.append)
    assert len(out) == 5 and all("echo" in line for line in out)
    assert not any(j.isfile("out.txt") for j in flow_project)

    class Slow(Workflow):
        pass

    @Slow.operation(cmd=True)
    def sleepy(job):
        return "sleep 5"

    slow = Runner(Slow, flow_project)
    done = slow.run(num=1, timeout=0.2)
    assert done[0][2] == "failure"
    assert "timed out" in provenance.read(flow_project.open_job(id=done[0][1]))[-1]["error"]


def test_hooks_and_python_exceptions(project):
    project.open_job({"a": 1}).init()
    seen = []

    class Hooked(Workflow):
        on_start = [lambda op, job: seen.append(("start", op))]
        on_success = [lambda op, job: seen.append(("ok", op))]
        on_failure = [lambda op, job, err: seen.append(("fail", op, err))]

    @Hooked.operation
    def boom(job):
        raise RuntimeError("bad input")

    @Hooked.operation(with_job=True)
    def here(job):
        assert os.path.realpath(os.getcwd()) == os.path.realpath(job.path)

    Runner(Hooked, project).run()
    assert ("fail", "boom", "RuntimeError: bad input") in seen and ("ok", "here") in seen


@pytest.mark.parametrize("parallel", [1, 4])
def test_provenance_is_written_in_the_background_in_order(flow_project, monkeypatch, parallel):
    # a slow disk: without the flushes, pass 2 would not see pass 1's records ("after"
    # conditions) and a hook would not find its own record
    import threading
    import time

    writers, real = set(), provenance._append

    def slow_append(path, data, *before):
        time.sleep(0.005)
        writers.add(threading.current_thread().name)
        real(path, data, *before)

    monkeypatch.setattr(provenance, "_append", slow_append)
    seen = []

    class Chain(load_workflow(flow_project)):
        on_success = [lambda op, job: seen.append(
            (op, [r["operation"] for r in provenance.read(job)][-1]))]

    done = Runner(Chain, flow_project).run(["simulate", "analyse"], num_passes=3,
                                           parallel=parallel)
    assert len(done) == 10 and all(j.doc.analysed for j in flow_project)
    assert "suite-provenance" in writers  # slow appends went to the writer thread
    assert not [t for t in threading.enumerate() if t.name == "suite-provenance"]  # stopped
    assert sorted(seen) == sorted([("simulate", "simulate"), ("analyse", "analyse")] * 5)
    for job in flow_project:
        assert [r["operation"] for r in provenance.read(job)] == ["simulate", "analyse"]


def test_provenance_that_cannot_be_written_is_an_error(project):
    import shutil

    project.open_job({"a": 1}).init()

    class Gone(Workflow):
        pass

    @Gone.operation
    def remove(job):
        shutil.rmtree(job.path)

    r = Runner(Gone, project)
    job = project.open_job({"a": 1})
    with pytest.raises(suite.SuiteError, match=f"provenance record of job {job.id}"):
        r.run()
    job.init()
    with pytest.raises(suite.SuiteError, match=f"provenance record of job {job.id}"):
        r.execute(Gone.operation_table["remove"], (job,))  # written at once outside a run
    job.init()
    with open(project.fn("workflow.py"), "w") as f:
        f.write("import shutil\nfrom suite.flow import Workflow\nclass Gone(Workflow): pass\n"
                "@Gone.operation\ndef remove(job):\n    shutil.rmtree(job.path)\n")
    out = subprocess.run(["suite", "run"], cwd=project.path, capture_output=True, text=True)
    assert out.returncode != 0 and f"provenance record of job {job.id}" in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_workflow_module(project):
    with pytest.raises(suite.SuiteError, match="workflow.py does not exist"):
        load_workflow(project)
    with open(project.fn("workflow.py"), "w") as f:
        f.write("this is not python")
    with pytest.raises(suite.SuiteError, match="cannot load the workflow"):
        load_workflow(project)


def test_cli(flow_project):
    def suite_cmd(*args):
        return subprocess.run(["suite", *args], cwd=flow_project.path, capture_output=True,
                              text=True)

    r = suite_cmd("status", "--json")
    assert json.loads(r.stdout)["operations"]["simulate"]["eligible"] == 5
    r = suite_cmd("run", "-o", "simulate", "-f", "a.$lt 2")
    assert r.returncode == 0 and "ran 2 operation(s); 0 failed" in r.stdout
    assert "simulate" in suite_cmd("status", "--markdown").stdout
    r = suite_cmd("run", "--num-passes", "3")
    assert r.returncode == 1 and "failed: fails" in r.stderr
    r = suite_cmd("exec", "simulate", flow_project.find_jobs({"a": 4}).ids()[0])
    assert r.returncode == 0
    r = suite_cmd("run", "-o", "nothing")
    assert r.returncode == 1 and "no operation 'nothing'" in r.stderr
    r = suite_cmd("submit", "--pretend", "--scheduler", "slurm", "-o", "simulate")
    assert r.returncode == 0 and r.stdout == "" and "nothing to submit" in r.stderr
    r = suite_cmd("run", "--pretend", "-o", "simulate")
    assert r.returncode == 0 and r.stdout == "" and "nothing to run" in r.stderr


def test_groups_recheck_conditions_between_operations(project):
    from suite.flow import Workflow

    for a in range(3):
        project.open_job({"a": a}).init()

    class G(Workflow):
        pass

    both = G.make_group("both", directives={"np": 2})

    @both
    @G.post.true("first")
    @G.operation
    def first(job):
        job.doc.first = True
        if job.sp.a == 2:
            raise RuntimeError("stop here")

    @both
    @G.pre.true("first")
    @G.post.true("second")
    @G.operation
    def second(job):
        job.doc.second = True

    r = Runner(G, project)
    done = r.run(["both"])
    assert sorted(d[2] for d in done) == ["failure", "success", "success"]
    docs = {j.sp.a: j.doc() for j in project}
    assert docs[0] == docs[1] == {"first": True, "second": True}
    assert docs[2] == {"first": True}  # the group stopped after the failure
    from schedulers import Slurm
    from suite.flow.submit import submit

    out = []
    assert submit(r, Slurm(), ["both"], pretend=True, echo=out.append) == [
        f"suite-both-{project.open_job({'a': 2}).id[:8]}"]  # the one the group left undone
    assert "exec both" in out[1] and "#SBATCH --ntasks=2" in out[1]


def test_aggregation(project):
    from suite.flow import Workflow, aggregator

    for a in range(5):
        project.open_job({"a": a, "parity": a % 2}).init()
    seen = []

    class A(Workflow):
        pass

    @A.operation(aggregator=aggregator.groupby("parity", sort_by="a"))
    def by_parity(*jobs):
        seen.append([j.sp.a for j in jobs])

    @A.operation(aggregator=aggregator.groupsof(2, sort_by="a", select=lambda j: j.sp.a > 0))
    def pairs(*jobs):
        seen.append(("pair", [j.sp.a for j in jobs]))

    @A.pre(lambda *jobs: len(jobs) == 5)
    @A.operation(aggregator=aggregator.all())
    def everything(*jobs):
        seen.append(("all", len(jobs)))

    r = Runner(A, project)
    assert r.status().operations["by_parity"] == {"eligible": 2, "complete": 0}
    r.run()
    assert [0, 2, 4] in seen and [1, 3] in seen
    assert ("pair", [1, 2]) in seen and ("pair", [3, 4]) in seen and ("all", 5) in seen
    assert r.status().operations["by_parity"] == {"eligible": 0, "complete": 2}
    record = provenance.read(project.open_job({"a": 0, "parity": 0}))[0]
    assert len(record["jobs"]) == 3


def test_parallel_run_and_template_create(flow_project):
    import time as _time

    r = runner(flow_project)
    start = _time.time()
    done = r.run(["simulate"], parallel=4)
    assert [d[2] for d in done] == ["success"] * 5
    assert _time.time() - start < 60
    res = subprocess.run(["suite", "template", "create", "--scheduler", "slurm"],
                         cwd=flow_project.path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    from schedulers import Slurm, Submission

    script = Slurm().render(Submission("x", ["true"], {"np": 1}), flow_project.path)
    assert "#SBATCH --ntasks=1" in script
    again = subprocess.run(["suite", "template", "create", "--scheduler", "slurm"],
                           cwd=flow_project.path, capture_output=True, text=True)
    assert again.returncode == 1 and "--force" in again.stderr


def test_run_progress(flow_project):
    seen = []
    r = runner(flow_project)
    done = r.run(["simulate"], progress=lambda *a: seen.append(a), parallel=2)
    assert len(done) == 5
    assert sorted(seen) == [(k, 5, 0) for k in range(1, 6)]
    res = subprocess.run(["suite", "run", "--progress"], cwd=flow_project.path,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    # not a terminal: plain lines on stderr, the last one complete
    assert res.stderr.strip().splitlines()[-1].startswith("suite run: ")
    last = res.stderr.strip().splitlines()[-1]
    assert last.split()[2].split("/")[0] == last.split()[2].split("/")[1]


def test_status_progress_steps(flow_project):
    seen = []
    runner(flow_project).status(progress=lambda *a: seen.append(a))
    ops = len(runner(flow_project).flow.operation_table)
    assert seen == [(k, ops + 1, 5) for k in range(1, ops + 2)]


def test_after_means_postconditions_hold_and_succeeded_reads_the_log(project):
    """pre.after(op): op's postconditions hold (signac-flow's meaning), so jobs whose files a
    tool other than suite made move on; pre.succeeded(op) is the provenance-log meaning."""
    for a in range(3):
        project.open_job({"a": a}).init()

    class W(Workflow):
        pass

    @W.post.isfile("out.txt")
    @W.operation
    def make(job):
        with open(job.fn("out.txt"), "w") as f:
            f.write("x")

    @W.pre.after(make)
    @W.post.true("used")
    @W.operation
    def use(job):
        job.doc.used = True

    @W.pre.succeeded(make)
    @W.post.true("logged")
    @W.operation
    def logged(job):
        job.doc.logged = True

    made_elsewhere = project.open_job({"a": 0})
    with open(made_elsewhere.fn("out.txt"), "w") as f:
        f.write("by hand")
    r = Runner(W, project)
    status = r.status().operations
    assert status["use"]["eligible"] == 1 and status["logged"]["eligible"] == 0
    r.run(num_passes=3)
    docs = {j.sp.a: j.doc() for j in project}
    assert all(d["used"] for d in docs.values())
    assert "logged" not in docs[0] and docs[1]["logged"] and docs[2]["logged"]


def test_suite_exec_runs_an_aggregate_group_once(project):
    for a in range(4):
        project.open_job({"a": a}).init()
    with open(project.fn("workflow.py"), "w") as f:
        f.write(textwrap.dedent('''
            from suite.flow import Workflow, aggregator

            class W(Workflow):
                pass

            grp = W.make_group("grp", group_aggregator=aggregator())

            @grp
            @W.operation(aggregator=aggregator())
            def count(*jobs):
                for job in jobs:
                    job.doc.n = job.doc.get("n", 0) + len(jobs)
        '''))
    out = subprocess.run(["suite", "exec", "grp"], cwd=project.path, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert [j.doc.n for j in project] == [4, 4, 4, 4]


def test_a_failed_python_operation_prints_its_traceback(project):
    project.open_job({"a": 1}).init()
    with open(project.fn("workflow.py"), "w") as f:
        f.write(textwrap.dedent('''
            from suite.flow import Workflow

            class W(Workflow):
                pass

            def helper(job):
                return 1 / job.sp.a - 1 / job.sp.a + {}["missing"]

            @W.operation
            def broken(job):
                helper(job)
        '''))
    out = subprocess.run(["suite", "run"], cwd=project.path, capture_output=True, text=True)
    assert out.returncode == 1
    job = project.open_job({"a": 1})
    assert f"operation broken failed on job {job.id}: KeyError: 'missing'" in out.stderr
    assert "Traceback (most recent call last)" in out.stderr
    assert "in helper" in out.stderr and "workflow.py" in out.stderr
    assert "engine.py" not in out.stderr  # from the operation's own frame on
    record = provenance.read(job)[-1]
    assert record["error"] == "KeyError: 'missing'" and "in helper" in record["traceback"]
