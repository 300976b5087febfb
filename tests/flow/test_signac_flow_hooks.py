"""signac-flow's hook classes (``flow.hooks.TrackOperations``) installed by a project.py: the
same log lines under signac-flow 0.29.1 and under suite.flow (see twins.py)."""

import json
import os
import subprocess
import sys

import pytest

from .twins import both, make_twins, project_py

pytest.importorskip("flow")

SWEEP = [{"T": t} for t in (1, 2, 3)]

TRACKED = '''
from flow.hooks import TrackOperations


class Project(FlowProject):
    pass


per_op = TrackOperations(log_filename="per_op.log", strict_git=False)


@per_op.install_operation_hooks(Project)
@Project.post.true("first")
@Project.operation
def first(job):
    job.doc.first = True


@Project.pre.after(first)
@Project.post.true("second")
@Project.operation
def second(job):
    if job.sp.T == 2:
        raise ValueError(f"T is {job.sp.T}")
    job.doc.second = True


@Project.post.isfile("third.txt")
@Project.operation(cmd=True, with_job=True)
def third(job):
    return "echo done > third.txt"


if __name__ == "__main__":
    project = TrackOperations(strict_git=False).install_project_hooks(Project())
    project.main()
'''


def _git_repo(d):
    """Make ``d`` a git repository with one commit (its jobs untracked): with GitPython
    installed, TrackOperations (either tool's) records the commit and fails elsewhere."""
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=d,
                       check=True, capture_output=True)

    with open(os.path.join(d, ".gitignore"), "w") as f:
        f.write("workspace/\n.signac/\n*.pyc\n__pycache__/\n")
    git("init", "-q")
    git("add", ".gitignore")
    git("commit", "-q", "-m", "start")
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=d, capture_output=True, text=True,
                          check=True).stdout.strip()


def _entries(d, filename):
    """Each job's log lines (by state point), without what differs between two runs or two
    directories (the time, the project path)."""
    out = {}
    ws = os.path.join(d, "workspace")
    for job_id in os.listdir(ws):
        with open(os.path.join(ws, job_id, "signac_statepoint.json")) as f:
            key = json.dumps(json.load(f), sort_keys=True)
        path = os.path.join(ws, job_id, filename)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            lines = [json.loads(line) for line in f]
        for line in lines:
            assert line.pop("time")
            assert line["project"].pop("path") in (d, os.path.realpath(d))
            if "git" in line["project"]:  # only with GitPython; the commits differ
                assert line["project"].pop("git")["dirty"] is False
        out[key] = lines
    return out


def test_track_operations_logs_the_same_lines(tmp_path):
    dirs = make_twins(tmp_path, TRACKED, SWEEP)
    for d in dirs.values():
        _git_repo(d)
    runs = both(dirs, "run", check=False)
    # both stop at the failing operation (T == 2), after the same operations ran
    assert runs["flow"].returncode != 0 and runs["suite"].returncode != 0
    assert "T is 2" in runs["suite"].stderr
    both(dirs, "run", "-o", "first", "third")
    for filename in ("signac_execution_history.log", "per_op.log"):
        flow, suite = (_entries(dirs[t], filename) for t in ("flow", "suite"))
        assert flow == suite, filename
    logged = _entries(dirs["suite"], "signac_execution_history.log")
    assert logged, "nothing was logged"
    stages = [(e["operation"], e["stage"], e["error"]) for e in
              logged[json.dumps({"T": 2})]]
    assert ("second", "prior", None) in stages and ("second", "after", "T is 2") in stages
    assert all(e["_schema_version"] == "1" and e["project"]["schema_version"] == "2"
               for lines in logged.values() for e in lines)
    per_op = _entries(dirs["suite"], "per_op.log")
    assert {e["operation"] for lines in per_op.values() for e in lines} == {"first"}


def test_track_operations_read_log_and_python_install(project):
    from suite.flow import FlowProject
    from suite.flow.hooks import TrackOperations

    class P(FlowProject):
        pass

    track = TrackOperations(strict_git=False)

    @track.install_operation_hooks(P)
    @P.post.true("done")
    @P.operation
    def work(job):
        job.doc.done = True

    job = project.open_job({"a": 1}).init()
    _git_repo(project.path)
    fp = P.get_project(project.path)
    fp.run()
    log = TrackOperations.read_log(job)
    assert [(e["operation"], e["stage"], e["error"], e["job_id"]) for e in log] == \
        [("work", "prior", None, job.id), ("work", "after", None, job.id)]
    installed = TrackOperations(strict_git=False).install_project_hooks(fp)
    assert installed is fp
    assert [len(getattr(fp.project_hooks, t)) for t in ("on_start", "on_success",
                                                        "on_exception")] == [1, 1, 1]
    with pytest.raises(FileNotFoundError):
        TrackOperations.read_log(job, "no-such.log")


def _has_gitpython():
    try:
        import git  # noqa: F401
    except ImportError:
        return False
    return True


def test_strict_git_without_gitpython_is_refused_when_made(tmp_path, monkeypatch):
    # signac-flow's rule: strict_git (the default) needs GitPython, checked when the hook
    # object is made, so the project.py stops before running anything. GitPython is hidden
    # from both tools' processes (a package named git that cannot be imported comes first),
    # so this runs where GitPython is installed too (CI installs it for the test below)
    hidden = tmp_path / "no-gitpython" / "git"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('GitPython hidden by the test')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(hidden.parent), *filter(None, [os.environ.get("PYTHONPATH")])]))
    strict = TRACKED.replace("TrackOperations(strict_git=False).install",
                             "TrackOperations().install")
    assert strict != TRACKED
    dirs = make_twins(tmp_path, strict, SWEEP)
    runs = both(dirs, "run", check=False)
    for out in runs.values():
        assert out.returncode != 0 and "strict_git=False" in out.stderr
    assert "Traceback" not in runs["suite"].stderr.split("strict_git=False")[-1]
    assert not any(os.path.exists(os.path.join(dirs["suite"], "workspace", j, "per_op.log"))
                   for j in os.listdir(os.path.join(dirs["suite"], "workspace")))


@pytest.mark.skipif(not _has_gitpython(), reason="needs GitPython (signac-flow's rule)")
def test_git_metadata_with_gitpython(tmp_path):
    import suite
    from suite.flow import FlowProject
    from suite.flow.hooks import TrackOperations

    project = suite.init_project(str(tmp_path))
    job = project.open_job({"a": 1}).init()
    commit = _git_repo(str(tmp_path))

    class P(FlowProject):
        pass

    @P.operation
    def work(job):
        pass

    fp = TrackOperations().install_project_hooks(P.get_project(str(tmp_path)))
    fp.run()
    log = TrackOperations.read_log(job)
    assert [e["project"]["git"] for e in log] == [{"commit_id": commit, "dirty": False}] * 2
    with open(tmp_path / "untracked-but-not-dirty.txt", "w") as f:
        f.write("x")
    with open(tmp_path / ".gitignore", "a") as f:
        f.write("more\n")  # a change to a tracked file: dirty
    with pytest.raises(Exception, match="dirty"):
        fp.run()
    fp = TrackOperations(strict_git=False).install_project_hooks(P.get_project(str(tmp_path)))
    fp.run()
    assert TrackOperations.read_log(job)[-1]["project"]["git"]["dirty"] is True


def test_hooks_module_is_importable_as_signac_flow_spells_it(project):
    out = subprocess.run([sys.executable, "-c", "import suite.flow as flow\n"
                          "print(flow.hooks.TrackOperations.__name__)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "TrackOperations"
    assert project_py  # the twins' helper, shared
