"""One project.py, run by signac-flow 0.29.1 and by suite.flow: the same results.

Each test writes a project from signac-flow's documentation into two directories (see
twins.py), runs the same ``python project.py ...`` commands in both and compares documents,
HDF5 data, files and which operations ran."""

import json
import os
import subprocess
import sys

import pytest

from .twins import both, job_status_script, make_twins, project_py, snapshot

pytest.importorskip("flow")

SWEEP = [{"T": t, "p": p} for t in (1, 2, 3) for p in (0.5, 1.5)]

BASIC = '''
class Project(FlowProject):
    pass


@Project.label
def computed(job):
    return job.isfile("energy.txt")


@Project.label("phase")
def phase(job):
    return "hot" if job.sp.T > 2 else False


@Project.post.isfile("energy.txt")
@Project.operation(cmd=True, with_job=True)
def compute(job):
    return f"echo {job.sp.T * job.sp.p} > energy.txt && echo compute {job.id} >> ../../ran.txt"


@Project.pre.after(compute)
@Project.post.true("energy")
@Project.operation
def read(job):
    ran("read", job)
    with open(job.fn("energy.txt")) as f:
        job.doc.energy = float(f.read())


@Project.pre.true("energy")
@Project.pre(lambda job: job.sp.p > 1)
@Project.post(lambda job: "squared" in job.data)
@Project.operation(name="square")
def store_square(job):
    ran("square", job)
    with job.data:
        job.data["squared"] = job.doc.energy ** 2


@Project.pre.after(compute)
@Project.post.false("dirty")
@Project.operation
def cleanup(job):
    ran("cleanup", job)


@Project.pre.isfile("energy.txt")
@Project.pre.not_(lambda job: job.sp.T == 1)
@Project.post.isfile("report.txt")
@Project.operation(with_job=True)
def report(job):
    ran("report", job)
    with open("report.txt", "w") as f:
        f.write(f"{job.sp.T} {job.doc.energy}\\n")
'''


def test_run_status_next_and_exec_agree(tmp_path):
    dirs = make_twins(tmp_path, BASIC, SWEEP)
    first = {t: job_status_script(d) for t, d in dirs.items()}
    assert first["flow"] == first["suite"]
    # one job first, chosen by id prefix; then a filter; then everything left
    job_id = sorted(os.listdir(os.path.join(dirs["flow"], "workspace")))[0]
    both(dirs, "run", "-o", "compute", "-j", job_id[:10])
    assert snapshot(dirs["flow"]) == snapshot(dirs["suite"])
    both(dirs, "run", "-f", "T", "2")
    assert snapshot(dirs["flow"]) == snapshot(dirs["suite"])
    nxt = both(dirs, "next", "square")
    assert sorted(nxt["flow"].stdout.split()) == sorted(nxt["suite"].stdout.split())
    both(dirs, "run", "--progress")
    after = snapshot(dirs["suite"])
    assert snapshot(dirs["flow"]) == after
    assert any(j["data"] for j in after["jobs"].values())  # job.data was written
    # compute and read on 6 jobs, square on 3 (p > 1), report on 4 (T != 1); cleanup's
    # postcondition holds from the start, so it never runs
    assert len(after["ran"]) == 6 + 6 + 3 + 4
    second = {t: job_status_script(d) for t, d in dirs.items()}
    assert second["flow"] == second["suite"] and second["suite"] != first["suite"]
    # exec runs whatever the conditions say; run -n limits; --pretend runs nothing
    both(dirs, "exec", "cleanup", job_id)
    both(dirs, "run", "-n", "2", "-o", "cleanup")
    both(dirs, "run", "--pretend")
    final = snapshot(dirs["suite"])
    assert snapshot(dirs["flow"]) == final and final["ran"].count(f"cleanup {job_id}") == 1
    for args in (["-d", "-p", "T", "doc.energy"], ["--pretty"], ["--full"], ["--json"],
                 ["--output-format", "markdown"]):
        out = project_py(dirs["suite"], "status", *args)
        assert out.stdout.strip(), args
    detailed = project_py(dirs["suite"], "status", "-d", "-p", "T").stdout
    assert job_id in detailed and "hot" in detailed
    varying = project_py(dirs["suite"], "status", "-d", "-p").stdout.splitlines()
    header = [line for line in varying if line.startswith("job id")][0]
    assert header.split()[-2:] == ["T", "p"]  # every key that varies


def test_suite_cli_runs_a_project_py(tmp_path):
    import subprocess

    dirs = make_twins(tmp_path, BASIC, SWEEP)
    out = subprocess.run(["suite", "run", "--num-passes", "5"], cwd=dirs["suite"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    both_flow = project_py(dirs["flow"], "run")
    assert both_flow.returncode == 0
    assert snapshot(dirs["flow"]) == snapshot(dirs["suite"])
    status = json.loads(subprocess.run(["suite", "status", "--json"], cwd=dirs["suite"],
                                       capture_output=True, text=True).stdout)
    assert status["operations"]["compute"]["eligible"] == 0


def test_a_project_half_run_with_signac_flow_moves_on(tmp_path):
    import shutil

    dirs = make_twins(tmp_path, BASIC, SWEEP)
    project_py(dirs["flow"], "run", "-o", "compute", "read")
    shutil.rmtree(dirs["suite"])
    shutil.copytree(dirs["flow"], dirs["suite"], symlinks=True)
    from .twins import to_suite

    with open(os.path.join(dirs["suite"], "project.py")) as f:
        source = to_suite(f.read())
    with open(os.path.join(dirs["suite"], "project.py"), "w") as f:
        f.write(source)
    both(dirs, "run")
    result = snapshot(dirs["suite"])
    assert snapshot(dirs["flow"]) == result
    assert sum(line.startswith("compute") for line in result["ran"]) == 6  # not run again


AGGREGATES = '''
class Project(FlowProject):
    pass


def mean_of(jobs):
    return sum(j.sp.T * j.sp.p for j in jobs) / len(jobs)


@Project.post.true("value")
@Project.operation
def value(job):
    ran("value", job)
    job.doc.value = job.sp.T * job.sp.p


@Project.pre.after(value)
@Project.post(lambda *jobs: all("mean_by_T" in j.doc for j in jobs))
@Project.operation(aggregator=aggregator.groupby("T", sort_by="p"))
def mean_by_T(*jobs):
    ran("mean_by_T", *jobs)
    for j in jobs:
        j.doc.mean_by_T = mean_of(jobs)
        j.doc.order_by_T = [k.sp.p for k in jobs]


@Project.pre.after(value)
@Project.post(lambda *jobs: all("hot_mean" in j.doc for j in jobs))
@Project.operation(aggregator=aggregator(select=lambda job: job.sp.T > 1,
                                         sort_by="T", sort_ascending=False))
def hot_mean(*jobs):
    ran("hot_mean", *jobs)
    for j in jobs:
        j.doc.hot_mean = mean_of(jobs)
        j.doc.hot_order = [k.sp.T for k in jobs]


@Project.pre.after(value)
@Project.post(lambda *jobs: all("pair" in j.doc for j in jobs))
@Project.operation(aggregator=aggregator.groupsof(2, sort_by=lambda job: (job.sp.T, job.sp.p)))
def pairs(*jobs):
    ran("pairs", *jobs)
    for j in jobs:
        j.doc.pair = [k.sp() for k in jobs]


@Project.pre.after(value)
@Project.post(lambda *jobs: all("by_missing" in j.doc for j in jobs))
@Project.operation(aggregator=aggregator.groupby("missing", default=-1))
def by_missing(*jobs):
    ran("by_missing", *jobs)
    for j in jobs:
        j.doc.by_missing = len(jobs)


# groups: one without aggregation, one over all jobs at once
prepare = Project.make_group("prepare")
summary = Project.make_group("summary", group_aggregator=aggregator())


@prepare
@Project.post.isfile("a.txt")
@Project.operation
def write_a(job):
    ran("write_a", job)
    with open(job.fn("a.txt"), "w") as f:
        f.write("a")


@prepare
@Project.pre.isfile("a.txt")
@Project.post.isfile("b.txt")
@Project.operation
def write_b(job):
    ran("write_b", job)
    with open(job.fn("b.txt"), "w") as f:
        f.write("b" + open(job.fn("a.txt")).read())


@summary
@Project.pre(lambda *jobs: all(j.isfile("b.txt") for j in jobs))
@Project.post(lambda *jobs: all("total" in j.doc for j in jobs))
@Project.operation(aggregator=aggregator())
def total(*jobs):
    ran("total", *jobs)
    for j in jobs:
        j.doc.total = len(jobs)


@summary
@Project.pre(lambda *jobs: all("total" in j.doc for j in jobs))
@Project.post(lambda *jobs: all("checked" in j.doc for j in jobs))
@Project.operation(aggregator=aggregator())
def check(*jobs):
    ran("check", *jobs)
    for j in jobs:
        j.doc.checked = sum(k.doc.total for k in jobs)
'''


def test_aggregation_and_groups_agree(tmp_path):
    dirs = make_twins(tmp_path, AGGREGATES, SWEEP)
    both(dirs, "run", "-o", "prepare")
    assert snapshot(dirs["flow"]) == snapshot(dirs["suite"])
    both(dirs, "run", "-o", "summary")
    both(dirs, "run", "-o", "summary")  # the group's second operation, now eligible
    assert snapshot(dirs["flow"]) == snapshot(dirs["suite"])
    both(dirs, "run")
    result = snapshot(dirs["suite"])
    assert snapshot(dirs["flow"]) == result
    ran = result["ran"]
    assert sum(r.startswith("mean_by_T ") for r in ran) == 3  # one call per T, never per job
    assert sum(r.startswith("hot_mean ") for r in ran) == 1
    assert sum(r.startswith("total ") for r in ran) == 1 and len(ran[ran.index(
        [r for r in ran if r.startswith("total ")][0])].split()[1].split(",")) == 6
    docs = [j["doc"] for j in result["jobs"].values()]
    assert {d["mean_by_T"] for d in docs} == {1.0, 2.0, 3.0}
    assert all(d["order_by_T"] == [0.5, 1.5] for d in docs)
    assert all(d["checked"] == 36 and d["by_missing"] == 6 for d in docs)
    hot = [d for d in docs if "hot_mean" in d]
    assert len(hot) == 4 and all(d["hot_order"] == [3, 3, 2, 2] for d in hot)
    nxt = both(dirs, "next", "value")
    assert nxt["flow"].stdout == nxt["suite"].stdout == ""
    # an aggregate id selects the aggregate in exec and run
    import suite
    from suite.flow import get_aggregate_id

    proj = suite.get_project(dirs["suite"])
    agg = get_aggregate_id(sorted(proj.find_jobs({"T": 2}), key=lambda j: j.sp.p))
    both(dirs, "exec", "mean_by_T", agg)
    assert snapshot(dirs["flow"]) == snapshot(dirs["suite"])
    # a job id is not an aggregate of mean_by_T: signac-flow runs nothing, suite says so
    single = proj.find_jobs({"T": 2}).ids()[0]
    out = both(dirs, "exec", "mean_by_T", single, check=False)
    assert out["flow"].returncode == 0 and snapshot(dirs["flow"]) == snapshot(dirs["suite"])
    assert out["suite"].returncode == 1 and "not one of the aggregates" in out["suite"].stderr


def test_group_without_group_aggregator_never_calls_aggregate_ops_with_single_jobs(project):
    from suite.flow import FlowDefinitionError, FlowProject, aggregator

    class P(FlowProject):
        pass

    plots = P.make_group("plots")

    @P.operation(aggregator=aggregator())
    def plot_all(*jobs):
        pass

    with pytest.raises(FlowDefinitionError, match="group_aggregator"):
        plots(plot_all)

    singles = P.make_group("singles", group_aggregator=aggregator())

    @P.operation
    def one(job):
        pass

    with pytest.raises(FlowDefinitionError, match="takes one job"):
        singles(one)
    with pytest.raises(FlowDefinitionError, match="with_job"):
        P.operation(lambda *jobs: None, name="x", with_job=True, aggregator=aggregator())


FAILING = '''
class Project(FlowProject):
    pass


def log_hook(name, *jobs):
    ran("hook-" + name, *jobs)


def error_hook(name, error, *jobs):
    ran("error-" + name + "-" + type(error).__name__, *jobs)


@Project.operation_hooks.on_start(log_hook)
@Project.operation_hooks.on_exception(error_hook)
@Project.post.true("done")
@Project.operation
def fragile(job):
    ran("fragile", job)
    if job.sp.T == 2:
        raise RuntimeError(f"T=2 is not allowed for {job.id}")
    job.doc.done = True


@Project.pre.after(fragile)
@Project.operation
def forever(job):
    ran("forever", job)
'''


def test_a_failed_operation_prints_its_traceback_and_stops_the_run(tmp_path):
    from suite.flow import provenance

    dirs = make_twins(tmp_path, FAILING, [{"T": 2, "p": 1}])
    out = both(dirs, "run", check=False)
    assert out["flow"].returncode != 0 and out["suite"].returncode != 0
    err = out["suite"].stderr
    assert "Traceback (most recent call last)" in err and "T=2 is not allowed" in err
    assert 'project.py", line' in err  # the user's own frame
    assert err.strip().splitlines()[-1].startswith("error: operation fragile failed")
    assert snapshot(dirs["flow"]) == snapshot(dirs["suite"])  # hooks too
    import suite

    job = next(iter(suite.get_project(dirs["suite"])))
    record = provenance.read(job)[-1]
    assert record["status"] == "failure" and "T=2 is not allowed" in record["traceback"]


def test_operations_without_postconditions_run_every_time_and_ignore_conditions(tmp_path):
    dirs = make_twins(tmp_path, FAILING, [{"T": 1, "p": 1}, {"T": 3, "p": 1}])
    both(dirs, "run")
    both(dirs, "run", "-o", "forever")
    both(dirs, "run", "-o", "fragile", "--ignore-conditions", "post")
    both(dirs, "run", "-o", "forever", "--num-passes", "1", "--order", "cyclic")
    result = snapshot(dirs["suite"])
    assert snapshot(dirs["flow"]) == result
    assert sum(r.startswith("forever") for r in result["ran"]) == 6


TEMPLATED = '''
import datetime


class Project(FlowProject):
    pass


@Project.post.isfile("out.txt")
@Project.operation(directives={"walltime": datetime.timedelta(hours=1, minutes=30),
                               "memory": "512m", "np": 4, "ngpu": 1})
def simulate(job):
    pass


@Project.post.isfile("other.txt")
@Project.operation(directives={"walltime": 2, "memory": 3, "nranks": 2, "omp_num_threads": 2})
def other(job):
    pass


@Project.post.isfile("third.txt")
@Project.operation(directives={"memory": lambda job: f"{job.sp.T}g"})
def third(job):
    pass
'''

SCRIPT_SH = '''{% extends base_script %}
{% block header %}
{{ super() }}
#SBATCH --partition=debug
{% endblock header %}
{% block project_header %}
module load gcc
{{ super() }}
{% endblock project_header %}
{% block pre_operation %}
echo starting {{ operation.name }}
{% endblock pre_operation %}
'''


def test_signac_flow_templates_and_directives_in_submitted_scripts(tmp_path):
    dirs = make_twins(tmp_path, TEMPLATED, [{"T": 2, "p": 1}])
    d = dirs["suite"]
    os.makedirs(os.path.join(d, "templates"))
    with open(os.path.join(d, "templates", "script.sh"), "w") as f:
        f.write(SCRIPT_SH)
    env_sched = {"SUITE_SCHEDULER": "slurm"}
    os.environ.update(env_sched)
    try:
        out = project_py(d, "submit", "--pretend", "-o", "simulate")
        script = out.stdout
        assert "#SBATCH --partition=debug" in script and "module load gcc" in script
        assert "#SBATCH --time=01:30:00" in script and "#SBATCH --mem=512M" in script
        assert "#SBATCH --ntasks=4" in script and "#SBATCH --gpus=1" in script
        assert "echo starting simulate" in script and "exec simulate" in script
        assert script.index("module load gcc") < script.index("exec simulate")
        out = project_py(d, "submit", "--pretend", "--template", "nothere.sh", check=False)
        assert out.returncode == 1 and "no template 'nothere.sh'" in out.stderr
        out = project_py(d, "submit", "--pretend", "-o", "other", "third")
        assert "#SBATCH --time=02:00:00" in out.stdout and "#SBATCH --mem=3072M" in out.stdout
        assert "#SBATCH --ntasks=4" in out.stdout  # nranks * omp_num_threads
        assert "#SBATCH --mem=2048M" in out.stdout  # a function of the job: "2g"
        # what suite does not provide is named, in one line, without a traceback
        with open(os.path.join(d, "templates", "script.sh"), "w") as f:
            f.write("{% extends base_script %}\n{% block header %}{{ super() }}\n"
                    "#SBATCH -N {{ operations|calc_num_nodes }}\n{% endblock %}\n")
        out = project_py(d, "submit", "--pretend", check=False)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert "calc_num_nodes" in out.stderr and len(out.stderr.strip().splitlines()) == 1
        with open(os.path.join(d, "templates", "script.sh"), "w") as f:
            f.write("{% extends base_script %}\n{% block custom_content %}"
                    "{{ environment.name }}{% endblock %}\n")
        out = project_py(d, "submit", "--pretend", check=False)
        assert "environment" in out.stderr and "Traceback" not in out.stderr
    finally:
        os.environ.pop("SUITE_SCHEDULER")


def test_bad_directives_are_refused_at_definition():
    from suite import SuiteError
    from suite.flow import FlowProject

    class P(FlowProject):
        pass

    with pytest.raises(SuiteError, match="memory='lots'"):
        P.operation(lambda job: None, name="a", directives={"memory": "lots"})
    with pytest.raises(SuiteError, match="np=-1"):
        P.operation(lambda job: None, name="b", directives={"np": -1})


@pytest.mark.parametrize("code, named", [
    ("from suite.flow import classlabel", "classlabel"),
    ("from suite.flow import redirect_log", "redirect_log"),
    ("import suite.flow as f; f.get_environment()", "get_environment"),
    ("from suite.flow import FlowProject as F\nclass P(F): pass\n"
     "P(PATH).detect_operation_graph()", "detect_operation_graph"),
    ("from suite.flow import FlowProject as F\nF(PATH, environment=object())", "environment"),
    ("from suite.flow import FlowProject as F\nF(PATH).print_status(template='x.jinja')",
     "template"),
])
def test_unsupported_signac_flow_names_are_named(project, code, named):
    from suite import SuiteError

    with pytest.raises(SuiteError, match=named) as info:
        exec(code, {"PATH": project.path})
    assert "not supported by suite.flow" in str(info.value)


@pytest.mark.parametrize("args, named", [
    (["status", "--profile"], "--profile"),
    (["status", "-1"], "--one-line"),
    (["run", "--switch-to-project-root"], "--switch-to-project-root"),
    (["submit", "--template-help"], "--template-help"),
])
def test_unsupported_options_are_one_line_errors(tmp_path, args, named):
    dirs = make_twins(tmp_path, FAILING, [{"T": 1, "p": 1}])
    out = project_py(dirs["suite"], *args, check=False)
    assert out.returncode == 1 and named in out.stderr and "Traceback" not in out.stderr


FORKING = '''
os.environ.setdefault("FIRST_PID", str(os.getpid()))  # inherited by a forked operation


class Project(FlowProject):
    pass


@Project.post.true("forked")
@Project.operation(directives={"fork": True})
def in_new_process(job):
    ran("in_new_process", job)
    job.doc.forked = os.getpid() != int(os.environ["FIRST_PID"])


@Project.post.true("parallel")
@Project.operation
def in_parallel(job):
    ran("in_parallel", job)
    job.doc.parallel = True
'''


def test_fork_directive_and_parallel_runs_agree(tmp_path):
    dirs = make_twins(tmp_path, FORKING, SWEEP)
    both(dirs, "run", "-o", "in_new_process")
    both(dirs, "run", "--parallel", "2", "-o", "in_parallel")
    result = snapshot(dirs["suite"])
    assert snapshot(dirs["flow"]) == result
    assert all(j["doc"] == {"forked": True, "parallel": True} for j in result["jobs"].values())


def _define(FlowProject, aggregator, IgnoreConditions):  # noqa: N803 - either tool's classes
    """The same workflow, defined on either tool's classes (in this process)."""

    class Project(FlowProject):
        pass

    @Project.label
    def started(job):
        return "x" in job.doc

    @Project.post.true("x")
    @Project.operation
    def setx(job):
        job.doc.x = job.sp.T
        job.doc.n = job.doc.get("n", 0) + 1

    @Project.pre.after(setx)
    @Project.post(lambda *jobs: all("sum" in j.doc for j in jobs))
    @Project.operation(aggregator=aggregator.groupby("p"))
    def total(*jobs):
        for j in jobs:
            j.doc.sum = sum(k.doc.x for k in jobs)

    @Project.pre.copy_from(setx)
    @Project.post.copy_from(total)
    @Project.operation
    def mirror(job):
        job.doc.mirrored = job.doc.get("mirrored", 0) + 1

    @Project.pre.never
    @Project.operation
    def never(job):
        job.doc.never = True

    return Project


def test_python_api_agrees(tmp_path):
    import flow
    import signac

    import suite
    import suite.flow

    results = {}
    for name, lib, fl in (("flow", signac, flow), ("suite", suite, suite.flow)):
        path = str(tmp_path / name)
        plain = lib.init_project(path)
        for sp in SWEEP:
            plain.open_job(sp).init()
        # signac-flow computes aggregates when the project object is made: after the jobs
        Project = _define(fl.FlowProject, fl.aggregator, fl.IgnoreConditions)  # noqa: N806
        project = Project.get_project(path)
        jobs = sorted(project.find_jobs({"T": 1}), key=lambda j: j.id)
        project.run(jobs=jobs, names=["setx"])
        states = [sorted(project.labels(j)) for j in sorted(project, key=lambda j: j.id)]
        two = sorted(project.find_jobs({"T": 2}), key=lambda j: j.id)
        project.run(jobs=two[:1], names=["se.*"], num=1)
        project.run(names=["total"])
        before = {j.id: project.get_job_status(j)["operations"]["setx"]["eligible"]
                  for j in project}
        project.run()  # the rest of setx, then total on each aggregate
        project.run(names=["setx"], ignore_conditions=fl.IgnoreConditions.POST)
        results[name] = (states, before, {j.id: j.doc() for j in project},
                         sorted(project.completed_operations(jobs[0])),
                         sorted(project.operations), str(fl.IgnoreConditions.POST))
    assert results["flow"] == results["suite"]
    docs = results["suite"][2]
    assert all(d["sum"] == 6 and d["mirrored"] >= 1 and "never" not in d
               for d in docs.values())
    assert all(d["n"] == 2 for d in docs.values())  # once by conditions, once ignoring them


GROUP_OPTIONS = '''
class Project(FlowProject):
    pass


cluster = Project.make_group("cluster", submit_options="--mem=4g", run_options="--debug")


@cluster
@Project.post.true("a_done")
@Project.operation
def a(job):
    ran("a", job)
    job.doc.a_done = True


@Project.post.true("b_done")
@Project.operation
def b(job):
    ran("b", job)
    job.doc.b_done = True
'''


def test_group_options_are_refused_where_they_would_act_not_at_definition(tmp_path):
    # signac-flow's make_group(submit_options=, run_options=): suite cannot apply them, so
    # running or submitting that group is an error naming them; the project.py still loads,
    # and everything else in it works as under signac-flow
    dirs = make_twins(tmp_path, GROUP_OPTIONS, [{"T": 1}])
    d = dirs["suite"]
    for args, named in ((["run", "-o", "cluster"], "run_options"),
                        (["exec", "cluster"], "run_options"),
                        (["submit", "-o", "cluster", "--pretend"], "submit_options")):
        out = project_py(d, *args, check=False)
        assert out.returncode == 1 and named in out.stderr and "cluster" in out.stderr, out
        assert "Traceback" not in out.stderr and "not supported by suite.flow" in out.stderr
    assert snapshot(d)["ran"] == []  # nothing ran
    out = both(dirs, "run", "-o", "b")
    assert snapshot(d)["ran"] == snapshot(dirs["flow"])["ran"] != []
    assert out["suite"].returncode == 0
    status = project_py(d, "status")
    assert status.returncode == 0 and "\na " in status.stdout
    import importlib.util

    from suite import SuiteError
    spec = importlib.util.spec_from_file_location("grouped_project", os.path.join(d, "project.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SuiteError, match="run_options.*cluster|cluster.*run_options"):
        module.Project.get_project(d).run(names=["cl.*"])
    module.Project.get_project(d).run(names=["a"])  # the operation alone is not the group


def test_print_status_writes_to_the_current_stdout(project):
    # signac-flow resolves file/err when called: redirect_stdout, a notebook's or a test's
    # capture see the status
    import contextlib
    import io

    from suite.flow import FlowProject

    class P(FlowProject):
        pass

    @P.operation
    def shown_op(job):
        pass

    project.open_job({"a": 1}).init()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        P.get_project(project.path).print_status()
    assert "shown_op" in out.getvalue() and "Overview: 1 jobs" in out.getvalue()


def test_subclass_made_before_the_parent_gets_operations_inherits_them(project):
    # signac-flow collects operations, labels and groups through the class hierarchy when a
    # project is made; a subclass defined before the parent's decorators ran has them too
    from suite.flow import FlowProject

    class A(FlowProject):
        pass

    class B(A):
        pass

    @A.label
    def labelled(job):
        return True

    @A.post.true("foo_done")
    @A.operation
    def foo(job):
        job.doc.foo_done = True

    grp = A.make_group("grp")

    @B.operation
    def baz(job):
        job.doc.baz_done = True

    @grp
    @A.post.true("in_grp_done")
    @A.operation
    def in_grp(job):
        job.doc.in_grp_done = True

    # a condition added through the subclass stays the subclass's
    B.post.true("never_set")(in_grp)
    job = project.open_job({"a": 1}).init()
    a, b = A.get_project(project.path), B.get_project(project.path)
    assert set(a.operations) == {"foo", "in_grp"} and set(b.operations) == {"foo", "baz", "in_grp"}
    assert set(b.groups) == {"grp"} and list(b.labels(job)) == ["labelled"]
    b.run()
    assert job.doc() == {"foo_done": True, "baz_done": True, "in_grp_done": True}
    # A's in_grp lacks B's "never_set" postcondition: complete for A only
    assert "in_grp" in set(a.completed_operations(job))
    assert "in_grp" not in set(b.completed_operations(job))


def test_print_status_parameters_true_shows_the_varying_keys(project):
    import contextlib
    import io

    from suite.flow import FlowProject

    class P(FlowProject):
        pass

    @P.operation
    def op(job):
        pass

    for a in range(2):
        project.open_job({"a": a, "const": 1}).init()
    assert P.PRINT_STATUS_ALL_VARYING_PARAMETERS is True  # signac-flow's name for it
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        P.get_project(project.path).print_status(parameters=True, detailed=True)
    header = [line for line in out.getvalue().splitlines() if line.startswith("job id")][0]
    assert header.split()[-1] == "a" and "const" not in header


def test_verbosity_options_before_the_command_are_accepted(tmp_path):
    # signac-flow's `python project.py --debug status` / `-v run`: accepted, as after it
    dirs = make_twins(tmp_path, GROUP_OPTIONS, [{"T": 1}])
    for args in (["--debug", "status", "--detailed"], ["-vv", "status"],
                 ["-v", "--debug", "run", "-o", "b"]):
        outs = both(dirs, *args, check=False)
        assert outs["flow"].returncode == 0, outs["flow"].stderr
        assert outs["suite"].returncode == 0, outs["suite"].stderr
    assert snapshot(dirs["suite"])["ran"] == snapshot(dirs["flow"])["ran"] != []


AGGREGATE_ALL = '''
class Project(FlowProject):
    pass


@Project.post.true("summed")
@Project.operation(aggregator=aggregator())
def total(*jobs):
    ran("total", *jobs)
    for job in jobs:
        job.doc.summed = True
'''


def test_abbreviated_aggregate_ids_are_taken_like_job_ids(tmp_path):
    dirs = make_twins(tmp_path, AGGREGATE_ALL, [{"T": t} for t in range(3)])
    for tool, d in dirs.items():  # each tool's own id (the jobs' order in it is each's own)
        agg = project_py(d, "next", "total").stdout.split()
        assert len(agg) == 1 and agg[0].startswith("agg-")
        out = project_py(d, "run", "-o", "total", "-j", agg[0][:-5], check=False)
        assert out.returncode == 0, (tool, out.stderr)
    assert snapshot(dirs["suite"])["ran"] == snapshot(dirs["flow"])["ran"] != []
    out = project_py(dirs["suite"], "exec", "total", "agg-", check=False)  # every aggregate
    assert out.returncode == 0 or "ambiguous" in out.stderr
    out = project_py(dirs["suite"], "run", "-j", "agg-0000000000", check=False)
    assert out.returncode == 1 and "no aggregate" in out.stderr


def test_an_operation_and_a_condition_are_never_the_same_function():
    # signac-flow refuses both; suite called the operation as a condition at every status
    from suite.errors import FlowDefinitionError
    from suite.flow import FlowProject

    class A(FlowProject):
        pass

    @A.operation
    def writes(job):
        job.doc.written = True

    with pytest.raises(FlowDefinitionError, match="writes.*pre.after"):
        @A.pre(writes)
        @A.operation
        def op1(job):
            pass

    with pytest.raises(FlowDefinitionError, match="writes"):
        @A.post(writes)
        @A.operation
        def op2(job):
            pass

    def check(job):
        return True

    @A.pre(check)
    @A.operation
    def op3(job):
        pass

    with pytest.raises(FlowDefinitionError, match="check.*condition"):
        A.operation(check)
    assert set(A.operation_table) == {"writes", "op3"}


def test_a_name_matching_nothing_is_never_dropped_silently(project):
    # signac-flow warns "Unrecognized flow operation(s)"; suite stops before running anything
    from suite import SuiteError
    from suite.flow import FlowProject

    class P(FlowProject):
        pass

    @P.post.true("done")
    @P.operation
    def real(job):
        job.doc.done = True

    job = project.open_job({"a": 1}).init()
    with pytest.raises(SuiteError, match="no operation or group matches typo"):
        P.get_project(project.path).run(names=["real", "typo"])
    assert "done" not in job.doc
    P.get_project(project.path).run(names=["re.*"])
    assert job.doc.done


def test_default_aggregators_compare_and_hash_equal():
    # signac-flow: groupsof(1) made twice is one aggregation (one job at a time); any other
    # aggregator equals itself only (two functions cannot be compared)
    from suite.flow import aggregator

    one, again = aggregator.groupsof(1), aggregator.groupsof(1)
    assert one == again and hash(one) == hash(again) and len({one, again}) == 1
    others = [aggregator(), aggregator(), aggregator.groupsof(2), aggregator.groupsof(2),
              aggregator.groupby("a"), aggregator.groupsof(1, sort_by="a"),
              aggregator.groupsof(1, select=lambda job: True)]
    assert len(set(others + [one, again])) == len(others) + 1
    for k, agg in enumerate(others):
        assert agg == agg and agg != one
        assert all(agg != other for other in others[k + 1:])


def test_a_condition_below_the_operation_decorator_is_refused():
    # signac-flow: "Conditions must come after (above) @FlowProject.operation"; suite took a
    # condition on a function that was never registered, and on one registered later
    from suite.errors import FlowDefinitionError
    from suite.flow import FlowProject

    class A(FlowProject):
        pass

    def condition_fun():
        pass

    @A.operation
    def op1(job):
        pass

    for kind in ("pre", "post"):
        with pytest.raises(FlowDefinitionError, match=f"{kind}.*'op3'.*above @A.operation"):
            @getattr(A, kind)(condition_fun)
            def op3(job):
                pass

    with pytest.raises(FlowDefinitionError, match="'op4'.*above"):
        @A.operation
        @A.pre.true("x")
        def op4(job):
            pass
    assert set(A.operation_table) == {"op1"}

    class B(A):
        pass

    B.pre.true("x")(op1)  # an operation of a base class takes conditions in a subclass
    assert len(B.operation_table["op1"].pre) == 1 and not A.operation_table["op1"].pre

    with pytest.raises(FlowDefinitionError):
        @B.pre.true("x")
        def not_an_operation(job):
            pass


def test_one_function_an_operation_of_a_class_and_its_subclass_is_refused(project):
    # signac-flow refuses the subclass's project (the operation is defined twice in it),
    # not the base class's
    from suite.errors import FlowDefinitionError
    from suite.flow import FlowProject

    class A(FlowProject):
        pass

    class B(A):
        pass

    @A.operation
    @B.operation
    def op1(job):
        pass

    A.get_project(project.path)
    with pytest.raises(FlowDefinitionError, match="'op1'.*B.*A"):
        B.get_project(project.path)


FORK_DEFS = '''
import os

from suite.flow import FlowProject


class Project(FlowProject):
    pass


@Project.operation(directives={"fork": lambda job: job.sp.a == 1})
def where(job):
    job.doc.pid = os.getpid()
'''


def test_fork_directive_in_run_from_python_without_main(project, monkeypatch):
    # signac-flow forks to the file defining the project class (its entrypoint's default):
    # no project.py and no main() needed
    import importlib.util

    path = os.path.join(os.path.dirname(project.path), "defs_fork.py")
    with open(path, "w") as f:
        f.write(FORK_DEFS)
    spec = importlib.util.spec_from_file_location("defs_fork", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "defs_fork", module)  # imported, as a user's module is
    spec.loader.exec_module(module)
    jobs = [project.open_job({"a": a}).init() for a in (0, 1)]
    monkeypatch.chdir(project.path)
    module.Project.get_project(project.path).run()
    assert jobs[0].doc.pid == os.getpid() and jobs[1].doc.pid != os.getpid()
    assert jobs[1].doc.pid > 0


def test_fork_directive_of_a_class_with_no_file_is_a_one_line_error(tmp_path):
    # a class typed into `python -c` has no file to run again: named, nothing runs
    import suite

    project = suite.init_project(str(tmp_path))
    project.open_job({"a": 1}).init()
    code = FORK_DEFS + "\nProject.get_project('.').run()\n"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True)
    assert out.returncode != 0 and "fork" in out.stderr and "where" in out.stderr
